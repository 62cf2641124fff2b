"""Every example candidate is judged as it declares: each cheat caught by its check, each good
candidate accepted. This is where a check is shown failing on a planted bad candidate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES
from typer.testing import CliRunner

from kernelswarm.catalog import ExampleRun, check_args, discover, outcome, parse_example
from kernelswarm.cli.app import app

RUNS = [r for r in discover(EXAMPLES) if r.device in (None, "cpu")]


def _param(run: ExampleRun) -> object:
    # Every example runs through the real command line, in real workers: the slow tier. The fast
    # tier judges the harmless ones in-process (test_twin.py) and every rule on recorded replies
    # (test_judge_rules.py).
    marks = [pytest.mark.slow]
    if run.missing:
        marks.append(pytest.mark.skip(reason=f"needs {', '.join(run.missing)}"))
    return pytest.param(run, id=run.label, marks=marks)


@pytest.mark.parametrize("run", [_param(r) for r in RUNS])
def test_example_is_judged_as_declared(run: ExampleRun, tmp_path) -> None:
    # The command line as a user runs it, invoked in this process (the judge's start-up paid
    # once): the workers are real, confined processes as ever. `selftest` runs each example in
    # a process of its own.
    json_path = tmp_path / "verdict.json"
    result = CliRunner().invoke(app, check_args(run, "cpu", json_path))
    assert json_path.exists(), result.output
    got = outcome(run, json.loads(json_path.read_text()), result.exit_code)
    assert got.ok, (
        f"{run.label}: expected {run.verdict} {run.checks}, got {got.verdict} "
        f"{got.checks}: {got.detail}"
    )


def test_catalogue_covers_every_candidate_check() -> None:
    """Each check a candidate can fail has at least one cheat that it catches."""
    caught = {c for r in discover(EXAMPLES) if r.verdict == "rejected" for c in r.checks}
    for check in ("values", "nonfinite", "state", "type", "dtype", "shape", "mutation",
                  "aliasing", "completion", "integrity", "protocol", "early_exit", "crash",
                  "timeout", "memory", "syntax", "import", "compile", "interface",
                  "constructor", "forward"):  # fmt: skip
        assert check in caught, f"no example cheat is expected to be caught by {check!r}"
    errors = {c for r in discover(EXAMPLES) if r.verdict == "error" for c in r.checks}
    assert {"strength", "determinism"} <= errors


def test_every_cheat_declares_a_run() -> None:
    for path in sorted((EXAMPLES / "cheats").rglob("*.py")):
        assert parse_example(path), f"{path} declares no kernelswarm-run line"
    for path in sorted((EXAMPLES / "good").rglob("*.py")):
        runs = parse_example(path)
        assert runs and all(r.verdict == "accepted" for r in runs), path


def test_malformed_run_line_is_an_error(tmp_path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text('"""x\nkernelswarm-problem: p.py\nkernelswarm-run: accepted\n"""\n')
    with pytest.raises(ValueError, match="=>"):
        parse_example(bad)


def test_selftest_builds_each_compiling_example_once_with_its_sizes() -> None:
    from kernelswarm.cli.selftest import _ahead

    runs = discover(EXAMPLES)
    ahead = _ahead(runs)
    compiling = {r.candidate for r in runs if r.slow}
    assert compiling and {t.candidate for t in ahead} == compiling  # each once
    sized = next(t for t in ahead if t.candidate.name == "uninitialized_output.py")
    assert [(o.name, o.value) for o in sized.overrides] == [("N", 2048)]


def test_selftest_says_each_example_judged_otherwise_at_once(tmp_path) -> None:
    # A good kernel declared as a cheat: the selftest fails, and says which and why as soon as
    # it is judged (a run stopped by a time limit still shows it), not only in the final table.
    text = (EXAMPLES / "good" / "argmax_max.py").read_text()
    declared = text.replace("kernelswarm-run: => accepted", "kernelswarm-run: => rejected values")
    declared = declared.replace("../problems/argmax.py", str(EXAMPLES / "problems" / "argmax.py"))
    assert declared != text
    (tmp_path / "argmax_declared_wrong.py").write_text(declared)
    result = CliRunner().invoke(app, ["selftest", str(tmp_path), "--device", "cpu"])
    assert result.exit_code == 1, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("NOT AS EXPECTED"))
    assert "argmax_declared_wrong" in line and "expected rejected values, judged accepted" in line
    assert result.output.index("NOT AS EXPECTED") < result.output.index("0 of 1 examples")


def _checks_of(candidate: str) -> list[int]:
    """Pids of the `kernelswarm check` processes judging this candidate file."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        if b"check" in args and any(a.endswith(candidate.encode()) for a in args):
            pids.append(int(entry.name))
    return [p for p in pids if p != os.getpid()]


@pytest.mark.slow
def test_a_stopped_selftest_keeps_what_it_judged_and_ends_the_check_it_was_running(
    tmp_path,
) -> None:
    # A time limit's SIGTERM (every GPU-machine call ends that way) used to lose the table and
    # the JSON of every example judged before it, and left the check it was running behind.
    text = (EXAMPLES / "good" / "argmax_max.py").read_text()
    text = text.replace("../problems/argmax.py", str(EXAMPLES / "problems" / "argmax.py"))
    (tmp_path / "a_quick.py").write_text(text)
    slow = text.replace(
        "        return torch.max",
        "        __import__('time').sleep(120)\n        return torch.max",
    )
    assert slow != text
    (tmp_path / "b_slow.py").write_text(slow)
    (tmp_path / "c_never.py").write_text(text)
    out = tmp_path / "selftest.json"
    cmd = [sys.executable, "-m", "kernelswarm", "selftest", str(tmp_path), "--device", "cpu",
           "--json", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        # the first example is judged (one at a time) once the second's check has started
        while not _checks_of(str(tmp_path / "b_slow.py")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the second example's check never started"
            time.sleep(0.2)
        time.sleep(2)  # well inside its check
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
        for pid in _checks_of(str(tmp_path / "b_slow.py")):  # left behind: the test failed
            os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 130, (stdout, stderr)
    rows = {Path(r["example"]).name: r for r in json.loads(out.read_text())}
    assert rows["a_quick.py"]["verdict"] == "accepted" and rows["a_quick.py"]["ok"], rows
    assert rows["b_slow.py"]["verdict"] == "not judged" and not rows["b_slow.py"]["ok"], rows
    assert "stopped while this example was judged" in rows["b_slow.py"]["detail"]
    assert rows["c_never.py"]["verdict"] == "not judged", rows
    assert "stopped: 1 of 3 examples judged, 1 of them as expected" in stderr, stderr
    assert not _checks_of(str(tmp_path / "b_slow.py")), "the check it was running is still there"
