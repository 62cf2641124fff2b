import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.randn(dim) * 0.2 + 1.0)

    def forward(self, x):  # normalise in at least fp32, as LLaMA does
        xf = x.to(torch.promote_types(x.dtype, torch.float32))
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return xf.to(x.dtype) * self.weight


def rope(x, theta=10000.0):
    """Rotary embedding of x (B, H, L, head_dim): angles in at least fp32, applied in x's dtype."""
    L, hd = x.shape[-2], x.shape[-1]
    dtype = torch.promote_types(x.dtype, torch.float32)
    pos = torch.arange(L, device=x.device, dtype=dtype)
    inv_freq = theta ** (-torch.arange(0, hd, 2, device=x.device, dtype=dtype) / hd)
    angles = torch.outer(pos, inv_freq)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class Model(nn.Module):
    """A LLaMA-style decoder block in bfloat16: RMSNorm, RoPE, grouped-query causal attention, SwiGLU MLP."""

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
        self.to(torch.bfloat16)

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


# ~2.3 ms on an H100: 1.45 TFLOP of projections + 0.14 TFLOP of attention at 700 TFLOP/s (bf16)
batch = 2
seq_len = 2048
dim = 4096
n_heads = 32
n_kv_heads = 8
hidden = 11008

KERNELSWARM_CPU_SIZES = {"batch": 2, "seq_len": 32, "dim": 128, "n_heads": 4, "n_kv_heads": 2, "hidden": 256}  # fmt: skip


def get_inputs():
    return [torch.randn(batch, seq_len, dim, dtype=torch.bfloat16)]


def get_init_inputs():
    return [dim, n_heads, n_kv_heads, hidden]
