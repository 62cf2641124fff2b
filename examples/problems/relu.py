import torch
import torch.nn as nn


class Model(nn.Module):
    """ReLU on non-negative inputs, as KernelBench draws them (torch.rand)."""

    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)


batch_size = 64
dim = 4096


def get_inputs():
    x = torch.rand(batch_size, dim)
    return [x]


def get_init_inputs():
    return []
