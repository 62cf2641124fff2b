"""Looks around its worker for the judge and its secrets: other processes, their environment and
command lines, the launcher's API keys, the results database and the caches.

Confined, its /proc shows only its own namespace (it is process 1 there): it finds nothing, and
computes honestly. Unconfined, it finds the judge's process and raises, to show what it would
have read.

kernelswarm-problem: ../../problems/matmul.py
kernelswarm-run: => accepted
kernelswarm-run: --unconfined => rejected forward
"""

import os

import torch
import torch.nn as nn


def _look() -> list[str]:
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "kernelswarm" in cmd:
            found.append(f"pid {entry}: {cmd[:120]}")
    home = os.path.expanduser("~root")
    for path in (os.path.join(home, ".cache", "kernelswarm", "peaks.json"), "kernelswarm.db"):
        try:
            with open(path, "rb"):
                found.append(f"read {path}")
        except OSError:
            pass
    return found


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        found = _look()
        if found:
            raise RuntimeError("escaped the sandbox: " + "; ".join(found))
        return torch.matmul(A, B)
