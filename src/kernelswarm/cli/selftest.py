"""``kernelswarm selftest examples``: the example catalogue, each cheat caught on this machine."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import typer

from kernelswarm.catalog import (
    NOT_JUDGED,
    ExampleRun,
    RunOutcome,
    Stopper,
    discover,
    not_judged,
    run_example,
)
from kernelswarm.cli import options as opt
from kernelswarm.judge.prebuild import ToBuild, prebuilding
from kernelswarm.problem import Override
from kernelswarm.report.tables import render_selftest


def _ahead(runs: list[ExampleRun]) -> list[ToBuild]:
    """The examples that compile C++ or CUDA, once per candidate file, as built ahead."""
    ahead: dict[Path, ToBuild] = {}
    for r in runs:
        if r.slow and r.candidate not in ahead:
            sets = [r.args[i + 1] for i, a in enumerate(r.args[:-1]) if a == "--set"]
            ahead[r.candidate] = ToBuild(r.problem, r.candidate, tuple(map(Override.parse, sets)))
    return list(ahead.values())


def _unexpected(o: RunOutcome) -> str:
    expected = " ".join([o.run.verdict, "|".join(o.run.checks)]).strip()
    got = " ".join([o.verdict, "|".join(o.checks)]).strip()
    first = o.detail.strip().splitlines()[0] if o.detail.strip() else ""
    return f"NOT AS EXPECTED {o.run.label}: expected {expected}, judged {got}" + (
        f" ({first[:200]})" if first else ""
    )


def selftest_command(
    examples: Annotated[
        Path,
        typer.Argument(help="Folder of example candidates that declare their expected verdicts"),
    ] = Path("examples"),
    device: Annotated[
        opt.Device, typer.Option(help="Device for the examples that do not name one")
    ] = opt.Device.auto,
    slow: Annotated[bool, typer.Option(help="Include examples that compile C++ or CUDA")] = True,
    only: Annotated[
        str | None, typer.Option(help="Only examples whose path contains this text")
    ] = None,
    jobs: Annotated[
        int, typer.Option(help="Examples judged at once (each in its own processes)")
    ] = 1,
    json_path: opt.JsonOption = None,
) -> None:
    """Run the example catalogue and show that the judge says what each example expects."""
    resolved, why = opt.resolve_device(device)
    why = why or opt.unwritable(None, json_path)  # said before anything runs
    if why:
        raise opt.fail("cannot run the selftest", why)
    runs = [
        r
        for r in discover(examples)
        if (slow or not r.slow) and (only is None or only in str(r.candidate))
    ]
    runs = [r for r in runs if r.device in (None, resolved)]
    for r in [r for r in runs if r.missing]:
        opt.err.print(f"skipping {r.label}: needs {', '.join(r.missing)}", markup=False)
    runs = [r for r in runs if not r.missing]
    if not runs:
        raise opt.fail("cannot run the selftest", f"no runnable examples under {examples}")
    # On a GPU, the examples that compile are built ahead on a few CPU cores (no GPU in reach)
    # and judged last, while the others are judged: a cold build is a minute of nvcc each.
    order = sorted(runs, key=lambda r: r.slow)
    by_run: dict[int, RunOutcome] = {}
    stopper = Stopper()
    with (
        opt.reporter("selftest") as progress,
        prebuilding(_ahead(order), resolved),
        ThreadPoolExecutor(max(1, jobs)) as pool,
    ):
        futures = {}
        try:
            for r in order:
                futures[id(r)] = pool.submit(run_example, r, resolved, stopper=stopper)
            for i, (key, future) in enumerate(futures.items(), start=1):
                outcome = future.result()
                progress.advance(i, len(runs))
                by_run[key] = outcome
                if not outcome.ok:  # said at once: a run cut short still shows what went wrong
                    opt.err.print(_unexpected(outcome), markup=False, soft_wrap=True)
        except KeyboardInterrupt:  # Ctrl-C, or a time limit's SIGTERM: what was judged is kept
            stopper.stop()
    for key, future in futures.items():  # judged while the stop came: kept too
        if key not in by_run and future.done() and future.exception() is None:
            by_run[key] = future.result()
    outcomes = [by_run.get(id(r)) or not_judged(r) for r in runs]  # the catalogue's own order
    render_selftest(outcomes, resolved, opt.people(json_path))
    if json_path is not None:
        rows = [{"example": o.run.label, "expected": o.run.verdict, "expected_checks": list(o.run.checks),
                 "verdict": o.verdict, "checks": list(o.checks), "ok": o.ok, "seconds": o.seconds,
                 "detail": o.detail} for o in outcomes]  # fmt: skip
        opt.write_json_to(rows, json_path)
    failures = sum(not o.ok for o in outcomes)
    if stopper.stopped:
        judged = sum(o.verdict != NOT_JUDGED for o in outcomes)
        opt.err.print(
            f"stopped: {judged} of {len(runs)} examples judged, "
            f"{sum(o.ok for o in outcomes)} of them as expected; the rest not judged",
            style="yellow",
            markup=False,
        )
        raise typer.Exit(130)
    opt.people(json_path).print(
        f"{len(runs) - failures} of {len(runs)} examples judged as expected"
    )
    raise typer.Exit(1 if failures else 0)
