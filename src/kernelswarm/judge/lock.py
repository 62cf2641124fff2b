"""One timed measurement per device at a time, across every kernelswarm process on the machine.

A readers-writer lock (a file lock): any work on the device holds it shared (warm-ups,
compiling, correctness checks); a timed phase holds it exclusive, so that nothing else runs on
the device while anything is timed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator

from kernelswarm.judge import gpus
from kernelswarm.judge.floor import cache_path

Progress = Callable[[str], None]


@contextlib.contextmanager
def device_lock(device: str, progress: Progress, shared: bool = False) -> Iterator[None]:
    """A readers-writer lock per device (a file lock), across every kernelswarm process.

    Any work on the device holds it shared (warm-ups, compiling, correctness checks); a timed
    phase holds it exclusive, so that nothing else runs on the device while anything is timed.
    A process must release one hold before taking the other (flock does not nest).
    """
    pinned = gpus.current()
    index = ""
    if device == "cuda":  # the check's own GPU, or this process's first
        index = (
            pinned.visible if pinned else os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0]
        )
    path = cache_path().parent / f"timing-{device}{index}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fh, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(
                f"waiting for other kernelswarm work on {device} ({'a timed phase' if shared else 'to finish'})"
            )
            fcntl.flock(fh, mode)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
