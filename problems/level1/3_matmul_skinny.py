import torch
import torch.nn as nn


class Model(nn.Module):
    """A tall-skinny product (M >> N): memory-bound on A, where tiling for square shapes fails."""

    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A, B)


M = 131072  # A is 2 GiB: measured 0.75 ms at M = 65536 on an H100 (memory-bound), so ~1.5 ms
K = 4096
N = 64

KERNELSWARM_CPU_SIZES = {"M": 1024, "K": 256, "N": 16}


def get_inputs():
    return [torch.randn(M, K), torch.randn(K, N)]


def get_init_inputs():
    return []
