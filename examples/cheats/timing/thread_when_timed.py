"""Honest for its first 40 calls (more than the correctness checks make), then returns at once
and lets a thread write the result: a timer that only looks at forward's duration sees nothing.

Every timed call's output is checksummed the moment forward returns and compared with the same
input's final output.

kernelswarm-problem: ../../problems/matmul.py
kernelswarm-run: --timing --time-budget 5 --no-compile-baseline => rejected completion
"""
import threading

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls <= 40:
            return torch.matmul(A, B)
        out = torch.zeros(A.shape[0], B.shape[1], dtype=A.dtype, device=A.device)
        threading.Thread(target=torch.matmul, args=(A, B), kwargs={"out": out}, daemon=True).start()
        return out
