"""Builds before judging: a candidate's extensions compiled on the CPU while the GPU judges others.

A ``load_inline`` extension takes a minute of nvcc; in a round of a dozen candidates that minute
would otherwise be spent, one candidate after another, inside the checks. The build step is a
confined candidate worker with no GPU in reach (no NVIDIA device in its Landlock rules, none
visible to CUDA): it imports the candidate, which compiles its extensions into the candidate's
own build folder (``judge.builds``: keyed by source and toolchain, written only by that source's
workers), and builds the module on the CPU. Nothing it reports counts: when the check comes,
the candidate is loaded again on the GPU and finds its builds done, or builds what is missing.
Since it cannot touch the GPU, it can run while another candidate is being timed.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from kernelswarm.judge.builds import folder_for
from kernelswarm.judge.client import CandidateClient, open_endpoint
from kernelswarm.judge.protections import available
from kernelswarm.judge.sandbox import Limits, WorkerError
from kernelswarm.problem import Override
from kernelswarm.protocol import Role


@dataclass(frozen=True)
class Prebuilt:
    candidate: Path
    seconds: float
    outcome: str  # "built", "already built", "skipped: ...", "did not build: ..."


def prebuild(
    problem: Path,
    candidate: Path,
    device: str,
    overrides: tuple[Override, ...] = (),
    limits: Limits | None = None,
) -> Prebuilt:
    """Compile ``candidate``'s extensions into its build folder for ``device``, with no GPU."""
    started = time.monotonic()
    folder, reused = folder_for(candidate, device)
    if reused:
        return Prebuilt(candidate, 0.0, "already built")
    if not available().complete:  # an untrusted candidate never runs unconfined ahead of time
        return Prebuilt(candidate, 0.0, "skipped: this machine cannot confine a worker")
    client = CandidateClient(
        open_endpoint(Role.CANDIDATE, "cpu", limits or Limits(), builds=folder, gpu=False)
    )
    try:
        client.start()
        client.begin_load(str(problem), str(candidate), overrides, 0, "seed").result()
        outcome = "built"
    except WorkerError as exc:  # the check itself will say what is wrong, on the GPU
        outcome = f"did not build: {exc.failure.detail.splitlines()[0][:200]}"
    finally:
        client.close()
    return Prebuilt(candidate, time.monotonic() - started, outcome)


@dataclass(frozen=True)
class ToBuild:
    problem: Path
    candidate: Path
    overrides: tuple[Override, ...] = ()


@contextlib.contextmanager
def prebuilding(
    todo: list[ToBuild],
    device: str,
    limits: Limits | None = None,
    progress: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """On a GPU, build ``todo`` on a quarter of the CPU cores while the body judges; waits for
    the builds still running when the body ends. Elsewhere (a CPU check), nothing is built
    ahead: the builds would compete with the timing for the same cores."""
    if not device.startswith("cuda") or not todo:
        yield
        return
    say = progress or (lambda message: None)

    def build(item: ToBuild) -> None:
        done = prebuild(item.problem, item.candidate, device, item.overrides, limits)
        if done.outcome != "already built":
            say(f"{item.candidate.name}: {done.outcome} ahead of its check ({done.seconds:.0f} s)")

    builders = ThreadPoolExecutor(max(1, (os.cpu_count() or 2) // 4))
    try:
        for item in todo:
            builders.submit(build, item)
        yield
    finally:
        builders.shutdown(wait=True, cancel_futures=True)
