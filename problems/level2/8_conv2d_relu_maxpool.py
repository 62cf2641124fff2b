import torch
import torch.nn as nn


class Model(nn.Module):
    """3x3 convolution, ReLU and 2x2 max pooling: a VGG-style stage."""

    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        with torch.no_grad():  # a bias large enough to move the activation's threshold
            self.conv.bias.normal_(0.0, 0.5)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(torch.relu(self.conv(x)))


batch = 32
in_channels = 128
out_channels = 128
size = 112
kernel_size = 3  # ~2.4 ms on an H100 (118 GFLOP at 50 TFLOP/s)

KERNELSWARM_CPU_SIZES = {"batch": 2, "in_channels": 8, "out_channels": 16, "size": 32}


def get_inputs():
    return [torch.randn(batch, in_channels, size, size)]


def get_init_inputs():
    return [in_channels, out_channels, kernel_size]
