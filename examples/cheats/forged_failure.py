"""Fails, then forges a well-formed failure report blaming the problem's own code.

It finds the worker's channel and the current request's sequence number in the frames above its
forward, sends a "failed during load problem" message (which would make the verdict "could not
judge": not its fault), and exits. Once candidate code has run in a worker, the judge believes no
claim about whose code failed: the failure is the candidate's.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected protocol
"""
import os
import sys

import torch
import torch.nn as nn


def _forge() -> None:
    from kernelswarm import protocol

    frame = sys._getframe()
    while frame is not None:
        names = frame.f_locals
        if "channel" in names and "seq" in names:
            lie = protocol.Failed(
                phase=protocol.Phase.LOAD_PROBLEM, detail="", failure=protocol.FailureKind.EXCEPTION,
                exception="ProblemFileError", message="problem file defines no get_inputs",
                traceback="",
            )
            names["channel"].send(protocol.encode(lie, names["seq"]))
            os._exit(0)
        frame = frame.f_back


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        _forge()
        return torch.matmul(A, B)
