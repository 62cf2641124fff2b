"""GPU tensors from a worker to the judge by CUDA IPC: mapped, copied on receipt, let go.

A worker and the judge share one GPU; copying a test's answers or a candidate's outputs
through host memory (GPU → shared area → GPU) runs at a few GB/s, a device-to-device copy of
mapped memory at over 1 TB/s (H200, measured by ``tools/ipc_probe.py``, confined workers
included). The sender names the allocation holding a tensor (the driver's IPC handle of its
base allocation, and the tensor's offset in it) and keeps the tensor alive until the receiver
speaks again; the receiver maps the allocation, copies the bytes into memory of its own, and
unmaps it before it speaks: what it then holds, the sender can no longer change.

Only ever *towards* the judge. An IPC handle maps the whole allocation, which the caching
allocator shares between tensors: the judge never exports its own memory, since a candidate
mapping it could read the answers lying beside its inputs. A received handle is checked
against the driver's own extent of the mapping (a sender claiming more bytes than it mapped
would otherwise make the judge read past the end), and a handle this process first received
from another worker is refused (a candidate naming the reference's answers, or another
candidate's outputs).

The CUDA driver API through ctypes, standard library and torch only: both sides import this.
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading
from typing import Any

import torch

#: tensors from this size on cross by IPC (smaller ones are cheaper through the shared area)
IPC_MIN_BYTES = 1 << 20
#: setting it to 0 sends every GPU tensor through host memory, as before IPC
ENV_SWITCH = "KERNELSWARM_WIRE_IPC"
#: allocations one message may name (each costs the judge a mapping)
MAX_HANDLES = 256
_HANDLE_BYTES = 64
_LAZY_ENABLE_PEER_ACCESS = 1


class IpcError(Exception):
    """A handle that cannot be mapped or read as claimed."""


class _Handle(ctypes.Structure):
    _fields_ = [("reserved", ctypes.c_ubyte * _HANDLE_BYTES)]  # bytes, NULs included


class _Driver:
    def __init__(self) -> None:
        cuda = ctypes.CDLL("libcuda.so.1")
        self.get_handle = cuda.cuIpcGetMemHandle
        self.open_handle = getattr(cuda, "cuIpcOpenMemHandle_v2", None) or cuda.cuIpcOpenMemHandle
        self.close_handle = cuda.cuIpcCloseMemHandle
        self.address_range = (
            getattr(cuda, "cuMemGetAddressRange_v2", None) or cuda.cuMemGetAddressRange
        )
        for fn in (self.get_handle, self.open_handle, self.close_handle, self.address_range):
            fn.restype = ctypes.c_int

    def extent(self, ptr: int) -> tuple[int, int]:
        base, size = ctypes.c_uint64(), ctypes.c_size_t()
        _call(self.address_range(ctypes.byref(base), ctypes.byref(size), ctypes.c_uint64(ptr)),
              "cuMemGetAddressRange")  # fmt: skip
        return base.value, size.value


def _call(err: int, what: str) -> None:
    if err:
        raise IpcError(f"{what} failed: CUDA driver error {err}")


@functools.cache
def _driver() -> _Driver | None:
    try:
        return _Driver()
    except (OSError, AttributeError):
        return None


def enabled() -> bool:
    """Whether GPU tensors may cross by IPC on this machine (the driver is there, not switched off)."""
    return os.environ.get(ENV_SWITCH, "1") != "0" and _driver() is not None


def describe() -> str:
    """How GPU tensors travel towards the judge here, in words (``kernelswarm doctor``)."""
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return f"through host memory ({ENV_SWITCH}=0)"
    if _driver() is None:
        return "through host memory (no CUDA driver here)"
    return f"by CUDA IPC, copied on receipt ({ENV_SWITCH}=0: through host memory)"


def export(t: torch.Tensor) -> tuple[str, int] | None:
    """The IPC handle (hex) of the allocation holding ``t``'s bytes, and their offset in it;
    None where the driver cannot export it (the caller then sends the bytes)."""
    driver = _driver()
    if driver is None or t.device.type != "cuda":
        return None
    try:
        base, _size = driver.extent(t.data_ptr())
        handle = _Handle()
        _call(driver.get_handle(ctypes.byref(handle), ctypes.c_uint64(base)), "cuIpcGetMemHandle")
    except IpcError:
        return None
    return bytes(handle.reserved).hex(), t.data_ptr() - base


class _Mapped:
    """A uint8 view of mapped device memory (``__cuda_array_interface__``: no copy)."""

    def __init__(self, ptr: int, nbytes: int) -> None:
        self.__cuda_array_interface__ = {
            "shape": (nbytes,), "typestr": "|u1", "data": (ptr, False), "version": 3,
        }  # fmt: skip


_seen_lock = threading.Lock()
#: which sender each handle this process has mapped came from
_seen: dict[str, str] = {}


class Receipt:
    """The mappings of one received message: opened once per allocation, closed together."""

    def __init__(self, device: torch.device, sender: str, max_bytes: int = 64 << 30) -> None:
        if device.index is None and torch.cuda.is_available():
            device = torch.device("cuda", torch.cuda.current_device())
        self.device = device
        self.sender = sender
        self.opened: dict[str, tuple[int, int]] = {}  # handle -> (pointer, mapped bytes)
        self.left = max_bytes  # what this message may still have copied (as a body would)

    def copy(self, handle: str, offset: int, nbytes: int) -> torch.Tensor:
        """The bytes ``[offset, offset + nbytes)`` of the sender's allocation, copied into a
        tensor of this process on its device (the host, if the device is full)."""
        try:
            named = bytes.fromhex(handle)
        except ValueError:
            raise IpcError("malformed GPU memory handle") from None
        if len(named) != _HANDLE_BYTES or offset < 0 or nbytes < 0:
            raise IpcError("malformed GPU memory handle")
        if nbytes > self.left:
            raise IpcError("the tensors named in one message exceed the largest message accepted")
        if handle not in self.opened and len(self.opened) >= MAX_HANDLES:
            raise IpcError(f"more than {MAX_HANDLES} GPU allocations named in one message")
        self.left -= nbytes
        with _seen_lock:
            first = _seen.setdefault(handle, self.sender)
        if first != self.sender:
            raise IpcError(
                f"a GPU memory handle that {first} sent before: memory of another process"
            )
        driver = _driver()
        if driver is None:
            raise IpcError("a GPU memory handle arrived, but this process has no CUDA driver")
        if handle not in self.opened:
            torch.cuda.set_device(self.device)
            torch.cuda.synchronize(self.device)  # this thread's context is the device's own
            raw = _Handle()
            ctypes.memmove(ctypes.byref(raw), named, _HANDLE_BYTES)
            opened = ctypes.c_uint64()
            flags = ctypes.c_uint(_LAZY_ENABLE_PEER_ACCESS)
            _call(driver.open_handle(ctypes.byref(opened), raw, flags), "cuIpcOpenMemHandle")
            try:
                _base, size = driver.extent(opened.value)
            except IpcError:
                driver.close_handle(ctypes.c_uint64(opened.value))
                raise
            self.opened[handle] = (opened.value, size)
        ptr, size = self.opened[handle]
        if offset + nbytes > size:
            raise IpcError(
                f"a tensor of {nbytes} B at offset {offset} claimed in a mapping of {size} B"
            )
        mapped = torch.as_tensor(_Mapped(ptr + offset, nbytes), device=self.device)
        try:
            return mapped.clone()
        except torch.OutOfMemoryError:  # the GPU is full: the host holds it instead
            return mapped.cpu()

    def close(self) -> None:
        """Unmap everything (after the copies are done: the device is synchronised first)."""
        driver = _driver()
        if not self.opened or driver is None:
            return
        torch.cuda.synchronize(self.device)
        for ptr, _size in self.opened.values():
            driver.close_handle(ctypes.c_uint64(ptr))
        self.opened.clear()


def hold(exported: list[Any]) -> list[Any]:
    """What a sender keeps until the receiver speaks (the tensors whose memory it mapped)."""
    if exported and torch.cuda.is_initialized():
        torch.cuda.synchronize()  # every write to them is done before the receiver copies
    return exported
