"""Several GPUs on one host: which one a check runs on, and the ones taken out of rotation.

A check is pinned to one GPU for its whole life (``CheckConfig.gpu``): its workers see only
that GPU (``CUDA_VISIBLE_DEVICES``), the judge's own tensors go there, and the device lock
(one timed measurement at a time) is that GPU's. Checks on different GPUs never wait for each
other; checks on one GPU overlap except while one of them is timed.

A GPU that faults is probed (a small matmul in a fresh process, under a time limit): a GPU
that fails the probe is taken out of rotation and the check goes to another; a GPU that passes
keeps the verdict (the fault was the candidate's own).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

from kernelswarm.judge.reasons import Check
from kernelswarm.judge.verdict import Verdict

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Gpu:
    index: int  # torch's index for it in this process
    visible: str  # how CUDA_VISIBLE_DEVICES names it for a worker (a number or a UUID)

    def __str__(self) -> str:
        return f"GPU {self.visible}"


_PINNED: ContextVar[Gpu | None] = ContextVar("kernelswarm_gpu", default=None)


def current() -> Gpu | None:
    """The GPU the check running in this thread is pinned to (None: the process's default)."""
    return _PINNED.get()


@contextlib.contextmanager
def pinned(gpu: Gpu | None) -> Iterator[None]:
    token = _PINNED.set(gpu)
    try:
        yield
    finally:
        _PINNED.reset(token)


def visible_gpus() -> list[Gpu]:
    """Every GPU this process can use, named as its workers will need them."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    names = [n.strip() for n in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if n.strip()]
    return [Gpu(i, names[i] if i < len(names) else str(i)) for i in range(count)]


class GpuChoiceError(ValueError):
    pass


def choose(spec: str | None, available: list[Gpu]) -> list[Gpu]:
    """The GPUs ``--gpus`` names (``0,1``: torch's indices), or every one when it is None."""
    if spec is None or spec.strip() in ("", "all"):
        return list(available)
    chosen: list[Gpu] = []
    for part in spec.split(","):
        part = part.strip()
        if not part.isdigit():
            raise GpuChoiceError(f"--gpus takes GPU numbers such as 0,1 (got {part!r})")
        index = int(part)
        if index >= len(available):
            raise GpuChoiceError(
                f"--gpus names GPU {index}, but this machine shows {len(available)} GPU(s)"
            )
        if available[index] not in chosen:
            chosen.append(available[index])
    return chosen


PROBE = (
    "import torch; x = torch.randn(512, 512, device='cuda'); y = x @ x; "
    "torch.cuda.synchronize(); assert bool(torch.isfinite(y).all()), 'not finite'"
)


def probe(gpu: Gpu, timeout: float = 60.0) -> str | None:
    """None when the GPU runs a small matmul in a fresh process in time; otherwise why not."""
    env = dict(os.environ, CUDA_VISIBLE_DEVICES=gpu.visible)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return f"a 512x512 matmul did not finish within {timeout:g} s"
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines() or [f"exit {proc.returncode}"]
        return lines[-1][:300]
    return None


#: a verdict failing one of these may be the GPU's fault rather than the candidate's
SUSPECT = frozenset({Check.CUDA_ERROR, Check.TIMEOUT, Check.CRASH, Check.MEMORY, Check.HARNESS})


@dataclass
class GpuPool:
    """The GPUs in rotation, each with the number of checks it is running."""

    gpus: list[Gpu]
    probe: Callable[[Gpu], str | None] = probe
    busy: dict[Gpu, int] = field(default_factory=dict)
    retired: dict[Gpu, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def healthy(self) -> list[Gpu]:
        return [g for g in self.gpus if g not in self.retired]

    @contextlib.contextmanager
    def take(self) -> Iterator[Gpu]:
        """The healthy GPU with the fewest checks running (ties: the lowest index)."""
        with self._lock:
            healthy = self.healthy()
            if not healthy:
                raise RuntimeError(
                    "no GPU left in rotation: "
                    + "; ".join(f"{g}: {why}" for g, why in self.retired.items())
                )
            gpu = min(healthy, key=lambda g: (self.busy.get(g, 0), g.index))
            self.busy[gpu] = self.busy.get(gpu, 0) + 1
        try:
            yield gpu
        finally:
            with self._lock:
                self.busy[gpu] -= 1

    def retire(self, gpu: Gpu, why: str) -> None:
        with self._lock:
            self.retired.setdefault(gpu, why)

    def judge(self, run: Callable[[Gpu], Verdict], progress: Progress) -> Verdict:
        """``run`` on a GPU of the pool; where it fails in a way the GPU may have caused and the
        GPU then fails its probe, the GPU leaves the rotation and ``run`` goes to another."""
        while True:
            with self.take() as gpu:
                verdict = run(gpu)
            failed = {r.check for r in verdict.reasons}
            if not failed & SUSPECT:
                return verdict
            why = self.probe(gpu)
            if why is None:
                return verdict  # the GPU is fine: the failure was the candidate's own
            self.retire(gpu, why)
            progress(f"{gpu} failed its health probe ({why}): out of rotation, judging again")
            if not self.healthy():
                verdict.notes.append(f"{gpu} failed its health probe afterwards ({why})")
                return verdict
