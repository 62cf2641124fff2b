"""Returns the input itself for a copy: right values, no work, and the caller's tensor aliased.

For a copy, "returning the input" is right by value, so the judge does not count it against its
tests' strength; returning the input's own memory is what the aliasing check catches.

kernelswarm-problem: ../../problems/level1/1_copy.py
kernelswarm-run: --set rows=64 --set cols=256 => rejected aliasing
"""
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x
