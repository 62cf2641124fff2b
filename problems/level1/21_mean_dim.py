import torch
import torch.nn as nn


class Model(nn.Module):
    """Mean over the middle dimension of a 3-D tensor (a strided reduction)."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.mean(x, dim=1)


batch = 448
length = 4096
features = 512  # 3.5 GiB read: measured 0.72 ms at 2 GiB on an H100, so ~1.3 ms

KERNELSWARM_CPU_SIZES = {"batch": 8, "length": 256, "features": 64}


def get_inputs():
    return [torch.randn(batch, length, features) + 0.3]


def get_init_inputs():
    return []
