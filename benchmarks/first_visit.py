"""Why a set's first timed call can cost more than its repeats (L1/88 on the H100: 1.7-1.8x).

Run on the GPU machine: ``python3 benchmarks/first_visit.py [candidate.py]``. Times the
candidate (default: L1/88's Triton GELU) with CUDA events on 8192x8192 float32 sets, as the
timing engine's worker meets them: repeats of a held set; a set just copied in from host memory
(pageable, as from the shared area); the same with the allocator's free block handed back (the
engine's ``arrive``); a set copied on the GPU; and whether the caching allocator had to reserve
memory during the timed call (a cudaMalloc inside it).
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
from pathlib import Path

import torch

here = Path(__file__).resolve().parent
path = (
    Path(sys.argv[1]) if len(sys.argv) > 1 else here / "candidates" / "88_MinGPTNewGelu_triton.py"
)
spec = importlib.util.spec_from_file_location("candidate", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
model = module.ModelNew().cuda()
dev = torch.device("cuda")
shape = (8192, 8192)


def timed(x: torch.Tensor) -> tuple[float, int]:
    """µs of one call after a sync, and the bytes the allocator reserved during it."""
    torch.cuda.synchronize()
    before = torch.cuda.memory_reserved()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    with torch.no_grad():
        model(x)
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) * 1000, torch.cuda.memory_reserved() - before


def spare_back(placed: int, reserved: int) -> None:
    taken = placed - (torch.cuda.memory_reserved() - reserved)
    if taken > 0:
        spare = torch.empty(taken, dtype=torch.uint8, device=dev)
        del spare


held = torch.randn(shape, device=dev)
scratch = torch.empty_like(held)
for _ in range(20):
    timed(held)
rows: dict[str, list[tuple[float, int]]] = {}
for _ in range(8):
    rows.setdefault("repeat of a held set", []).append(timed(held))
    host = torch.randn(shape)
    # pageable host -> GPU, nothing handed back
    fresh = host.to(dev, copy=True)
    rows.setdefault("first call, copied from host", []).append(timed(fresh))
    rows.setdefault("its second call", []).append(timed(fresh))
    del fresh
    r = torch.cuda.memory_reserved()
    fresh = host.to(dev, copy=True)
    spare_back(fresh.nbytes, r)
    rows.setdefault("first call, copied from host, block handed back", []).append(timed(fresh))
    del fresh
    fresh = held.clone() + 0.0
    rows.setdefault("first call, made on the GPU", []).append(timed(fresh))
    del fresh
    # as a timing set arrives in the engine from the judge on the same GPU: the channel's copy
    # (of memory mapped through CUDA IPC), the worker's own copy of that, the first let go and
    # the free block handed back (``TimingSession.arrive``)
    sent = torch.randn(shape, device=dev)
    r = torch.cuda.memory_reserved()
    received = sent.clone()
    fresh = received.to(dev, copy=True)
    del received
    spare_back(fresh.nbytes, r)
    rows.setdefault("first call, arrived as the engine's (two copies on the GPU)", []).append(
        timed(fresh)
    )
    del fresh, sent
    torch.cuda.empty_cache()
    fresh = host.to(dev, copy=True)
    rows.setdefault("first call after empty_cache", []).append(timed(fresh))
    del fresh
    # the repeat after a pause as long as a copy from host
    host.to(dev, copy=True)
    rows.setdefault("repeat after a copy to another set", []).append(timed(held))
    # the timing engine's stand-in before a lone repeat: a set's bytes from one smaller host
    # chunk copied again and again into memory freed after; and one small copy alone
    chunk = torch.zeros(16 << 20, dtype=torch.uint8)
    for what, pieces in (("16 MiB chunk x16 (a set's bytes)", 16), ("one 16 MiB copy", 1)):
        scratch_b = torch.empty(pieces * chunk.numel(), dtype=torch.uint8, device=dev)
        for k in range(pieces):
            scratch_b[k * chunk.numel() : (k + 1) * chunk.numel()].copy_(chunk)
        del scratch_b
        rows.setdefault(f"repeat after {what} from host", []).append(timed(held))
    # a lone repeat's own set written again where it lies, with its own bytes: from a host
    # copy (as a set arriving through host memory), or from a copy on the GPU
    own = held.cpu()
    held.copy_(own)
    rows.setdefault("repeat after its own set rewritten in place from host", []).append(timed(held))
    twin = held.clone()
    held.copy_(twin)
    del twin
    rows.setdefault("repeat after its own set rewritten in place on the GPU", []).append(
        timed(held)
    )
    # what might undo the copy's effect before the call: the device kept busy a while (one
    # SM spinning; every SM copying on the device), or only time passing
    for what, between in (
        ("then 1 ms spin (torch.cuda._sleep)", lambda: torch.cuda._sleep(2_000_000)),
        ("then a copy on the device (256 MiB)", lambda: scratch.copy_(held)),
        ("then four copies on the device", lambda: [scratch.copy_(held) for _ in range(4)]),
        ("then 20 ms of nothing", lambda: time.sleep(0.02)),
        ("then the candidate on the held set", lambda: model(held)),
    ):
        host.to(dev, copy=True)
        with torch.no_grad():
            between()
        rows.setdefault(f"repeat after a copy from host, {what}", []).append(timed(held))

print(f"{torch.cuda.get_device_name()}  {path.name}  {shape}")
for name, values in rows.items():
    times = [t for t, _ in values]
    grew = sum(1 for _, g in values if g > 0)
    print(
        f"{name:52s} median {statistics.median(times):8.1f} µs  "
        f"min {min(times):8.1f}  max {max(times):8.1f}  reserved during call: {grew}/{len(values)}"
    )
