"""argmax through torch.max's indices: an integer output, compared exactly.

kernelswarm-problem: ../problems/argmax.py
kernelswarm-run: => accepted
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.max(x, dim=self.dim).indices
