"""Zeroes its inputs and returns zeros, hoping the reference runs afterwards on the same memory.

The reference runs in another process on a pristine copy; inputs are compared after every call.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected mutation
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        A.zero_()
        B.zero_()
        return torch.zeros(A.shape[0], B.shape[1], dtype=A.dtype, device=A.device)
