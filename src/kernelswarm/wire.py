"""The message format between the judge and its worker processes.

A message is a JSON header plus raw tensor bytes. It is deliberately *not* pickle: the judge
reads messages written by a process that runs untrusted code, and unpickling them would hand
that code the judge's own process. Decoding only ever builds dicts, lists, tuples, numbers,
strings and plain tensors, and it checks every length against the bytes actually received.

Frame: b"KSW1" | header length (8 bytes, big endian) | body length (8 bytes) | header | body.

Large bodies (tests of GiB) do not squeeze through the pipe: they travel in a ``Bulk`` area, a
sealed shared-memory file (memfd) the judge makes for each direction of each worker. The frame
is then b"KSW2" | lengths | header, and the body lies at the start of the area. A GPU tensor is
copied from the device straight into the area and, on the other side, from the area straight
onto the receiver's device (``Channel(device=...)``): no host copy of its own on either side.
The receiver copies every tensor out at once (what it then holds, the sender can no longer
change); the area's size is sealed, so a hostile sender cannot shrink it under the reader; its
pages stay (reused by the next body: fresh pages cost a fault each, and in a virtual machine
faults, not copies, set the pace). A sender uses its area only after it has heard from the
other side since its last use: the other side had read the previous body by then.

Towards the judge, a GPU tensor of 1 MiB or more crosses by CUDA IPC instead (``cuda_ipc``:
the sender names its allocation and keeps the tensor until the judge speaks again; the judge
maps it, copies it onto its own GPU memory and unmaps it before ``recv`` returns): a device copy
at over 1 TB/s instead of two copies through host memory. Never from the judge: a mapping
reaches the whole allocation, and the judge's hold the answers.

Shared by both sides: standard library and torch only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import mmap
import os
import select
import struct
import time
from typing import Any, TypeGuard

import torch

from kernelswarm import cuda_ipc

MAGIC = b"KSW1"
BULK_MAGIC = b"KSW2"
#: bodies from this size on travel through the shared area when there is one
BULK_MIN_BYTES = 1 << 20
#: the largest body a channel accepts (and the size of its shared areas, mapped, not filled)
DEFAULT_MAX_BODY_BYTES = 64 << 30
_PREFIX = struct.Struct(">4sQQ")
MAX_HEADER_BYTES = 64 << 20
#: the most dimensions, and the largest size of one, a tensor received may have
MAX_DIMS, MAX_DIM = 64, 1 << 48


class WireError(Exception):
    """The other side sent something that is not a well-formed message, or went away."""


class ChannelClosed(WireError):
    """The other side closed its end (it exited or crashed)."""


class ChannelTimeout(WireError):
    """No complete message arrived before the deadline."""


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def dtype_from_name(name: str) -> torch.dtype:
    """Map a name such as ``float32`` back to a torch dtype, refusing anything else."""
    value = getattr(torch, name, None)
    if not isinstance(value, torch.dtype):
        raise WireError(f"unknown dtype {name!r}")
    return value


Part = memoryview | torch.Tensor  # host bytes, or a GPU tensor's bytes (copied when sent)


def _nbytes(part: Part) -> int:
    return part.nbytes if isinstance(part, memoryview) else part.numel() * part.element_size()


def _host_view(part: Part) -> memoryview:
    if isinstance(part, memoryview):
        return part
    return part.cpu().numpy().data  # a GPU tensor where no shared area takes it


class _Encoder:
    """Walks a message, collecting its tensors (a method, not a recursive closure: a closure
    calling itself is a reference cycle, and would hold every tensor sent until the garbage
    collector ran)."""

    def __init__(self, ipc: bool = False) -> None:
        self.blobs: list[Part] = []
        self.specs: list[dict[str, Any]] = []
        self.offset = 0
        self.ipc = ipc
        self.exported: list[torch.Tensor] = []  # mapped by the receiver: kept until it speaks

    def _exported(self, t: torch.Tensor) -> dict[str, Any] | None:
        if not (self.ipc and t.device.type == "cuda" and _nbytes(t) >= cuda_ipc.IPC_MIN_BYTES):
            return None
        named = cuda_ipc.export(t)
        if named is None:
            return None  # the driver would not export it: its bytes travel instead
        self.exported.append(t)
        handle, at = named
        return {
            "dtype": _dtype_name(t.dtype), "shape": list(t.shape), "ipc": handle, "at": at,
            "nbytes": _nbytes(t),
        }  # fmt: skip

    def walk(self, value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            t = value.detach()
            if t.device.type not in ("cpu", "cuda"):
                raise WireError(f"a tensor on {t.device.type} cannot travel")
            t = t.contiguous()
            mapped = self._exported(t)
            if mapped is not None:
                self.specs.append(mapped)
                return {"__tensor__": len(self.specs) - 1}
            raw: Part
            if not t.numel():
                raw = memoryview(b"")
            elif t.device.type == "cuda":
                raw = t.reshape(-1).view(torch.uint8)
            else:
                raw = t.reshape(-1).view(torch.uint8).numpy().data
            spec = {
                "dtype": _dtype_name(t.dtype),
                "shape": list(t.shape),
                "offset": self.offset,
                "nbytes": _nbytes(raw),
            }
            if t.device.type == "cuda":
                spec["device"] = "cuda"
            self.specs.append(spec)
            self.blobs.append(raw)
            self.offset += _nbytes(raw)
            return {"__tensor__": len(self.specs) - 1}
        if isinstance(value, tuple):
            return {"__tuple__": [self.walk(v) for v in value]}
        if isinstance(value, list):
            return [self.walk(v) for v in value]
        if isinstance(value, dict):
            if any(not isinstance(k, str) for k in value):
                raise WireError("dict keys must be strings")
            return {k: self.walk(v) for k, v in value.items()}
        if value is None or isinstance(value, bool | int | float | str):
            return value
        raise WireError(f"cannot send a {type(value).__name__}")


def encode_parts(obj: Any, ipc: bool = False) -> tuple[bytes, list[Part], list[torch.Tensor]]:
    """Encode into the frame's head (prefix and JSON header) and its body, one part per tensor.

    The body's parts are views of the tensors' own memory, not copies: a test of several GiB
    crosses the pipe without doubling anyone's memory. A GPU tensor's part is the tensor (as
    bytes) and its spec says ``"device": "cuda"``: a receiver with a GPU puts it there.
    With ``ipc``, large GPU tensors are named instead (``cuda_ipc``); they are returned third,
    to be kept alive until the receiver has copied them.
    """
    enc = _Encoder(ipc)
    payload = enc.walk(obj)
    header = json.dumps({"payload": payload, "tensors": enc.specs}).encode()
    return _PREFIX.pack(MAGIC, len(header), enc.offset) + header, enc.blobs, enc.exported


def encode(obj: Any) -> bytes:
    """Encode nested dicts/lists/tuples of JSON scalars and tensors into one frame."""
    head, parts, _ = encode_parts(obj)
    return head + b"".join(_host_view(p) for p in parts)


def decode(
    header_bytes: bytes,
    body: bytearray | mmap.mmap,
    device: torch.device | None = None,
    body_len: int | None = None,
    ipc_from: str | None = None,
    max_ipc_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Any:
    """Rebuild the object of one frame; every tensor's extent is checked against the body.

    From a ``bytearray`` the tensors are views of it; from a shared area (an ``mmap``), each is
    copied out at once: onto ``device`` if it was a GPU tensor and a device is given, to the
    host otherwise. Tensors named by CUDA IPC are accepted only with ``ipc_from`` (who sends)
    and a GPU ``device``: copied onto it, every mapping closed before this returns.
    """
    receipt = (
        cuda_ipc.Receipt(device, ipc_from, max_ipc_bytes)
        if ipc_from is not None and device is not None and device.type == "cuda"
        else None
    )
    try:
        return _decode(header_bytes, body, device, body_len, receipt)
    except cuda_ipc.IpcError as exc:
        raise WireError(str(exc)) from exc
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:  # malformed
        raise WireError(f"malformed tensor description: {type(exc).__name__}: {exc}") from exc
    except RecursionError:
        raise WireError("message nested too deeply") from None
    finally:
        if receipt is not None:
            receipt.close()


def _decode(
    header_bytes: bytes,
    body: bytearray | mmap.mmap,
    device: torch.device | None,
    body_len: int | None,
    receipt: cuda_ipc.Receipt | None,
) -> Any:
    shared = isinstance(body, mmap.mmap)
    size = body_len if body_len is not None else len(body)
    try:
        header = json.loads(header_bytes)
    except ValueError as exc:
        raise WireError(f"message header is not JSON: {exc}") from exc
    if not isinstance(header, dict) or "payload" not in header:
        raise WireError("message header lacks a payload")
    tensors: list[torch.Tensor] = []
    specs = header.get("tensors", [])
    if not isinstance(specs, list):
        raise WireError("message header's tensors are not a list")
    for spec in specs:
        dtype, shape, nbytes = _described(spec)
        numel = math.prod(shape)
        if nbytes != numel * torch.empty((), dtype=dtype).element_size():
            raise WireError("tensor extent does not match its shape")
        if "ipc" in spec:
            if receipt is None:
                raise WireError("a tensor named by GPU memory handle, where none is accepted")
            flat = receipt.copy(str(spec["ipc"]), spec["at"], nbytes)
            tensors.append(flat.view(dtype).reshape(shape))
            continue
        start = spec["offset"]
        if start < 0 or start + nbytes > size:
            raise WireError("tensor extent does not match the bytes received")
        onto = device if spec.get("device") == "cuda" and device is not None else None
        if numel == 0:
            tensors.append(torch.empty(shape, dtype=dtype, device=onto))
            continue
        flat = torch.frombuffer(body, dtype=torch.uint8, count=nbytes, offset=start)
        if onto is not None:
            try:
                flat = flat.to(onto, copy=True)
            except torch.OutOfMemoryError:  # the GPU is full: the host holds it instead
                flat = flat.clone()
        elif shared:
            flat = flat.clone()
        tensors.append(flat.view(dtype).reshape(shape))

    # a module-level walk: a recursive closure would be a reference cycle holding every tensor
    # received (GiBs, on the GPU) until the garbage collector happened to run
    return _rebuild(header["payload"], tensors)


def _integer(value: Any) -> TypeGuard[int]:
    return type(value) is int  # not a bool, not a float


def _described(spec: Any) -> tuple[torch.dtype, list[int], int]:
    """A tensor description's dtype, shape and byte count, each of the type it must have."""
    if not isinstance(spec, dict) or not isinstance(spec.get("dtype"), str):
        raise WireError("a tensor description without a dtype")
    shape, nbytes = spec.get("shape"), spec.get("nbytes")
    if not (
        isinstance(shape, list)
        and len(shape) <= MAX_DIMS
        and all(_integer(s) and 0 <= s <= MAX_DIM for s in shape)
    ):
        raise WireError(f"a tensor shape that is not a list of sizes: {str(shape)[:80]}")
    if not (_integer(nbytes) and nbytes >= 0):
        raise WireError("a tensor's byte count is not a size")
    for key in ("offset", "at"):
        if key in spec and not _integer(spec[key]):
            raise WireError(f"a tensor's {key} is not an integer")
    return dtype_from_name(spec["dtype"]), shape, nbytes


