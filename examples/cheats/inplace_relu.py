"""Computes ReLU in place on the input and returns it: right values, wrong contract.

kernelswarm-problem: ../problems/relu.py
kernelswarm-run: --set dim=1024 => rejected mutation|aliasing
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp_(min=0)
