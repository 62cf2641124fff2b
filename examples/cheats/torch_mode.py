"""Leaves a TorchFunctionMode active that sits between the harness and every tensor operation.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected integrity
"""
import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode


class Spy(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


_mode = Spy()
_mode.__enter__()


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return torch.matmul(A, B)
