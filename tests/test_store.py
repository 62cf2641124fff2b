"""The results database: typed rows in and out, WAL, threads, and migrations between versions."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest
from records import bench, verdict

from kernelswarm import store as store_module
from kernelswarm.store import SCHEMA_VERSION, Store


def test_round_trip_and_wal(tmp_path):
    store = Store(tmp_path / "r.db")
    problem = tmp_path / "p.py"
    problem.write_text("x = 1\n")
    run = store.start_run("suite", {"root": tmp_path})
    pid = store.problem(problem, "level1")
    assert store.problem(problem, "level1") == pid  # same source, same row
    cid = store.candidate(pid, "class ModelNew: pass\n", "c.py")
    store.verdict(run, pid, cid, verdict("accepted"))
    store.baseline(run, pid, bench())
    store.finish_run(run)
    rows = store.query(
        "SELECT verdict, speedup_eager, speedup_compile, candidate_seconds, schema FROM verdicts"
    )
    assert [tuple(r) for r in rows] == [("accepted", 2.0, 1.5, 1e-3, "kernelswarm.verdict/2")]
    assert store.query("SELECT status FROM runs")[0]["status"] == "finished"
    assert store.query("PRAGMA journal_mode")[0][0] == "wal"
    # typed on the way out, as on the way in
    back = store.judged(run)
    (only,) = back.values()
    assert only.verdict.value == "accepted" and only.speedup["eager"].median == 2.0
    assert only.timing.implementations["eager"].rounds == [[2e-3] * 3, [2e-3] * 3]
    measured = store.baseline_of(run)
    assert measured is not None and measured.timing.median("compile") == 1.5e-3
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


# A verdict as kernelswarm 0.1.0 stored it (schema 1: no schema key, empty mappings for absent
# records, no round sizes), trimmed to what the test reads.
V1_VERDICT = {
    "verdict": "accepted", "reasons": [], "problem": "p.py", "candidate": "c.py", "device": "cpu",
    "precision": "strict", "seeds": {"master": 5, "reproduce_with": "--seed 5", "init": 6, "tests": {}},
    "weights": {}, "tests": [], "calls": [], "checks_passed": ["values"], "notes": [], "versions": {},
    "elapsed_seconds": 3.0, "failure_log": "", "strong_tests": 0, "exit_code": 0,
    "speedup": {"eager": {"median": 2.5, "low": 2.4, "high": 2.6, "summary": "2.5x faster"}},
    "speed_of_light": {"floor_seconds": 1e-4, "fraction": 0.4, "bound": "memory", "flops": 1, "bytes": 2},
    "timing": {
        "device": "cpu", "options": {"flush_l2": True}, "floor": None, "warnings": [], "rejections": [],
        "peaks": {"device": "cpu (2 cores)", "bandwidth": 1e10, "matmul": {"fp32": 1e11},
                  "launch_overhead_seconds": 1e-6, "torch": "2.13.0", "measured_at": "2026-11-01"},
        "counts": {"dtype": "float32", "flops": 1, "other_flops": 0, "convolution": False,
                   "input_bytes": 1, "parameter_bytes": 0, "output_bytes": 1},
        "implementations": {"candidate": {"name": "candidate", "median": 2.5e-4, "low": 2.4e-4,
                                          "high": 2.6e-4, "rel_halfwidth": 0.04, "samples": 3, "escape": {}}},
        "speedups": {"eager": {"baseline": "eager", "median": 2.5, "low": 2.4, "high": 2.6, "summary": "2.5x faster"}},
        "samples_seconds": {"candidate": [2.4e-4, 2.5e-4, 2.6e-4]}, "sets": 2, "elapsed_seconds": 1.0,
    },
}  # fmt: skip


def test_a_version_1_database_is_migrated_and_its_verdicts_still_read(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(store_module._SCHEMA_1)
    db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    db.execute("INSERT INTO runs (kind, started, args) VALUES ('optimize', 0, '{}')")
    db.execute("INSERT INTO problems (sha256, path, name, source) VALUES ('p', 'p.py', 'p', '')")
    db.execute(
        "INSERT INTO candidates (problem_id, sha256, origin, source) VALUES (1, 'c', 'c.py', '')"
    )
    db.execute(
        "INSERT INTO verdicts (run_id, problem_id, candidate_id, device, precision, verdict, "
        "speedup_eager, created, json) VALUES (1, 1, 1, 'cpu', 'strict', 'accepted', 2.5, 0, ?)",
        (json.dumps(V1_VERDICT),),
    )
    db.commit()
    db.close()
    store = Store(path)
    assert store.migrated_from == 1
    assert store.query("SELECT value FROM meta WHERE key='schema_version'")[0][0] == str(
        SCHEMA_VERSION
    )
    row = store.query("SELECT candidate_seconds, sol_fraction, schema FROM verdicts")[0]
    assert tuple(row) == (2.5e-4, 0.4, "kernelswarm.verdict/1")  # backfilled from the JSON
    (old,) = store.judged(1).values()
    assert old.accepted and old.speedup["eager"].median == 2.5
    assert old.timing.implementations["candidate"].rounds == [[2.4e-4, 2.5e-4, 2.6e-4]]
    store.close()
    assert Store(path).migrated_from is None  # once migrated, opening changes nothing
