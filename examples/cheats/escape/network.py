"""Looks for a network to send the problem, or its secrets, somewhere.

Confined, its network namespace holds only a loopback interface that is down: nothing to reach.

kernelswarm-problem: ../../problems/matmul.py
kernelswarm-run: => accepted
"""

import socket

import torch
import torch.nn as nn


def _network() -> list[str]:
    interfaces = [name for _, name in socket.if_nameindex() if name != "lo"]
    reachable = []
    try:
        socket.create_connection(("127.0.0.1", 22), timeout=0.5).close()
        reachable.append("127.0.0.1:22")
    except OSError:
        pass
    return interfaces + reachable


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        found = _network()
        if found:
            raise RuntimeError("has a network: " + ", ".join(found))
        return torch.matmul(A, B)
