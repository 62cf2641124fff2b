import torch
import torch.nn as nn


class Model(nn.Module):
    """A product computed twice and averaged: the reference does twice the work it needs."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return (torch.matmul(A, B) + torch.matmul(A, B)) / 2


N = 256


def get_inputs():
    return [torch.randn(N, N), torch.randn(N, N)]


def get_init_inputs():
    return []
