"""``kernelswarm suite DIR``: every problem's baselines, or with --solutions a scoreboard."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from kernelswarm.cli import options as opt
from kernelswarm.judge.sandbox import Limits
from kernelswarm.report.tables import render_suite, suite_line
from kernelswarm.suite import SuiteConfig, SuiteEntry, run_suite, summarise


def suite_command(
    root: Annotated[
        Path, typer.Argument(help="Folder of problem files (level1/ ... subfolders are levels)")
    ],
    solutions: Annotated[
        Path | None, typer.Option(help="Folder of candidates, matched to problems by name")
    ] = None,
    device: opt.DeviceOption = opt.Device.auto,
    policy: Annotated[
        opt.Precision,
        typer.Option(
            help="Precision policy; kernelbench also runs strict and counts wrong acceptances"
        ),
    ] = opt.Precision.strict,
    sizes: Annotated[
        str, typer.Option(help="auto: the problems' declared CPU sizes on the CPU; full; cpu")
    ] = "auto",
    set_: opt.SetOption = None,
    timing: Annotated[
        bool, typer.Option(help="Measure times (baselines, or candidates' speedups)")
    ] = True,
    time_budget: Annotated[float, typer.Option(help="Seconds of timing per problem")] = 10.0,
    warm_cache: opt.WarmCacheOption = False,
    jobs: Annotated[
        int,
        typer.Option(help="Problems handled at once (timing is still one at a time per device)"),
    ] = 1,
    db: opt.DbOption = Path("kernelswarm.db"),
    json_path: opt.JsonOption = None,
    only: opt.OnlyOption = "",
    limit: Annotated[int, typer.Option(help="At most this many problems (0: all)")] = 0,
    timeout: opt.TimeoutOption = 900.0,
    unconfined: opt.UnconfinedOption = False,
    gpus: opt.GpusOption = None,
    executor: opt.ExecutorOption = opt.ExecutorKind.local,
    ray_address: opt.RayAddressOption = None,
    quiet: opt.QuietOption = False,
    html: opt.HtmlOption = None,
) -> None:
    """Baselines of every problem in ROOT, or, with --solutions, a judged and timed scoreboard."""
    resolved, why = opt.resolve_device(device)
    if not root.is_dir():
        why = f"{root} is not a folder"
    if solutions is not None and not solutions.is_dir():
        why = f"--solutions {solutions} is not a folder"
    if sizes not in ("auto", "full", "cpu"):
        why = f"--sizes must be auto, full or cpu, not {sizes!r}"
    overrides, bad_set = opt.parse_overrides(set_)
    why = why or bad_set
    why = why or opt.unwritable(None, json_path)  # said before anything runs
    if why:
        raise opt.fail("cannot run the suite", why)
    config = SuiteConfig(
        root=root,
        device=resolved,
        solutions=solutions,
        policy=policy.value,
        sizes=sizes,
        overrides=overrides,
        timing=opt.timing_options(warm_cache, False, time_budget) if timing else None,
        jobs=jobs,
        limits=Limits(wall_seconds=timeout),
        only=only,
        limit=limit,
        unconfined=unconfined,
    )
    runs = opt.executor(executor, resolved, gpus, jobs, ray_address, "cannot run the suite")
    store = opt.open_store(db, "cannot run the suite")
    finished: list[SuiteEntry] = []
    run_ids: list[int] = []

    def save(entries: list[SuiteEntry]) -> None:
        if json_path is not None:
            data = {"entries": [e.to_dict() for e in entries], "summary": summarise(entries)}
            opt.write_json_to(data, json_path)

    def progress(entry: SuiteEntry, done: int, total: int) -> None:
        finished.append(entry)
        save(finished)  # as results arrive: an interrupted suite keeps what it measured
        if not quiet:
            opt.err.print(suite_line(entry, done, total))

    try:
        entries = run_suite(config, store, progress, runs, started=run_ids.append)
        summaries = summarise(entries)
        # kept with the run: a report written later shows the same tables
        store.summarise_run(run_ids[0], {"levels": [asdict(s) for s in summaries]})
    finally:
        store.close()
    render_suite(entries, summaries, opt.people(json_path))
    opt.html_report(db, run_ids[0], html)
    opt.people(json_path).print(f"results stored in {db}", markup=False)
    save(entries)
    raise typer.Exit(0)
