import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """A simplified Mamba selective scan: h_t = exp(delta_t A) h_{t-1} + delta_t B_t x_t, y_t = C_t . h_t + D x_t."""

    def __init__(self, d_model, d_state):
        super().__init__()
        self.delta_proj = nn.Linear(d_model, d_model)
        self.B_proj = nn.Linear(d_model, d_state, bias=False)
        self.C_proj = nn.Linear(d_model, d_state, bias=False)
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(d_model, 1)  # S4D-real init
        self.A_log = nn.Parameter(torch.log(A) + 0.1 * torch.randn(d_model, d_state))
        self.D = nn.Parameter(torch.randn(d_model) * 0.2 + 1.0)
        # delta around a log-uniform step in [1e-3, 1e-1], as Mamba initialises it
        with torch.no_grad():
            dt = torch.exp(torch.rand(d_model) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
            self.delta_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus
            self.B_proj.weight.normal_(0.0, 1.5 * d_model**-0.5)
            self.C_proj.weight.normal_(0.0, 1.5 * d_model**-0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, d_model = x.shape
        delta = F.softplus(self.delta_proj(x))  # (B, L, D), positive
        A = -torch.exp(self.A_log)  # (D, N), negative: the recurrence decays
        Bm, Cm = self.B_proj(x), self.C_proj(x)  # (B, L, N)
        dA = torch.exp(delta.unsqueeze(-1) * A)  # (B, L, D, N)
        dBx = (delta * x).unsqueeze(-1) * Bm.unsqueeze(2)  # (B, L, D, N)
        h = x.new_zeros(batch, d_model, A.shape[1])
        ys = []
        for t in range(length):
            h = dA[:, t] * h + dBx[:, t]
            ys.append((h * Cm[:, t].unsqueeze(1)).sum(-1))
        return torch.stack(ys, dim=1) + x * self.D


# ~5 ms on an H100: launch-bound, 256 dependent steps of 4 small kernels (~5 us each); dA and dBx 134 MB each
batch = 8
seq_len = 256
d_model = 1024
d_state = 16

KERNELSWARM_CPU_SIZES = {"batch": 2, "seq_len": 32, "d_model": 64, "d_state": 8}


def get_inputs():
    return [torch.randn(batch, seq_len, d_model)]


def get_init_inputs():
    return [d_model, d_state]
