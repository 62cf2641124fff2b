"""The command line (``kernelswarm …`` and ``python -m kernelswarm …``)."""

from __future__ import annotations

import os

# Before torch (and its OpenMP runtime) is imported: this process must not spin idle threads
# on the cores its workers are being timed on.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# GiB-sized host temporaries on huge pages, as the workers' (judge/sandbox.py, THP)
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")


def main() -> None:
    from kernelswarm.cli.app import main as run

    run()
