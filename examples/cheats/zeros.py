"""Returns zeros of the right shape: the oldest trick, caught by the value check.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected values
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.zeros(A.shape[0], B.shape[1], dtype=A.dtype, device=A.device)
