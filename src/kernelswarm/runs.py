"""Reading results back: every run of a database, what each judged, and two runs side by side.

Opened read-only (``kernelswarm runs`` never writes, never migrates, and works while a run is
writing). A run's state is told honestly: finished, failed, interrupted — and a run still marked
``running`` whose process on this host is gone reads as interrupted.
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kernelswarm.judge.results import BenchResult, Speedup
from kernelswarm.judge.verdict import Verdict


class RunsError(Exception):
    """The database or the run cannot be read (the message says why)."""


@dataclass(frozen=True)
class RunSummary:
    id: int
    kind: str
    state: str  # finished, failed, interrupted, running
    started: float
    seconds: float | None
    problems: list[str]
    device: str
    judged: int
    accepted: int
    best_eager: float | None  # the best accepted candidate's median speedups
    best_compile: float | None


@dataclass(frozen=True)
class JudgedRow:
    """One verdict of a run, with what a person needs to read it."""

    problem: str
    candidate_id: int
    origin: str
    verdict: str
    failed_check: str | None
    detail: str
    eager: Speedup | None  # median and 95% interval; None unless accepted and timed
    compile: Speedup | None
    candidate_seconds: float | None
    sol_fraction: float | None
    round: int | None = None
    generator: str | None = None


@dataclass(frozen=True)
class Baseline:
    problem: str
    device: str
    eager_seconds: float | None
    compile_seconds: float | None
    floor_seconds: float | None


@dataclass
class RunDetail:
    run: RunSummary
    args: dict[str, Any]
    versions: dict[str, Any]
    #: what the command printed at the end (a suite: {"levels": [fast_p per level]})
    summary: dict[str, Any] = field(default_factory=dict)
    baselines: list[Baseline] = field(default_factory=list)
    judged: list[JudgedRow] = field(default_factory=list)
    generations: list[dict[str, Any]] = field(default_factory=list)
    winner: JudgedRow | None = None


@dataclass(frozen=True)
class Compared:
    problem: str
    a: JudgedRow | None  # each run's best accepted candidate of this problem
    b: JudgedRow | None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunsReader:
    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise RunsError(f"{path} does not exist (kernelswarm writes it on its first run)")
        try:
            self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            self.db.row_factory = sqlite3.Row
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:
            raise RunsError(f"{path} cannot be read as a SQLite database ({exc})") from None
        if not {"runs", "verdicts", "meta"} <= tables:
            raise RunsError(f"{path} is not a kernelswarm database")
        self.path = path
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(runs)")}
        self._has_pid, self._has_summary = "pid" in columns, "summary" in columns

    def close(self) -> None:
        self.db.close()

    # -- runs ---------------------------------------------------------------------------------
    def _state(self, row: sqlite3.Row) -> str:
        status = str(row["status"])
        if status != "running":
            return status
        if self._has_pid and row["host"] == socket.gethostname() and not _alive(row["pid"]):
            return "interrupted"  # its process is gone without saying so (kill -9, a crash)
        return "running"

    def _summary(self, row: sqlite3.Row) -> RunSummary:
        args = json.loads(row["args"])
        problems = [
            r["name"]
            for r in self.db.execute(
                "SELECT DISTINCT p.name FROM problems p WHERE p.id IN "
                "(SELECT problem_id FROM verdicts WHERE run_id=? UNION "
                " SELECT problem_id FROM baselines WHERE run_id=?) ORDER BY p.name",
                (row["id"], row["id"]),
            )
        ]
        if not problems and isinstance(args.get("problem"), str):
            problems = [Path(args["problem"]).stem]
        counts = self.db.execute(
            "SELECT count(*) AS n, sum(verdict='accepted') AS ok, "
            "max(CASE WHEN verdict='accepted' THEN speedup_eager END) AS be, "
            "max(CASE WHEN verdict='accepted' THEN speedup_compile END) AS bc "
            "FROM verdicts WHERE run_id=?",
            (row["id"],),
        ).fetchone()
        device = str(args.get("device") or (args.get("config") or {}).get("device") or "")
        finished = row["finished"]
        return RunSummary(
            id=int(row["id"]), kind=str(row["kind"]), state=self._state(row),
            started=float(row["started"]),
            seconds=round(finished - row["started"], 1) if finished else None,
            problems=problems, device=device, judged=int(counts["n"] or 0),
            accepted=int(counts["ok"] or 0), best_eager=counts["be"], best_compile=counts["bc"],
        )  # fmt: skip

    def recent(self, limit: int = 50) -> list[RunSummary]:
        rows = self.db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))
        return [self._summary(r) for r in rows.fetchall()]

    def _run_row(self, run_id: int) -> sqlite3.Row:
        row = self.db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            last = self.db.execute("SELECT max(id) FROM runs").fetchone()[0]
            raise RunsError(
                f"no run {run_id} in {self.path}"
                + (f" (its runs are 1 to {last})" if last else " (it holds no run yet)")
            )
        return row

    def latest(self) -> int:
        last = self.db.execute("SELECT max(id) FROM runs").fetchone()[0]
        if last is None:
            raise RunsError(f"{self.path} holds no run yet")
        return int(last)

    # -- one run ------------------------------------------------------------------------------
    def show(self, run_id: int) -> RunDetail:
        row = self._run_row(run_id)
        summary = row["summary"] if self._has_summary else None
        detail = RunDetail(
            run=self._summary(row), args=json.loads(row["args"]),
            versions=json.loads(row["versions"] or "{}"), summary=json.loads(summary or "{}"),
        )  # fmt: skip
        for b in self.db.execute(
            "SELECT p.name, b.device, b.eager_seconds, b.compile_seconds, b.floor_seconds "
            "FROM baselines b JOIN problems p ON p.id=b.problem_id WHERE b.run_id=? ORDER BY b.id",
            (run_id,),
        ):
            detail.baselines.append(Baseline(*b))
        where: dict[int, tuple[int, str]] = {}  # candidate -> (round, generator), swarm runs
        for g in self.db.execute(
            "SELECT round, generator, candidate_id, label, note, input_tokens, output_tokens, "
            "cost, cached FROM generations WHERE run_id=? ORDER BY id",
            (run_id,),
        ):
            detail.generations.append(dict(g))
            if g["candidate_id"] is not None:
                where.setdefault(g["candidate_id"], (g["round"], g["generator"]))
        for v in self.db.execute(
            "SELECT v.json, v.candidate_id, c.origin, p.name FROM verdicts v "
            "JOIN candidates c ON c.id=v.candidate_id JOIN problems p ON p.id=v.problem_id "
            "WHERE v.run_id=? ORDER BY v.id",
            (run_id,),
        ):
            verdict = Verdict.from_dict(json.loads(v["json"]))
            round_, generator = where.get(v["candidate_id"], (None, None))
            detail.judged.append(
                judged_row(verdict, v["name"], v["candidate_id"], v["origin"], round_, generator)
            )
        accepted = [j for j in detail.judged if j.verdict == "accepted" and j.candidate_seconds]
        if accepted:
            detail.winner = min(accepted, key=lambda j: j.candidate_seconds or float("inf"))
        return detail

    def benches(self, run_id: int) -> dict[str, BenchResult]:
        """Each problem's latest baselines in a run, whole (peaks, counts, every sample)."""
        found: dict[str, BenchResult] = {}
        for row in self.db.execute(
            "SELECT p.name, b.json FROM baselines b JOIN problems p ON p.id=b.problem_id "
            "WHERE b.run_id=? ORDER BY b.id",
            (run_id,),
        ):
            try:
                found[row["name"]] = BenchResult.from_dict(json.loads(row["json"]))
            except (ValueError, KeyError, TypeError):
                continue  # a measurement of an older schema: shown in the table, not charted
        return found

    def problem_of(self, candidate_id: int) -> tuple[str, str]:
        """The name and source of the problem a candidate was written for."""
        row = self.db.execute(
            "SELECT p.name, p.source FROM candidates c JOIN problems p ON p.id=c.problem_id "
            "WHERE c.id=?",
            (candidate_id,),
        ).fetchone()
        if row is None:
            raise RunsError(f"no candidate {candidate_id} in {self.path}")
        return str(row["name"]), str(row["source"])

    def source(self, candidate_id: int) -> str:
        row = self.db.execute(
            "SELECT source FROM candidates WHERE id=?", (candidate_id,)
        ).fetchone()
        return str(row["source"]) if row else ""

    def compare(self, a: int, b: int) -> list[Compared]:
        """Per problem judged in either run, each run's best accepted candidate (the fastest)."""
        best: dict[int, dict[str, JudgedRow]] = {}
        problems: set[str] = set()
        for run_id in (a, b):
            rows: dict[str, JudgedRow] = {}
            for j in self.show(run_id).judged:
                problems.add(j.problem)
                if j.verdict != "accepted":
                    continue
                held = rows.get(j.problem)
                if held is None or (j.candidate_seconds or 1e9) < (held.candidate_seconds or 1e9):
                    rows[j.problem] = j
            best[run_id] = rows
        return [Compared(p, best[a].get(p), best[b].get(p)) for p in sorted(problems)]


