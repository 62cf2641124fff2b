"""The results database."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from kernelswarm.store import SCHEMA_VERSION, Store


def test_round_trip_and_wal(tmp_path):
    store = Store(tmp_path / "r.db")
    problem = tmp_path / "p.py"
    problem.write_text("x = 1\n")
    run = store.start_run("suite", {"root": tmp_path})
    pid = store.problem(problem, "level1")
    assert store.problem(problem, "level1") == pid  # same source, same row
    cid = store.candidate(pid, "class ModelNew: pass\n", "c.py")
    store.verdict(run, pid, cid, {"verdict": "accepted", "device": "cpu", "precision": "strict",
                                  "speedup": {"eager": {"median": 2.0}, "compile": None}})  # fmt: skip
    store.baseline(
        run,
        pid,
        "cpu",
        {"implementations": {"eager": {"median": 1e-3}}, "floor": {"seconds": 5e-4}},
    )
    store.finish_run(run)
    rows = store.query("SELECT verdict, speedup_eager, speedup_compile FROM verdicts")
    assert [tuple(r) for r in rows] == [("accepted", 2.0, None)]
    assert store.query("SELECT status FROM runs")[0]["status"] == "finished"
    assert store.query("PRAGMA journal_mode")[0][0] == "wal"
    store.close()


def test_edited_problem_is_a_new_row(tmp_path):
    store = Store(tmp_path / "r.db")
    problem = tmp_path / "p.py"
    problem.write_text("x = 1\n")
    first = store.problem(problem)
    problem.write_text("x = 2\n")
    assert store.problem(problem) != first


def test_threads_share_one_store(tmp_path):
    store = Store(tmp_path / "r.db")
    errors = []

    def work(i):
        try:
            store.start_run("check", {"i": i})
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(store.query("SELECT id FROM runs")) == 20


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "r.db"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    with pytest.raises(RuntimeError, match="newer kernelswarm"):
        Store(path)
