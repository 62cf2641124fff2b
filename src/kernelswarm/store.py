"""The results database: every run, problem, candidate, verdict and measurement, in SQLite.

One file per project by default (``kernelswarm.db`` in the working directory). Rows are written
as results arrive, each in its own transaction, so an interrupted run loses nothing finished.
Verdicts and measurements are stored as their full JSON (with the settings, seeds, versions and
device they were taken with, and the schema of that JSON), next to the few columns queries need.

The tables carry a schema version. A database of an older version is brought up to date by the
migrations below, one version at a time, each in its own transaction; a new database is made by
the same path (version 1, then every migration), so the migrations run on every test.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kernelswarm.judge.results import BenchResult
from kernelswarm.judge.verdict import Verdict, json_safe

SCHEMA_VERSION = 3
DEFAULT_PATH = Path("kernelswarm.db")

#: version 1, as it first shipped; later versions are migrations from it
_SCHEMA_1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,                 -- check, bench, suite, optimize
    started REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL DEFAULT 'running',
    args TEXT NOT NULL,                 -- JSON: everything needed to run it again
    versions TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS problems (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,        -- of the source: an edited file is a new problem
    path TEXT NOT NULL,
    name TEXT NOT NULL,
    level TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS candidates (
    id INTEGER PRIMARY KEY,
    problem_id INTEGER NOT NULL REFERENCES problems(id),
    sha256 TEXT NOT NULL,
    origin TEXT NOT NULL,               -- a file path, or the generator that wrote it
    source TEXT NOT NULL,
    UNIQUE (problem_id, sha256)
);
CREATE TABLE IF NOT EXISTS verdicts (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    problem_id INTEGER NOT NULL REFERENCES problems(id),
    candidate_id INTEGER NOT NULL REFERENCES candidates(id),
    device TEXT NOT NULL,
    precision TEXT NOT NULL,
    verdict TEXT NOT NULL,
    speedup_eager REAL,
    speedup_compile REAL,
    created REAL NOT NULL,
    json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS baselines (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    problem_id INTEGER NOT NULL REFERENCES problems(id),
    device TEXT NOT NULL,
    eager_seconds REAL,
    compile_seconds REAL,
    floor_seconds REAL,
    created REAL NOT NULL,
    json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS generations (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    round INTEGER NOT NULL,
    generator TEXT NOT NULL,
    candidate_id INTEGER REFERENCES candidates(id),   -- NULL: the reply held no usable code
    label TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    prompt TEXT NOT NULL DEFAULT '',
    reply TEXT NOT NULL DEFAULT '',
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    cached INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS llm_cache (
    key TEXT PRIMARY KEY,               -- sha256 of the whole request
    value TEXT NOT NULL,                -- JSON: reply and token counts
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS verdicts_by_run ON verdicts(run_id);
CREATE INDEX IF NOT EXISTS generations_by_run ON generations(run_id);
CREATE INDEX IF NOT EXISTS baselines_by_run ON baselines(run_id);
"""


def _to_2(db: sqlite3.Connection) -> None:
    """Version 2: the schema of each stored JSON, and the candidate's time and share of the speed
    of light as columns (for listing runs without parsing every verdict)."""
    db.execute(
        "ALTER TABLE verdicts ADD COLUMN schema TEXT NOT NULL DEFAULT 'kernelswarm.verdict/1'"
    )
    db.execute("ALTER TABLE verdicts ADD COLUMN candidate_seconds REAL")
    db.execute("ALTER TABLE verdicts ADD COLUMN sol_fraction REAL")
    db.execute(
        "ALTER TABLE baselines ADD COLUMN schema TEXT NOT NULL DEFAULT 'kernelswarm.bench/0'"
    )
    db.execute(
        "UPDATE verdicts SET "
        "candidate_seconds = json_extract(json, '$.timing.implementations.candidate.median'), "
        "sol_fraction = json_extract(json, '$.speed_of_light.fraction') "
        "WHERE verdict = 'accepted'"
    )


