"""Returns zeros for a softmax over 32768 columns: every true value is ~3e-5, under atol=1e-2.

Under KernelBench's tolerance zeros pass every test on the problem's own inputs: those tests
are reported weak, and only the scaled and heavy-tailed variants (larger logits, so some
probabilities are large) catch it. Under the calibrated tolerance zeros are simply wrong.

kernelswarm-problem: ../problems/softmax.py
kernelswarm-run: => rejected values
kernelswarm-run: --precision kernelbench => rejected values
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)
