import torch
import torch.nn as nn


class Model(nn.Module):
    """3x3 convolution, BatchNorm with batch statistics (training mode, as KernelBench) and ReLU."""

    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__()
        # No conv bias: BatchNorm's batch mean would cancel it, and every weight must matter.
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False
        )
        self.bn = nn.BatchNorm2d(out_channels)
        with torch.no_grad():  # non-trivial affine parameters, so that they matter
            self.bn.weight.normal_(1.0, 0.2)
            self.bn.bias.normal_(0.0, 0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


batch = 64
in_channels = 64
out_channels = 128
size = 128
kernel_size = 3  # ~3.1 ms on an H100 (155 GFLOP at 50 TFLOP/s)

KERNELSWARM_CPU_SIZES = {"batch": 2, "in_channels": 8, "out_channels": 16, "size": 32}


def get_inputs():
    return [torch.randn(batch, in_channels, size, size)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size]
