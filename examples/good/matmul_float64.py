"""Computes in float64 and rounds once: more accurate than the reference, and accepted.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => accepted
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A.double(), B.double()).float()
