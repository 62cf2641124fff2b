"""What a language model is told: the problem, the target, the device, the bar, its history.

The best kernel-writing systems give a model the problem's source, the backend with a worked
example of the expected file, the device and its measured peaks, the baselines and the
speed-of-light floor, the judge's rules, and — in later rounds — its own earlier attempts with
the compiler's errors, the failing check and its numbers, or the measured time.
"""

from __future__ import annotations

import jinja2

from kernelswarm.search.types import GenerationRequest

SYSTEM = (
    "You are an expert GPU and CPU kernel engineer. You replace PyTorch modules with faster "
    "custom kernels that compute exactly the same function. You answer with one complete Python "
    "file in a single ```python code block."
)

EXAMPLES = {
    "cuda": '''import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cuda_source = r"""
#include <torch/extension.h>
#include <c10/cuda/CUDAStream.h>
__global__ void add_kernel(const float* a, const float* b, float* out, int64_t n) {
    int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i] + b[i];
}
torch::Tensor add(torch::Tensor a, torch::Tensor b) {
    auto out = torch::empty_like(a);
    int64_t n = a.numel();
    add_kernel<<<(n + 255) / 256, 256, 0, c10::cuda::getCurrentCUDAStream()>>>(
        a.data_ptr<float>(), b.data_ptr<float>(), out.data_ptr<float>(), n);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return out;
}
"""

ext = load_inline(name="add_ext", cpp_sources="torch::Tensor add(torch::Tensor a, torch::Tensor b);",
                  cuda_sources=cuda_source, functions=["add"], extra_cuda_cflags=["-O3"])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return ext.add(a.contiguous(), b.contiguous())
''',
    "triton": """import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def add_kernel(a_ptr, b_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(a_ptr + offs, mask=mask) + tl.load(b_ptr + offs, mask=mask), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        a, b = a.contiguous(), b.contiguous()
        out = torch.empty_like(a)
        n = a.numel()
        add_kernel[(triton.cdiv(n, 1024),)](a, b, out, n, BLOCK=1024)
        return out
""",
    "cpp": '''import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

source = r"""
#include <torch/extension.h>
torch::Tensor add(torch::Tensor a, torch::Tensor b) {
    auto A = a.contiguous(), B = b.contiguous();
    auto out = torch::empty_like(A);
    const float* pa = A.data_ptr<float>(); const float* pb = B.data_ptr<float>();
    float* po = out.data_ptr<float>();
    const int64_t n = A.numel();
    #pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) po[i] = pa[i] + pb[i];
    return out;
}
"""

ext = load_inline(name="add_ext", cpp_sources=source, functions=["add"],
                  extra_cflags=["-O3", "-fopenmp"], extra_ldflags=["-fopenmp"])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return ext.add(a, b)
''',
}

BACKEND_WORDS = {
    "cuda": "CUDA C++ kernels compiled with torch.utils.cpp_extension.load_inline",
    "triton": "Triton kernels (@triton.jit)",
    "cpp": "C++ for the CPU compiled with torch.utils.cpp_extension.load_inline",
}

_TEMPLATE = jinja2.Environment(
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
).from_string(
    """Replace the PyTorch module below with a faster implementation written as {{ backend_words }}.

## The problem ({{ name }}), in KernelBench format
```python
{{ problem }}
```

## What to write
A complete Python file defining `class ModelNew(nn.Module)` with the same constructor arguments
and the same forward inputs and outputs as `Model`. Parameters with the same names and shapes as
`Model`'s receive `Model`'s values. Here is the expected format, for a simple addition:
```python
{{ example }}
```

## The device
{{ device_name }}{% if peaks %}: measured {{ "%.0f"|format(peaks.bandwidth / 1e9) }} GB/s of memory bandwidth,
{% for k, v in peaks.matmul.items() %}{{ k }} {{ "%.3g"|format(v / 1e12) }} TFLOP/s{% if not loop.last %}, {% endif %}{% endfor %}.
{% endif %}

## The bar
{% if baselines %}PyTorch eager takes {{ fmt(baselines.eager) }}{% if baselines.compile %}, torch.compile {{ fmt(baselines.compile) }}{% endif %} per call.
{% endif %}
{% if floor %}The speed-of-light floor is {{ fmt(floor) }}: {{ floor_explained }}.
{% endif %}
Only a kernel faster than both eager and torch.compile, with 95% confidence, wins.

## How you are judged
- Outputs are compared with a float64 reference under the "{{ precision }}" precision policy: the
  error may be only a small factor above PyTorch's own in that precision{% if precision == "strict" %}
  (no TF32, bf16 or fp16 compute){% endif %}.
- Fresh random inputs on every call, shifted, scaled and heavy-tailed too; no caching of results.
- Return a new, complete torch.Tensor: no work left on other streams or threads, no aliasing of
  inputs, no modification of inputs.
{% if history %}

## Your earlier attempts (most recent last)
{% for h in history %}
### Attempt {{ loop.index }} (round {{ h.round }}): {{ h.verdict }}
{% if h.reasons %}
{% for r in h.reasons %}- {{ r }}
{% endfor %}
{% endif %}
{% if h.seconds %}- measured {{ fmt(h.seconds) }} per call{% if h.speedup_eager %}, {{ "%.3g"|format(h.speedup_eager) }}x eager{% endif %}{% if h.speedup_compile %}, {{ "%.3g"|format(h.speedup_compile) }}x torch.compile{% endif %}{% if h.sol_fraction %}, {{ "%.0f"|format(100 * h.sol_fraction) }}% of the speed of light{% endif %}

{% endif %}
```python
{{ h.source }}
```
{% endfor %}
Improve on these: fix what failed, and be faster than the best so far.
{% endif %}
"""
)


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1e3:.3g} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.3g} µs"


def backend_for(request_backend: str, device: str) -> str:
    if request_backend != "auto":
        return request_backend
    return "cuda" if device == "cuda" else "cpp"


def user_prompt(
    request: GenerationRequest, history_limit: int = 4, source_limit: int = 6000
) -> str:
    backend = backend_for(request.backend, request.device)
    history = [
        h.__class__(
            **{
                **h.__dict__,
                "source": h.source[:source_limit],
                "reasons": [r[:800] for r in h.reasons],
            }
        )
        for h in request.history[-history_limit:]
    ]
    return _TEMPLATE.render(
        backend_words=BACKEND_WORDS[backend],
        name=request.problem_name,
        problem=request.problem_source.strip(),
        example=EXAMPLES[backend].strip(),
        device_name=request.device_name,
        peaks=request.peaks or None,
        baselines=request.baselines or None,
        floor=request.floor_seconds,
        floor_explained=request.floor_explained,
        precision=request.precision,
        history=history,
        fmt=_fmt,
    )
