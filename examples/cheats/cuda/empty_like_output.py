"""torch.empty for the output, nothing written: picks up whatever the caching allocator holds.

kernelswarm-problem: ../../problems/matmul.py
kernelswarm-device: cuda
kernelswarm-run: --set N=2048 => rejected nonfinite|values
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        scratch = torch.matmul(A, B)  # computed, then freed: its block goes back to the cache
        del scratch
        return torch.empty(A.shape[0], B.shape[1], device=A.device, dtype=A.dtype)
