"""Where checks run: this host (every chosen GPU) or a Ray cluster.

``optimize`` and ``suite`` hand each check to an executor from several threads at once; the
supervisor, the model calls, the reply cache and the store stay in the calling process, so a
check retried elsewhere is never counted twice and never repeats a paid model call.

- ``LocalExecutor``: checks run in this process, each pinned to a GPU of a ``GpuPool`` (the
  least busy; a GPU that faults and then fails its probe leaves the rotation).
- ``RayExecutor``: each check is a Ray task holding one GPU (``num_gpus=1``; none for a CPU
  check) on any node; the problem and candidate travel as text, the verdict comes back as its
  JSON. A task whose worker dies is retried by Ray on another worker. A round's tests are
  drawn once, by a Ray task on a GPU node (the head needs none); they stay in the cluster's object
  store (in host memory) and every check of the round reads them from there: only a summary
  (seeds, notes, whether they are strong enough) comes back to the head.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import kernelswarm
from kernelswarm.judge.bench import BenchConfig, run_bench
from kernelswarm.judge.check import CheckConfig, check
from kernelswarm.judge.gpus import Gpu, GpuPool, choose, pinned, visible_gpus
from kernelswarm.judge.reasons import Check, Reason
from kernelswarm.judge.results import BenchResult
from kernelswarm.judge.sandbox import physical_memory_bytes
from kernelswarm.judge.shared import RoundRequest, SharedTests
from kernelswarm.judge.tests import TEST_MEMORY_SHARE
from kernelswarm.judge.verdict import Outcome, Verdict

Progress = Callable[[str], None]
T = TypeVar("T")
#: how often Ray runs a check again whose worker died (a node lost, a process killed)
RAY_RETRIES = 3


class Executor(Protocol):
    #: how many checks at once keep it busy
    slots: int

    def check(self, config: CheckConfig) -> Verdict: ...

    def draw_round(self, request: RoundRequest) -> SharedTests | Reason:
        """A round's tests, drawn once for every check of the round; or why they could not be."""
        ...

    def bench(self, config: BenchConfig) -> BenchResult | Reason:
        """A problem's baselines measured (``suite`` without solutions); or why they could not be."""
        ...


class LocalExecutor:
    def __init__(self, device: str, gpus: list[Gpu] | None, jobs: int, progress: Progress) -> None:
        self.progress = progress
        self.pool = GpuPool(gpus) if device.startswith("cuda") and gpus else None
        # on several GPUs, at least one check per GPU at once
        self.slots = max(jobs, len(gpus or []) if self.pool else 1)

    def check(self, config: CheckConfig) -> Verdict:
        if self.pool is None:
            return check(config)
        return self.pool.judge(
            lambda gpu: check(dataclasses.replace(config, gpu=gpu)), self.progress
        )

    def draw_round(self, request: RoundRequest) -> SharedTests | Reason:
        return self._here(lambda: request.draw(self.progress))

    def bench(self, config: BenchConfig) -> BenchResult | Reason:
        return self._here(lambda: run_bench(config))

    def _here(self, work: Callable[[], T]) -> T:
        """``work`` in this process, on a GPU of the pool (where there is one)."""
        if self.pool is None:
            return work()
        with self.pool.take() as gpu, pinned(gpu):
            return work()


