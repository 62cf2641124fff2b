"""Can a GPU tensor cross from a worker to the judge by CUDA IPC, confined or not? (issue 11)

Run on the GPU machine from the repository root:  PYTHONPATH=src python3 tools/ipc_probe.py
A child exports a 1 GiB tensor (``kernelswarm.cuda_ipc``: the handle of its allocation and the
offset in it); this process maps it, copies, checks the values and times the copy. Tried with
the child unconfined, then confined as a candidate's worker is (its own user, PID, IPC, mount
and network namespaces, Landlock). Then the hostile case: the child frees the memory and exits
while this process still has it mapped — is this process's CUDA context still sound after?
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from kernelswarm import cuda_ipc

CHILD = r"""
import json, sys, torch
from kernelswarm import cuda_ipc
x = torch.arange(1 << 28, dtype=torch.float32, device="cuda")
torch.cuda.synchronize()
handle, at = cuda_ipc.export(x)
print(json.dumps({"handle": handle, "at": at}), flush=True)
if sys.stdin.readline().strip() == "free":
    del x
    torch.cuda.empty_cache()
    print("freed", flush=True)
    sys.stdin.readline()
"""


def confined(command: list[str]) -> list[str]:
    from kernelswarm.judge.protections import Role, spec_for

    scratch = Path(tempfile.mkdtemp(prefix="ipc-probe-"))
    spec = spec_for(Role.CANDIDATE, scratch, None, 1 << 30, 4096)
    return [sys.executable, "-m", "kernelswarm.worker.confine", spec.to_json(), "--", *command]


def child_exports(confine: bool, free_first: bool = False) -> dict:
    cmd = [sys.executable, "-c", CHILD]
    proc = subprocess.Popen(
        confined(cmd) if confine else cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdin is not None and proc.stdout is not None
    msg = json.loads(proc.stdout.readline())
    result: dict = {"confined": confine, "exporter_frees_while_mapped": free_first}
    want = torch.arange(1 << 28, dtype=torch.float32, device="cuda")
    receipt = cuda_ipc.Receipt(torch.device("cuda", 0), f"child {proc.pid}")
    try:
        if free_first:
            # map first, then let the exporter free and exit, then copy
            receipt.copy(msg["handle"], msg["at"], 4)
            proc.stdin.write("free\n")
            proc.stdin.flush()
            result["child"] = proc.stdout.readline().strip()
            proc.stdin.write("exit\n")
            proc.stdin.flush()
            proc.wait(timeout=60)
        t0 = time.perf_counter()
        copy = receipt.copy(msg["handle"], msg["at"], (1 << 28) * 4).view(torch.float32)
        torch.cuda.synchronize()
        result["copy_GBps"] = round(copy.numel() * 4 / (time.perf_counter() - t0) / 1e9, 1)
        result["values_right"] = bool(torch.equal(copy, want))
    except Exception as exc:  # the probe reports every failure as a finding
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        try:
            receipt.close()
        except Exception as exc:
            result["close_error"] = f"{type(exc).__name__}: {exc}"
    if proc.poll() is None:
        proc.stdin.write("done\n")
        proc.stdin.flush()
        proc.wait(timeout=60)
    try:  # is this process's CUDA context still sound?
        result["context_sound"] = bool((torch.ones(4, device="cuda") * 2).sum().item() == 8)
    except Exception as exc:
        result["context_sound"] = f"{type(exc).__name__}: {exc}"
    return result


def main() -> None:
    torch.zeros(1, device="cuda")
    for confine, free_first in ((False, False), (True, False), (True, True)):
        print(json.dumps(child_exports(confine, free_first)), flush=True)


if __name__ == "__main__":
    main()
