"""``--executor ray``: checks as Ray tasks on a local Ray cluster (CPU), one of its workers
killed in the middle of a check: the check is retried elsewhere, nothing is lost or counted
twice, and no model call is repeated (the supervisor, the model calls and the store stay on the
head)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from fake_llm import FakeModelServer
from test_swarm import TREE, ZEROS, fenced, optimize

pytest.importorskip("ray")

# one local Ray cluster at a time: the three tests run in one xdist worker, in order
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _parent(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[1])
    except (OSError, IndexError, ValueError):
        return 0


def _ray_worker_judging() -> int | None:
    """The Ray worker process running a check: the ancestor of a kernelswarm worker that Ray
    named after the task it runs."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or "kernelswarm.worker" not in _cmdline(int(entry.name)):
            continue
        pid = int(entry.name)
        while pid > 1:
            pid = _parent(pid)
            if _cmdline(pid).startswith("ray::_run_remote"):  # a check, not the round's draw
                return pid
    return None


def test_a_killed_ray_worker_s_check_is_retried_and_counted_once(tmp_path):
    killed: list[int] = []
    stop = threading.Event()

    def kill_the_first_judging_worker() -> None:
        while not stop.wait(0.2):
            pid = _ray_worker_judging()
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return

    with FakeModelServer([fenced(TREE), fenced(ZEROS)]) as oa:
        swarm = (f'[[generator]]\nname = "gpt"\nkind = "openai"\nmodel = "m"\nbase_url = "{oa.url}/v1"\n'
                 f'api_key_env = "K"\nproposals_per_round = 2\nmax_retries = 0\n\n[budget]\nrounds = 1\n')  # fmt: skip
        killer = threading.Thread(target=kill_the_first_judging_worker, daemon=True)
        killer.start()
        started = time.monotonic()
        proc = optimize(tmp_path, swarm, "--executor", "ray", env={"K": "sk", "RAY_ADDRESS": ""})
        stop.set()
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert killed, f"no Ray worker was seen judging in {time.monotonic() - started:.0f} s"
        assert len(oa.requests) == 2  # each model call once, though a check ran twice
    result = json.loads((tmp_path / "result.json").read_text())
    verdicts = sorted(a["verdict"] for a in result["attempts"])
    assert verdicts == ["accepted", "rejected"]  # as a local run judges them
    db = sqlite3.connect(tmp_path / "r.db")
    assert db.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 2
    assert db.execute("SELECT count(*) FROM generations").fetchone()[0] == 2
    assert db.execute("SELECT status FROM runs").fetchone()[0] == "finished"
    # the round's tests were drawn once, by a Ray task, and handed to both remote checks
    judged = [json.loads(row[0]) for row in db.execute("SELECT json FROM verdicts")]
    assert all(any("tests shared by every candidate" in n for n in v["notes"]) for v in judged)
    assert judged[0]["seeds"]["tests"] == judged[1]["seeds"]["tests"] != {}


def test_ray_executor_without_ray_or_with_a_bad_address_says_so(tmp_path, monkeypatch):
    from kernelswarm.judge import executor

    def no_ray() -> None:
        raise executor.RayNotInstalled("--executor ray needs Ray: pip install 'kernelswarm[ray]'")

    monkeypatch.setattr(executor, "_ray", no_ray)
    with pytest.raises(executor.RayNotInstalled, match=r"kernelswarm\[ray\]"):
        executor.make_executor("ray", "cpu", None, 1, None, lambda m: None)
    monkeypatch.undo()
    swarm = '[[generator]]\nname = "b"\nkind = "builtin"\n'
    proc = optimize(tmp_path, swarm, "--executor", "local", "--ray-address", "x:1")
    assert (
        proc.returncode == 2 and "--ray-address needs --executor ray" in proc.stdout + proc.stderr
    )
    proc = optimize(tmp_path, swarm, "--gpus", "0")  # on the CPU
    assert proc.returncode == 2 and "--gpus chooses GPUs, but the device is cpu" in proc.stderr


def test_a_round_s_tests_and_a_suite_s_baselines_are_ray_tasks():
    import ray

    from kernelswarm.judge.bench import BenchConfig
    from kernelswarm.judge.check import CheckConfig
    from kernelswarm.judge.executor import RayExecutor, RemoteCheck, code_fingerprint
    from kernelswarm.judge.results import BenchResult, TimingOptions
    from kernelswarm.judge.shared import RoundRequest, SharedTests
    from kernelswarm.judge.tests import TestPlan
    from kernelswarm.precision import POLICIES

    examples = Path(__file__).resolve().parent.parent / "examples"
    problem = examples / "problems" / "sum_rows.py"
    ray.init(address="local", include_dashboard=False, logging_level="ERROR")
    try:
        executor = RayExecutor("cpu", None, lambda message: None)
        summary = executor.draw_round(
            RoundRequest(problem, "cpu", POLICIES["strict"], (), TestPlan(POLICIES["strict"]))
        )
        assert isinstance(summary, SharedTests) and summary.strong_enough
        assert summary.tests == []  # the tests themselves stay in the cluster
        assert executor._round is not None
        held = ray.get(executor._round[1])
        assert len(held.tests) >= 3 and all(t.host_bytes > 0 for t in held.tests)
        verdict = executor.check(
            CheckConfig(problem, examples / "good" / "sum_rows_tree.py", shared=summary)
        )
        assert verdict.verdict.value == "accepted", verdict.reasons
        assert verdict.seeds.master == summary.master
        assert any("tests shared by every candidate" in n for n in verdict.notes)
        # suite's baselines: measured by a Ray task too, named as on the head
        options = TimingOptions(budget_seconds=1.0, compile_baseline=False)
        measured = executor.bench(BenchConfig(problem, "cpu", POLICIES["strict"], (), options))
        assert isinstance(measured, BenchResult), measured
        assert measured.problem == str(problem) and measured.timing.median("eager")
        # a head whose code is not the workers': each job refused at once, saying why
        real_of = RemoteCheck.of
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(
                RemoteCheck,
                "of",
                lambda config: dataclasses.replace(real_of(config), code="0.1.0+forged"),
            )
            refused = executor.check(CheckConfig(problem, examples / "good" / "sum_rows_tree.py"))
        assert refused.verdict.value == "error"
        (reason,) = refused.reasons
        assert reason.detail.startswith("the Ray task judging it was refused: this Ray node runs")
        assert f"kernelswarm {code_fingerprint()}, the head 0.1.0+forged" in reason.detail
    finally:
        ray.shutdown()
