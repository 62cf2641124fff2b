import torch
import torch.nn as nn


class Model(nn.Module):
    """Mean of a layer-normalised tensor: mathematically zero, numerically rounding noise.

    No test on this problem can tell a right kernel from one that returns zeros.
    """

    def __init__(self, features):
        super().__init__()
        self.norm = nn.LayerNorm(features, elementwise_affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x).mean(dim=-1)


batch_size = 256
features = 1024


def get_inputs():
    return [torch.randn(batch_size, features)]


def get_init_inputs():
    return [features]
