"""``kernelswarm optimize PROBLEM --swarm SWARM.toml``: the swarm; writes the winner."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from kernelswarm.cli import options as opt
from kernelswarm.judge.sandbox import Limits
from kernelswarm.precision import POLICIES
from kernelswarm.report.tables import render_attempts
from kernelswarm.search.supervisor import Supervisor
from kernelswarm.search.swarm_file import SwarmFileError, default_swarm, load_swarm


def optimize_command(
    problem: Annotated[Path, typer.Argument(help="KernelBench-format problem file")],
    swarm: Annotated[
        Path | None,
        typer.Option(help="Swarm file (TOML); without it, the offline built-in generators"),
    ] = None,
    device: opt.DeviceOption = opt.Device.auto,
    precision: Annotated[
        opt.Precision, typer.Option(help="Precision policy candidates are judged under")
    ] = opt.Precision.strict,
    set_: opt.SetOption = None,
    rounds: Annotated[
        int | None, typer.Option(min=1, help="Rounds (overrides the swarm file's budget)")
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for the winner and every candidate")
    ] = Path("kernelswarm-out"),
    db: opt.DbOption = Path("kernelswarm.db"),
    resume: Annotated[
        bool, typer.Option(help="Continue the last interrupted run of this problem and swarm")
    ] = False,
    jobs: Annotated[
        int,
        typer.Option(help="Candidates compiled and checked at once (timing stays one at a time)"),
    ] = 2,
    time_budget: Annotated[float, typer.Option(help="Seconds of timing per candidate")] = 10.0,
    timeout: opt.TimeoutOption = 600.0,
    json_path: opt.JsonOption = None,
    unconfined: opt.UnconfinedOption = False,
    gpus: opt.GpusOption = None,
    executor: opt.ExecutorOption = opt.ExecutorKind.local,
    ray_address: opt.RayAddressOption = None,
    quiet: opt.QuietOption = False,
    html: opt.HtmlOption = None,
) -> None:
    """Generate candidates with a swarm, judge and time every one, keep the fastest correct one."""
    resolved, why = opt.resolve_device(device)
    if not problem.is_file():
        why = f"the problem file {problem} does not exist"
    overrides, bad_set = opt.parse_overrides(set_, problem)
    why = why or bad_set
    try:
        config = load_swarm(swarm) if swarm is not None else default_swarm()
    except SwarmFileError as exc:
        why = str(exc)
    why = why or opt.unwritable(out_dir, json_path)
    if why:
        raise opt.fail("cannot optimize", why)
    if rounds is not None:
        config = replace(config, budget=replace(config.budget, rounds=rounds))
    runs = opt.executor(executor, resolved, gpus, jobs, ray_address, "cannot optimize")
    store = opt.open_store(db, "cannot optimize")
    supervisor = Supervisor(
        problem.resolve(), config, resolved, POLICIES[precision.value], overrides, store, out_dir,
        opt.timing_options(budget=time_budget), Limits(wall_seconds=timeout), jobs, resume,
        progress=(lambda m: None) if quiet else (lambda m: opt.err.print(Text(m, style="dim"))),
        unconfined=unconfined,
        executor=runs,
    )  # fmt: skip
    try:
        result = supervisor.run()
    except KeyboardInterrupt:
        opt.err.print(
            f"interrupted: finished work is in {db}; continue with --resume",
            style="yellow",
            markup=False,
        )
        raise typer.Exit(130) from None
    except RuntimeError as exc:
        raise opt.fail("cannot optimize", str(exc)) from None
    finally:
        store.close()
    render_attempts(result, opt.people(json_path))
    opt.html_report(db, result.run_id, html or out_dir / f"report_run{result.run_id}.html")
    if json_path is not None:
        opt.write_json_to(result, json_path)
    if not any(a.candidate_path for a in result.attempts):
        # every generator failed or wrote no code: the run did not do its job
        said = sorted({f"{a.generator}: {a.reasons[0]}" for a in result.attempts if a.reasons})
        raise opt.fail(
            "optimize judged no candidate",
            "no generator proposed code" + (" (" + "; ".join(said[:6]) + ")" if said else ""),
        )
    raise typer.Exit(0)
