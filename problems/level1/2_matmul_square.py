import torch
import torch.nn as nn


class Model(nn.Module):
    """C = A @ B, square fp32 (TF32 off under the strict policy)."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A, B)


N = 4096

KERNELSWARM_CPU_SIZES = {"N": 256}


def get_inputs():
    return [torch.randn(N, N), torch.randn(N, N)]


def get_init_inputs():
    return []
