"""LayerNorm on bf16 rows with its statistics from Welford's one-pass update over float32 blocks
(mean and M2 of each block, then merged), the way a fused kernel keeps them in registers: a
different order of operations from the reference's two passes, the same bf16 result up to
rounding. Accepted under the tight factors of reduced formats.

kernelswarm-problem: ../problems/layernorm_rows.py
kernelswarm-run: => accepted
kernelswarm-run: --set "dtype_name='float32'" => accepted
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.ln = nn.LayerNorm(features)  # float32: the reference's values are copied in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        blocks = x.float().view(x.shape[0], -1, 128)
        n_b = blocks.shape[-1]
        mean_b = blocks.mean(dim=-1)
        m2_b = ((blocks - mean_b[..., None]) ** 2).sum(dim=-1)
        count = torch.zeros_like(mean_b[:, 0])
        mean = torch.zeros_like(count)
        m2 = torch.zeros_like(count)
        for k in range(mean_b.shape[1]):  # Chan et al.'s merge of block statistics
            delta = mean_b[:, k] - mean
            total = count + n_b
            mean = mean + delta * n_b / total
            m2 = m2 + m2_b[:, k] + delta**2 * count * n_b / total
            count = total
        var = m2 / count
        y = (x.float() - mean[:, None]) * torch.rsqrt(var[:, None] + self.ln.eps)
        return (y * self.ln.weight.float() + self.ln.bias.float()).to(x.dtype)
