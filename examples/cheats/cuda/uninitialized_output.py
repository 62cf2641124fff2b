"""A CUDA extension that allocates its output and never writes it (KernelBench's result-reuse
fixture). In a harness that ran the reference first in the same process, the caching allocator
hands it the reference's freed output, which holds the answer.

kernelswarm-problem: ../../problems/matmul.py
kernelswarm-device: cuda
kernelswarm-run: --set N=2048 => rejected nonfinite|values
kernelswarm-slow: compiles CUDA
"""
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cuda_source = r"""
#include <torch/extension.h>
torch::Tensor matmul_cuda(torch::Tensor A, torch::Tensor B) {
    return torch::empty({A.size(0), B.size(1)}, A.options());
}
"""

module = load_inline(
    name="uninitialised_matmul",
    cpp_sources="torch::Tensor matmul_cuda(torch::Tensor A, torch::Tensor B);",
    cuda_sources=cuda_source,
    functions=["matmul_cuda"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return module.matmul_cuda(A, B)
