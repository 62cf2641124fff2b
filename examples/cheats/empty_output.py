"""Returns an uninitialised tensor: passes wherever freed memory still holds an earlier answer.

Freed memory is poisoned with NaN before every call, and the answer never lives in this process.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected nonfinite|values
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.empty(A.shape[0], B.shape[1], dtype=A.dtype, device=A.device)
