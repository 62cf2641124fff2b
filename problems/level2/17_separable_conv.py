import torch
import torch.nn as nn


class Model(nn.Module):
    """Depthwise-separable convolution: 3x3 depthwise then 1x1 pointwise (MobileNet style)."""

    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__()
        self.depthwise = nn.Conv2d(
            in_channels, in_channels, kernel_size, padding=kernel_size // 2, groups=in_channels
        )
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


batch = 32
in_channels = 256
out_channels = 512
size = 128
kernel_size = 3  # ~2.8 ms on an H100 (140 GFLOP at 50 TFLOP/s)

KERNELSWARM_CPU_SIZES = {"batch": 2, "in_channels": 16, "out_channels": 32, "size": 32}


def get_inputs():
    return [torch.randn(batch, in_channels, size, size)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size]