def judged_row(
    verdict: Verdict, problem: str, candidate_id: int, origin: str,
    round_: int | None = None, generator: str | None = None,
) -> JudgedRow:  # fmt: skip
    speedups = verdict.speedup or {}
    first = verdict.reasons[0] if verdict.reasons else None
    sol = verdict.speed_of_light
    return JudgedRow(
        problem=problem, candidate_id=candidate_id, origin=origin, verdict=verdict.verdict.value,
        failed_check=first.check.value if first else None,
        detail=first.detail.splitlines()[0][:400] if first and first.detail else "",
        eager=speedups.get("eager"), compile=speedups.get("compile"),
        candidate_seconds=verdict.candidate_seconds, sol_fraction=sol.fraction if sol else None,
        round=round_, generator=generator,
    )  # fmt: skip


CSV_FIELDS = [
    "problem", "candidate_id", "origin", "round", "generator", "verdict", "failed_check", "detail",
    "candidate_seconds", "speedup_eager", "speedup_eager_low", "speedup_eager_high",
    "speedup_compile", "speedup_compile_low", "speedup_compile_high", "sol_fraction",
]  # fmt: skip


def export_csv(detail: RunDetail) -> str:
    """Every verdict of a run, one row each (speedups with their 95% intervals)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for j in detail.judged:
        row: dict[str, Any] = {k: v for k, v in asdict(j).items() if k in CSV_FIELDS}
        for name in ("eager", "compile"):
            s = getattr(j, name)
            row[f"speedup_{name}"] = s.median if s else ""
            row[f"speedup_{name}_low"] = s.low if s else ""
            row[f"speedup_{name}_high"] = s.high if s else ""
        writer.writerow(row)
    return out.getvalue()
