"""A faithful copy of a problem whose weights come from os.urandom: the reference itself is unjudgeable.

kernelswarm-problem: ../problems/unseeded_init.py
kernelswarm-run: --weights seed => error determinism
"""
import os

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, features):
        super().__init__()
        noise = torch.frombuffer(bytearray(os.urandom(4 * features)), dtype=torch.int32).float()
        self.scale = nn.Parameter(noise / 2**31)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale
