"""The example catalogue: candidates that declare what the judge must say about them.

Every file under ``examples/good`` and ``examples/cheats`` carries lines like these in its
docstring::

    kernelswarm-problem: ../problems/matmul.py        (relative to the file)
    kernelswarm-run: => rejected values|nonfinite     (args => verdict [checks, any of])
    kernelswarm-run: --precision bf16 => accepted
    kernelswarm-device: cuda                          (optional: only where this device exists)
    kernelswarm-slow: compiles C++                    (optional: takes tens of seconds)
    kernelswarm-requires: triton                      (optional: modules it needs)

``kernelswarm selftest`` runs them all through the real command line and shows whether the judge
said what each file expects, so anyone can see the judge catch every cheat on their own machine.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ExampleRun:
    candidate: Path
    problem: Path
    args: tuple[str, ...]
    verdict: str
    checks: tuple[str, ...]  # the verdict must name at least one of these checks
    device: str | None
    slow: bool
    requires: tuple[str, ...] = ()

    @property
    def missing(self) -> list[str]:
        """Modules this example needs that are not importable here."""
        import importlib.util

        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    @property
    def label(self) -> str:
        extra = " ".join(self.args)
        return f"{self.candidate.parent.name}/{self.candidate.name}" + (
            f" [{extra}]" if extra else ""
        )


@dataclass(frozen=True)
class RunOutcome:
    run: ExampleRun
    ok: bool
    verdict: str
    checks: tuple[str, ...]
    detail: str
    seconds: float


#: the verdict of an example the run was stopped before it could judge
NOT_JUDGED = "not judged"


def not_judged(
    run: ExampleRun, why: str = "the selftest was stopped before this example began"
) -> RunOutcome:
    return RunOutcome(run, False, NOT_JUDGED, (), why, 0.0)


class Stopper:
    """Lets a catalogue run be stopped part-way (a time limit's SIGTERM, Ctrl-C): the checks still
    running are ended as Ctrl-C ends one (SIGTERM: its workers closed, its scratch removed), and
    none starts after."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen[str]] = set()
        self._ended: set[int] = set()  # pids of the checks it ended
        self.stopped = False

    def start(self, cmd: list[str]) -> subprocess.Popen[str] | None:
        """The check started, or None once stopped."""
        with self._lock:
            if self.stopped:
                return None
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self._live.add(proc)
            return proc

    def finished(self, proc: subprocess.Popen[str]) -> None:
        with self._lock:
            self._live.discard(proc)

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            for proc in self._live:
                proc.terminate()
                self._ended.add(proc.pid)

    def ended(self, proc: subprocess.Popen[str]) -> bool:
        """Whether this check was ended by the stop (whatever it wrote is not its verdict)."""
        with self._lock:
            return proc.pid in self._ended


def parse_example(path: Path) -> list[ExampleRun]:
    """The runs a file declares (none if it declares none)."""
    fields: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("kernelswarm-") and ":" in line:
            key, _, value = line.partition(":")
            fields.setdefault(key.removeprefix("kernelswarm-"), []).append(value.strip())
    if "problem" not in fields or "run" not in fields:
        return []
    problem = (path.parent / fields["problem"][0]).resolve()
    device = fields.get("device", [None])[0]
    requires = tuple(m for line in fields.get("requires", []) for m in line.split())
    runs = []
    for spec in fields["run"]:
        args, sep, expect = spec.partition("=>")
        if not sep:
            raise ValueError(f"{path}: kernelswarm-run needs 'ARGS => VERDICT [CHECKS]': {spec!r}")
        words = expect.split()
        verdict = words[0]
        checks = tuple(words[1].split("|")) if len(words) > 1 else ()
        runs.append(
            ExampleRun(
                path.resolve(),
                problem,
                tuple(shlex.split(args)),
                verdict,
                checks,
                device,
                "slow" in fields,
                requires,
            )
        )
    return runs


def discover(root: Path) -> list[ExampleRun]:
    """Every declared run under a folder, in file-name order."""
    runs: list[ExampleRun] = []
    for path in sorted(root.rglob("*.py")):
        runs += parse_example(path)
    return runs


def check_args(run: ExampleRun, device: str, json_path: Path) -> list[str]:
    """The ``kernelswarm check`` arguments that judge one example."""
    args = ["check", str(run.problem), str(run.candidate), "--device", run.device or device,
            "--json", str(json_path), "--quiet", *run.args]  # fmt: skip
    if "--timing" not in run.args:
        args.append("--no-timing")  # examples are about correctness unless they ask to be timed
    return args


def outcome(run: ExampleRun, data: dict, exit_code: int) -> RunOutcome:
    """Whether the verdict (its JSON, and the command's exit status) is what the example declares."""
    verdict = data["verdict"]
    checks = tuple(r["check"] for r in data["reasons"])
    ok = verdict == run.verdict and (not run.checks or any(c in checks for c in run.checks))
    if exit_code != {"accepted": 0, "rejected": 1}.get(verdict, 2):
        ok = False

    def said(reason: dict) -> str:
        lines = reason["detail"].splitlines() or [""]
        # a failure of the judge's own ends with its traceback's last line: the useful one
        tail = f" … {lines[-1][:200]}" if reason["check"] == "harness" and len(lines) > 1 else ""
        return f"{reason['check']}: {lines[0][:160]}{tail}"

    detail = "; ".join(said(r) for r in data["reasons"])
    return RunOutcome(run, ok, verdict, checks, detail, float(data.get("elapsed_seconds", 0.0)))


def run_example(
    run: ExampleRun, device: str, timeout: float = 900.0, stopper: Stopper | None = None
) -> RunOutcome:
    """Judge one example through the command line, as a user would, and compare."""
    stopper = stopper or Stopper()
    with tempfile.TemporaryDirectory() as tmp:
        json_path = Path(tmp) / "verdict.json"
        cmd = [sys.executable, "-m", "kernelswarm", *check_args(run, device, json_path)]
        proc = stopper.start(cmd)
        if proc is None:
            return not_judged(run)
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return RunOutcome(run, False, "none", (), f"no verdict within {timeout:g} s", timeout)
        finally:
            stopper.finished(proc)
        if stopper.ended(proc):
            return not_judged(run, "the selftest was stopped while this example was judged")
        if not json_path.exists():
            return RunOutcome(run, False, "none", (), f"no verdict written: {stderr[-2000:]}", 0.0)
        data = json.loads(json_path.read_text())
    return outcome(run, data, proc.returncode)
