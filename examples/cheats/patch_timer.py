"""Replaces the clocks and comparison functions a harness might call, then computes honestly.

The judge's own comparisons happen in another process; the worker's timers and copies were taken
before this file was imported, and their replacement is reported.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected integrity
"""
import time

import torch
import torch.nn as nn

_real = time.perf_counter
time.perf_counter = lambda: _real() / 100.0
torch.allclose = lambda *args, **kwargs: True
torch.cuda.synchronize = lambda *args, **kwargs: None


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A, B)
