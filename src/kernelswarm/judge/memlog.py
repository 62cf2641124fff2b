"""The judge's own GPU memory, one line per event, when ``KERNELSWARM_MEMORY_LOG`` names a file.

For finding where a large problem runs short on a GPU the judge shares with its two workers
(``benchmarks/judge_speed.py`` sets it and prints the lines); nothing is written otherwise.
"""

from __future__ import annotations

import os
import time

import torch

ENV = "KERNELSWARM_MEMORY_LOG"


def log(event: str) -> None:
    path = os.environ.get(ENV)
    if not path or not torch.cuda.is_initialized():
        return
    free, total = torch.cuda.mem_get_info()
    line = (
        f"{time.monotonic():.1f} {event}: allocated {torch.cuda.memory_allocated() / 2**30:.1f} "
        f"GiB, reserved {torch.cuda.memory_reserved() / 2**30:.1f} GiB, GPU free "
        f"{free / 2**30:.1f} of {total / 2**30:.1f} GiB\n"
    )
    with open(path, "a") as fh:
        fh.write(line)
