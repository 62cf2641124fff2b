import torch
import torch.nn as nn


class Model(nn.Module):
    """A pre-norm vision transformer encoder block on patch tokens: LayerNorm, multi-head self-attention,
    LayerNorm, GELU MLP, each with a residual."""

    def __init__(self, dim, n_heads, mlp_dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, n_heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))
        # non-trivial affine parameters, and sharper attention than the default init
        with torch.no_grad():
            for norm in (self.norm1, self.norm2):
                norm.weight.normal_(1.0, 0.2)
                norm.bias.normal_(0.0, 0.2)
            self.attn.in_proj_weight[: 2 * dim].mul_(2.5)
            self.attn.in_proj_bias.normal_(0.0, 0.1)
            self.attn.out_proj.bias.normal_(0.0, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


# ~3.7 ms on an H100 (ViT-B/16 at 224x224): 178 GFLOP of projections + 7.6 GFLOP of attention at 50 TFLOP/s
batch = 64
tokens = 197
dim = 768
n_heads = 12
mlp_dim = 3072

KERNELSWARM_CPU_SIZES = {"batch": 2, "tokens": 17, "dim": 64, "n_heads": 4, "mlp_dim": 128}


def get_inputs():
    return [torch.randn(batch, tokens, dim)]


def get_init_inputs():
    return [dim, n_heads, mlp_dim]
