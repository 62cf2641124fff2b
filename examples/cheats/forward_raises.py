"""Raises inside forward.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected forward
"""
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A, B):
        raise ValueError("shape not supported by this kernel")
