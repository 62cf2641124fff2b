"""Tensor helpers both sides use: flattening results, exact comparison, storage identity.

Shared by the judge and the worker: standard library and torch only.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch

from kernelswarm.protocol import Change

#: elements per piece of an element-wise pass over a large tensor (float64 temporaries of 256 MiB)
PIECE = 1 << 25


def nbytes(t: torch.Tensor) -> int:
    """The bytes a tensor's elements take."""
    return t.numel() * t.element_size()


def held_bytes(t: torch.Tensor) -> int:
    """The bytes a tensor keeps alive: its storage's, which can be far more than its elements'
    (the 0-dim loss of ``F.mse_loss`` or ``F.smooth_l1_loss`` holds the whole elementwise
    buffer: 4 GiB at KernelBench's L1/96)."""
    return max(nbytes(t), t.untyped_storage().nbytes())


def tensor_bytes(values: Any) -> int:
    """The bytes the tensors of a value take (a tensor, or lists and tuples of them, nested);
    anything else counts nothing."""
    if isinstance(values, torch.Tensor):
        return nbytes(values)
    if isinstance(values, list | tuple):
        return sum(tensor_bytes(v) for v in values)
    return 0


def pieces(n: int) -> list[tuple[int, int]]:
    """[start, end) ranges of at most PIECE elements covering n elements."""
    return [(a, min(a + PIECE, n)) for a in range(0, n, PIECE)]


def row_pieces(x: torch.Tensor) -> list[torch.Tensor]:
    """``x`` as views of whole rows along its first dimension, about PIECE elements each (no
    copy, whatever its strides; a row larger than that is a piece of its own)."""
    if x.dim() == 0 or x.numel() <= PIECE:
        return [x]
    return list(x.split(max(1, PIECE // (x.numel() // x.shape[0]))))


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


def lies_on(t: torch.Tensor, device: torch.device) -> bool:
    """Whether ``t`` lies on ``device``. A GPU named without an index (``cuda``, as workers
    are told) is the current one: a tensor there lies on ``cuda:0``, and ``torch.device`` equality
    alone would say it does not (an 8 GiB second copy of every fresh call's inputs at
    KernelBench's L1/96 size)."""
    if t.device.type != device.type:
        return False
    if device.type == "cuda" and device.index is None:
        return t.device.index == torch.cuda.current_device()
    return t.device == device


def to_device(value: Any, device: torch.device) -> Any:
    """A fresh copy of a tensor on the device (new storage); other values unchanged."""
    if isinstance(value, torch.Tensor):
        return value.to(device, copy=True)
    return value


def host(value: Any) -> Any:
    """A tensor on the host (detached); other values unchanged."""
    return host_tensor(value) if isinstance(value, torch.Tensor) else value


def host_tensor(t: torch.Tensor) -> torch.Tensor:
    """``t`` in host memory (detached; a host tensor is returned as it is, as ``.cpu()`` does).

    From a GPU, into pages faulted first by a parallel fill: ``.cpu()`` faults its fresh pages
    one by one during the copy (1.8 GB/s on the H200's machine; a fill on torch's threads and
    then the copy, 10.5 GB/s: ``benchmarks/host_hold.py``). A test of KernelBench's L1/87 (36 GiB)
    took 20 s to be held on the host.
    """
    t = t.detach()
    if t.device.type != "cuda":
        return t.cpu()
    out = torch.empty(t.shape, dtype=t.dtype)
    out.zero_()
    out.copy_(t)
    return out


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise equality (NaN equals NaN), for inputs and outputs alike."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return bool(torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8)))


def changed_elements(before: torch.Tensor, after: torch.Tensor) -> Change:
    """How many elements differ between two same-shape tensors, and the largest change."""
    if before.is_floating_point():
        differ = (before != after) & ~(before.isnan() & after.isnan())
        delta = (after.double() - before.double()).abs()
        delta = torch.where(differ, delta, torch.zeros_like(delta))
        worst = float(delta.nan_to_num(nan=float("inf")).max()) if differ.any() else 0.0
    else:
        differ = before != after
        worst = float((after.double() - before.double()).abs().max()) if differ.any() else 0.0
    return Change(int(differ.sum()), worst)


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