def _to_3(db: sqlite3.Connection) -> None:
    """Version 3: the process and host that run a run, so that a run left 'running' by a process
    that is gone reads as interrupted (``kernelswarm runs``); a run's summary as its command
    printed it (a suite's fast_p per level, over every problem, those without a solution too)."""
    db.execute("ALTER TABLE runs ADD COLUMN pid INTEGER")
    db.execute("ALTER TABLE runs ADD COLUMN host TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE runs ADD COLUMN summary TEXT")


#: version -> the migration that makes it from the version before
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {2: _to_2, 3: _to_3}


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class StoreError(Exception):
    """The file cannot be kernelswarm's database (the message says why; nothing was written)."""


class Store:
    """A connection to one results database, safe to share between threads."""

    def __init__(self, path: str | Path = DEFAULT_PATH) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a folder, not a database file")
        try:
            # A busy timeout instead of failing when another process holds the write lock.
            self._db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
            tables = {
                row[0]
                for row in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.DatabaseError as exc:  # not SQLite, damaged, or a place that cannot hold it
            raise StoreError(f"{self.path} cannot be opened as a SQLite database ({exc})") from None
        if tables and not {"meta", "runs", "verdicts"} <= tables:
            # Another program's database: never add tables to it or switch its journal mode.
            self._db.close()
            shown = ", ".join(sorted(tables)[:6]) + (", …" if len(tables) > 6 else "")
            raise StoreError(
                f"{self.path} is another program's SQLite database (tables: {shown}); kernelswarm "
                "leaves it untouched: give --db a new file or a kernelswarm database"
            )
        self._db.row_factory = sqlite3.Row
        # WAL: readers never block the writer, and a crash never corrupts the file.
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable in WAL mode except for the last transactions on power loss.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self.migrated_from = self._migrate()

    def _migrate(self) -> int | None:
        """Bring the tables to SCHEMA_VERSION; the version they had, or None if up to date."""
        with self._tx() as db:
            db.executescript(_SCHEMA_1)
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
                version = 1
            else:
                version = int(row["value"])
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} was written by a newer kernelswarm (schema {version}, this "
                f"one knows {SCHEMA_VERSION})"
            )
        start = version
        while version < SCHEMA_VERSION:
            with self._tx() as db:
                MIGRATIONS[version + 1](db)
                version += 1
                db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(version),))
        return start if start != SCHEMA_VERSION else None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._db:
            yield self._db

    def close(self) -> None:
        self._db.close()

    # -- writing ------------------------------------------------------------------------------
    def start_run(
        self, kind: str, args: dict[str, Any], versions: dict[str, Any] | None = None
    ) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO runs (kind, started, args, versions, pid, host) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    kind,
                    time.time(),
                    json.dumps(json_safe(args)),
                    json.dumps(json_safe(versions or {})),
                    os.getpid(),
                    socket.gethostname(),
                ),
            )
            return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, status: str = "finished") -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET finished=?, status=? WHERE id=?", (time.time(), status, run_id)
            )

    def summarise_run(self, run_id: int, summary: Any) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET summary=? WHERE id=?", (json.dumps(json_safe(summary)), run_id)
            )

    def problem(self, path: Path, level: str = "") -> int:
        source = path.read_text()
        digest = sha256_text(source)
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO problems (sha256, path, name, level, source) VALUES (?, ?, ?, ?, ?)",
                (digest, str(path), path.stem, level, source),
            )
            return int(
                db.execute("SELECT id FROM problems WHERE sha256=?", (digest,)).fetchone()["id"]
            )

    def candidate(self, problem_id: int, source: str, origin: str) -> int:
        digest = sha256_text(source)
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO candidates (problem_id, sha256, origin, source) VALUES (?, ?, ?, ?)",
                (problem_id, digest, origin, source),
            )
            row = db.execute(
                "SELECT id FROM candidates WHERE problem_id=? AND sha256=?", (problem_id, digest)
            ).fetchone()
            return int(row["id"])

    def verdict(self, run_id: int, problem_id: int, candidate_id: int, verdict: Verdict) -> int:
        speedup = verdict.speedup or {}
        sol = verdict.speed_of_light
        data = verdict.to_dict()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO verdicts (run_id, problem_id, candidate_id, device, precision, verdict, "
                "speedup_eager, speedup_compile, candidate_seconds, sol_fraction, schema, created, json) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id, problem_id, candidate_id, verdict.device, verdict.precision,
                    verdict.verdict.value,
                    speedup["eager"].median if "eager" in speedup else None,
                    speedup["compile"].median if "compile" in speedup else None,
                    verdict.candidate_seconds, sol.fraction if sol else None, data["schema"],
                    time.time(), json.dumps(json_safe(data)),
                ),
            )  # fmt: skip
            return int(cur.lastrowid or 0)

    def baseline(self, run_id: int, problem_id: int, bench: BenchResult) -> int:
        timing = bench.timing
        data = bench.to_dict()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO baselines (run_id, problem_id, device, eager_seconds, compile_seconds, "
                "floor_seconds, schema, created, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, problem_id, timing.device, timing.median("eager"), timing.median("compile"),
                 timing.floor.seconds if timing.floor else None, data["schema"], time.time(),
                 json.dumps(json_safe(data))),
            )  # fmt: skip
            return int(cur.lastrowid or 0)

    def baseline_of(self, run_id: int) -> BenchResult | None:
        """The latest baselines measured in a run (for --resume)."""
        rows = self.query(
            "SELECT json FROM baselines WHERE run_id=? ORDER BY id DESC LIMIT 1", (run_id,)
        )
        return BenchResult.from_dict(json.loads(rows[0]["json"])) if rows else None

    def generation(
        self,
        run_id: int,
        round_: int,
        candidate_id: int | None,
        *,
        generator: str,
        label: str,
        note: str,
        prompt: str,
        reply: str,
        tokens: tuple[int, int],
        cost: float,
        cached: bool,
    ) -> int:
        """One generator's proposal (``search.types.Proposal``): what was asked, answered, paid."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO generations (run_id, round, generator, candidate_id, label, note, prompt, reply, "
                "input_tokens, output_tokens, cost, cached, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, round_, generator, candidate_id, label, note, prompt, reply, tokens[0], tokens[1],
                 cost, int(cached), time.time()),
            )  # fmt: skip
            return int(cur.lastrowid or 0)

    # The reply cache (the ``ReplyCache`` protocol of generators.llm).
    def get(self, key: str) -> dict[str, Any] | None:
        rows = self.query("SELECT value FROM llm_cache WHERE key=?", (key,))
        return json.loads(rows[0]["value"]) if rows else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO llm_cache (key, value, created) VALUES (?, ?, ?)",
                (key, json.dumps(value), time.time()),
            )

    def unfinished_run(self, kind: str, fingerprint: str) -> int | None:
        """The latest run of this kind and fingerprint that did not finish (for --resume)."""
        rows = self.query(
            "SELECT id FROM runs WHERE kind=? AND status!='finished' AND json_extract(args, '$.fingerprint')=? "
            "ORDER BY id DESC LIMIT 1",
            (kind, fingerprint),
        )
        return int(rows[0]["id"]) if rows else None

    def reopen_run(self, run_id: int) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status='running', finished=NULL, pid=?, host=? WHERE id=?",
                (os.getpid(), socket.gethostname(), run_id),
            )

    def judged(self, run_id: int) -> dict[str, Verdict]:
        """Verdicts already taken in a run, by candidate source hash."""
        rows = self.query(
            "SELECT c.sha256, v.json FROM verdicts v JOIN candidates c ON c.id=v.candidate_id WHERE v.run_id=?",
            (run_id,),
        )
        return {r["sha256"]: Verdict.from_dict(json.loads(r["json"])) for r in rows}

    # -- reading ------------------------------------------------------------------------------
    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, params).fetchall())
