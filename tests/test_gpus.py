"""Several GPUs on one host: choosing them, spreading checks, and a faulty GPU out of rotation.

The CUDA side (workers pinned by CUDA_VISIBLE_DEVICES, one lock per GPU) runs on a GPU machine;
the rules are tested here with real verdicts and stand-in GPUs.
"""

from __future__ import annotations

import dataclasses
import threading

import pytest
from conftest import EXAMPLES, PROBLEMS

from kernelswarm.judge import gpus
from kernelswarm.judge.check import CheckConfig, check
from kernelswarm.judge.executor import LocalExecutor, make_executor
from kernelswarm.judge.gpus import Gpu, GpuChoiceError, GpuPool, choose
from kernelswarm.judge.reasons import Check, Reason
from kernelswarm.judge.verdict import Outcome, Verdict

# the fixture is a whole check: made once, by one xdist worker, not once by each (session-scoped:
# a module fixture is made again whenever the worker ran another module's tests in between)
pytestmark = pytest.mark.xdist_group("test_gpus")

A, B, C = Gpu(0, "0"), Gpu(1, "1"), Gpu(2, "GPU-3a10")


@pytest.fixture(scope="session")
def accepted() -> Verdict:
    return check(
        CheckConfig(
            problem=PROBLEMS / "matmul.py", candidate=EXAMPLES / "good" / "matmul_tiled.py", seed=1
        )
    )


def _faulted(verdict: Verdict, check_: Check) -> Verdict:
    return dataclasses.replace(
        verdict, verdict=Outcome.REJECTED, reasons=[Reason(check_, "an illegal memory access")],
        notes=list(verdict.notes),
    )  # fmt: skip


def test_gpus_are_chosen_by_number_and_bad_choices_said():
    assert choose(None, [A, B, C]) == [A, B, C]
    assert choose("all", [A, B]) == [A, B]
    assert choose("2,0,0", [A, B, C]) == [C, A]
    with pytest.raises(GpuChoiceError, match="shows 2 GPU"):
        choose("0,2", [A, B])
    with pytest.raises(GpuChoiceError, match="GPU numbers"):
        choose("first", [A, B])


def test_checks_spread_over_the_least_busy_gpus():
    pool = GpuPool([A, B])
    with pool.take() as first, pool.take() as second, pool.take() as third:
        assert {first, second} == {A, B}
        assert third in (A, B)
    assert pool.busy == {A: 0, B: 0}


def test_a_gpu_that_faults_and_fails_its_probe_leaves_and_the_check_goes_elsewhere(accepted):
    probed: list[Gpu] = []
    pool = GpuPool([A, B], probe=lambda g: probed.append(g) or "a 512x512 matmul timed out")
    ran: list[Gpu] = []

    def run(gpu: Gpu) -> Verdict:
        ran.append(gpu)
        return _faulted(accepted, Check.CUDA_ERROR) if gpu == A else accepted

    messages: list[str] = []
    verdict = pool.judge(run, messages.append)
    assert ran == [A, B] and probed == [A]
    assert verdict.verdict is Outcome.ACCEPTED
    assert pool.retired == {A: "a 512x512 matmul timed out"} and pool.healthy() == [B]
    assert "out of rotation" in messages[0]
    # the next check goes to the healthy GPU only
    with pool.take() as gpu:
        assert gpu == B


def test_a_candidate_s_own_fault_on_a_healthy_gpu_keeps_its_verdict(accepted):
    pool = GpuPool([A, B], probe=lambda g: None)
    faulted = _faulted(accepted, Check.CUDA_ERROR)
    verdict = pool.judge(lambda gpu: faulted, lambda m: None)
    assert verdict is faulted and pool.healthy() == [A, B]
    # a wrong answer is never the GPU's fault: no probe at all
    wrong = _faulted(accepted, Check.VALUES)
    never = GpuPool([A], probe=lambda g: pytest.fail("probed after a wrong answer"))
    assert never.judge(lambda gpu: wrong, lambda m: None) is wrong


def test_with_every_gpu_out_the_last_verdict_says_so_and_nothing_more_is_taken(accepted):
    pool = GpuPool([A], probe=lambda g: "no device")
    verdict = pool.judge(lambda gpu: _faulted(accepted, Check.TIMEOUT), lambda m: None)
    assert any("failed its health probe" in n for n in verdict.notes)
    with pytest.raises(RuntimeError, match="no GPU left in rotation"), pool.take():
        pass


def test_a_pinned_check_names_its_gpu_for_workers_and_the_lock(tmp_path, monkeypatch):
    from kernelswarm.judge import lock

    monkeypatch.setattr(lock, "cache_path", lambda: tmp_path / "peaks.json")
    seen: list[str] = []
    with gpus.pinned(C):
        assert gpus.current() == C
        with lock.device_lock("cuda", seen.append):
            assert (tmp_path / "timing-cudaGPU-3a10.lock").exists()
        # another thread has its own pin (none)
        other: list[Gpu | None] = []
        t = threading.Thread(target=lambda: other.append(gpus.current()))
        t.start()
        t.join()
        assert other == [None]
    assert gpus.current() is None


def test_local_executor_on_the_cpu_judges_in_this_process(accepted):
    runs = make_executor("local", "cpu", None, 2, None, lambda m: None)
    assert isinstance(runs, LocalExecutor) and runs.pool is None and runs.slots == 2
    verdict = runs.check(
        CheckConfig(
            problem=PROBLEMS / "matmul.py", candidate=EXAMPLES / "good" / "matmul_tiled.py", seed=1
        )
    )
    assert verdict.verdict is accepted.verdict
    with pytest.raises(ValueError, match="unknown executor"):
        make_executor("slurm", "cpu", None, 1, None, lambda m: None)
