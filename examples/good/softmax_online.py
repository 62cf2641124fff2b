"""Online softmax: running max and rescaled running sum over chunks (the FlashAttention trick).

kernelswarm-problem: ../problems/softmax.py
kernelswarm-run: => accepted
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        chunk = 4096
        m = torch.full((x.shape[0], 1), float("-inf"), dtype=x.dtype, device=x.device)
        s = torch.zeros((x.shape[0], 1), dtype=x.dtype, device=x.device)
        for start in range(0, x.shape[1], chunk):
            block = x[:, start : start + chunk]
            m_new = torch.maximum(m, block.max(dim=1, keepdim=True).values)
            s = s * torch.exp(m - m_new) + torch.exp(block - m_new).sum(dim=1, keepdim=True)
            m = m_new
        return torch.exp(x - m) / s
