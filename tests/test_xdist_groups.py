"""The README's test command relies on ``--dist loadgroup``: tests of one ``xdist_group`` run on
one worker (a module's costly fixture built once, one Ray cluster at a time). pytest 9.2 with
pytest-xdist 3.8 silently stopped grouping (tests/conftest.py mends it); this shows it holds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

GROUPED = """
import os
import pytest
pytestmark = pytest.mark.xdist_group("one")
@pytest.mark.parametrize("i", range(8))
def test_where(i):
    with open(os.environ["WHERE"], "a") as fh:
        fh.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
"""


def test_a_group_runs_on_one_worker(tmp_path):
    shutil.copy(Path(__file__).parent / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    where = tmp_path / "where.txt"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300, env={**os.environ, "WHERE": str(where)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    workers = where.read_text().split()
    assert len(workers) == 8 and len(set(workers)) == 1, workers
