"""A C++ extension that does not compile: the compiler's message must reach the user.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected compile
kernelswarm-slow: compiles C++
"""
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

source = r"""
#include <torch/extension.h>
torch::Tensor mm(torch::Tensor a, torch::Tensor b) {
    return a.matmul(b)   // missing semicolon
}
"""

module = load_inline(name="broken_mm", cpp_sources=source, functions=["mm"], verbose=False)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A, B):
        return module.mm(A, B)
