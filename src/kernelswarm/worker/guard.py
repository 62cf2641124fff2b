"""What the worker guards itself with: the trusted-function register, phases, failure reports.

Standard library and torch only.
"""

from __future__ import annotations

import builtins
import gc
import hashlib
import os
import platform
import subprocess
import time
import traceback
from collections.abc import Callable
from typing import Any

import torch

from kernelswarm import protocol, wire
from kernelswarm.problem import ProblemFileError
from kernelswarm.protocol import Failed, FailureKind, Phase, PhaseEntered, Versions


class Trusted:
    """Functions the harness relies on, taken before any problem or candidate code runs.

    ``tampered()`` names every one that has since been replaced. The judge's comparisons run in
    another process altogether; this guards the timers and copies the worker itself uses.
    """

    WATCHED: tuple[tuple[Any, str], ...] = (
        (time, "perf_counter"), (time, "perf_counter_ns"), (time, "monotonic"), (time, "time"),
        (time, "process_time"), (time, "pthread_getcpuclockid"), (time, "clock_gettime_ns"),
        (time, "sleep"), (os, "_exit"), (os, "write"), (hashlib, "sha256"),
        (builtins, "isinstance"), (builtins, "type"), (builtins, "id"), (builtins, "len"),
        (torch, "equal"), (torch, "allclose"), (torch, "isclose"), (torch, "empty"),
        (torch.Tensor, "cpu"), (torch.Tensor, "clone"), (torch.Tensor, "copy_"), (torch.Tensor, "to"),
        (torch.Tensor, "__eq__"), (torch.Tensor, "data_ptr"), (torch.Tensor, "untyped_storage"),
        (torch.Tensor, "view"), (torch.Tensor, "numpy"), (torch.cuda, "synchronize"),
        (torch.cuda, "Event"), (torch.cuda.Event, "record"), (torch.cuda.Event, "elapsed_time"),
        (torch.cuda.Event, "synchronize"), (torch.cuda, "current_stream"),
        (wire.Channel, "send"), (wire.Channel, "recv"), (wire, "encode"), (wire, "decode"),
        (protocol, "encode"), (protocol, "decode"), (gc, "disable"), (gc, "enable"),
        (gc, "isenabled"),
    )  # fmt: skip

    def __init__(self) -> None:
        # Tuples, not dicts: what was saved cannot be edited in place afterwards.
        self.saved = tuple(getattr(owner, name, None) for owner, name in self.WATCHED)
        self.perf_counter: Callable[[], float] = time.perf_counter
        self.process_time: Callable[[], float] = time.process_time
        # per-thread CPU clocks (Linux); without them every thread of the candidate counts as busy
        self.thread_clock: Callable[[int], int] | None = getattr(
            time, "pthread_getcpuclockid", None
        )
        self.clock_ns: Callable[[int], int] = time.clock_gettime_ns
        self.sleep: Callable[[float], None] = time.sleep
        self.synchronize: Callable[..., None] = torch.cuda.synchronize
        self.equal: Callable[..., bool] = torch.equal
        self.gc_disable: Callable[[], None] = gc.disable
        self.gc_enable: Callable[[], None] = gc.enable
        self.gc_isenabled: Callable[[], bool] = gc.isenabled
        self._own = tuple(vars(self).items())  # this object's own references are watched too

    def thread_cpu_ns(self, ident: int | None) -> int | None:
        """The CPU time a thread of this process has used (None: it is gone, or not known)."""
        if ident is None or self.thread_clock is None:
            return None
        try:
            return self.clock_ns(self.thread_clock(ident))
        except (OSError, OverflowError):  # ended since it was listed
            return None

    def tampered(self) -> list[str]:
        changed = [f"the harness's own {k}" for k, v in self._own if vars(self).get(k) is not v]
        if type(self).tampered is not _TAMPERED:
            changed.append("the harness's integrity check itself")
        for (owner, name), saved in zip(self.WATCHED, self.saved, strict=True):
            if getattr(owner, name, None) is not saved:
                label = getattr(owner, "__name__", type(owner).__name__)
                changed.append(f"{label}.{name}")
        # A torch-function or dispatch mode left active would sit between the harness and every
        # tensor operation it performs afterwards.
        if torch._C._len_torch_function_stack() > 0:
            changed.append("an active TorchFunctionMode")
        if torch._C._len_torch_dispatch_stack() > 0:
            changed.append("an active TorchDispatchMode")
        return changed


_TAMPERED = Trusted.tampered


class Phases:
    """Tells the judge what is about to run, so that a failure can be attributed.

    The phase names whose code runs (``Phase.owner``): the problem's, the candidate's or the
    harness's. The judge trusts these reports only until candidate code has run in a worker.
    """

    def __init__(self, report: Callable[[PhaseEntered], None]) -> None:
        self.report = report
        self.phase = Phase.START
        self.detail = ""

    def enter(self, phase: Phase, detail: str = "") -> None:
        self.phase, self.detail = phase, detail
        self.report(PhaseEntered(phase, detail))


def classify_exception(exc: BaseException) -> FailureKind:
    """The failure kind of an exception raised by problem or candidate code."""
    name = type(exc).__name__
    text = str(exc)
    if isinstance(exc, SyntaxError):
        return FailureKind.SYNTAX
    if isinstance(exc, ImportError):
        return FailureKind.IMPORT
    if isinstance(exc, ProblemFileError):
        return FailureKind.INTERFACE
    if (
        "Error building extension" in text
        or name in {"CompilationError", "BackendCompilerFailed", "CompileError", "NVRTCError"}
        or isinstance(exc, subprocess.CalledProcessError)
    ):
        return FailureKind.COMPILE
    if isinstance(exc, MemoryError | torch.OutOfMemoryError) or "out of memory" in text.lower():
        return FailureKind.OUT_OF_MEMORY
    if any(
        s in text for s in ("CUDA error", "CUDA driver error", "cudaError", "illegal memory access")
    ):
        return FailureKind.CUDA_ERROR
    if isinstance(exc, SystemExit):
        return FailureKind.EXIT
    if isinstance(exc, KeyboardInterrupt):
        return FailureKind.INTERRUPTED
    return FailureKind.EXCEPTION


def failed(exc: BaseException, phases: Phases) -> Failed:
    """The reply that stands for a request whose work raised ``exc``."""
    tb = "".join(traceback.format_exception(exc))
    return Failed(
        phase=phases.phase,
        detail=phases.detail,
        failure=classify_exception(exc),
        exception=type(exc).__name__,
        message=str(exc)[-8000:],
        traceback=tb[-8000:],
    )


def versions() -> Versions:
    cuda = torch.cuda.is_available()
    return Versions(
        python=platform.python_version(),
        torch=torch.__version__,
        platform=platform.platform(),
        cuda_available=cuda,
        gpu=torch.cuda.get_device_name() if cuda else None,
        cuda=torch.version.cuda if cuda else None,
    )