def _rebuild(value: Any, tensors: list[torch.Tensor]) -> Any:
    """The payload with its tensor references replaced by the tensors received."""
    if isinstance(value, list):
        return [_rebuild(v, tensors) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tensor__"}:
            index = value["__tensor__"]
            if not isinstance(index, int) or not 0 <= index < len(tensors):
                raise WireError("tensor reference out of range")
            return tensors[index]
        if set(value) == {"__tuple__"}:
            return tuple(_rebuild(v, tensors) for v in value["__tuple__"])
        return {k: _rebuild(v, tensors) for k, v in value.items()}
    return value


def decode_frame(frame: bytes | bytearray) -> Any:
    """Rebuild the object of one whole frame (as ``encode`` made it)."""
    if len(frame) < _PREFIX.size:
        raise WireError("frame shorter than its prefix")
    magic, header_len, body_len = _PREFIX.unpack(frame[: _PREFIX.size])
    if magic != MAGIC or _PREFIX.size + header_len + body_len != len(frame):
        raise WireError("frame prefix does not match the frame")
    start = _PREFIX.size + header_len
    return decode(bytes(frame[_PREFIX.size : start]), bytearray(frame[start:]))


def widen_pipe(fd: int) -> None:
    """Give a pipe the largest buffer the system allows (Linux): a test of several GiB then
    crosses in 1 MiB writes rather than 64 KiB ones. Elsewhere, or where refused, unchanged."""
    setpipe = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setpipe is None:
        return
    try:
        with open("/proc/sys/fs/pipe-max-size") as fh:
            size = min(int(fh.read()), 1 << 20)
        fcntl.fcntl(fd, setpipe, size)
    except (OSError, ValueError):
        return  # the default buffer still works, only with more system calls


_SEALS = (
    getattr(fcntl, "F_SEAL_SEAL", 0x1)
    | getattr(fcntl, "F_SEAL_SHRINK", 0x2)
    | getattr(fcntl, "F_SEAL_GROW", 0x4)
)


class Bulk:
    """One direction's shared area for large message bodies (a sealed memfd, mapped whole).

    Its pages cost memory only while a body lies in them: the reader releases them once it
    has copied the body out.
    """

    def __init__(self, fd: int, capacity: int) -> None:
        self.fd = fd
        self.capacity = capacity
        self.map = mmap.mmap(fd, capacity, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        if hasattr(mmap, "MADV_HUGEPAGE"):  # 2 MiB pages where the system allows: fewer faults
            with contextlib.suppress(OSError):
                self.map.madvise(mmap.MADV_HUGEPAGE)

    @classmethod
    def create(cls, capacity: int, name: str = "kernelswarm-bulk") -> Bulk | None:
        """A new area of ``capacity`` bytes, its size sealed; None where the system has none."""
        memfd_create = getattr(os, "memfd_create", None)
        add_seals = getattr(fcntl, "F_ADD_SEALS", None)
        if memfd_create is None or add_seals is None:
            return None
        try:
            fd = memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        except OSError:
            return None
        try:
            os.ftruncate(fd, capacity)
            fcntl.fcntl(fd, add_seals, _SEALS)
            return cls(fd, capacity)
        except (OSError, ValueError):
            os.close(fd)
            return None

    def write(self, parts: list[Part]) -> None:
        offset = 0
        for part in parts:
            n = _nbytes(part)
            if isinstance(part, torch.Tensor):  # straight from the GPU into the area
                if n:
                    dst = torch.frombuffer(self.map, dtype=torch.uint8, count=n, offset=offset)
                    dst.copy_(part)
                    del dst
            else:
                view = memoryview(self.map)
                try:
                    data = part.cast("B") if part.format != "B" else part
                    view[offset : offset + n] = data
                finally:
                    view.release()
            offset += n

    def check(self, n: int) -> None:
        if not 0 <= n <= self.capacity:
            raise WireError(f"a body of {n} B does not fit the shared area ({self.capacity} B)")

    def allocated(self) -> int:
        """Bytes of memory the area holds now (its pages written so far)."""
        return os.fstat(self.fd).st_blocks * 512

    def close(self) -> None:
        self.map.close()
        os.close(self.fd)


class Channel:
    """One end of a pair of pipes, with deadlines on both reading and writing.

    Deadlines matter on the judge's side: a worker stuck inside a candidate must not be able
    to hang the judge by not reading or not writing. ``bulk_out``/``bulk_in``: the shared areas
    large bodies travel in, when the two ends have them.
    """

    def __init__(
        self,
        read_fd: int,
        write_fd: int,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        bulk_out: Bulk | None = None,
        bulk_in: Bulk | None = None,
        device: torch.device | None = None,
        ipc_out: bool = False,
        ipc_from: str | None = None,
    ) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.max_body_bytes = max_body_bytes
        self.bulk_out = bulk_out
        self.bulk_in = bulk_in
        self.device = device  # where GPU tensors received go (None: to the host)
        self.ipc_out = ipc_out  # large GPU tensors sent are named by CUDA IPC, not copied
        self.ipc_from = ipc_from  # who the other side is, when it may name GPU memory
        self._exported: list[torch.Tensor] = []  # named in a message the other side may map
        self._bulk_unread = False  # a body we put in bulk_out may not have been read yet
        self.released = False  # the last recv let go of GPU tensors the other side had mapped
        self._buffer = bytearray()

    def send(self, obj: Any, deadline: float | None = None) -> None:
        head, parts, exported = encode_parts(obj, self.ipc_out)
        self._exported += cuda_ipc.hold(exported)
        body = sum(_nbytes(p) for p in parts)
        bulk = self.bulk_out
        if bulk is not None and not self._bulk_unread and BULK_MIN_BYTES <= body <= bulk.capacity:
            bulk.write(parts)
            self._bulk_unread = True
            head = BULK_MAGIC + head[len(MAGIC) :]
            parts = []
        for part in (memoryview(head), *(_host_view(p) for p in parts)):
            data = part.cast("B") if part.format != "B" else part
            while data:
                self._wait(self.write_fd, writable=True, deadline=deadline)
                try:
                    written = os.write(self.write_fd, data[: 1 << 20])
                except BrokenPipeError as exc:
                    raise ChannelClosed("the other side closed the channel") from exc
                data = data[written:]

    def recv(self, deadline: float | None = None) -> Any:
        prefix = self._read_exactly(_PREFIX.size, deadline)
        magic, header_len, body_len = _PREFIX.unpack(prefix)
        in_bulk = magic == BULK_MAGIC and self.bulk_in is not None
        if magic != MAGIC and not in_bulk:
            raise WireError(
                f"bad frame marker {bytes(magic)!r}: something else wrote to the channel"
            )
        if header_len > MAX_HEADER_BYTES or body_len > self.max_body_bytes:
            raise WireError(f"frame too large (header {header_len} B, body {body_len} B)")
        header = self._read_exactly(header_len, deadline)
        self._bulk_unread = False  # the other side speaks: it has read what we sent before
        self.released = bool(self._exported)  # ... and copied what it mapped
        self._exported = []
        if in_bulk:
            assert self.bulk_in is not None
            self.bulk_in.check(body_len)
            return decode(
                bytes(header), self.bulk_in.map, self.device, body_len, self.ipc_from,
                self.max_body_bytes,
            )  # fmt: skip
        return decode(
            bytes(header), self._read_body(body_len, deadline), self.device, None, self.ipc_from,
            self.max_body_bytes,
        )  # fmt: skip

    def _read_exactly(self, n: int, deadline: float | None) -> bytearray:
        while len(self._buffer) < n:
            self._wait(self.read_fd, writable=False, deadline=deadline)
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                raise ChannelClosed("the other side closed the channel")
            self._buffer += chunk
        out = self._buffer[:n]
        del self._buffer[:n]
        return out

    def _read_body(self, n: int, deadline: float | None) -> bytearray:
        """Read ``n`` bytes straight into one buffer (the tensors received become views of it)."""
        body = bytearray(n)
        view = memoryview(body)
        filled = min(n, len(self._buffer))
        view[:filled] = self._buffer[:filled]
        del self._buffer[:filled]
        while filled < n:
            self._wait(self.read_fd, writable=False, deadline=deadline)
            got = os.readv(self.read_fd, [view[filled : filled + (16 << 20)]])
            if not got:
                raise ChannelClosed("the other side closed the channel")
            filled += got
        return body

    @staticmethod
    def _wait(fd: int, writable: bool, deadline: float | None) -> None:
        if deadline is None:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ChannelTimeout("deadline passed")
        ready = (
            select.select([], [fd], [], remaining)
            if writable
            else select.select([fd], [], [], remaining)
        )
        if not (ready[1] if writable else ready[0]):
            raise ChannelTimeout("deadline passed")
