"""Returns zeros for the mean of a layer-normalised tensor, whose true value is rounding noise.

Zeros pass every test here, as would any right kernel: no test is strong, so the judge says it
could not judge (exit 2) instead of accepting.

kernelswarm-problem: ../problems/layernorm_mean.py
kernelswarm-run: => error strength
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, features):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
