import torch
import torch.nn as nn


class Model(nn.Module):
    """bf16 residual add + RMSNorm (LLaMA style, fp32 statistics): returns (norm(x + r), x + r)."""

    def __init__(self, hidden, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.randn(hidden, dtype=torch.bfloat16) * 0.2 + 1.0)

    def forward(self, x: torch.Tensor, residual: torch.Tensor):
        h = x + residual
        hf = h.float()
        normed = hf * torch.rsqrt(hf.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return self.weight * normed.type_as(h), h


rows = 16384
hidden = 8192  # ~2.0 ms on an H100 (5.9 GB moved unfused at 3 TB/s)

KERNELSWARM_CPU_SIZES = {"rows": 128, "hidden": 512}


def get_inputs():
    return [
        torch.randn(rows, hidden, dtype=torch.bfloat16),
        torch.randn(rows, hidden, dtype=torch.bfloat16) * 2,
    ]


def get_init_inputs():
    return [hidden]
