"""``kernelswarm bench PROBLEM``: the baselines, the floor, and whether the size means anything."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kernelswarm.cli import options as opt
from kernelswarm.judge.bench import BenchConfig, run_bench
from kernelswarm.judge.results import BenchResult
from kernelswarm.judge.sandbox import Limits
from kernelswarm.precision import POLICIES
from kernelswarm.report.timing import render_timing


def bench_command(
    problem: Annotated[Path, typer.Argument(help="KernelBench-format problem file")],
    device: opt.DeviceOption = opt.Device.auto,
    precision: Annotated[
        opt.Precision,
        typer.Option(help="Precision policy (selects the matrix rate of the floor)"),
    ] = opt.Precision.strict,
    json_path: opt.JsonOption = None,
    set_: opt.SetOption = None,
    seed: opt.SeedOption = None,
    warm_cache: opt.WarmCacheOption = False,
    cuda_graph: opt.CudaGraphOption = False,
    time_budget: opt.TimeBudgetOption = 30.0,
    remeasure_peaks: Annotated[
        bool, typer.Option(help="Measure the device's peaks again instead of using the cache")
    ] = False,
    timeout: opt.TimeoutOption = 600.0,
    quiet: opt.QuietOption = False,
    verbose: opt.VerboseOption = False,
) -> None:
    """Baselines of PROBLEM: eager and torch.compile times, flops, bytes, the speed-of-light floor."""
    resolved, why = opt.resolve_device(device)
    overrides, bad_set = opt.parse_overrides(set_, problem)
    why = why or bad_set
    if not problem.is_file():
        why = f"the problem file {problem} does not exist"
    why = why or opt.unwritable(None, json_path)  # said before anything runs
    if why:
        raise opt.fail("cannot measure", why)
    config = BenchConfig(
        problem.resolve(), resolved, POLICIES[precision.value], overrides,
        opt.timing_options(warm_cache, cuda_graph, time_budget, remeasure_peaks=remeasure_peaks),
        Limits(wall_seconds=timeout), seed,
    )  # fmt: skip
    with opt.reporter("measuring", quiet, verbose) as progress:
        result = run_bench(config, progress)
    if not isinstance(result, BenchResult):
        raise opt.fail(result.check.value, result.detail)
    result.problem = str(problem)
    render_timing(result.timing, opt.people(json_path))
    if json_path is not None:
        opt.write_json_to(result.to_dict(), json_path)
    raise typer.Exit(0)
