"""Imports a module that does not exist.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected import
"""
import torch.nn as nn

import fast_matmul_that_does_not_exist  # noqa: F401


class ModelNew(nn.Module):
    def forward(self, A, B):
        return A @ B
