"""Never returns from forward.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: --timeout 20 => rejected timeout
"""
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A, B):
        while True:
            pass
