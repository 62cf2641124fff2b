"""Right values, extra leading dimension: broadcasting comparisons would let it through.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected shape
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A, B).unsqueeze(0)
