import torch
import torch.nn as nn


class Model(nn.Module):
    """Sum over the last dimension of long rows."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sum(x, dim=-1)


rows = 32768
cols = 16384

KERNELSWARM_CPU_SIZES = {"rows": 128, "cols": 2048}


def get_inputs():
    return [torch.randn(rows, cols)]


def get_init_inputs():
    return []
