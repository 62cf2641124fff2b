import torch
import torch.nn as nn


class Model(nn.Module):
    """Linear then dropout, in training mode as constructed: a different answer every call."""

    def __init__(self, features, p):
        super().__init__()
        self.linear = nn.Linear(features, features)
        self.dropout = nn.Dropout(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.linear(x))


batch_size = 64
features = 256
p = 0.2


def get_inputs():
    return [torch.randn(batch_size, features)]


def get_init_inputs():
    return [features, p]
