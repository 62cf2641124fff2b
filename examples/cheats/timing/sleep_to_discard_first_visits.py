"""Memoises by content, as memoise_by_content.py does, and hides the first visits that would
show it: on inputs it has not seen it computes the product honestly and then sleeps 80 ms. A
call that sleeps uses little CPU time for its wall time, which is what a block stopped or
starved on a busy machine looks like; such blocks were not counted, and every first visit was
dropped, so that no first visit was left to compare with the lookups.

A first visit is now counted whatever its CPU time: its wall time is what it cost (the sleep
makes it slow, and the lookups show against it).

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

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        key = (float(A[0, 0]), float(A[-1, -1]), float(B[0, 0]), float(B[-1, -1]))
        if key not in self.memo:
            self.memo[key] = torch.matmul(A, B)
            time.sleep(0.08)
        return self.memo[key].clone()
