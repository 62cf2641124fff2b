"""GPU tensors towards the judge by CUDA IPC: copied on receipt, checked, never from the judge."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

from kernelswarm import cuda_ipc, wire

# A worker's side: sends a GPU tensor by IPC, waits for the judge to speak, then overwrites it.
_SENDER = r"""
import json, os, sys, torch
from kernelswarm import cuda_ipc, wire
read_fd, write_fd = int(sys.argv[1]), int(sys.argv[2])
ch = wire.Channel(read_fd, write_fd, ipc_out=True)
x = torch.arange(1 << 20, dtype=torch.float32, device="cuda")
ch.send({"x": x, "small": torch.ones(3, device="cuda")})
ch.recv()
x.fill_(-1.0)  # the judge has its own copy by now
torch.cuda.synchronize()
named = cuda_ipc.export(x)
ch.send({"handle": named[0], "at": named[1], "released": ch.released})
ch.recv()
"""


def _sender() -> tuple[subprocess.Popen, wire.Channel]:
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-c", _SENDER, str(to_child_r), str(from_child_w)],
        pass_fds=(to_child_r, from_child_w), env=env,
    )  # fmt: skip
    os.close(to_child_r)
    os.close(from_child_w)
    import torch

    return proc, wire.Channel(
        from_child_r, to_child_w, device=torch.device("cuda", 0), ipc_from="the test's sender"
    )


def test_a_named_tensor_is_refused_where_none_is_accepted():
    header = json.dumps(
        {
            "payload": {"__tensor__": 0},
            "tensors": [
                {"dtype": "float32", "shape": [4], "nbytes": 16, "ipc": "00" * 64, "at": 0}
            ],
        }
    ).encode()
    with pytest.raises(wire.WireError, match="GPU memory handle"):
        wire.decode(header, bytearray())


def test_a_handle_first_sent_by_another_worker_is_refused():
    import torch

    handle = "ab" * 64
    first = cuda_ipc.Receipt(torch.device("cuda", 0), "the reference worker (pid 1)")
    with pytest.raises(cuda_ipc.IpcError):  # no such allocation (or no driver at all)
        first.copy(handle, 0, 16)
    thief = cuda_ipc.Receipt(torch.device("cuda", 0), "the candidate worker (pid 2)")
    with pytest.raises(cuda_ipc.IpcError, match="another process"):
        thief.copy(handle, 0, 16)
    with pytest.raises(cuda_ipc.IpcError, match="malformed"):
        thief.copy("zz" * 64, 0, 16)


def test_one_message_names_only_so_much():
    import torch

    receipt = cuda_ipc.Receipt(torch.device("cuda", 0), "a worker", max_bytes=1 << 20)
    with pytest.raises(cuda_ipc.IpcError, match="largest message"):
        receipt.copy("cd" * 64, 0, 2 << 20)
    receipt.opened = {f"{i:0128x}": (0, 0) for i in range(cuda_ipc.MAX_HANDLES)}
    with pytest.raises(cuda_ipc.IpcError, match="allocations named"):
        receipt.copy("ef" * 64, 0, 16)
    receipt.opened = {}


def test_the_switch_sends_everything_through_host_memory(monkeypatch):
    monkeypatch.setenv(cuda_ipc.ENV_SWITCH, "0")
    assert not cuda_ipc.enabled()
    assert "host memory" in cuda_ipc.describe()


@pytest.mark.gpu
def test_a_gpu_tensor_crosses_by_ipc_and_is_the_judges_own_copy():
    import torch

    proc, ch = _sender()
    try:
        got = ch.recv(deadline=None)
        want = torch.arange(1 << 20, dtype=torch.float32, device="cuda")
        assert got["x"].device.type == "cuda" and torch.equal(got["x"], want)
        assert torch.equal(got["small"].cpu(), torch.ones(3))  # small: through the body
        ch.send({"go": True})
        after = ch.recv()
        assert after["released"] is True  # hearing from the judge, the sender let go
        torch.cuda.synchronize()
        assert torch.equal(got["x"], want), "the sender's later writes reached the judge's copy"
        # The same allocation claimed larger than it is: refused, nothing read past its end.
        receipt = cuda_ipc.Receipt(torch.device("cuda", 0), "the test's sender")
        with pytest.raises(cuda_ipc.IpcError, match="claimed in a mapping"):
            receipt.copy(after["handle"], after["at"], 1 << 30)
        receipt.close()
        ch.send({"done": True})
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == 0


@pytest.mark.gpu
def test_large_gpu_tensors_are_named_only_when_asked():
    import torch

    x = torch.zeros(1 << 20, device="cuda")
    head, parts, exported = wire.encode_parts({"x": x}, ipc=True)
    assert b'"ipc"' in head and not parts and [t.data_ptr() for t in exported] == [x.data_ptr()]
    head, parts, exported = wire.encode_parts({"x": x})
    assert b'"ipc"' not in head and len(parts) == 1 and not exported
