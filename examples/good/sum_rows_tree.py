"""Row sums by pairwise halving (a tree reduction): a different summation order, equally valid.

kernelswarm-problem: ../problems/sum_rows.py
kernelswarm-run: => accepted
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        while x.shape[1] > 1:
            if x.shape[1] % 2:
                x = torch.cat([x, torch.zeros_like(x[:, :1])], dim=1)
            x = x[:, 0::2] + x[:, 1::2]
        return x[:, 0]
