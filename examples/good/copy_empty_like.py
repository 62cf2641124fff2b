"""A copy through empty_like + copy_: the output equals the input on every test, and is its own memory.

kernelswarm-problem: ../../problems/level1/1_copy.py
kernelswarm-run: --set rows=64 --set cols=256 => accepted
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.empty_like(x).copy_(x)
