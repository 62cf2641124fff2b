"""Computes the first half of the rows and leaves the rest zero: a sampled check would miss it.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected values
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(A.shape[0], B.shape[1], dtype=A.dtype, device=A.device)
        half = A.shape[0] // 2
        out[:half] = A[:half] @ B
        return out
