import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.randn(dim) * 0.2 + 1.0)

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, theta=10000.0):
    """Rotary embedding of x (B, H, L, head_dim): rotate (first half, second half) pairs by position."""
    L, hd = x.shape[-2], x.shape[-1]
    pos = torch.arange(L, device=x.device, dtype=x.dtype)
    inv_freq = theta ** (-torch.arange(0, hd, 2, device=x.device, dtype=x.dtype) / hd)
    angles = torch.outer(pos, inv_freq)
    cos, sin = angles.cos(), angles.sin()
    x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class Model(nn.Module):
    """A LLaMA-style decoder block in fp32: RMSNorm, RoPE, grouped-query causal attention, SwiGLU MLP."""

    def __init__(self, dim, n_heads, n_kv_heads, hidden):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = n_heads, n_kv_heads, dim // n_heads
        kv_dim = n_kv_heads * self.head_dim
        self.attn_norm, self.mlp_norm = RMSNorm(dim), RMSNorm(dim)
        self.wq = nn.Linear(dim, dim, bias=False)
        self.wk = nn.Linear(dim, kv_dim, bias=False)
        self.wv = nn.Linear(dim, kv_dim, bias=False)
        self.wo = nn.Linear(dim, dim, bias=False)
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)
        with torch.no_grad():  # sharper attention than the default init gives
            self.wq.weight.mul_(3.0)
            self.wk.weight.mul_(3.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, _ = x.shape
        h = self.attn_norm(x)
        q = self.wq(h).view(B, L, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.wk(h).view(B, L, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.wv(h).view(B, L, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = rope(q), rope(k)
        rep = self.n_heads // self.n_kv_heads
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.wo(a.transpose(1, 2).reshape(B, L, -1))
        h = self.mlp_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


# ~4 ms on an H100: 185 GFLOP of projections + 17 GFLOP of attention at 50 TFLOP/s
batch = 2
seq_len = 1024
dim = 2048
n_heads = 16
n_kv_heads = 4
hidden = 5632

KERNELSWARM_CPU_SIZES = {"batch": 2, "seq_len": 32, "dim": 128, "n_heads": 4, "n_kv_heads": 2, "hidden": 256}  # fmt: skip


def get_inputs():
    return [torch.randn(batch, seq_len, dim)]


def get_init_inputs():
    return [dim, n_heads, n_kv_heads, hidden]
