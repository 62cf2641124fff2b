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

    from kernelswarm.poison import poison_cuda

    device = torch.device("cuda", torch.cuda.current_device())
    kept = [torch.randn(1 << n, device=device) for n in range(8, 24)]
    del kept[::2]
    report = poison_cuda(device)
    assert report.free_bytes > 0 and report.poisoned_bytes >= 0.99 * report.free_bytes
    reused = torch.empty(1 << 20, device=device)
    assert torch.isnan(reused).all(), "a freed block came back without poison"


@pytest.mark.gpu
def test_an_output_the_cache_could_not_give_comes_poisoned_all_the_same():
    # Memory fresh from the driver holds what was last written there (here: the answer, as the
    # judge's given-back memory held it). With the outputs' sizes the poison takes such blocks
    # first, and an output of that size then comes from the cache, filled.
    import torch

    from kernelswarm.poison import poison_cuda

    device = torch.device("cuda", torch.cuda.current_device())
    size = 64 << 20
    torch.cuda.empty_cache()
    report = poison_cuda(device, [size])
    assert report.reserved_bytes == size
    out = torch.empty(size // 4, device=device)
    assert torch.isnan(out).all(), "an output's memory came unpoisoned"


@pytest.mark.gpu
def test_a_lone_call_on_a_held_set_follows_a_copy_from_host_as_a_first_visit_does(monkeypatch):
    # On the H100 any call right after a copy from host memory took 1.8x a repeat's time; a first
    # visit always follows its set's copy, so every call timed alone on a held set follows one too
    import torch

    from kernelswarm.worker import timing
    from kernelswarm.worker.guard import Trusted

    device = torch.device("cuda", torch.cuda.current_device())
    session = timing.TimingSession(device, Trusted())
    session.store({0: [torch.randn(1 << 20)], 1: [torch.randn(1 << 20)]}, [])
    copies: list[int] = []
    real = timing.TimingSession.stand_in
    monkeypatch.setattr(
        timing.TimingSession, "stand_in", lambda s, j: (copies.append(j), real(s, j))[1]
    )
    impl = timing.Implementation(run=lambda args: args[0] * 2)
    session.block("eager", impl, [0, 1, 0], flush=True)
    assert copies == []  # a block of repeats: no copy between its calls
    session.block("eager", impl, [1], flush=True, arriving={2: [torch.randn(1 << 20)]})
    assert copies == []  # a first visit: its own set's copy is the one
    before = torch.cuda.memory_allocated(device)
    session.block("eager", impl, [1], flush=True)
    assert copies == [1]
    assert session.host_chunk is not None and session.host_chunk.numel() == 4 << 20
    assert torch.cuda.memory_allocated(device) <= before + (4 << 20)  # the scratch given back


@pytest.mark.gpu
def test_answers_held_on_the_host_are_compared_on_the_output_s_gpu(monkeypatch):
    # Tests held on the host (the GPU full): an output on the GPU is compared there, the
    # answers' pieces brought to it, never brought to the host itself; same verdicts and words
    import torch

    from kernelswarm.judge import compare
    from kernelswarm.precision import POLICIES
    from kernelswarm.tensors import PIECE

    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, PIECE // 2 + 5, generator=g)  # more than one piece
    tol = compare.Tolerance(torch.relu(x.double()), torch.relu(x), None, POLICIES["strict"])
    tol.to_host()
    brought: list[torch.Tensor] = []
    real_host = compare.host_tensor
    monkeypatch.setattr(
        compare, "host_tensor", lambda t: (t.is_cuda and brought.append(t), real_host(t))[1]
    )
    right = torch.relu(x)
    wrong = right.clone()
    wrong[2, -1] += 1.0
    for output in (right, wrong):
        on_host = tol.check(output)
        on_gpu = tol.check(output.cuda())
        assert (on_gpu.passed, on_gpu.worst_index, on_gpu.detail) == (
            on_host.passed,
            on_host.worst_index,
            on_host.detail,
        )
    assert tol.check(wrong.cuda()).worst_index == (2, x.shape[1] - 1)
    assert brought == []


@pytest.mark.gpu
def test_a_fresh_call_s_inputs_received_on_the_gpu_are_kept_without_a_second_copy():
    # The worker is told "cuda"; its inputs arrive on "cuda:0". They are its own memory already
    # (copied on receipt), and a second copy of each fresh call's inputs cost 8 GiB at L1/96's size
    import torch

    from kernelswarm.protocol import Call, InputMode
    from kernelswarm.worker.candidate import CandidateRole
    from kernelswarm.worker.guard import Phases, Trusted

    role = CandidateRole(Phases(lambda _: None), torch.device("cuda"), Trusted())
    received = [torch.ones(1 << 20, device="cuda"), 3]
    placed = role._place_inputs(Call(InputMode.FRESH, "A", None, [4], received, []))
    assert placed[0] is received[0] and placed[1] == 3
    cloned = role._place_inputs(Call(InputMode.CLONE, "A-clone", "A", [4], None, []))
    assert cloned[0] is not received[0] and cloned[0].data_ptr() != received[0].data_ptr()
