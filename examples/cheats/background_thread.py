"""Returns an unfilled tensor at once; a thread computes the answer into it afterwards.

An events-only timer sees no work. The output is copied the moment forward returns, and again
after a pause: it changed, so work was still running.

kernelswarm-problem: ../problems/matmul.py
kernelswarm-run: => rejected completion
"""
import threading
import time

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(A.shape[0], B.shape[1], dtype=A.dtype, device=A.device)

        def finish():
            time.sleep(0.005)
            torch.matmul(A, B, out=out)

        threading.Thread(target=finish, daemon=True).start()
        return out
