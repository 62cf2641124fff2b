"""Honest for its first 40 calls, then moves its matmul to a side stream it never joins: CUDA
events on the current stream then bracket nothing.

Caught twice: checksums at return differ from final outputs, and back-to-back calls take far
longer on a host clock with a device-wide synchronise than the events say.

kernelswarm-problem: ../../problems/matmul.py
kernelswarm-device: cuda
kernelswarm-run: --set N=4096 --timing --time-budget 10 --no-compile-baseline => rejected completion|timing
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0
        self.stream = torch.cuda.Stream()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls <= 40:
            return torch.matmul(A, B)
        out = torch.empty(A.shape[0], B.shape[1], device=A.device, dtype=A.dtype)
        with torch.cuda.stream(self.stream):
            torch.matmul(A, B, out=out)
        return out
