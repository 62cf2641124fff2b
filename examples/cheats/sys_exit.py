"""Raises SystemExit(0) inside forward: a harness that treats exit status 0 as success passes it.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected early_exit
"""
import sys

import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A, B):
        sys.exit(0)
