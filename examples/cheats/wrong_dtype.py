"""Returns float64 (computed in double precision): values fine, contract broken.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected dtype
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A.double(), B.double())
