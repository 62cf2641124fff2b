"""Writes through a null pointer inside forward: the worker dies by a signal.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected crash
"""
import ctypes

import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A, B):
        ctypes.memmove(8, b"crash", 5)  # write to the zero page
        return A @ B
