"""Honest results; once timing starts it finds the harness's saved clock through the garbage
collector and replaces it with one that runs ten times slow.

kernelswarm-problem: ../../problems/matmul.py
kernelswarm-run: --timing --time-budget 5 --no-compile-baseline => rejected integrity
"""
import gc
import time

import torch
import torch.nn as nn

_real = time.perf_counter


def slow_clock():
    return _real() / 10


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == 30:
            for obj in gc.get_objects():
                if type(obj).__name__ == "Trusted":
                    obj.perf_counter = slow_clock
        return torch.matmul(A, B)
