"""Pieces both worker roles use: the trusted-function register, phases, outputs, failures.

Standard library and torch only.
"""

from __future__ import annotations

import builtins
import hashlib
import os
import subprocess
import time
import traceback
from collections.abc import Callable
from typing import Any

import torch

from kernelswarm import wire


class Trusted:
    """Functions the harness relies on, taken before any problem or candidate code runs.

    ``tampered()`` names every one that has since been replaced. The judge's comparisons run in
    another process altogether; this guards the timers and copies the worker itself uses.
    """

    WATCHED: tuple[tuple[Any, str], ...] = (
        (time, "perf_counter"), (time, "perf_counter_ns"), (time, "monotonic"), (time, "time"),
        (time, "sleep"), (os, "_exit"), (os, "write"), (hashlib, "sha256"),
        (builtins, "isinstance"), (builtins, "type"), (builtins, "id"), (builtins, "len"),
        (torch, "equal"), (torch, "allclose"), (torch, "isclose"), (torch, "empty"),
        (torch.Tensor, "cpu"), (torch.Tensor, "clone"), (torch.Tensor, "copy_"), (torch.Tensor, "to"),
        (torch.Tensor, "__eq__"), (torch.Tensor, "data_ptr"), (torch.Tensor, "untyped_storage"),
        (torch.Tensor, "view"), (torch.Tensor, "numpy"), (torch.cuda, "synchronize"),
        (torch.cuda, "Event"), (torch.cuda.Event, "record"), (torch.cuda.Event, "elapsed_time"),
        (torch.cuda.Event, "synchronize"), (torch.cuda, "current_stream"),
        (wire.Channel, "send"), (wire.Channel, "recv"), (wire, "encode"), (wire, "decode"),
    )  # fmt: skip

    def __init__(self) -> None:
        # Tuples, not dicts: what was saved cannot be edited in place afterwards.
        self.saved = tuple(getattr(owner, name) for owner, name in self.WATCHED)
        self.perf_counter: Callable[[], float] = time.perf_counter
        self.sleep: Callable[[float], None] = time.sleep
        self.synchronize: Callable[..., None] = torch.cuda.synchronize
        self.equal: Callable[..., bool] = torch.equal
        self._own = tuple(vars(self).items())  # this object's own references are watched too

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
    """Tells the judge what is about to run, so that a crash can be attributed.

    ``owner`` is whose code runs: "problem" (the user's file), "candidate" (untrusted), or
    "harness". A failure while the problem's code runs means the problem cannot be judged.
    """

    def __init__(self, channel: wire.Channel) -> None:
        self.channel = channel
        self.name = "start"
        self.owner = "harness"

    def enter(self, name: str, owner: str) -> None:
        self.name, self.owner = name, owner
        self.channel.send({"kind": "phase", "phase": name, "owner": owner})


def classify_exception(exc: BaseException) -> str:
    """A short failure kind for an exception raised by problem or candidate code."""
    name = type(exc).__name__
    text = str(exc)
    if isinstance(exc, SyntaxError):
        return "syntax"
    if isinstance(exc, ImportError):
        return "import"
    if (
        "Error building extension" in text
        or name in {"CompilationError", "BackendCompilerFailed", "CompileError", "NVRTCError"}
        or isinstance(exc, subprocess.CalledProcessError)
    ):
        return "compile"
    if isinstance(exc, MemoryError | torch.OutOfMemoryError) or "out of memory" in text.lower():
        return "out_of_memory"
    if any(
        s in text for s in ("CUDA error", "CUDA driver error", "cudaError", "illegal memory access")
    ):
        return "cuda_error"
    if isinstance(exc, SystemExit):
        return "exit"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return "exception"


def failure_message(exc: BaseException, phases: Phases) -> dict[str, Any]:
    tb = "".join(traceback.format_exception(exc))
    return {
        "kind": "failed",
        "phase": phases.name,
        "owner": phases.owner,
        "failure": classify_exception(exc),
        "exception": type(exc).__name__,
        "message": str(exc)[-8000:],
        "traceback": tb[-8000:],
    }


def flatten(out: Any) -> tuple[str, list[Any]]:
    """A structure string and the leaves of a forward's result (tensors, scalars, other)."""
    if isinstance(out, tuple | list):
        parts = [flatten(o) for o in out]
        kind = "tuple" if isinstance(out, tuple) else "list"
        return f"{kind}({', '.join(p[0] for p in parts)})", [leaf for p in parts for leaf in p[1]]
    if isinstance(out, torch.Tensor):
        return "Tensor", [out]
    if isinstance(out, bool | int | float):
        return type(out).__name__, [out]
    return type(out).__qualname__, [out]


def to_device(value: Any, device: torch.device) -> Any:
    """A fresh copy of a tensor on the device (new storage); other values unchanged."""
    if isinstance(value, torch.Tensor):
        return value.to(device, copy=True)
    return value


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise equality (NaN equals NaN), for inputs and outputs alike."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return bool(torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8)))


def changed_elements(before: torch.Tensor, after: torch.Tensor) -> tuple[int, float]:
    """How many elements differ between two same-shape tensors, and the largest change."""
    if before.is_floating_point():
        differ = (before != after) & ~(before.isnan() & after.isnan())
        delta = (after.double() - before.double()).abs()
        delta = torch.where(differ, delta, torch.zeros_like(delta))
        worst = float(delta.nan_to_num(nan=float("inf")).max()) if differ.any() else 0.0
    else:
        differ = before != after
        worst = float((after.double() - before.double()).abs().max()) if differ.any() else 0.0
    return int(differ.sum()), worst


def storage_ptr(t: torch.Tensor) -> int:
    return int(t.untyped_storage().data_ptr())


def state_fingerprint(module: torch.nn.Module) -> str:
    """A hash of every parameter and buffer, to prove two processes built the same model."""
    digest = hashlib.sha256()
    for name, value in sorted(module.state_dict().items()):
        digest.update(name.encode())
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            digest.update(str(t.dtype).encode() + str(tuple(t.shape)).encode())
            if t.numel():
                digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def versions() -> dict[str, Any]:
    import platform

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "platform": platform.platform(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
        info["cuda"] = torch.version.cuda
    return info
