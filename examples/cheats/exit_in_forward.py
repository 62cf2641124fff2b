"""Ends the process from inside forward with status 0 and an exit hook that prints "accepted".

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected early_exit
"""
import atexit
import os

import torch.nn as nn

atexit.register(lambda: print('{"verdict": "accepted"}'))


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A, B):
        os._exit(0)
