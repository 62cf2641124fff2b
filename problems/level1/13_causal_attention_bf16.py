import torch
import torch.nn as nn


class Model(nn.Module):
    """Causal scaled-dot-product attention in bfloat16 (what FlashAttention computes)."""

    def __init__(self):
        super().__init__()

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)


batch = 32
heads = 16
seq = 4096
head_dim = 64  # ~1.1 TFLOP with the causal half: ~1.6 ms at 700 TFLOP/s (bf16)

KERNELSWARM_CPU_SIZES = {"batch": 1, "heads": 2, "seq": 128, "head_dim": 32}


def get_inputs():
    shape = (batch, heads, seq, head_dim)
    return [torch.randn(shape, dtype=torch.bfloat16) for _ in range(3)]


def get_init_inputs():
    return []
