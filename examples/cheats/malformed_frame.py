"""Writes a reply whose tensor description is malformed (a shape of infinities), then exits.

Before the judge checked every tensor description field by field, decoding this frame raised
an OverflowError inside the judge: "the judge itself failed", exit 2, could not judge — a
rejection turned into no verdict at all. A frame from a worker that is not a well-formed message
is the sender's fault: a protocol rejection.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected protocol
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn


def _write_malformed() -> None:
    frame = sys._getframe()
    while frame is not None:
        names = frame.f_locals
        if "channel" in names and "seq" in names:
            header = json.dumps({
                "payload": {"kind": "called", "seq": names["seq"], "body": {"__tensor__": 0}},
                "tensors": [{"dtype": "float32", "shape": [float("inf")], "nbytes": 4, "offset": 0}],
            }).encode()
            fd = names["channel"].write_fd
            os.set_blocking(fd, True)
            os.write(fd, struct.pack(">4sQQ", b"KSW1", len(header), 4) + header + b"\0" * 4)
            os._exit(0)
        frame = frame.f_back


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        _write_malformed()
        return torch.matmul(A, B)
