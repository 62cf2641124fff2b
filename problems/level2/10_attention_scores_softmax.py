import math

import torch
import torch.nn as nn


class Model(nn.Module):
    """Attention probabilities without a mask: softmax(Q K^T / sqrt(d)) over the keys."""

    def __init__(self, head_dim):
        super().__init__()
        self.scale = 1.0 / math.sqrt(head_dim)

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        scores = torch.matmul(q, k.transpose(-2, -1)) * self.scale
        return torch.softmax(scores, dim=-1)


batch = 4
heads = 16
seq_len = 2048
head_dim = 64  # ~1.8 ms on an H100 (5.4 GB moved unfused at 3 TB/s; 34 GFLOP)

KERNELSWARM_CPU_SIZES = {"batch": 1, "heads": 2, "seq_len": 128, "head_dim": 32}


def get_inputs():
    # scores with a standard deviation near 2: peaked rows, not a near-uniform 1/seq_len
    shape = (batch, heads, seq_len, head_dim)
    return [torch.randn(shape) * 1.5, torch.randn(shape) * 1.5]


def get_init_inputs():
    return [head_dim]
