"""diag(A) @ B as a row scaling in CUDA for KernelBench level 1, problem 12 (float4 loads/stores).

Used by benchmarks/judge_speed.py: the same file is judged by kernelswarm and by KernelBench's
own evaluator, at KernelBench's own size (A: 4096, B: 4096 x 4096 float32).
"""

import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cuda_source = r"""
#include <torch/extension.h>
#include <c10/cuda/CUDAStream.h>
// one block per row of B: y[i, :] = a[i] * b[i, :]
__global__ void scale_rows4(const float* __restrict__ a, const float4* __restrict__ b,
                            float4* __restrict__ y, int64_t m4) {
    const int64_t row = blockIdx.x;
    const float s = a[row];
    const float4* br = b + row * m4;
    float4* yr = y + row * m4;
    for (int64_t j = threadIdx.x; j < m4; j += blockDim.x) {
        float4 v = br[j];
        v.x *= s; v.y *= s; v.z *= s; v.w *= s;
        yr[j] = v;
    }
}
__global__ void scale_rows1(const float* __restrict__ a, const float* __restrict__ b,
                            float* __restrict__ y, int64_t m) {
    const int64_t row = blockIdx.x;
    const float s = a[row];
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x) y[row * m + j] = s * b[row * m + j];
}
torch::Tensor diag_matmul(torch::Tensor a, torch::Tensor b) {
    TORCH_CHECK(a.is_cuda() && b.is_cuda(), "CUDA tensors expected");
    TORCH_CHECK(a.scalar_type() == torch::kFloat && b.scalar_type() == torch::kFloat, "float32 expected");
    TORCH_CHECK(a.dim() == 1 && b.dim() == 2 && a.size(0) == b.size(0), "A (N,) and B (N, M) expected");
    auto ac = a.contiguous();
    auto bc = b.contiguous();
    auto y = torch::empty_like(bc);
    const int64_t n = bc.size(0), m = bc.size(1);
    if (n == 0 || m == 0) return y;
    auto stream = c10::cuda::getCurrentCUDAStream();
    const bool vec = m % 4 == 0 && reinterpret_cast<uintptr_t>(bc.data_ptr<float>()) % 16 == 0 &&
                     reinterpret_cast<uintptr_t>(y.data_ptr<float>()) % 16 == 0;
    if (vec)
        scale_rows4<<<(unsigned)n, 256, 0, stream>>>(
            ac.data_ptr<float>(), reinterpret_cast<const float4*>(bc.data_ptr<float>()),
            reinterpret_cast<float4*>(y.data_ptr<float>()), m / 4);
    else
        scale_rows1<<<(unsigned)n, 256, 0, stream>>>(ac.data_ptr<float>(), bc.data_ptr<float>(),
                                                     y.data_ptr<float>(), m);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

ext = load_inline(
    name="kb12_diag_matmul",
    cpp_sources="torch::Tensor diag_matmul(torch::Tensor a, torch::Tensor b);",
    cuda_sources=cuda_source,
    functions=["diag_matmul"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return ext.diag_matmul(A, B)
