"""Launches the matmul on a side stream and returns at once, without joining it.

CUDA events on the current stream bracket nothing. The result is copied on the current stream
the moment forward returns, and again after a device-wide synchronise: they differ.

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

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        out = torch.empty(A.shape[0], B.shape[1], device=A.device, dtype=A.dtype)
        with torch.cuda.stream(self.stream):
            torch.matmul(A, B, out=out)
        return out
