"""Launches the matmul on a side stream and returns at once, as `side_stream.py` does, but takes
its output's memory fresh from the driver: temporaries of the output's size are allocated first
(and kept), so that the blocks the judge poisoned go to them, and the output itself comes from
memory the driver hands out as it was last left.

What the driver hands out was filled by whichever process gave it back: the judge and the
reference worker fill their memory with 0xFF before they give it back (`release_poisoned`), so
that it never holds a test's answer; the result is copied at return and again after a
device-wide synchronise, and they differ.

kernelswarm-problem: ../../problems/matmul.py
kernelswarm-device: cuda
kernelswarm-run: --set N=4096 => rejected completion|values|nonfinite
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.stream = torch.cuda.Stream()
        self.decoys = []

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        # as many blocks of the output's size as the allocator's cache may hold, taken first
        self.decoys = [torch.empty(A.shape[0], B.shape[1], device=A.device) for _ in range(4)]
        out = torch.empty(A.shape[0], B.shape[1], device=A.device, dtype=A.dtype)
        with torch.cuda.stream(self.stream):
            torch.matmul(A, B, out=out)
        return out
