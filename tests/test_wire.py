"""The message format: round trips, and refusal of anything malformed (it is read from a process
that runs untrusted code, so it must never execute what it reads)."""

from __future__ import annotations

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
