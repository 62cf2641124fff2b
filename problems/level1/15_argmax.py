import torch
import torch.nn as nn


class Model(nn.Module):
    """Index of the largest value of each row: an integer output, judged exactly."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.argmax(x, dim=-1)


rows = 98304
cols = 8192  # 3 GiB read: measured 0.93 ms at 2 GiB on an H100, so ~1.4 ms

KERNELSWARM_CPU_SIZES = {"rows": 256, "cols": 1024}


def get_inputs():
    return [torch.randn(rows, cols)]


def get_init_inputs():
    return []
