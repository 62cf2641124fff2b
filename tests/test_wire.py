"""The message format: round trips, and refusal of anything malformed (it is read from a process
that runs untrusted code, so it must never execute what it reads)."""

from __future__ import annotations

import json
import os
import pickle
import struct

import pytest
import torch

from kernelswarm import wire


def roundtrip(obj):
    frame = wire.encode(obj)
    _magic, hlen, _blen = struct.unpack(">4sQQ", frame[:20])
    return wire.decode(frame[20 : 20 + hlen], bytearray(frame[20 + hlen :]))


@pytest.mark.parametrize(
    "dtype",
    [
        torch.float32,
        torch.float64,
        torch.bfloat16,
        torch.float16,
        torch.int64,
        torch.bool,
        torch.uint8,
    ],
)
def test_tensor_roundtrip_is_bit_exact(dtype):
    t = (torch.randn(3, 5) * 100).to(dtype)
    back = roundtrip({"t": t})["t"]
    assert back.dtype == dtype and back.shape == t.shape
    assert torch.equal(back.view(-1).view(torch.uint8), t.reshape(-1).view(torch.uint8))


def test_nested_structures_scalars_and_special_tensors():
    obj = {
        "a": [1, 2.5, None, "s", True],
        "t": (torch.tensor(3.0), torch.empty(0, 4)),
        "n": float("nan"),
    }
    back = roundtrip(obj)
    assert back["a"] == [1, 2.5, None, "s", True]
    assert (
        isinstance(back["t"], tuple) and back["t"][0].item() == 3.0 and back["t"][1].shape == (0, 4)
    )
    assert back["n"] != back["n"]


def test_non_contiguous_tensor_travels_as_its_values():
    t = torch.arange(12.0).reshape(3, 4).t()
    assert torch.equal(roundtrip([t])[0], t)


def test_refuses_unknown_objects():
    with pytest.raises(wire.WireError):
        wire.encode({"f": object()})


def test_refuses_a_dtype_name_that_is_not_a_dtype():
    with pytest.raises(wire.WireError):
        wire.dtype_from_name("save")


def test_refuses_extent_beyond_body():
    frame = wire.encode({"t": torch.ones(4)})
    _, hlen, _ = struct.unpack(">4sQQ", frame[:20])
    header = frame[20 : 20 + hlen]
    with pytest.raises(wire.WireError, match="extent"):
        wire.decode(header, bytearray(b"\0\0\0\0"))


def test_channel_rejects_foreign_bytes_and_pickles():
    r, w = os.pipe()
    try:
        os.write(w, pickle.dumps({"verdict": "accepted"}) + b"\0" * 32)
        with pytest.raises(wire.WireError, match="frame marker"):
            wire.Channel(r, w).recv(deadline=None)
    finally:
        os.close(r)
        os.close(w)


def test_channel_roundtrip_and_timeout():
    import time

    r, w = os.pipe()
    try:
        ch = wire.Channel(r, w)
        ch.send({"x": torch.arange(5)})
        assert torch.equal(ch.recv(deadline=time.monotonic() + 5)["x"], torch.arange(5))
        with pytest.raises(wire.ChannelTimeout):
            ch.recv(deadline=time.monotonic() + 0.1)
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="memfd is Linux only")
def test_large_bodies_travel_in_a_sealed_shared_area():
    import fcntl
    import threading
    import time

    r, w = os.pipe()
    out, into = wire.Bulk.create(1 << 26), None
    assert out is not None
    into = wire.Bulk(out.fd, out.capacity)  # the other end's mapping of the same area
    try:
        sender = wire.Channel(-1, w, bulk_out=out)
        receiver = wire.Channel(r, -1, bulk_in=into)
        big = torch.arange(1 << 20, dtype=torch.float32)  # 4 MiB: through the area
        sender.send({"x": big, "small": torch.ones(3)})
        frame_start = os.read(r, 4)
        assert frame_start == wire.BULK_MAGIC  # the pipe carried only the header
        receiver._buffer += frame_start
        got = receiver.recv(deadline=time.monotonic() + 5)["x"]
        # copied out on receipt: the sender scribbling over the area changes nothing
        out.map[:16] = b"\xff" * 16
        assert torch.equal(got, big)
        # until the other side has spoken, a second large body takes the pipe
        assert sender._bulk_unread
        sent = threading.Thread(target=sender.send, args=({"x": big + 1},))
        sent.start()
        first = os.read(r, 4)
        receiver._buffer += first
        assert first == wire.MAGIC
        assert torch.equal(receiver.recv(deadline=time.monotonic() + 20)["x"], big + 1)
        sent.join()
        # the area's size is sealed: a hostile end cannot shrink it under the reader
        with pytest.raises(OSError):
            os.ftruncate(out.fd, 4096)
        with pytest.raises(OSError):
            fcntl.fcntl(out.fd, fcntl.F_ADD_SEALS, 0)  # F_SEAL_SEAL: no seal can be removed
    finally:
        os.close(r)
        os.close(w)
        out.close()
        into.map.close()


def test_a_body_claimed_larger_than_the_area_is_refused():
    b = wire.Bulk.create(1 << 20)
    if b is None:
        pytest.skip("memfd is Linux only")
    try:
        with pytest.raises(wire.WireError, match="does not fit"):
            b.check(2 << 20)
    finally:
        b.close()


def test_a_received_message_is_freed_when_dropped_without_the_garbage_collector():
    # A reference cycle in decoding (a recursive closure) kept every tensor of every message
    # alive until the collector ran: GiBs of a large problem's answers on a shared GPU.
    import gc
    import weakref

    from kernelswarm import protocol
    from kernelswarm.protocol import Answers, DrawnTest

    x = torch.randn(64, 64)
    sent = DrawnTest([x], None, Answers([x.double()], [x], None, "Tensor", [], []))
    frame = wire.encode(protocol.encode(sent, 1))
    gc.disable()
    try:
        _, got = protocol.decode(wire.decode_frame(frame))
        refs = [weakref.ref(got.inputs[0]), weakref.ref(got.answers.expected[0])]
        del got
        assert all(r() is None for r in refs), "a decoded tensor outlived its message"
        # and a sender lets go of what it sent
        from torch.multiprocessing.reductions import StorageWeakRef

        y = torch.randn(64, 64)
        storage = StorageWeakRef(y.untyped_storage())
        head, parts, _ = wire.encode_parts([y, {"k": (y,)}])
        del y, parts, head
        assert storage.expired(), "a sent tensor outlived its frame"
    finally:
        gc.enable()


@pytest.mark.parametrize(
    "spec",
    [
        {"dtype": "float32", "shape": [4], "nbytes": 16},  # no offset
        {"dtype": "float32", "shape": "four", "nbytes": 16, "offset": 0},
        {"dtype": "float32", "shape": [4], "nbytes": "x", "offset": 0},
        {"shape": [4], "nbytes": 16, "offset": 0},
        "not a spec",
    ],
)
def test_a_malformed_tensor_description_is_a_wire_error(spec):
    header = json.dumps({"payload": {"__tensor__": 0}, "tensors": [spec]}).encode()
    with pytest.raises(wire.WireError):
        wire.decode(header, bytearray(16))


def test_a_message_nested_beyond_reason_is_a_wire_error():
    deep = b'{"payload": ' + b"[" * 200_000 + b"]" * 200_000 + b', "tensors": []}'
    with pytest.raises(wire.WireError, match="nested"):
        wire.decode(deep, bytearray())
