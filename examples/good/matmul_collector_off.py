"""A correct matmul that switches Python's garbage collector off around its own work, as some
kernels' launchers do: using the collector's switches is no tampering, replacing them is
(``cheats/timing/precompute_in_gc_switch.py``).

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => accepted
"""
import gc

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        collecting = gc.isenabled()
        gc.disable()
        try:
            return torch.matmul(A, B)
        finally:
            if collecting:
                gc.enable()
