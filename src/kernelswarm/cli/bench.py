"""``kernelswarm bench PROBLEM``: the baselines, the floor, and whether the size means anything."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kernelswarm.cli.options import (
    CudaGraphOption,
    Device,
    DeviceOption,
    JsonOption,
    Precision,
    SeedOption,
    SetOption,
    TimeBudgetOption,
    TimeoutOption,
    WarmCacheOption,
    err,
    fail,
    out,
    parse_overrides,
    resolve_device,
    timing_options,
)
from kernelswarm.judge.bench import BenchConfig, run_bench
from kernelswarm.judge.results import BenchResult
from kernelswarm.judge.sandbox import Limits
from kernelswarm.judge.verdict import write_json
from kernelswarm.precision import POLICIES
from kernelswarm.report.timing import render_timing


def bench_command(
    problem: Annotated[Path, typer.Argument(help="KernelBench-format problem file")],
    device: DeviceOption = Device.auto,
    precision: Annotated[
        Precision, typer.Option(help="Precision policy (selects the matrix rate of the floor)")
    ] = Precision.strict,
    json_path: JsonOption = None,
    set_: SetOption = None,
    seed: SeedOption = None,
    warm_cache: WarmCacheOption = False,
    cuda_graph: CudaGraphOption = False,
    time_budget: TimeBudgetOption = 30.0,
    remeasure_peaks: Annotated[
        bool, typer.Option(help="Measure the device's peaks again instead of using the cache")
    ] = False,
    timeout: TimeoutOption = 600.0,
) -> None:
    """Baselines of PROBLEM: eager and torch.compile times, flops, bytes, the speed-of-light floor."""
    resolved, why = resolve_device(device)
    overrides, bad_set = parse_overrides(set_)
    why = why or bad_set
    if not problem.is_file():
        why = f"the problem file {problem} does not exist"
    if why:
        raise fail("cannot measure", why)
    config = BenchConfig(
        problem.resolve(), resolved, POLICIES[precision.value], overrides,
        timing_options(warm_cache, cuda_graph, time_budget, remeasure_peaks=remeasure_peaks),
        Limits(wall_seconds=timeout), seed,
    )  # fmt: skip
    with err.status("measuring…") as status:
        result = run_bench(config, lambda m: status.update(f"measuring: {m}"))
    if not isinstance(result, BenchResult):
        raise fail(result.check.value, result.detail)
    result.problem = str(problem)
    render_timing(result.timing, out)
    if json_path is not None:
        write_json(result.to_dict(), json_path)
    raise typer.Exit(0)
