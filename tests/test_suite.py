"""`kernelswarm suite`: discovery, matching, the scoreboard's arithmetic, and a real run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES, PROBLEMS, REPO

from kernelswarm.suite import SuiteEntry, SuiteProblem, discover, match_solution, summarise


def test_discovers_levels_in_numeric_order():
    found = discover(REPO / "problems")
    assert {p.level for p in found} == {"level1", "level2", "level3"}
    level1 = [p.name for p in found if p.level == "level1"]
    assert (
        level1[:3] == ["1_copy", "2_matmul_square", "3_matmul_skinny"] and "10_sum_rows" in level1
    )
    assert len(found) >= 45


def test_matches_solutions_by_path_name_or_kernelbench_convention(tmp_path):
    root = tmp_path / "problems"
    (root / "level1").mkdir(parents=True)
    problem = root / "level1" / "19_ReLU.py"
    shutil.copy(PROBLEMS / "relu.py", problem)
    sols = tmp_path / "sols"
    sols.mkdir()
    p = SuiteProblem(problem.resolve(), "level1", "19_ReLU")
    assert match_solution(p, root, sols) is None
    kb = sols / "level_1_problem_19_sample_0_kernel.py"
    kb.write_text("")
    assert match_solution(p, root, sols) == kb
    same = sols / "19_ReLU.py"
    same.write_text("")
    assert match_solution(p, root, sols) == same


def entry(level, outcome, eager=None, compile_=None, kb=None):
    e = SuiteEntry(SuiteProblem(Path(f"/{level}/x.py"), level, "x"), Path("c.py"), outcome)
    e.speedup_eager, e.speedup_compile, e.kernelbench_verdict = eager, compile_, kb
    return e


def test_fast_p_counts_over_all_problems_of_a_level():
    entries = [entry("level1", "accepted", 2.5, 1.2), entry("level1", "accepted", 0.9, 0.5),
               entry("level1", "rejected", kb="accepted"), entry("level1", "missing")]  # fmt: skip
    entries[3].candidate = None
    (s,) = summarise(entries)
    assert (s.problems, s.attempted, s.correct) == (4, 3, 2)
    assert (
        s.fast_p_eager["0"] == 0.5 and s.fast_p_eager["1"] == 0.25 and s.fast_p_eager["2"] == 0.25
    )
    assert s.fast_p_compile["1"] == 0.25 and s.fast_p_compile["1.5"] == 0.0
    assert s.geomean_eager == pytest.approx((2.5 * 0.9) ** 0.5)
    assert s.kernelbench_wrongly_accepted == 1


@pytest.mark.slow
def test_suite_run_judges_and_stores(tmp_path):
    root = tmp_path / "problems" / "level1"
    root.mkdir(parents=True)
    shutil.copy(PROBLEMS / "matmul.py", root / "1_matmul.py")
    shutil.copy(PROBLEMS / "sum_rows.py", root / "2_sum_rows.py")
    sols = tmp_path / "sols"
    sols.mkdir()
    shutil.copy(EXAMPLES / "cheats" / "bf16_matmul.py", sols / "1_matmul.py")
    shutil.copy(EXAMPLES / "good" / "sum_rows_tree.py", sols / "2_sum_rows.py")
    out, db = tmp_path / "suite.json", tmp_path / "r.db"
    proc = subprocess.run(
        [sys.executable, "-m", "kernelswarm", "suite", str(tmp_path / "problems"), "--solutions", str(sols),
         "--device", "cpu", "--no-timing", "--policy", "kernelbench", "--db", str(db), "--json", str(out),
         "--html", str(tmp_path / "suite.html")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    verdicts = {
        Path(e["problem"]["path"]).name: (e["verdict"], e["kernelbench_verdict"])
        for e in data["entries"]
    }
    # KernelBench's tolerance accepts the bf16 matmul; the strict judge does not
    assert verdicts == {
        "1_matmul.py": ("rejected", "accepted"),
        "2_sum_rows.py": ("accepted", "accepted"),
    }
    assert (
        data["summary"][0]["kernelbench_wrongly_accepted"] == 1
        and data["summary"][0]["correct"] == 1
    )
    import sqlite3

    # the report written at the end has the per-level fast_p table, and so does one written later
    page = (tmp_path / "suite.html").read_text()
    assert "Per level: correctness and fast_p" in page and "level1" in page
    later = subprocess.run(
        [sys.executable, "-m", "kernelswarm", "report", "--db", str(db), "--html", str(tmp_path / "again.html")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert later.returncode == 0 and "level1" in (tmp_path / "again.html").read_text()
    rows = sqlite3.connect(db).execute("SELECT precision, verdict FROM verdicts").fetchall()
    assert sorted(rows) == [("kernelbench", "accepted"), ("kernelbench", "accepted"), ("strict", "accepted"),
                            ("strict", "rejected")]  # fmt: skip
