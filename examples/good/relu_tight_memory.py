"""The problem's own ReLU, judged under a memory limit smaller than what the judge hands it.

Sixteen calls of 16 MiB inputs: the inputs as they arrive, a pristine copy of each call's, and
the outputs kept for the final look take the worker past 0.9 GiB. That memory is the judge's,
not the candidate's, and is added to its limit (KernelBench's L1/45 on an H100: 16 GiB inputs
arrived in host memory and a correct candidate was killed at 32.5 GiB of 32). Its twin that
hoards memory of its own, ../cheats/memory_hog.py, is still killed.

kernelswarm-problem: ../problems/relu.py
kernelswarm-device: cpu
kernelswarm-run: --set dim=65536 --memory-gb 0.9 => accepted
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)
