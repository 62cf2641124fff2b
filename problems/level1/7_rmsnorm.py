import torch
import torch.nn as nn


class Model(nn.Module):
    """RMSNorm as LLaMA-style models write it (KernelBench has none): x / rms(x) * weight."""

    def __init__(self, features, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.randn(features) * 0.2 + 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rms = torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return x * rms * self.weight


rows = 65536
features = 8192

KERNELSWARM_CPU_SIZES = {"rows": 128, "features": 512}


def get_inputs():
    return [torch.randn(rows, features)]


def get_init_inputs():
    return [features]
