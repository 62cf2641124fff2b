"""Skips the dropout of a problem whose reference drops a random fifth of its values each call.

The reference is not deterministic, so nothing can be judged by comparison: exit 2.

kernelswarm-problem: ../problems/dropout_linear.py
kernelswarm-run: => error determinism
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, features, p):
        super().__init__()
        self.linear = nn.Linear(features, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)
