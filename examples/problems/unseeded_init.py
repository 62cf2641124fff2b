import os

import torch
import torch.nn as nn


class Model(nn.Module):
    """A scale initialised from os.urandom: no seed makes two processes agree on the weights."""

    def __init__(self, features):
        super().__init__()
        noise = torch.frombuffer(bytearray(os.urandom(4 * features)), dtype=torch.int32).float()
        self.scale = nn.Parameter(noise / 2**31)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


batch_size = 32
features = 256


def get_inputs():
    return [torch.randn(batch_size, features)]


def get_init_inputs():
    return [features]
