"""The message format between the judge and its worker processes.

A message is a JSON header plus raw tensor bytes. It is deliberately *not* pickle: the judge
reads messages written by a process that runs untrusted code, and unpickling them would hand
that code the judge's own process. Decoding only ever builds dicts, lists, tuples, numbers,
strings and plain tensors, and it checks every length against the bytes actually received.

Frame: b"KSW1" | header length (8 bytes, big endian) | body length (8 bytes) | header | body.

Shared by both sides: standard library and torch only.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import struct
import time
from typing import Any

import torch

MAGIC = b"KSW1"
_PREFIX = struct.Struct(">4sQQ")
MAX_HEADER_BYTES = 64 << 20


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


def encode_parts(obj: Any) -> tuple[bytes, list[memoryview]]:
    """Encode into the frame's head (prefix and JSON header) and its body, one view per tensor.

    The body's parts are views of the tensors' own memory, not copies: a test of several GiB
    crosses the pipe without doubling anyone's memory.
    """
    blobs: list[memoryview] = []
    specs: list[dict[str, Any]] = []
    offset = 0

    def walk(value: Any) -> Any:
        nonlocal offset
        if isinstance(value, torch.Tensor):
            t = value.detach()
            if t.device.type != "cpu":
                raise WireError("only CPU tensors travel; copy to the host first")
            t = t.contiguous()
            raw = t.reshape(-1).view(torch.uint8).numpy().data if t.numel() else memoryview(b"")
            specs.append(
                {
                    "dtype": _dtype_name(t.dtype),
                    "shape": list(t.shape),
                    "offset": offset,
                    "nbytes": raw.nbytes,
                }
            )
            blobs.append(raw)
            offset += raw.nbytes
            return {"__tensor__": len(specs) - 1}
        if isinstance(value, tuple):
            return {"__tuple__": [walk(v) for v in value]}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            if any(not isinstance(k, str) for k in value):
                raise WireError("dict keys must be strings")
            return {k: walk(v) for k, v in value.items()}
        if value is None or isinstance(value, bool | int | float | str):
            return value
        raise WireError(f"cannot send a {type(value).__name__}")

    payload = walk(obj)
    header = json.dumps({"payload": payload, "tensors": specs}).encode()
    return _PREFIX.pack(MAGIC, len(header), offset) + header, blobs


def encode(obj: Any) -> bytes:
    """Encode nested dicts/lists/tuples of JSON scalars and CPU tensors into one frame."""
    head, parts = encode_parts(obj)
    return head + b"".join(parts)


def decode(header_bytes: bytes, body: bytearray) -> Any:
    """Rebuild the object of one frame; every tensor's extent is checked against the body."""
    try:
        header = json.loads(header_bytes)
    except ValueError as exc:
        raise WireError(f"message header is not JSON: {exc}") from exc
    if not isinstance(header, dict) or "payload" not in header:
        raise WireError("message header lacks a payload")
    tensors: list[torch.Tensor] = []
    for spec in header.get("tensors", []):
        dtype = dtype_from_name(str(spec["dtype"]))
        shape = [int(s) for s in spec["shape"]]
        start, nbytes = int(spec["offset"]), int(spec["nbytes"])
        numel = 1
        for s in shape:
            if s < 0:
                raise WireError("negative tensor dimension")
            numel *= s
        itemsize = torch.empty((), dtype=dtype).element_size()
        if nbytes != numel * itemsize or start < 0 or start + nbytes > len(body):
            raise WireError("tensor extent does not match the bytes received")
        if numel == 0:
            tensors.append(torch.empty(shape, dtype=dtype))
            continue
        flat = torch.frombuffer(body, dtype=torch.uint8, count=nbytes, offset=start)
        tensors.append(flat.view(dtype).reshape(shape))

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            if set(value) == {"__tensor__"}:
                index = value["__tensor__"]
                if not isinstance(index, int) or not 0 <= index < len(tensors):
                    raise WireError("tensor reference out of range")
                return tensors[index]
            if set(value) == {"__tuple__"}:
                return tuple(walk(v) for v in value["__tuple__"])
            return {k: walk(v) for k, v in value.items()}
        return value

    return walk(header["payload"])


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


class Channel:
    """One end of a pair of pipes, with deadlines on both reading and writing.

    Deadlines matter on the judge's side: a worker stuck inside a candidate must not be able
    to hang the judge by not reading or not writing.
    """

    def __init__(self, read_fd: int, write_fd: int, max_body_bytes: int = 64 << 30) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.max_body_bytes = max_body_bytes
        self._buffer = bytearray()

    def send(self, obj: Any, deadline: float | None = None) -> None:
        head, parts = encode_parts(obj)
        for part in (memoryview(head), *parts):
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
        if magic != MAGIC:
            raise WireError(
                f"bad frame marker {bytes(magic)!r}: something else wrote to the channel"
            )
        if header_len > MAX_HEADER_BYTES or body_len > self.max_body_bytes:
            raise WireError(f"frame too large (header {header_len} B, body {body_len} B)")
        header = self._read_exactly(header_len, deadline)
        return decode(bytes(header), self._read_body(body_len, deadline))

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
