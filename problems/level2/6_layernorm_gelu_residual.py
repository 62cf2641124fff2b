import torch
import torch.nn as nn


class Model(nn.Module):
    """x + GELU(LayerNorm(x)): three memory-bound passes that fuse into one."""

    def __init__(self, features):
        super().__init__()
        self.norm = nn.LayerNorm(features)
        with torch.no_grad():  # non-trivial affine parameters, so that they matter
            self.norm.weight.normal_(1.0, 0.2)
            self.norm.bias.normal_(0.0, 0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + nn.functional.gelu(self.norm(x))


rows = 32768
features = 8192  # ~2.1 ms on an H100 (6.4 GB moved unfused at 3 TB/s)

KERNELSWARM_CPU_SIZES = {"rows": 128, "features": 512}


def get_inputs():
    return [torch.randn(rows, features) * 2 + 0.5]


def get_init_inputs():
    return [features]
