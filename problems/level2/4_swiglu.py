import torch
import torch.nn as nn


class Model(nn.Module):
    """The gated half of a LLaMA MLP: silu(x W1^T) * (x W3^T), two GEMMs sharing one input."""

    def __init__(self, d_model, d_ff):
        super().__init__()
        self.w1 = nn.Linear(d_model, d_ff, bias=False)
        self.w3 = nn.Linear(d_model, d_ff, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.silu(self.w1(x)) * self.w3(x)


tokens = 2048
d_model = 2048
d_ff = 5632  # ~1.9 ms on an H100 (94.5 GFLOP at 50 TFLOP/s)

KERNELSWARM_CPU_SIZES = {"tokens": 128, "d_model": 256, "d_ff": 512}


def get_inputs():
    return [torch.randn(tokens, d_model) * 2]


def get_init_inputs():
    return [d_model, d_ff]
