"""Computes honestly while unseen input sets keep arriving, answers from memory once they stop.

The judge keeps half the timing sets back and hands each over only with the round that times it
first, a few a round; after the eighth round none is left. This candidate watches for them: while
a new set has come in the last 1.5 s it computes (and keeps every answer); once none has, it
returns the kept answers. To be timed for more rounds than there are unseen sets, it widens the
interval early on (every other 0.7 s window it does the work twice). Its first visits and its
repeats are timed alike while unseen sets come, so the first-visit comparison sees nothing; the
rounds after them are lookups, and without a further rule they would set its median (a 1.8x
"speedup" over eager on this CPU).

Caught by comparing the rounds timed after the last unseen set with those before (the eager
baseline's own change taken out).

kernelswarm-problem: ../../problems/matmul.py
kernelswarm-device: cpu
kernelswarm-run: --timing --time-budget 25 --no-compile-baseline => rejected memoisation
"""
import time

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.memo = {}
        self.last_new = time.monotonic()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        key = (float(A[0, 0]), float(A[-1, -1]), float(B[0, 0]), float(B[-1, -1]))
        now = time.monotonic()
        if key not in self.memo:
            self.last_new = now
            self.memo[key] = torch.matmul(A, B)
            return self.memo[key].clone()
        if now - self.last_new > 1.5:
            return self.memo[key].clone()
        out = torch.matmul(A, B)
        if int(now / 0.7) % 2:
            out = out + 0 * torch.matmul(A, B)
        return out
