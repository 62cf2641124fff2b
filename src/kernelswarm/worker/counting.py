"""Counting what a problem must compute and move, and measuring what the device can do.

Flops come from ``torch.utils.flop_counter`` (matrix products, convolutions, attention), plus
one flop per element produced by every other operation it does not count (elementwise maths,
reductions), reported separately. Bytes are the fewest that must move: every input, parameter
and buffer read once, every output written once. Peaks are measured on the device (a large
device copy for bandwidth; large matrix products for fp32, TF32, bf16, fp16 and fp64). The
judge turns both into the speed-of-light floor (``judge/floor.py``).

Runs in the reference worker: standard library and torch only.
"""

from __future__ import annotations

import os
import time
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, flop_registry

from kernelswarm.protocol import Counts, Peaks
from kernelswarm.tensors import tensor_bytes


class _OtherFlops(TorchDispatchMode):
    """Counts one flop per element produced by operations the flop counter ignores."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0
        self.convolution = False

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        packet = func.overloadpacket
        if "convolution" in str(packet):
            self.convolution = True
        aliases = any(r.alias_info is not None for r in func._schema.returns)
        if packet in flop_registry or aliases or torch.Tag.view_copy in func.tags:
            return out
        if isinstance(out, torch.Tensor) and out.is_floating_point():
            self.flops += out.numel()
        return out


class _Attention(TorchFunctionMode):
    """Attention's flops, counted here on every device.

    The flop counter knows the CUDA attention kernels but not the CPU one, and charges causal
    attention for the full score matrix, of which about half is masked.
    """

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func is torch.nn.functional.scaled_dot_product_attention:
            q, k = args[0], args[1]
            batch_heads = q.numel() // (q.shape[-2] * q.shape[-1])
            full = 4 * batch_heads * q.shape[-2] * k.shape[-2] * q.shape[-1]  # QK^T and PV
            causal = kwargs.get("is_causal") or (len(args) > 5 and args[5])
            self.flops += full // 2 if causal else full
        return func(*args, **kwargs)


def count(model: torch.nn.Module, inputs: list[Any]) -> Counts:
    """Flops and must-move bytes of one forward on ``inputs``."""
    other = _OtherFlops()
    attention = _Attention()
    with torch.no_grad(), FlopCounterMode(display=False) as counter, other, attention:
        out = model(*inputs)
    counted_attention = sum(
        v
        for op, v in counter.get_flop_counts().get("Global", {}).items()
        if "scaled_dot_product" in str(op)
    )
    state = list(model.state_dict().values())
    first = next(
        (t for t in [out, *inputs] if isinstance(t, torch.Tensor) and t.is_floating_point()), None
    )
    return Counts(
        dtype=str(first.dtype).removeprefix("torch.") if first is not None else "float32",
        flops=int(counter.get_total_flops()) - counted_attention + attention.flops,
        other_flops=int(other.flops),
        convolution=other.convolution,
        input_bytes=tensor_bytes(inputs),
        parameter_bytes=tensor_bytes(state),
        output_bytes=tensor_bytes(out),
    )


def _time_cuda(fn: Any, reps: int) -> float:
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e-3)
    return min(times)  # a peak is the best the device did, not its typical


def _time_cpu(fn: Any, reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure_peaks(device: torch.device, quick: bool = False) -> Peaks:
    """Bandwidth (bytes read + written per second), matrix rates, and per-call overhead.

    ``quick``: a short probe (a smaller copy, one fp32 product), to check a cached measurement
    against the device as it is now."""
    cuda = device.type == "cuda"
    timer = _time_cuda if cuda else _time_cpu
    size = ((2 << 30) if cuda else (256 << 20)) >> (2 if quick else 0)
    buffers = [torch.empty(size, dtype=torch.uint8, device=device).fill_(1) for _ in range(2)]
    copy_seconds = timer(lambda: buffers[1].copy_(buffers[0]), 5 if quick else 10)
    buffers.clear()
    rates: dict[str, float] = {}
    n = (8192 if cuda else 1024) >> (1 if quick else 0)
    kinds = {
        "fp32": torch.float32,
        "tf32": torch.float32,
        "bf16": torch.bfloat16,
        "fp16": torch.float16,
    }
    if cuda:
        kinds["fp64"] = torch.float64
    if quick:
        kinds = {"fp32": torch.float32}
    for name, dtype in kinds.items():
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        old = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = name == "tf32"
        try:
            seconds = timer(lambda a=a, b=b: a @ b, 5)
        finally:
            torch.backends.cuda.matmul.allow_tf32 = old
        rates[name] = 2 * n**3 / seconds
    tiny = torch.ones(1, device=device)
    calls = 2000
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(calls):
        tiny.add_(1)
    if cuda:
        torch.cuda.synchronize()
    overhead = (time.perf_counter() - t0) / calls
    name = torch.cuda.get_device_name(device) if cuda else f"cpu ({os.cpu_count()} cores)"
    return Peaks(
        device=name,
        bandwidth=2 * size / copy_seconds,
        matmul=rates,
        launch_overhead_seconds=overhead,
        torch=torch.__version__,
        measured_at=time.strftime("%Y-%m-%d %H:%M:%S"),
    )
