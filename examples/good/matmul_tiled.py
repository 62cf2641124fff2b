"""A correct matmul that accumulates over K in tiles of 32: rounding differs from the library's.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => accepted
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(A.shape[0], B.shape[1], dtype=A.dtype, device=A.device)
        for k in range(0, A.shape[1], 32):
            out += A[:, k : k + 32] @ B[k : k + 32, :]
        return out
