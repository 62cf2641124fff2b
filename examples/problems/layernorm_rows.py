import torch
import torch.nn as nn

dtype_name = "bfloat16"  # --set dtype_name='float32' for the fp32 problem


class Model(nn.Module):
    """LayerNorm over rows of activations (bf16 by default), with learned scale and shift."""

    def __init__(self, features):
        super().__init__()
        self.ln = nn.LayerNorm(features, dtype=getattr(torch, dtype_name))
        with torch.no_grad():
            self.ln.weight.normal_(1.0, 0.1)
            self.ln.bias.normal_(0.0, 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln(x)


rows = 256
features = 2048


def get_inputs():
    return [torch.randn(rows, features).to(getattr(torch, dtype_name))]


def get_init_inputs():
    return [features]
