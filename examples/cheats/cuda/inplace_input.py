"""A CUDA kernel that writes the ReLU into its input and returns the input.

kernelswarm-problem: ../../problems/relu.py
kernelswarm-device: cuda
kernelswarm-run: => rejected mutation|aliasing
kernelswarm-slow: compiles CUDA
"""
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cuda_source = r"""
#include <torch/extension.h>
__global__ void relu_inplace(float* x, int64_t n) {
    int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i < n) x[i] = x[i] > 0.f ? x[i] : 0.f;
}
torch::Tensor relu_(torch::Tensor x) {
    int64_t n = x.numel();
    relu_inplace<<<(n + 255) / 256, 256>>>(x.data_ptr<float>(), n);
    return x;
}
"""

module = load_inline(
    name="inplace_relu",
    cpp_sources="torch::Tensor relu_(torch::Tensor x);",
    cuda_sources=cuda_source,
    functions=["relu_"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return module.relu_(x)
