"""How fast a large body crosses between two processes: through the pipe, and through the
shared area (wire.Bulk). Run: PYTHONPATH=src python3 tools/wire_speed.py [GiB]"""

import os
import subprocess
import sys
import time

import torch

from kernelswarm import wire


def cross(gib: float, bulk: bool, gpu: bool, times: int = 3) -> list[float]:
    """Send the same size ``times`` over one channel (a worker's life: the area is reused)."""
    r, w = os.pipe()
    wire.widen_pipe(w)
    area = wire.Bulk.create(64 << 30) if bulk else None
    n = int(gib * (1 << 30)) // 4
    device = torch.device("cuda") if gpu else None
    pid = os.fork()
    if pid == 0:  # the sender: a fresh process (CUDA is started after the fork)
        os.close(r)
        out = wire.Bulk(area.fd, area.capacity) if area else None
        x = torch.ones(n, device=device)
        channel = wire.Channel(-1, w, bulk_out=out)
        for _ in range(times):
            channel._bulk_unread = False  # the receiver has read the last one (it waits below)
            start = time.perf_counter()
            channel.send({"x": x})
            print(f"  sent in {time.perf_counter() - start:.2f} s", flush=True)
            time.sleep(1.0)
        os._exit(0)
    os.close(w)
    channel = wire.Channel(r, -1, bulk_in=area, device=device)
    rates = []
    for _ in range(times):
        first = os.read(r, 4)
        start = time.perf_counter()  # (the pipe's copy runs while the sender sends: both in it)
        channel._buffer += first
        got = channel.recv()["x"]
        if gpu:
            torch.cuda.synchronize()
        rates.append(n * 4 / (time.perf_counter() - start) / 1e9)
        assert got.numel() == n
        del got
    os.waitpid(pid, 0)
    os.close(r)
    return rates


if __name__ == "__main__":
    gib = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    if len(sys.argv) > 3 and sys.argv[2] == "--one":  # one configuration, in a fresh process
        bulk, gpu = sys.argv[3] == "bulk", sys.argv[4] == "gpu"
        rates = ", ".join(f"{r:.2f}" for r in cross(gib, bulk, gpu))
        where = "GPU to GPU" if gpu else "host to host"
        print(f"{where}, {'shared area' if bulk else 'pipe'}: {gib} GiB at {rates} GB/s")
        sys.exit(0)
    gpu_too = len(sys.argv) > 2 and sys.argv[2] == "gpu"
    for where in ("gpu", "host") if gpu_too else ("host",):
        for how in ("pipe", "bulk"):  # CUDA cannot start again in a forked child: fresh processes
            subprocess.run([sys.executable, __file__, str(gib), "--one", how, where], check=False)
