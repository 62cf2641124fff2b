"""Writes a reply naming GPU memory by a forged CUDA IPC handle, then exits.

A worker's reply may name a GPU tensor by the driver's IPC handle of its allocation; the judge
maps it and copies it. This one names memory it does not own (a made-up handle: another
process's answers, if it could guess one). On a CPU check the judge accepts no named tensor at
all; on a GPU it cannot map the handle. Either way the frame is not a well-formed message of
the candidate's own: a protocol rejection, never "could not judge".

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected protocol
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn


def _name_foreign_memory() -> None:
    frame = sys._getframe()
    while frame is not None:
        names = frame.f_locals
        if "channel" in names and "seq" in names:
            header = json.dumps({
                "payload": {"kind": "called", "seq": names["seq"], "body": {"__tensor__": 0}},
                "tensors": [{"dtype": "float32", "shape": [1 << 20], "nbytes": 4 << 20,
                             "ipc": "ab" * 64, "at": 0}],
            }).encode()
            fd = names["channel"].write_fd
            os.set_blocking(fd, True)
            os.write(fd, struct.pack(">4sQQ", b"KSW1", len(header), 0) + header)
            os._exit(0)
        frame = frame.f_back


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        _name_foreign_memory()
        return torch.matmul(A, B)
