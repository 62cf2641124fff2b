"""torch.compile around the reference computation: Inductor generates the kernel (C++ on CPU,
Triton on CUDA). Correct by construction, and the honest baseline every kernel must beat.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => accepted
kernelswarm-slow: compiles with Inductor
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.mm = torch.compile(torch.matmul, dynamic=False)

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return self.mm(A, B)
