import torch
import torch.nn as nn


class Model(nn.Module):
    """Softmax over long rows: every output is tiny, so a loose absolute tolerance passes zeros."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x, dim=1)


batch_size = 16
dim = 32768


def get_inputs():
    x = torch.randn(batch_size, dim)
    return [x]


def get_init_inputs():
    return []
