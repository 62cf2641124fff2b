import torch
import torch.nn as nn


class Model(nn.Module):
    """A MobileNetV2 inverted residual block: 1x1 expand conv-BN-ReLU6, 3x3 depthwise conv-BN-ReLU6,
    1x1 project conv-BN, identity shortcut (BatchNorm in training mode)."""

    def __init__(self, channels, expansion):
        super().__init__()
        hidden = channels * expansion
        self.block = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
            nn.Conv2d(hidden, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
        )
        with torch.no_grad():  # non-trivial affine parameters, so that they matter
            for bn in (self.block[1], self.block[4], self.block[7]):
                bn.weight.copy_(torch.randn(bn.num_features) * 0.2 + 1.0)
                bn.bias.copy_(torch.randn(bn.num_features) * 0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


# ~2 ms on an H100: ~14 passes over the 0.31 GB expanded activation + ~8 over the 51 MB input
# (4.7 GB at 3 TB/s: 1.6 ms) + 21 GFLOP of convolutions at 50 TFLOP/s (0.4 ms)
batch = 64
channels = 64
expansion = 6
size = 56

KERNELSWARM_CPU_SIZES = {"batch": 4, "channels": 8, "size": 16}


def get_inputs():
    return [torch.randn(batch, channels, size, size)]


def get_init_inputs():
    return [channels, expansion]
