"""Memoises by content, and makes every call that comes just after a pause as slow as three real
products when its inputs are ones it has seen.

The first visits of input sets are timed alone, and were compared only with repeats timed alone
the same way. A call timed alone comes after a pause (the judge's requests), a call of a block
does not: this candidate makes its lone repeats slower than its first visits, so that comparison
saw nothing, while its blocks (its score) were lookups: accepted 1.8x faster than eager on the
CPU. The first visits are now compared with the blocks too (allowing for what a call alone costs
the eager baseline over one of its blocks, timed the same way).

kernelswarm-problem: ../../problems/matmul.py
kernelswarm-device: cpu
kernelswarm-run: --timing --time-budget 5 --no-compile-baseline => rejected memoisation
"""
import time

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.memo = {}
        self.last = 0.0
        self.since_pause = 0

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        now = time.perf_counter()
        self.since_pause = 0 if now - self.last > 1e-3 else self.since_pause + 1
        key = (float(A[0, 0]), float(A[-1, -1]), float(B[0, 0]), float(B[-1, -1]))
        if key not in self.memo:
            self.memo[key] = torch.matmul(A, B)
            out = self.memo[key].clone()
        else:
            out = self.memo[key].clone()
            if self.since_pause <= 3:  # a call alone, or one of a block's first few
                torch.matmul(A, B)
                torch.matmul(A, B)
        self.last = time.perf_counter()
        return out
