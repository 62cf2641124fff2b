"""``kernelswarm check PROBLEM CANDIDATE``: exit 0 accepted, 1 rejected (the candidate's fault),
2 could not judge (bad problem file, bad arguments, weak tests, the harness itself broke)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kernelswarm.cli import options as opt
from kernelswarm.judge.check import CheckConfig, check
from kernelswarm.judge.reasons import Check, Reason
from kernelswarm.judge.sandbox import Limits
from kernelswarm.judge.verdict import Outcome, Verdict
from kernelswarm.precision import POLICIES
from kernelswarm.report.verdict import render_verdict, verdict_line


def check_command(
    problem: Annotated[
        Path,
        typer.Argument(
            help="KernelBench-format problem file (class Model, get_inputs, get_init_inputs)"
        ),
    ],
    candidate: Annotated[Path, typer.Argument(help="Candidate file defining class ModelNew")],
    device: opt.DeviceOption = opt.Device.auto,
    precision: opt.PrecisionOption = opt.Precision.strict,
    json_path: opt.JsonOption = None,
    seed: opt.SeedOption = None,
    set_: opt.SetOption = None,
    weights: Annotated[
        opt.Weights,
        typer.Option(
            help="share: the candidate gets the reference's weights where names and shapes match"
        ),
    ] = opt.Weights.share,
    timeout: opt.TimeoutOption = 300.0,
    memory_gb: Annotated[
        float | None,
        typer.Option(
            help="Memory limit per worker process, GiB (a candidate's own: what it holds for "
            "the judge, the tests' inputs and copies, is added)"
        ),
    ] = None,
    keep_scratch: Annotated[
        bool, typer.Option(help="Keep the workers' scratch directories")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress; print only the verdict line")
    ] = False,
    verbose: opt.VerboseOption = False,
    timing: Annotated[
        bool,
        typer.Option(
            help="After a correct verdict, time the candidate against eager and torch.compile"
        ),
    ] = True,
    warm_cache: opt.WarmCacheOption = False,
    cuda_graph: opt.CudaGraphOption = False,
    time_budget: opt.TimeBudgetOption = 30.0,
    compile_baseline: Annotated[
        bool,
        typer.Option(help="Measure torch.compile as a baseline (always, unless you know why not)"),
    ] = True,
    unconfined: opt.UnconfinedOption = False,
    build_cache: Annotated[
        bool,
        typer.Option(
            help="Reuse the candidate's compiled builds from an earlier check of the same file"
        ),
    ] = True,
    in_process: Annotated[
        bool,
        typer.Option(
            help="Debugging only: run both workers in this process, without a sandbox. Never for "
            "a candidate you do not trust.",
        ),
    ] = False,
) -> None:
    """Judge CANDIDATE against PROBLEM: accepted (0), rejected (1), or could not judge (2)."""
    resolved, why = opt.resolve_device(device)
    overrides, bad_set = opt.parse_overrides(set_, problem)
    why = why or bad_set
    for label, path in (("problem", problem), ("candidate", candidate)):
        if not path.is_file():
            why = f"the {label} file {path} does not exist"
    unwritable = opt.unwritable(None, json_path)  # said before anything runs
    if unwritable:
        raise opt.fail("cannot judge", unwritable)
    if why:
        verdict = Verdict(
            verdict=Outcome.ERROR, reasons=[Reason(Check.ARGUMENTS, why)], problem=str(problem),
            candidate=str(candidate), device=resolved, precision=precision.value,
        )  # fmt: skip
    else:
        limits = Limits(wall_seconds=timeout)
        if memory_gb is not None:
            limits = Limits(wall_seconds=timeout, memory_bytes=int(memory_gb * 2**30))
        config = CheckConfig(
            problem=problem.resolve(),
            candidate=candidate.resolve(),
            device=resolved,
            policy=POLICIES[precision.value],
            overrides=overrides,
            seed=seed,
            weights=weights.value,
            limits=limits,
            keep_scratch=keep_scratch,
            timing=opt.timing_options(warm_cache, cuda_graph, time_budget, compile_baseline)
            if timing
            else None,
            in_process=in_process,
            unconfined=unconfined,
            build_cache=build_cache,
        )
        with opt.reporter("judging", quiet, verbose) as progress:
            verdict = check(config, progress=progress)
    if json_path is not None:
        opt.write_json_to(verdict.to_dict(), json_path)
    if quiet:
        opt.people(json_path).print(verdict_line(verdict), soft_wrap=True, markup=False)
    else:
        render_verdict(verdict, opt.people(json_path))
    raise typer.Exit(verdict.exit_code)
