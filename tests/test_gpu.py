"""On a CUDA machine: the CUDA cheats are caught and the CUDA kernels accepted."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import EXAMPLES

from kernelswarm.catalog import RunOutcome, discover, run_example

CUDA_RUNS = [r for r in discover(EXAMPLES) if r.device == "cuda"]


@pytest.fixture(scope="module")
def cuda_outcomes() -> dict[str, RunOutcome]:
    """Every CUDA example judged once, each then asserted on its own: the untimed ones several
    at a time (the compiled ones first), then the timed ones alone (the GPU lock keeps other
    work off the device while anything is timed, but not off the CPU, and the host-clock checks
    read a CPU clock)."""
    timed = [r for r in CUDA_RUNS if "--timing" in r.args]
    # those that compile an extension (tens of seconds each on a cold cache) start first
    untimed = sorted(
        (r for r in CUDA_RUNS if r not in timed),
        key=lambda r: "load_inline" not in r.candidate.read_text(),
    )
    jobs = max(1, min(len(untimed), (os.cpu_count() or 2) // 2, 6))
    with ThreadPoolExecutor(jobs) as pool:
        outcomes = list(pool.map(lambda r: run_example(r, device="cuda"), untimed))
    outcomes += [run_example(r, device="cuda") for r in timed]
    return {o.run.label: o for o in outcomes}


@pytest.mark.gpu
@pytest.mark.parametrize("run", CUDA_RUNS, ids=[r.label for r in CUDA_RUNS])
def test_cuda_example_is_judged_as_declared(run, cuda_outcomes):
    outcome = cuda_outcomes[run.label]
    assert outcome.ok, (
        f"{run.label}: expected {run.verdict} {run.checks}, got {outcome.verdict}: {outcome.detail}"
    )


@pytest.mark.gpu
def test_poison_covers_the_caching_allocator():
    import torch

    from kernelswarm.worker.poison import poison_cuda

    device = torch.device("cuda", torch.cuda.current_device())
    kept = [torch.randn(1 << n, device=device) for n in range(8, 24)]
    del kept[::2]
    report = poison_cuda(device)
    assert report.free_bytes > 0 and report.poisoned_bytes >= 0.99 * report.free_bytes
    reused = torch.empty(1 << 20, device=device)
    assert torch.isnan(reused).all(), "a freed block came back without poison"
