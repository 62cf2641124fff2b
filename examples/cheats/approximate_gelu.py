"""Uses the tanh approximation of GELU: a different function, about 1e-3 off.

kernelswarm-problem: ../problems/linear_gelu.py
kernelswarm-run: => rejected values
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.gelu(self.linear(x), approximate="tanh")
