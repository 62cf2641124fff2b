"""Confinement: what a candidate can no longer do from inside its worker, and what the judge
does where a machine cannot confine one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES, PROBLEMS

from kernelswarm.judge import check as check_module
from kernelswarm.judge.check import CheckConfig, check
from kernelswarm.judge.protections import Protections, available
from kernelswarm.judge.reasons import Check
from kernelswarm.judge.sandbox import Limits

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux confinement")


def test_this_machine_confines_workers():
    protections = available()
    assert protections.complete, protections.problems
    assert protections.namespaces and protections.private_proc and protections.no_network
    assert protections.landlock_abi >= 1 and protections.landlock_enforced


DAEMON = """
import os, torch, torch.nn as nn
class ModelNew(nn.Module):
    def forward(self, A, B):
        if not getattr(ModelNew, "started", False):
            ModelNew.started = True
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.execv("/bin/sleep", ["sleep", "{marker}"])
                os._exit(0)
        return torch.matmul(A, B)
"""


def _alive(marker: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


@pytest.mark.slow
@pytest.mark.parametrize("unconfined", [False, True])
def test_a_daemon_started_by_the_candidate_ends_with_its_worker(tmp_path, unconfined):
    marker = f"{os.getpid()}{int(unconfined)}.{time.time_ns() % 10**6}"
    candidate = tmp_path / "daemon.py"
    candidate.write_text(DAEMON.replace("{marker}", marker))
    verdict = check(CheckConfig(PROBLEMS / "matmul.py", candidate, seed=1, unconfined=unconfined))
    assert verdict.accepted, [r.line() for r in verdict.reasons]
    time.sleep(0.5)
    survivors = _alive(marker)
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    if unconfined:  # the known escape of a process group, which namespaces close
        assert survivors
    else:
        assert not survivors


STUCK = """
import os, torch, torch.nn as nn
class ModelNew(nn.Module):
    def forward(self, A, B):
        if os.fork() == 0:
            os.execv("/bin/sleep", ["sleep", "{marker}"])
        while True:
            pass
"""


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _judge_stuck(
    tmp_path: Path, marker: str, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
):
    """A `kernelswarm check` of the STUCK candidate, returned once the candidate spins."""
    candidate = tmp_path / "stuck.py"
    candidate.write_text(STUCK.replace("{marker}", marker))
    judge = subprocess.Popen(
        [sys.executable, "-m", "kernelswarm", "check", str(PROBLEMS / "matmul.py"),
         str(candidate), "--device", "cpu", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not _alive(marker) and judge.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    return judge


@pytest.mark.slow
@pytest.mark.parametrize("unconfined", [False, True])
def test_a_worker_ends_when_its_judge_is_killed(tmp_path, unconfined):
    """A judge killed outright (no clean-up runs) leaves no worker spinning on: its launcher
    sees the judge gone and kills the worker's namespace (unconfined: its process group)."""
    marker = f"{os.getpid()}9{int(unconfined)}.{time.time_ns() % 10**6}"
    judge = _judge_stuck(tmp_path, marker, args=("--unconfined",) if unconfined else ())
    try:
        assert _alive(marker), "the stuck candidate never ran"
        launchers = _children(judge.pid)
        assert launchers
    finally:
        judge.kill()
        judge.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (_alive(marker) or any(map(_running, launchers))):
        time.sleep(0.1)
    survivors = _alive(marker)
    for pid in survivors + [p for p in launchers if _running(p)]:
        os.kill(pid, signal.SIGKILL)
    assert not survivors and not any(map(_running, launchers))


@pytest.mark.slow
def test_a_judge_ended_by_sigterm_cleans_up_as_after_ctrl_c(tmp_path):
    """SIGTERM (a scheduler's, a time limit's) ends the run as Ctrl-C does: the worker is
    stopped and its scratch folder removed, promptly."""
    marker = f"{os.getpid()}8.{time.time_ns() % 10**6}"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    judge = _judge_stuck(tmp_path, marker, env={**os.environ, "TMPDIR": str(scratch)})
    try:
        assert _alive(marker), "the stuck candidate never ran"
        assert list(scratch.glob("kernelswarm-*"))
        judge.terminate()
        judge.wait(timeout=30)
    finally:
        judge.kill()
    assert not _alive(marker)
    assert not list(scratch.glob("kernelswarm-*")), list(scratch.iterdir())


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


THREADS = """
import threading, time, torch, torch.nn as nn
class ModelNew(nn.Module):
    def forward(self, A, B):
        for _ in range(300):
            threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
        return torch.matmul(A, B)
"""


@pytest.mark.slow
def test_too_many_processes_are_stopped(tmp_path):
    candidate = tmp_path / "threads.py"
    candidate.write_text(THREADS)
    verdict = check(
        CheckConfig(PROBLEMS / "matmul.py", candidate, seed=1, limits=Limits(processes=200))
    )
    assert verdict.verdict.value == "rejected"
    assert verdict.reasons[0].check is Check.PROCESSES, [r.line() for r in verdict.reasons]


def test_without_confinement_an_untrusted_candidate_is_refused(monkeypatch):
    missing = Protections(False, False, False, 0, False, False, True, ["namespaces not in force"])
    monkeypatch.setattr(check_module, "available", lambda: missing)
    config = CheckConfig(PROBLEMS / "matmul.py", EXAMPLES / "good" / "matmul_tiled.py", seed=1)
    refused = check(config)
    assert refused.verdict.value == "error" and refused.reasons[0].check is Check.CONFINEMENT
    assert "--unconfined" in refused.reasons[0].detail
    allowed = check(CheckConfig(**{**config.__dict__, "unconfined": True}))
    assert allowed.accepted and any("judged unconfined" in n for n in allowed.notes)
    assert allowed.protections == []


def test_a_confined_verdict_names_its_protections():
    verdict = check(
        CheckConfig(PROBLEMS / "matmul.py", EXAMPLES / "good" / "matmul_tiled.py", seed=1)
    )
    assert verdict.accepted
    assert any("namespaces" in p for p in verdict.protections) and "Landlock" in verdict.protections


@pytest.mark.slow
def test_doctor_lists_the_protections():
    out = subprocess.run(
        [sys.executable, "-m", "kernelswarm", "doctor"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Landlock" in out.stdout and "ABI" in out.stdout and "private /proc" in out.stdout
