"""Computes the product once, where the reference computes it twice: half the counted flops.

Faster than the flops the reference does allow, and honest: counted flops are not a lower
bound, only the bytes that must move are. Accepted, and timed.

kernelswarm-problem: ../problems/redundant_matmul.py
kernelswarm-run: --set N=1024 --timing --time-budget 5 --no-compile-baseline => accepted
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A, B)
