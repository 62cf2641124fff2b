"""Raises in its constructor.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected constructor
"""
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        raise RuntimeError("no kernel for this device")

    def forward(self, A, B):
        return A @ B
