"""``kernelswarm report [RUN] --html FILE``: one static page with the evidence of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kernelswarm.cli import options as opt
from kernelswarm.report.html import write_report
from kernelswarm.runs import RunsError


def report_command(
    run: Annotated[int | None, typer.Argument(help="Run number (default: the latest)")] = None,
    html: Annotated[Path, typer.Option("--html", help="The HTML file to write")] = Path(
        "kernelswarm-report.html"
    ),
    db: opt.DbOption = Path("kernelswarm.db"),
) -> None:
    """Write a run's report: the winner's source, every attempt with its verdict and the failing
    check's numbers, speedups with intervals, a roofline, progress per generator, the
    environment and the command to reproduce. Opens without a network."""
    why = opt.unwritable(None, html)
    if why:
        raise opt.fail("cannot write the report", why)
    try:
        run_id = write_report(db, run, html)
    except RunsError as exc:  # no database, not kernelswarm's, no such run
        raise opt.fail("cannot write the report", str(exc)) from None
    opt.err.print(f"report of run {run_id}: {html}", markup=False)
