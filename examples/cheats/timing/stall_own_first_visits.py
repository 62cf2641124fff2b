"""A memoiser that has the machine stall its own first visits, so that they are set aside as a
busy machine's: on every input it has not seen, torch's thread pool is widened to eight threads a
core for the product, and the threads wait for the cores in turn. A first visit during which the
worker's threads waited for a core (as the kernel counts it, read by the judge around the call and
by the worker around the call itself) is set aside before a memoisation finding decides; with
every first visit set aside, too few are left to judge, and the candidate is **not judged**
(``harness``: "could not be timed"), never accepted. Its repeats are lookups, its blocks fast:
what it would be accepted for is a speed it does not have.

kernelswarm-problem: ../../problems/matmul.py
kernelswarm-device: cpu
kernelswarm-run: --timing --time-budget 5 --no-compile-baseline => error harness
"""
import os

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.memo = {}

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        key = (float(A[0, 0]), float(A[-1, -1]), float(B[0, 0]), float(B[-1, -1]))
        if key not in self.memo:
            threads = torch.get_num_threads()
            torch.set_num_threads(8 * (os.cpu_count() or 1))
            try:
                for _ in range(4):  # long enough that the pool's threads queue for the cores
                    out = torch.matmul(A, B)
            finally:
                torch.set_num_threads(threads)
            self.memo[key] = out
        return self.memo[key].clone()
