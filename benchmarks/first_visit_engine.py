"""A set's first visit against lone repeats, timed by the timing engine's own session.

Run on the GPU machine: ``PYTHONPATH=src python3 benchmarks/first_visit_engine.py [candidate.py]``.
Where ``benchmarks/first_visit.py`` times bare calls, this one times them as the candidate worker
does (``TimingSession.block``: the arrival, the poison, the L2 flush, the lead sleep, CUDA
events), in one process: a first visit on a set arriving from host memory as the channel
delivers it (copied onto the GPU on receipt), and lone repeats on a held set with each of several
things done before them in place of ``TimingSession.stand_in``. The judge calls a candidate's
repeats memoisation when they are much faster than its first visits (``MEMO_RATIO``); an honest
candidate's ratio should be near 1 with the right preparation.
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from kernelswarm.worker.guard import Trusted
from kernelswarm.worker.timing import Implementation, TimingSession

here = Path(__file__).resolve().parent
path = (
    Path(sys.argv[1]) if len(sys.argv) > 1 else here / "candidates" / "88_MinGPTNewGelu_triton.py"
)
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 8
spec = importlib.util.spec_from_file_location("candidate", path)
assert spec is not None and spec.loader is not None
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
model = module.ModelNew().cuda()
dev = torch.device("cuda", torch.cuda.current_device())
shape = (8192, 8192)

session = TimingSession(dev, Trusted())
session.store({0: [torch.randn(shape)], 1: [torch.randn(shape)]}, [[torch.randn(shape)]])
impl = Implementation(run=lambda args: model(*args))
warmed = session.warmup(impl, 5.0)
current = TimingSession.stand_in
host_copies: dict[int, list[torch.Tensor]] = {}


def from_host(s: TimingSession, j: int) -> None:
    """The set's own bytes copied back where they lie, from a host copy of them."""
    own = host_copies.setdefault(j, [x.cpu() for x in s.sets[j]])
    for x, h in zip(s.sets[j], own, strict=True):
        x.copy_(h)


def on_gpu(s: TimingSession, j: int) -> None:
    """The set's own bytes copied back where they lie, from a copy on the GPU."""
    for x in s.sets[j]:
        x.copy_(x.clone())


def moved(s: TimingSession, j: int) -> None:
    """The set copied from host into fresh memory, and held there from now on."""
    own = host_copies.setdefault(j, [x.cpu() for x in s.sets[j]])
    s.sets[j] = [h.to(dev, copy=True) for h in own]


preparations: dict[str, Callable[[TimingSession, int], None]] = {
    "stand_in (a set's bytes from host into scratch)": current,
    "nothing": lambda s, j: None,
    "its own set rewritten in place from host": from_host,
    "its own set rewritten in place on the GPU": on_gpu,
    "its own set moved: copied from host into fresh memory": moved,
}
rows: dict[str, list[float]] = {"first visit": [], "repeats in a block": []}
for name in preparations:
    rows[f"lone repeat after {name}"] = []
fresh = 2
for _ in range(rounds):
    # a first visit: the set as the channel leaves it (copied onto the GPU on receipt)
    received = torch.randn(shape).to(dev, copy=True)
    block = session.block("candidate", impl, [fresh], True, arriving={fresh: [received]})
    rows["first visit"].append(block.samples[0])
    del received
    session.sets.pop(fresh)
    session.finals["candidate"].pop(fresh)
    fresh += 1
    block = session.block("candidate", impl, [0, 1, 0, 1, 0, 1], True)
    rows["repeats in a block"].append(statistics.median(block.samples))
    for name, prepare in preparations.items():
        TimingSession.stand_in = prepare
        try:
            block = session.block("candidate", impl, [0], True)
        finally:
            TimingSession.stand_in = current
        rows[f"lone repeat after {name}"].append(block.samples[0])

first = statistics.median(rows["first visit"])
print(f"{torch.cuda.get_device_name()}  {path.name}  {shape}  warm-up: {warmed.calls} calls")
for name, values in rows.items():
    median = statistics.median(values)
    print(
        f"{name:72s} median {median * 1e6:8.1f} µs  min {min(values) * 1e6:8.1f}  "
        f"max {max(values) * 1e6:8.1f}  first visit / this: {first / median:5.2f}"
    )
