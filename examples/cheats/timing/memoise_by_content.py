"""Remembers results by a cheap fingerprint of the inputs' contents. Every result it returns is
right, so every correctness check passes; but repeated inputs cost a lookup, not a matmul, and a
timer that reuses its inputs reports the lookup.

The first visit of every timed input set is compared with the repeats.

kernelswarm-problem: ../../problems/matmul.py
kernelswarm-run: --timing --time-budget 5 --no-compile-baseline => rejected memoisation
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.memo = {}

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        key = (float(A.sum()), float(B.sum()), float(A[0, 0]), float(B[-1, -1]))
        if key not in self.memo:
            self.memo[key] = torch.matmul(A, B)
        return self.memo[key].clone()
