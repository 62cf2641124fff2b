"""Defines Model instead of ModelNew.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected interface
"""
import torch.nn as nn


class Model(nn.Module):
    def forward(self, A, B):
        return A @ B
