"""Remembers results by a cheap fingerprint of the inputs' contents. Every result it returns is
right, so every correctness check passes; but repeated inputs cost a lookup, not a matmul, and a
timer that reuses its inputs reports the lookup.

The first visit of every timed input set is compared with the repeats.

On a GPU its key (four values read back to the host) costs more than a 256 x 256 product, so it
gains nothing there and is accepted at its honest, slower time: the example runs on the CPU. (At
sizes where the key is cheap, the first visits show it as here: see precompute_timing_sets.py,
rejected on an H200.) Its key was once four sums: on a CPU where those cost half a product, the
repeats were 0.54 of the first visits and passed (the rule allows up to 2x, for noise).

kernelswarm-problem: ../../problems/matmul.py
kernelswarm-device: cpu
kernelswarm-run: --timing --time-budget 5 --no-compile-baseline => rejected memoisation
"""
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
        return self.memo[key].clone()
