"""``kernelswarm export``: the winner as an importable module with a torch.library custom op."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kernelswarm.cli import options as opt
from kernelswarm.export import ExportError, export_module
from kernelswarm.runs import RunsError, RunsReader


def export_command(
    run: Annotated[
        int | None, typer.Argument(help="Run whose fastest accepted candidate to export")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="The module to write (.py)")] = None,
    winner: Annotated[
        Path | None, typer.Option(help="A winner or candidate file instead of a run")
    ] = None,
    problem: Annotated[Path | None, typer.Option(help="With --winner: its problem file")] = None,
    db: opt.DbOption = Path("kernelswarm.db"),
) -> None:
    """Write an importable module that registers the winning kernel as a torch.library custom
    op (with a fake implementation, so torch.compile traces through it), a drop-in ModelNew
    using it, and a self-test (python FILE)."""
    what = "cannot export"
    if winner is not None or problem is not None:
        if winner is None or problem is None or run is not None:
            raise opt.fail(what, "--winner and --problem go together, instead of a run number")
        for path in (winner, problem):
            if not path.is_file():
                raise opt.fail(what, f"{path} does not exist")
        winner_source, problem_source = winner.read_text(), problem.read_text()
        name, origin = problem.stem, f"{winner} (problem {problem})"
    else:
        try:
            reader = RunsReader(db)
            detail = reader.show(run if run is not None else reader.latest())
            if detail.winner is None:
                raise RunsError(f"run {detail.run.id} accepted no candidate: nothing to export")
            winner_source = reader.source(detail.winner.candidate_id)
            name, problem_source = reader.problem_of(detail.winner.candidate_id)
            origin = f"run {detail.run.id} of {db}, candidate {detail.winner.candidate_id}"
            reader.close()
        except RunsError as exc:
            raise opt.fail(what, str(exc)) from None
    target = out or Path(f"kernelswarm_{name.lower().replace('-', '_')}_op.py")
    why = opt.unwritable(None, target)
    if why:
        raise opt.fail(what, why)
    try:
        exported = export_module(winner_source, problem_source, name, target, origin)
    except ExportError as exc:
        raise opt.fail(what, str(exc)) from None
    opt.out.print(
        f"{exported.path}: {exported.op}, and ModelNew using it; test it with: python "
        f"{exported.path}",
        markup=False,
    )
