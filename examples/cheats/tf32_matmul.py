"""Rounds the operands to TF32 (10-bit mantissa), as tensor cores do when TF32 is on.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected values
kernelswarm-run: --precision tf32 => accepted
"""
import torch
import torch.nn as nn


def tf32(x):
    bits = x.contiguous().view(torch.int32)
    return ((bits + 0x1000) & ~0x1FFF).view(torch.float32)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(tf32(A), tf32(B))
