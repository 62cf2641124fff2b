"""``kernelswarm report [RUN] --html FILE``: one static page with the evidence of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kernelswarm.cli import options as opt
from kernelswarm.runs import RunsError, RunsReader


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
    try:
        reader = RunsReader(db)
        run_id = run if run is not None else reader.latest()
        reader.show(run_id)  # a missing run is said here
        reader.close()
    except RunsError as exc:
        raise opt.fail("cannot write the report", str(exc)) from None
    why = opt.unwritable(None, html)
    if why:
        raise opt.fail("cannot write the report", why)
    opt.html_report(db, run_id, html)
