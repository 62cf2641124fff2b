"""Looks for the reference worker, to stop or starve it while the baselines are timed (a 7-11x
"speedup" for a kernel identical to eager, where it can).

Confined, the reference worker is in another PID namespace: it cannot be seen, let alone
signalled (Landlock also keeps signals inside the worker's own domain). Unconfined, it finds the
reference worker and raises instead of stopping it (stopping it would stall the judge).

kernelswarm-problem: ../../problems/matmul.py
kernelswarm-run: => accepted
kernelswarm-run: --unconfined => rejected forward
"""

import os

import torch
import torch.nn as nn


def _reference_workers() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read()
        except OSError:
            continue
        if b"kernelswarm.worker" in cmd and b"reference" in cmd:
            found.append(int(entry))
    return found


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        found = _reference_workers()
        if found:
            raise RuntimeError(f"found the reference worker (pid {found[0]}): it could be stopped")
        return torch.matmul(A, B)
