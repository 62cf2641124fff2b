"""Keeps the reference's nn.Linear (its weights are shared by name) and writes GELU with erf.

kernelswarm-problem: ../problems/linear_gelu.py
kernelswarm-run: => accepted
"""
import math

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.addmm(self.linear.bias, x, self.linear.weight.t())
        return 0.5 * y * (1.0 + torch.erf(y / math.sqrt(2.0)))
