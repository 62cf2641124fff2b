"""``kernelswarm runs``: results read back — list, show, compare, export — with honest states."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fake_llm import FakeModelServer
from test_swarm import TREE, ZEROS, fenced, optimize

from kernelswarm.runs import RunsError, RunsReader

# the fixture is a whole run: made once, by one xdist worker, not once by each (session-scoped:
# a module fixture is made again whenever the worker ran another module's tests in between)
pytestmark = pytest.mark.xdist_group("test_runs")


def ks(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kernelswarm", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="session")
def db(tmp_path_factory) -> Path:
    """A finished optimize run (a right and a zeros candidate), a copy of it as a second run
    (for compare), a failed run, and a run whose process died without a word."""
    tmp = tmp_path_factory.mktemp("runs")
    with FakeModelServer([fenced(TREE), fenced(ZEROS)]) as oa:
        swarm = (f'[[generator]]\nname = "gpt"\nkind = "openai"\nmodel = "m"\nbase_url = "{oa.url}/v1"\n'
                 f'api_key_env = "K"\nproposals_per_round = 2\nmax_retries = 0\n\n[budget]\nrounds = 1\n')  # fmt: skip
        proc = optimize(tmp, swarm, env={"K": "sk"})
        assert proc.returncode == 0, proc.stderr
    path = tmp / "r.db"
    with sqlite3.connect(path) as con:
        con.execute(
            "INSERT INTO runs (kind, started, finished, status, args, versions, pid, host) "
            "SELECT kind, started, finished, status, args, versions, pid, host FROM runs WHERE id=1"
        )
        for table in ("verdicts", "baselines", "generations"):
            columns = [r[1] for r in con.execute(f"PRAGMA table_info({table})") if r[1] != "id"]
            listed = ", ".join(columns)
            con.execute(
                f"INSERT INTO {table} ({listed}) SELECT {listed.replace('run_id', '2')} "
                f"FROM {table} WHERE run_id=1"
            )
        con.execute(
            "INSERT INTO runs (kind, started, finished, status, args, pid, host) "
            "VALUES ('optimize', 1, 2, 'failed', '{}', 1, 'h')"
        )
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        con.execute(
            "INSERT INTO runs (kind, started, status, args, pid, host) "
            "VALUES ('suite', 1, 'running', '{}', ?, ?)",
            (dead.pid, os.uname().nodename),
        )
    return path


def test_list_tells_each_run_s_state_honestly(db):
    runs = {r.id: r for r in RunsReader(db).recent()}
    assert [runs[i].state for i in (1, 2, 3, 4)] == [
        "finished",
        "finished",
        "failed",
        "interrupted",
    ]
    assert runs[1].judged == 2 and runs[1].accepted == 1 and runs[1].best_eager is not None
    assert runs[1].problems == ["sum_rows"]
    proc = ks("runs", "list", "--db", str(db))
    assert proc.returncode == 0 and "interrupted" in proc.stdout and "failed" in proc.stdout


def test_show_has_every_verdict_with_its_failing_check_and_intervals(db):
    detail = RunsReader(db).show(1)
    by_verdict = {j.verdict: j for j in detail.judged}
    zeros = by_verdict["rejected"]
    assert zeros.failed_check == "values" and "all zeros" in zeros.detail
    assert zeros.generator == "gpt" and zeros.round == 1
    right = by_verdict["accepted"]
    assert right.eager is not None and right.eager.low <= right.eager.median <= right.eager.high
    assert detail.winner == right and detail.baselines and detail.baselines[0].eager_seconds
    proc = ks("runs", "show", "1", "--db", str(db))
    assert proc.returncode == 0 and "values" in proc.stdout and "fastest accepted" in proc.stdout
    missing = ks("runs", "show", "99", "--db", str(db))
    assert missing.returncode == 2 and "no run 99" in missing.stderr


def test_compare_and_export(db):
    rows = RunsReader(db).compare(1, 2)
    assert [c.problem for c in rows] == ["sum_rows"] and rows[0].a and rows[0].b
    proc = ks("runs", "compare", "1", "2", "--db", str(db))
    assert proc.returncode == 0 and "sum_rows" in proc.stdout
    exported = ks("runs", "export", "1", "--db", str(db), "--format", "csv")
    table = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert sorted(r["verdict"] for r in table) == ["accepted", "rejected"]
    accepted = next(r for r in table if r["verdict"] == "accepted")
    assert float(accepted["speedup_eager_low"]) <= float(accepted["speedup_eager"])
    as_json = json.loads(ks("runs", "export", "--db", str(db)).stdout)  # the latest run
    assert as_json["run"]["id"] == 4 and as_json["run"]["state"] == "interrupted"


def test_runs_never_writes_and_refuses_what_it_cannot_read(db, tmp_path):
    before = db.stat().st_mtime_ns
    RunsReader(db).show(1)
    assert db.stat().st_mtime_ns == before
    with pytest.raises(RunsError, match="does not exist"):
        RunsReader(tmp_path / "none.db")
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(RunsError, match="not a kernelswarm database"):
        RunsReader(other)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package")
def test_the_html_report_as_a_person_sees_it(db, tmp_path):
    html = tmp_path / "report.html"
    proc = ks("report", "1", "--db", str(db), "--html", str(html))
    assert proc.returncode == 0, proc.stderr
    text = html.read_text()
    # nothing fetched: no scripts, no remote images, styles or fonts (SVG namespaces are names)
    assert "<script" not in text
    assert not any(f'{attr}="http' in text for attr in ("src", "href")) and "url(http" not in text
    chrome = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              "--enable-logging=stderr", "--v=0", "--window-size=1280,2400"]  # fmt: skip
    shown = subprocess.run(
        [*chrome, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120
    )
    dom = shown.stdout
    assert "kernelswarm run 1" in dom and "Every attempt (2)" in dom
    assert dom.count("<svg") >= 2  # the roofline and the progress per generator
    assert "all zeros" in dom and "values" in dom  # the failing check and its numbers
    assert 'id="winner-source"' in dom and "ModelNew" in dom  # the candidate's source, escaped
    # accepted but slower than eager on this CPU: never called a winner
    assert "No candidate beat both baselines with confidence" in dom
    # the run's baselines are not what the speedups compare with: said beside them
    assert "Timed once, at the run's start" in dom
    assert "kernelswarm optimize" in dom  # the command to reproduce
    assert "CONSOLE" not in shown.stderr and "Uncaught" not in shown.stderr
    shot = tmp_path / "report.png"
    subprocess.run(
        [*chrome, f"--screenshot={shot}", html.as_uri()], capture_output=True, timeout=120
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_a_run_s_winner_exports_as_a_custom_op_that_tests_itself(db, tmp_path):
    out = tmp_path / "sum_rows_op.py"
    proc = ks("export", "1", "--db", str(db), "--out", str(out))
    assert proc.returncode == 0 and "torch.ops.kernelswarm.sum_rows" in proc.stdout, proc.stderr
    assert "run 1 of" in out.read_text()  # where it came from
    selftest = subprocess.run([sys.executable, str(out)], capture_output=True, text=True,
                              timeout=300, cwd=tmp_path)  # fmt: skip
    assert selftest.returncode == 0 and "eager and compiled" in selftest.stdout, selftest.stderr
    none = ks("export", "3", "--db", str(db), "--out", str(tmp_path / "x.py"))
    assert none.returncode == 2 and "accepted no candidate" in none.stderr
