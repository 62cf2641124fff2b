"""Softmax as exp(x - logsumexp(x)), the way fused kernels write it: one pass for the
log-sum-exp, one for the output. Its rounding error grows with |x - logsumexp(x)|, unlike the
reference's exp(x - max) / sum; on heavy-tailed rows it is many times the reference's own error,
where the answer itself is that sensitive to its inputs' last bit. An honest rewrite: accepted.

kernelswarm-problem: ../problems/softmax.py
kernelswarm-run: --set dim=4096 => accepted
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x - torch.logsumexp(x, dim=1, keepdim=True))
