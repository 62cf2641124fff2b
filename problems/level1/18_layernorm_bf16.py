import torch
import torch.nn as nn


class Model(nn.Module):
    """LayerNorm in bfloat16 with learned scale and shift."""

    def __init__(self, features):
        super().__init__()
        self.norm = nn.LayerNorm(features)
        with torch.no_grad():
            self.norm.weight.normal_(1.0, 0.2)
            self.norm.bias.normal_(0.0, 0.2)
        self.to(torch.bfloat16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


rows = 131072
features = 8192  # 2 GiB of bf16 in, 2 GiB out

KERNELSWARM_CPU_SIZES = {"rows": 128, "features": 512}


def get_inputs():
    return [(torch.randn(rows, features) * 2 + 0.5).to(torch.bfloat16)]


def get_init_inputs():
    return [features]
