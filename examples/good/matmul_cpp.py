"""A C++ CPU matmul built with load_inline: cache-blocked loops, fp32 accumulation in i-k-j order.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => accepted
kernelswarm-device: cpu
kernelswarm-slow: compiles C++
"""
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

source = r"""
#include <torch/extension.h>

torch::Tensor blocked_mm(torch::Tensor a, torch::Tensor b) {
    TORCH_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(0), "shapes");
    TORCH_CHECK(a.scalar_type() == torch::kFloat && b.scalar_type() == torch::kFloat, "float32 only");
    auto A = a.contiguous();
    auto B = b.contiguous();
    const int64_t n = A.size(0), k = A.size(1), m = B.size(1);
    auto C = torch::zeros({n, m}, A.options());
    const float* pa = A.data_ptr<float>();
    const float* pb = B.data_ptr<float>();
    float* pc = C.data_ptr<float>();
    const int64_t T = 64;
    for (int64_t i0 = 0; i0 < n; i0 += T)
        for (int64_t p0 = 0; p0 < k; p0 += T)
            for (int64_t i = i0; i < std::min(i0 + T, n); ++i)
                for (int64_t p = p0; p < std::min(p0 + T, k); ++p) {
                    const float av = pa[i * k + p];
                    const float* row = pb + p * m;
                    float* out = pc + i * m;
                    for (int64_t j = 0; j < m; ++j) out[j] += av * row[j];
                }
    return C;
}
"""

module = load_inline(
    name="ks_blocked_mm",
    cpp_sources=source,
    functions=["blocked_mm"],
    extra_cflags=["-O3"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return module.blocked_mm(A, B)