@functools.cache
def code_fingerprint() -> str:
    """A digest of this kernelswarm's own source files: the head and its Ray workers must
    judge with the same code (a worker with other code writes verdicts the head cannot read,
    or judges by other rules)."""
    root = Path(kernelswarm.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{kernelswarm.__version__}+{digest.hexdigest()[:12]}"


class CodeMismatch(RuntimeError):
    """A Ray worker whose kernelswarm is not the head's."""


def _same_code(head: str) -> None:
    """On a Ray worker: refuse a job sent by a head running other kernelswarm code."""
    here = code_fingerprint()
    if here != head:
        raise CodeMismatch(
            f"this Ray node runs kernelswarm {here}, the head {head}: install the same "
            "kernelswarm on every node of the cluster (and restart its Ray workers after a change)"
        )


@dataclasses.dataclass(frozen=True)
class FileText:
    """A file as it travels to a Ray worker: its name and text."""

    name: str
    text: str

    @classmethod
    def of(cls, path: Path) -> FileText:
        return cls(path.name, path.read_text())

    def write(self, folder: Path) -> Path:
        """The file again, in ``folder`` (made if missing)."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.name
        path.write_text(self.text)
        return path

    @contextlib.contextmanager
    def written(self) -> Iterator[Path]:
        """The file again, in a fresh temporary folder (gone on leaving), for a Ray worker."""
        with tempfile.TemporaryDirectory(prefix="kernelswarm-remote-") as tmp:
            yield self.write(Path(tmp))


@dataclasses.dataclass(frozen=True)
class _RemoteJob:
    """What every job sent to a Ray worker carries besides its own fields."""

    #: the head's ``code_fingerprint``, checked by the worker (``_same_code``) before it starts
    code: str = dataclasses.field(default_factory=code_fingerprint, kw_only=True)


@dataclasses.dataclass(frozen=True)
class RemoteCheck(_RemoteJob):
    """A check as it travels to a Ray worker: the files as text, the rest of its config."""

    problem: FileText
    candidate: FileText
    config: CheckConfig

    @classmethod
    def of(cls, config: CheckConfig) -> RemoteCheck:
        plain = dataclasses.replace(config, shared=None, gpu=None, test_memory_bytes=None)
        return cls(FileText.of(config.problem), FileText.of(config.candidate), plain)

    def run(self, shared: SharedTests | None = None) -> dict[str, Any]:
        """On the worker: the files written to a fresh folder, checked there (against the
        round's ``shared`` tests, if given), the verdict as JSON."""
        _same_code(self.code)
        with self.problem.written() as problem:
            candidate = self.candidate.write(problem.parent / "candidate")
            config = dataclasses.replace(
                self.config, problem=problem, candidate=candidate, shared=shared
            )
            if config.device.startswith("cuda"):
                # one check per GPU of this node at once: each takes its GPU's share of the host
                gpus = max(1, len(list(Path("/dev").glob("nvidia[0-9]*"))))
                config = dataclasses.replace(
                    config,
                    test_memory_bytes=int(physical_memory_bytes() * TEST_MEMORY_SHARE / gpus),
                )
            return check(config).to_dict()


@dataclasses.dataclass(frozen=True)
class RemoteDraw(_RemoteJob):
    """A round's drawing as it travels to a Ray worker: the problem as text."""

    problem: FileText
    request: RoundRequest

    @classmethod
    def of(cls, request: RoundRequest) -> RemoteDraw:
        return cls(FileText.of(request.problem), request)

    def run(self) -> tuple[SharedTests | Reason, SharedTests | None]:
        """On the worker: the tests drawn, as a summary for the head (no tests) and the whole
        in host memory for the checks (None when they could not be drawn)."""
        _same_code(self.code)
        with self.problem.written() as problem:
            drawn = dataclasses.replace(self.request, problem=problem).draw()
        if not isinstance(drawn, SharedTests):
            return drawn, None
        return dataclasses.replace(drawn, tests=[]), drawn.on_host()


@dataclasses.dataclass(frozen=True)
class RemoteBench(_RemoteJob):
    """A baseline measurement as it travels to a Ray worker: the problem as text."""

    problem: FileText
    config: BenchConfig

    @classmethod
    def of(cls, config: BenchConfig) -> RemoteBench:
        return cls(FileText.of(config.problem), config)

    def run(self) -> BenchResult | Reason:
        """On the worker: the problem written to a fresh folder and measured there."""
        _same_code(self.code)
        with self.problem.written() as problem:
            result = run_bench(dataclasses.replace(self.config, problem=problem))
        if isinstance(result, BenchResult):  # named as on the head, not by the temporary copy
            result = dataclasses.replace(result, problem=str(self.config.problem))
        return result


class RayNotInstalled(RuntimeError):
    pass


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayNotInstalled("--executor ray needs Ray: pip install 'kernelswarm[ray]'") from None
    return ray


def _run_remote(job: RemoteCheck, shared: SharedTests | None) -> dict[str, Any]:
    return job.run(shared)  # Ray hands ``shared`` over as the object its reference names


def _draw_remote(job: RemoteDraw) -> tuple[SharedTests | Reason, SharedTests | None]:
    return job.run()


def _bench_remote(job: RemoteBench) -> BenchResult | Reason:
    return job.run()


def _failed(what: str, exc: BaseException) -> str:
    """Why a Ray task gave no result: a node with other code says so plainly (not retried);
    anything else failed once and then on every retry."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, CodeMismatch):
        return f"the Ray task {what} was refused: {cause}"
    return (
        f"the Ray task {what} failed {1 + RAY_RETRIES} times ({type(exc).__name__}): "
        f"{str(exc)[-600:]}"
    )


class RayExecutor:
    def __init__(self, device: str, address: str | None, progress: Progress) -> None:
        ray = _ray()
        self.ray = ray
        self._round: tuple[SharedTests, Any] | None = None  # the round's tests, as put in Ray
        self._lock = threading.Lock()
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, logging_level="ERROR")
        gpu = device.startswith("cuda")
        resources = ray.cluster_resources()
        total = int(resources.get("GPU", 0) if gpu else resources.get("CPU", 1) // 2)
        if gpu and total == 0:
            raise RuntimeError(f"the Ray cluster at {address or 'this host'} has no GPU")
        self.slots = max(1, total)
        self.remote = ray.remote(
            num_gpus=1 if gpu else 0, num_cpus=1, max_retries=RAY_RETRIES, retry_exceptions=False
        )(_run_remote)
        self.drawing = ray.remote(
            num_gpus=1 if gpu else 0, num_cpus=1, max_retries=RAY_RETRIES,
            retry_exceptions=False, num_returns=2,
        )(_draw_remote)  # fmt: skip
        self.benching = ray.remote(
            num_gpus=1 if gpu else 0, num_cpus=1, max_retries=RAY_RETRIES, retry_exceptions=False
        )(_bench_remote)
        progress(f"Ray: {self.slots} check(s) at once on {resources.get('GPU', 0):g} GPU(s), "
                 f"{resources.get('CPU', 0):g} CPU(s)")  # fmt: skip

    def draw_round(self, request: RoundRequest) -> SharedTests | Reason:
        """Drawn by a Ray task; the head keeps the summary and the reference to the tests (the
        previous round's are let go)."""
        summary_ref, tests_ref = self.drawing.remote(RemoteDraw.of(request))
        try:
            summary = self.ray.get(summary_ref)
        except self.ray.exceptions.RayError as exc:
            return Reason(Check.HARNESS, _failed("drawing the round's tests", exc))
        if isinstance(summary, SharedTests):
            with self._lock:
                self._round = (summary, tests_ref)
        return summary

    def _shipped(self, shared: SharedTests | None) -> Any:
        """The object reference of a round's tests: the one drawn by ``draw_round``, or (tests
        drawn here) put in Ray's object store once, by the first check of the round."""
        if shared is None:
            return None
        with self._lock:
            if self._round is None or self._round[0] is not shared:
                if not shared.tests:  # a summary of an earlier round: its tests are gone
                    raise RuntimeError("a check of a round whose tests were let go")
                self._round = (shared, self.ray.put(shared.on_host()))
            return self._round[1]

    def check(self, config: CheckConfig) -> Verdict:
        try:
            task = self.remote.remote(RemoteCheck.of(config), self._shipped(config.shared))
            return Verdict.from_dict(self.ray.get(task))
        except self.ray.exceptions.RayError as exc:  # retries spent: no verdict on the candidate
            return Verdict(
                verdict=Outcome.ERROR,
                reasons=[
                    Reason(Check.HARNESS, _failed("judging it", exc))
                ],
                problem=str(config.problem), candidate=str(config.candidate),
                device=config.device, precision=config.policy.name,
            )  # fmt: skip

    def bench(self, config: BenchConfig) -> BenchResult | Reason:
        """Measured by a Ray task holding a GPU (the head needs none)."""
        try:
            result: BenchResult | Reason = self.ray.get(
                self.benching.remote(RemoteBench.of(config))
            )
        except self.ray.exceptions.RayError as exc:
            return Reason(Check.HARNESS, _failed("measuring the baselines", exc))
        return result


def make_executor(
    kind: str,
    device: str,
    gpus_spec: str | None,
    jobs: int,
    address: str | None,
    progress: Progress,
) -> Executor:
    """The executor ``--executor``, ``--gpus`` and ``--ray-address`` ask for."""
    if kind == "ray":
        return RayExecutor(device, address, progress)
    if kind != "local":
        raise ValueError(f"unknown executor {kind!r} (local or ray)")
    chosen = choose(gpus_spec, visible_gpus()) if device.startswith("cuda") else None
    if chosen is not None and len(chosen) > 1:
        progress(f"judging on {len(chosen)} GPUs: " + ", ".join(str(g) for g in chosen))
    return LocalExecutor(device, chosen, jobs, progress)
