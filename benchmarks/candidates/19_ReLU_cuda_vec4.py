"""A vectorised CUDA ReLU for KernelBench level 1, problem 19 (float4 loads and stores).

Used by benchmarks/judge_speed.py: the same file is judged by kernelswarm and by KernelBench's
own evaluator, at KernelBench's own size (4096 x 393216 float32).
"""

import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cuda_source = r"""
#include <torch/extension.h>
#include <c10/cuda/CUDAStream.h>
__global__ void relu4(const float4* __restrict__ x, float4* __restrict__ y, int64_t n4) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n4;
         i += (int64_t)gridDim.x * blockDim.x) {
        float4 v = x[i];
        v.x = fmaxf(v.x, 0.f); v.y = fmaxf(v.y, 0.f); v.z = fmaxf(v.z, 0.f); v.w = fmaxf(v.w, 0.f);
        y[i] = v;
    }
}
__global__ void relu1(const float* __restrict__ x, float* __restrict__ y, int64_t start, int64_t n) {
    int64_t i = start + blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i < n) y[i] = fmaxf(x[i], 0.f);
}
torch::Tensor relu(torch::Tensor x) {
    TORCH_CHECK(x.is_cuda() && x.scalar_type() == torch::kFloat, "float32 CUDA tensor expected");
    auto xc = x.contiguous();
    auto y = torch::empty_like(xc);
    int64_t n = xc.numel();
    bool aligned = reinterpret_cast<uintptr_t>(xc.data_ptr<float>()) % 16 == 0 &&
                   reinterpret_cast<uintptr_t>(y.data_ptr<float>()) % 16 == 0;
    int64_t n4 = aligned ? n / 4 : 0;
    auto stream = c10::cuda::getCurrentCUDAStream();
    if (n4) {
        int blocks = (int)std::min<int64_t>((n4 + 255) / 256, 132 * 32);
        relu4<<<blocks, 256, 0, stream>>>(reinterpret_cast<const float4*>(xc.data_ptr<float>()),
                                          reinterpret_cast<float4*>(y.data_ptr<float>()), n4);
    }
    int64_t rest = n - 4 * n4;
    if (rest)
        relu1<<<(unsigned)((rest + 255) / 256), 256, 0, stream>>>(
            xc.data_ptr<float>(), y.data_ptr<float>(), 4 * n4, n);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

ext = load_inline(
    name="kb19_relu_vec4",
    cpp_sources="torch::Tensor relu(torch::Tensor x);",
    cuda_sources=cuda_source,
    functions=["relu"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ext.relu(x)
