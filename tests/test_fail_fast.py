"""A user's mistake costs seconds, not minutes: said once, clearly, with the right exit status,
before anything is measured, and with nothing written to a database that is not kernelswarm's."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES, PROBLEMS
from fake_llm import FakeModelServer

ROOT = Path(__file__).resolve().parents[1]


def ks(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "kernelswarm", *args], capture_output=True, text=True,
        env={**os.environ, **(env or {})}, timeout=300,
    )  # fmt: skip


def optimize(tmp_path: Path, swarm: str | None, *extra: str, env=None):
    args = ["optimize", str(PROBLEMS / "matmul.py"), "--device", "cpu", "--out", str(tmp_path / "out"),
            "--db", str(tmp_path / "r.db"), *extra]  # fmt: skip
    if swarm is not None:
        (tmp_path / "swarm.toml").write_text(swarm)
        args += ["--swarm", str(tmp_path / "swarm.toml")]
    return ks(*args, env=env)


def said(proc: subprocess.CompletedProcess[str]) -> str:
    """Standard error as one line (the console wraps long messages)."""
    return " ".join(proc.stderr.split())


def _no_runs(db: Path) -> bool:
    if not db.exists():
        return True
    return sqlite3.connect(db).execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_a_typo_in_the_swarm_file_is_said_at_once_with_its_place(tmp_path):
    start = time.monotonic()
    proc = optimize(tmp_path, '[[generator]]\nname = "b"\nkind = "builtin"\nbackend = "tritn"\n'
                              '[budget]\nrounds = "3"\n')  # fmt: skip
    assert proc.returncode == 2
    assert "generator 1 (b): backend: Input should be 'auto', 'cuda', 'triton' or 'cpp'" in said(
        proc
    )
    assert "[budget]: rounds: Input should be a valid integer (got '3')" in said(proc)
    assert "Traceback" not in proc.stderr and time.monotonic() - start < 60
    assert _no_runs(tmp_path / "r.db")


def test_every_generator_failing_its_probe_stops_before_the_baselines(tmp_path):
    with FakeModelServer(["unused"], models=["gpt-real"]) as oa:
        swarm = (f'[[generator]]\nname = "unset"\nkind = "openai"\nmodel = "m"\nbase_url = "{oa.url}/v1"\n'
                 f'api_key_env = "KERNELSWARM_TEST_UNSET_KEY"\n\n'
                 f'[[generator]]\nname = "closed"\nkind = "openai"\nmodel = "m"\nbase_url = "http://127.0.0.1:9/v1"\n'
                 f'api_key_env = "K"\n\n'
                 f'[[generator]]\nname = "unknown-model"\nkind = "openai"\nmodel = "gpt-typo"\nbase_url = "{oa.url}/v1"\n'
                 f'api_key_env = "K"\n')  # fmt: skip
        start = time.monotonic()
        proc = optimize(tmp_path, swarm, env={"K": "sk-test"})
        assert not oa.requests  # no paid call was made
    assert proc.returncode == 2, proc.stderr
    words = said(proc)
    assert "every generator failed its probe" in words
    assert "KERNELSWARM_TEST_UNSET_KEY is not set" in words
    assert "could not reach http://127.0.0.1:9/v1" in words
    assert "model 'gpt-typo' is not offered" in words and "gpt-real" in words
    assert "Traceback" not in proc.stderr and time.monotonic() - start < 60
    # nothing was measured: the run never started
    assert _no_runs(tmp_path / "r.db")


def test_rounds_zero_and_resume_with_nothing_to_resume_are_refused(tmp_path):
    proc = optimize(tmp_path, None, "--rounds", "0")
    assert proc.returncode == 2 and "--rounds" in said(proc)
    proc = optimize(tmp_path, None, "--resume")
    assert proc.returncode == 2 and "nothing to resume" in said(proc)


def test_a_database_that_is_not_kernelswarm_s_is_left_untouched(tmp_path):
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database at all" * 100)
    proc = optimize(tmp_path, None, "--db", str(corrupt))
    assert proc.returncode == 2 and "cannot be opened as a SQLite database" in said(proc)
    assert "Traceback" not in proc.stderr
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT)")
    before = other.read_bytes()
    proc = optimize(tmp_path, None, "--db", str(other))
    assert proc.returncode == 2
    assert "another program's SQLite database (tables: accounts)" in said(proc)
    assert other.read_bytes() == before and not Path(f"{other}-wal").exists()


def test_an_unwritable_out_folder_is_said_before_anything_runs(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    proc = optimize(tmp_path, None, "--out", str(blocker / "out"))
    assert proc.returncode == 2 and "--out: cannot write in" in said(proc)
    assert _no_runs(tmp_path / "r.db")


def test_json_to_standard_output_is_a_document_and_version_is_an_option(tmp_path):
    proc = ks("check", str(PROBLEMS / "matmul.py"), str(EXAMPLES / "good" / "matmul_tiled.py"),
              "--device", "cpu", "--no-timing", "--json", "-")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "accepted"  # the tables went to stderr
    assert not (tmp_path / "-").exists()
    version = ks("--version")
    assert version.returncode == 0 and version.stdout.startswith("kernelswarm ")


def test_the_published_swarm_schema_is_the_one_the_code_checks():
    from kernelswarm.search.swarm_schema import json_schema

    published = ROOT / "docs" / "swarm.schema.json"
    assert published.read_text() == json_schema(), (
        "run: kernelswarm schema > docs/swarm.schema.json"
    )
    schema = json.loads(published.read_text())
    assert schema["properties"]["generator"]["minItems"] == 1
    assert schema["$defs"]["BudgetTable"]["properties"]["rounds"]["minimum"] == 1


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_missing_sdk_names_the_extra_to_install(kind, monkeypatch):
    from kernelswarm.search import llm

    monkeypatch.setitem(sys.modules, kind, None)  # as if not installed: importing it fails
    with pytest.raises(llm.GeneratorError, match=rf"pip install 'kernelswarm\[{kind}\]'"):
        llm.sdk(kind)
