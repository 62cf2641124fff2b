import torch
import torch.nn as nn


class Model(nn.Module):
    """A 3x3 convolution with padding, 64 to 128 channels."""

    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


batch = 64
in_channels = 64
out_channels = 128
size = 128
kernel_size = 3

KERNELSWARM_CPU_SIZES = {"batch": 2, "in_channels": 8, "out_channels": 16, "size": 32}


def get_inputs():
    return [torch.randn(batch, in_channels, size, size)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size]
