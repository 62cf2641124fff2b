import torch
import torch.nn as nn


class Model(nn.Module):
    """Batched matrix products."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.bmm(A, B)


batch = 64
n = 1024

KERNELSWARM_CPU_SIZES = {"batch": 4, "n": 64}


def get_inputs():
    return [torch.randn(batch, n, n), torch.randn(batch, n, n)]


def get_init_inputs():
    return []
