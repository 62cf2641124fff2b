"""Fills host memory until something stops it.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: --memory-gb 1.5 => rejected memory
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.hoard = []

    def forward(self, A, B):
        while True:
            self.hoard.append(torch.ones(64 << 20, dtype=torch.uint8))
