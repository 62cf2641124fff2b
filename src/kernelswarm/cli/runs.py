"""``kernelswarm runs``: list the runs of a database, show one, compare two, export one."""

from __future__ import annotations

import datetime
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from kernelswarm.cli import options as opt
from kernelswarm.judge.verdict import json_text
from kernelswarm.report.timing import speedup_text
from kernelswarm.runs import JudgedRow, RunsError, RunsReader, export_csv

app = typer.Typer(no_args_is_help=True, help="Read results back: list, show, compare, export.")

RunArgument = Annotated[int | None, typer.Argument(help="Run number (default: the latest)")]


def _reader(db: Path, what: str) -> RunsReader:
    try:
        return RunsReader(db)
    except RunsError as exc:
        raise opt.fail(what, str(exc)) from None


def _when(t: float) -> str:
    return datetime.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")


def _num(x: float | None, fmt: str = "{:.2f}x") -> str:
    return fmt.format(x) if x is not None else "—"


STATE_STYLE = {"finished": "green", "failed": "red", "interrupted": "yellow", "running": "cyan"}


@app.command("list")
def list_command(
    db: opt.DbOption = Path("kernelswarm.db"),
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first")] = 50,
    json_path: opt.JsonOption = None,
) -> None:
    """Every run, newest first, with its state and its best accepted speedups."""
    reader = _reader(db, "cannot list runs")
    runs = reader.recent(limit)
    if json_path is not None:
        opt.write_json_to([asdict(r) for r in runs], json_path)
    table = Table(title=f"runs in {db}", title_justify="left")
    for column in ("run", "kind", "state", "started", "seconds", "problems", "judged",
                   "accepted", "best vs eager", "best vs compile"):  # fmt: skip
        table.add_column(column)
    for r in runs:
        problems = ", ".join(r.problems[:3]) + (
            f" +{len(r.problems) - 3}" if len(r.problems) > 3 else ""
        )
        table.add_row(
            str(r.id), r.kind, Text(r.state, style=STATE_STYLE.get(r.state, "")), _when(r.started),
            _num(r.seconds, "{:.0f}"), Text(problems), str(r.judged), str(r.accepted),
            _num(r.best_eager), _num(r.best_compile),
        )  # fmt: skip
    opt.people(json_path).print(table if runs else f"{db} holds no run yet")


def _judged_table(rows: list[JudgedRow], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("problem", "round", "generator", "candidate", "verdict", "failed check",
                   "vs eager [95%]", "vs compile [95%]", "of speed of light"):  # fmt: skip
        table.add_column(column, overflow="fold")
    for j in rows:
        style = {"accepted": "green", "rejected": "red"}.get(j.verdict, "yellow")
        failed = f"{j.failed_check}: {j.detail[:90]}" if j.failed_check else ""
        table.add_row(  # user text (names, details) as Text: never read as markup
            Text(j.problem), str(j.round or ""), Text(j.generator or ""),
            Text(Path(j.origin).name or str(j.candidate_id)), Text(j.verdict, style=style),
            Text(failed), speedup_text(j.eager), speedup_text(j.compile), _num(j.sol_fraction, "{:.0%}"),
        )  # fmt: skip
    return table


@app.command("show")
def show_command(
    run: RunArgument = None,
    db: opt.DbOption = Path("kernelswarm.db"),
    json_path: opt.JsonOption = None,
) -> None:
    """One run: its settings, baselines, every verdict (the failing check and its numbers,
    speedups with their intervals) and its winner."""
    reader = _reader(db, "cannot show the run")
    try:
        detail = reader.show(run if run is not None else reader.latest())
    except RunsError as exc:
        raise opt.fail("cannot show the run", str(exc)) from None
    if json_path is not None:
        opt.write_json_to(asdict(detail), json_path)
    console = opt.people(json_path)
    r = detail.run
    console.print(
        f"run {r.id} · {r.kind} · [{STATE_STYLE.get(r.state, '')}]{r.state}[/] · started "
        f"{_when(r.started)}" + (f" · {r.seconds:.0f} s" if r.seconds else "")
    )
    for b in detail.baselines:
        console.print(
            f"baselines of {b.problem} on {b.device}: eager {_num(b.eager_seconds, '{:.3g} s')}, "
            f"torch.compile {_num(b.compile_seconds, '{:.3g} s')}, speed-of-light floor "
            f"{_num(b.floor_seconds, '{:.3g} s')}",
            markup=False,
        )
    console.print(_judged_table(detail.judged, f"{len(detail.judged)} verdicts"))
    if detail.winner is not None:
        w = detail.winner
        console.print(
            f"fastest accepted: candidate {w.candidate_id} ({Path(w.origin).name}), "
            f"{speedup_text(w.eager)} vs eager, {speedup_text(w.compile)} vs torch.compile",
            markup=False,
        )
    elif detail.judged:
        console.print("no candidate was accepted", style="yellow")


@app.command("compare")
def compare_command(
    a: Annotated[int, typer.Argument(help="A run number")],
    b: Annotated[int, typer.Argument(help="Another run number")],
    db: opt.DbOption = Path("kernelswarm.db"),
    json_path: opt.JsonOption = None,
) -> None:
    """Two runs side by side: per problem, each run's fastest accepted candidate."""
    reader = _reader(db, "cannot compare runs")
    try:
        rows = reader.compare(a, b)
    except RunsError as exc:
        raise opt.fail("cannot compare runs", str(exc)) from None
    if json_path is not None:
        opt.write_json_to([asdict(c) for c in rows], json_path)
    table = Table(title=f"run {a} against run {b}", title_justify="left")
    for column in ("problem", f"run {a} vs eager", f"run {a} vs compile", f"run {b} vs eager",
                   f"run {b} vs compile", "faster"):  # fmt: skip
        table.add_column(column)
    for c in rows:
        ta = c.a.candidate_seconds if c.a else None
        tb = c.b.candidate_seconds if c.b else None
        faster = f"run {a}" if ta and (not tb or ta < tb) else f"run {b}" if tb else "neither"
        table.add_row(
            Text(c.problem), speedup_text(c.a.eager if c.a else None), speedup_text(c.a.compile if c.a else None),
            speedup_text(c.b.eager if c.b else None), speedup_text(c.b.compile if c.b else None), faster,
        )  # fmt: skip
    opt.people(json_path).print(table)


class Format(StrEnum):
    json = "json"
    csv = "csv"


@app.command("export")
def export_command(
    run: RunArgument = None,
    db: opt.DbOption = Path("kernelswarm.db"),
    format_: Annotated[Format, typer.Option("--format", help="json or csv")] = Format.json,
    out: Annotated[Path, typer.Option("--out", help="File to write ('-': standard output)")] = Path(
        "-"
    ),
) -> None:
    """One run as JSON (everything ``show`` shows) or CSV (one row per verdict)."""
    reader = _reader(db, "cannot export the run")
    try:
        detail = reader.show(run if run is not None else reader.latest())
    except RunsError as exc:
        raise opt.fail("cannot export the run", str(exc)) from None
    text = json_text(asdict(detail)) if format_ is Format.json else export_csv(detail)
    if str(out) == "-":
        typer.echo(text, nl=False)
        return
    why = opt.unwritable(None, out)
    if why:
        raise opt.fail("cannot export the run", why)
    out.write_text(text)
    opt.err.print(f"run {detail.run.id} written to {out}", markup=False)
