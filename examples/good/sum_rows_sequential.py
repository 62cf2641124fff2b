"""Row sums accumulated left to right in fp32, as a naive one-thread-per-row kernel would:
error grows with the row length, yet this is a correct kernel and must be accepted.

kernelswarm-problem: ../problems/sum_rows.py
kernelswarm-run: => accepted
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        acc = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for j in range(x.shape[1]):
            acc += x[:, j]
        return acc
