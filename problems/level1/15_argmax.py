import torch
import torch.nn as nn


class Model(nn.Module):
    """Index of the largest value of each row: an integer output, judged exactly."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.argmax(x, dim=-1)


rows = 65536
cols = 8192  # 2 GiB read

KERNELSWARM_CPU_SIZES = {"rows": 256, "cols": 1024}


def get_inputs():
    return [torch.randn(rows, cols)]


def get_init_inputs():
    return []
