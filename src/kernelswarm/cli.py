"""The command line: ``kernelswarm check`` (and ``python -m kernelswarm check``).

Exit status of ``check``: 0 accepted, 1 rejected (the candidate's fault), 2 could not judge
(bad problem file, bad arguments, weak tests, the harness itself broke).
"""

from __future__ import annotations

import os

# Before torch (and its OpenMP runtime) is imported: this process must not spin idle threads
# on the cores its workers are being timed on.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kernelswarm import __version__
from kernelswarm.bench import TimingOptions
from kernelswarm.precision import POLICIES
from kernelswarm.problem import Override
from kernelswarm.report.console import render_checks, render_verdict
from kernelswarm.sandbox import Limits
from kernelswarm.verdict import Reason, Verdict, json_safe
from kernelswarm.verify import CheckConfig, check

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Make PyTorch modules faster with generated kernels, judged so the numbers hold up.",
)
err = Console(stderr=True)
# Logs and CI have no terminal: give tables room instead of rich's 80-column default.
out = Console(width=None if sys.stdout.isatty() else 180)


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Precision(StrEnum):
    strict = "strict"
    tf32 = "tf32"
    bf16 = "bf16"
    fp16 = "fp16"
    kernelbench = "kernelbench"


class Weights(StrEnum):
    share = "share"
    seed = "seed"


def resolve_device(device: Device) -> tuple[str, str | None]:
    """The device to use, or an explanation of why the asked-for one is not there."""
    import torch

    if device is Device.auto:
        return ("cuda" if torch.cuda.is_available() else "cpu"), None
    if device is Device.cuda and not torch.cuda.is_available():
        why = (
            "--device cuda, but no CUDA device is usable here (torch.cuda.is_available() is "
            f"False; torch {torch.__version__}, built for CUDA {torch.version.cuda or 'none'})"
        )
        return "cuda", why
    return device.value, None


def _argument_error(
    problem: Path, candidate: Path, device: str, precision: str, why: str
) -> Verdict:
    return Verdict(
        verdict="error",
        reasons=[Reason("arguments", why)],
        problem=str(problem),
        candidate=str(candidate),
        device=device,
        precision=precision,
    )


@app.command("check")
def check_command(
    problem: Annotated[
        Path,
        typer.Argument(
            help="KernelBench-format problem file (class Model, get_inputs, get_init_inputs)"
        ),
    ],
    candidate: Annotated[Path, typer.Argument(help="Candidate file defining class ModelNew")],
    device: Annotated[
        Device, typer.Option(help="Where to run: auto picks cuda when present")
    ] = Device.auto,
    precision: Annotated[
        Precision,
        typer.Option(help="Precision policy; strict is the problem's own precision, TF32 off"),
    ] = Precision.strict,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the verdict as JSON to this file")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Master seed, to reproduce a run (fresh by default)")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a size global: NAME=VALUE (repeatable)"),
    ] = None,
    weights: Annotated[
        Weights,
        typer.Option(
            help="share: the candidate gets the reference's weights where names and shapes match"
        ),
    ] = Weights.share,
    timeout: Annotated[
        float, typer.Option(help="Wall-clock limit per worker process, seconds")
    ] = 300.0,
    memory_gb: Annotated[
        float | None, typer.Option(help="Memory limit per worker process, GiB")
    ] = None,
    keep_scratch: Annotated[
        bool, typer.Option(help="Keep the workers' scratch directories")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the verdict line")
    ] = False,
    timing: Annotated[
        bool,
        typer.Option(
            help="After a correct verdict, time the candidate against eager and torch.compile"
        ),
    ] = True,
    warm_cache: Annotated[
        bool, typer.Option(help="Do not flush the L2 cache between timed calls")
    ] = False,
    cuda_graph: Annotated[
        bool,
        typer.Option(help="Time CUDA-graph replays (no launch overhead) for every implementation"),
    ] = False,
    time_budget: Annotated[
        float, typer.Option(help="Seconds of timing before stopping short of the target interval")
    ] = 30.0,
    compile_baseline: Annotated[
        bool,
        typer.Option(help="Measure torch.compile as a baseline (always, unless you know why not)"),
    ] = True,
) -> None:
    """Judge CANDIDATE against PROBLEM: accepted (0), rejected (1), or could not judge (2)."""
    resolved, device_problem = resolve_device(device)
    why = device_problem
    overrides: list[Override] = []
    try:
        overrides = [Override.parse(s) for s in set_ or []]
    except ValueError as exc:
        why = f"--set: {exc}"
    for label, path in (("problem", problem), ("candidate", candidate)):
        if not path.is_file():
            why = f"the {label} file {path} does not exist"
    if why:
        verdict = _argument_error(problem, candidate, resolved, precision.value, why)
    else:
        limits = Limits(wall_seconds=timeout)
        if memory_gb is not None:
            limits = Limits(wall_seconds=timeout, memory_bytes=int(memory_gb * 2**30))
        config = CheckConfig(
            problem=problem.resolve(),
            candidate=candidate.resolve(),
            device=resolved,
            policy=POLICIES[precision.value],
            overrides=tuple(overrides),
            seed=seed,
            weights=weights.value,
            limits=limits,
            keep_scratch=keep_scratch,
            timing=_timing_options(warm_cache, cuda_graph, time_budget, compile_baseline)
            if timing
            else None,
        )
        if quiet:
            verdict = check(config)
        else:
            with err.status("judging…") as status:
                verdict = check(config, progress=lambda m: status.update(f"judging: {m}"))
    if json_path is not None:
        verdict.write_json(json_path)
    if quiet:
        reasons = "; ".join(f"{r.check}: {r.detail.splitlines()[0]}" for r in verdict.reasons)
        speed = "; ".join(f"{n}: {s['summary']}" for n, s in (verdict.speedup or {}).items())
        out.print(
            f"{verdict.verdict}"
            + (f" ({reasons})" if reasons else "")
            + (f" [{speed}]" if speed else ""),
            soft_wrap=True,
        )
    else:
        render_verdict(verdict, out)
    raise typer.Exit(verdict.exit_code)


def _timing_options(
    warm_cache: bool, cuda_graph: bool, budget: float, compile_baseline: bool
) -> TimingOptions:
    return TimingOptions(
        flush_l2=not warm_cache,
        cuda_graph=cuda_graph,
        budget_seconds=budget,
        compile_baseline=compile_baseline,
    )


@app.command("bench")
def bench_command(
    problem: Annotated[Path, typer.Argument(help="KernelBench-format problem file")],
    device: Annotated[
        Device, typer.Option(help="Where to run: auto picks cuda when present")
    ] = Device.auto,
    precision: Annotated[
        Precision, typer.Option(help="Precision policy (selects the matrix rate of the floor)")
    ] = Precision.strict,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the measurement as JSON to this file")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a size global: NAME=VALUE (repeatable)"),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Master seed for the timing inputs")] = None,
    warm_cache: Annotated[
        bool, typer.Option(help="Do not flush the L2 cache between timed calls")
    ] = False,
    cuda_graph: Annotated[bool, typer.Option(help="Time CUDA-graph replays")] = False,
    time_budget: Annotated[
        float, typer.Option(help="Seconds of timing before stopping short of the target interval")
    ] = 30.0,
    remeasure_peaks: Annotated[
        bool, typer.Option(help="Measure the device's peaks again instead of using the cache")
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="Wall-clock limit of the worker process, seconds")
    ] = 600.0,
) -> None:
    """Baselines of PROBLEM: eager and torch.compile times, flops, bytes, the speed-of-light floor."""
    from kernelswarm.bench import run_bench
    from kernelswarm.report.console import render_timing

    resolved, why = resolve_device(device)
    try:
        overrides = [Override.parse(s) for s in set_ or []]
    except ValueError as exc:
        why = f"--set: {exc}"
    if not problem.is_file():
        why = f"the problem file {problem} does not exist"
    if why:
        err.print(f"[red]cannot measure:[/red] {why}")
        raise typer.Exit(2)
    options = replace(
        _timing_options(warm_cache, cuda_graph, time_budget, True), remeasure_peaks=remeasure_peaks
    )
    with err.status("measuring…") as status:
        result, problems, versions = run_bench(
            problem.resolve(), resolved, POLICIES[precision.value], [(o.name, o.value) for o in overrides],
            options, Limits(wall_seconds=timeout), seed, lambda m: status.update(f"measuring: {m}"),
        )  # fmt: skip
    if result is None:
        for reason in problems:
            err.print(f"[red]{reason.check}[/red]: {reason.detail}")
        raise typer.Exit(2)
    data = result.to_dict()
    data["versions"] = versions
    data["problem"] = str(problem)
    render_timing(data, out)
    if json_path is not None:
        json_path.write_text(json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n")
    raise typer.Exit(0)


@app.command("suite")
def suite_command(
    root: Annotated[
        Path, typer.Argument(help="Folder of problem files (level1/ ... subfolders are levels)")
    ],
    solutions: Annotated[
        Path | None, typer.Option(help="Folder of candidates, matched to problems by name")
    ] = None,
    device: Annotated[Device, typer.Option(help="Where to run")] = Device.auto,
    policy: Annotated[
        Precision,
        typer.Option(
            help="Precision policy; kernelbench also runs strict and counts wrong acceptances"
        ),
    ] = Precision.strict,
    sizes: Annotated[
        str, typer.Option(help="auto: the problems' declared CPU sizes on the CPU; full; cpu")
    ] = "auto",
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a size global in every problem: NAME=VALUE"),
    ] = None,
    timing: Annotated[
        bool, typer.Option(help="Measure times (baselines, or candidates' speedups)")
    ] = True,
    time_budget: Annotated[float, typer.Option(help="Seconds of timing per problem")] = 10.0,
    warm_cache: Annotated[
        bool, typer.Option(help="Do not flush the L2 cache between timed calls")
    ] = False,
    jobs: Annotated[
        int,
        typer.Option(help="Problems handled at once (timing is still one at a time per device)"),
    ] = 1,
    db: Annotated[Path, typer.Option(help="Results database (SQLite)")] = Path("kernelswarm.db"),
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write every entry and the summary as JSON")
    ] = None,
    only: Annotated[str, typer.Option(help="Only problems whose path contains this text")] = "",
    limit: Annotated[int, typer.Option(help="At most this many problems (0: all)")] = 0,
    timeout: Annotated[
        float, typer.Option(help="Wall-clock limit per worker process, seconds")
    ] = 900.0,
) -> None:
    """Baselines of every problem in ROOT, or, with --solutions, a judged and timed scoreboard."""
    from dataclasses import asdict

    from kernelswarm.report.console import render_suite
    from kernelswarm.store import Store
    from kernelswarm.suite import SuiteConfig, SuiteEntry, run_suite, summarise

    resolved, why = resolve_device(device)
    if not root.is_dir():
        why = f"{root} is not a folder"
    if solutions is not None and not solutions.is_dir():
        why = f"--solutions {solutions} is not a folder"
    if sizes not in ("auto", "full", "cpu"):
        why = f"--sizes must be auto, full or cpu, not {sizes!r}"
    try:
        overrides = tuple(Override.parse(s) for s in set_ or [])
    except ValueError as exc:
        why = f"--set: {exc}"
    if why:
        err.print(f"[red]cannot run the suite:[/red] {why}")
        raise typer.Exit(2)
    config = SuiteConfig(
        root=root,
        device=resolved,
        solutions=solutions,
        policy=policy.value,
        sizes=sizes,
        overrides=overrides,
        timing=_timing_options(warm_cache, False, time_budget, True) if timing else None,
        jobs=jobs,
        limits=Limits(wall_seconds=timeout),
        only=only,
        limit=limit,
    )
    store = Store(db)

    finished: list[SuiteEntry] = []

    def write_json(entries: list[SuiteEntry]) -> None:
        if json_path is None:
            return
        data = {
            "entries": [
                {
                    **{k: v for k, v in asdict(e).items() if k not in ("timing", "also")},
                    "timing": e.timing,
                }
                for e in entries
            ],
            "summary": [asdict(s) for s in summarise(entries)],
        }
        json_path.write_text(json.dumps(json_safe(data), indent=2, default=str) + "\n")

    def progress(entry: SuiteEntry, done: int, total: int) -> None:
        finished.append(entry)
        write_json(finished)  # as results arrive: an interrupted suite keeps what it measured
        speed = ""
        if entry.speedup_eager is not None:
            speed = f" {entry.speedup_eager:.3g}x eager, {entry.speedup_compile or float('nan'):.3g}x compile"
        why = (
            f" ({entry.reasons[0][:140]})"
            if entry.reasons and entry.verdict not in ("accepted",)
            else ""
        )
        err.print(
            f"[{done}/{total}] {entry.problem.level}/{entry.problem.name}: {entry.verdict}{speed}{why}"
        )

    entries = run_suite(config, store, progress)
    store.close()
    summaries = summarise(entries)
    render_suite(entries, summaries, out)
    out.print(f"results stored in {db}")
    write_json(entries)
    raise typer.Exit(0)


@app.command("lint")
def lint_command(
    root: Annotated[Path, typer.Argument(help="A problem file, or a folder of them")],
    device: Annotated[Device, typer.Option(help="Where to run the checks")] = Device.cpu,
    sizes: Annotated[
        str,
        typer.Option(
            help="auto: declared CPU sizes on the CPU, else the default halved to fit; full"
        ),
    ] = "auto",
    jobs: Annotated[int, typer.Option(help="Problems checked at once")] = 1,
    only: Annotated[str, typer.Option(help="Only problems whose path contains this text")] = "",
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the findings as JSON")
    ] = None,
) -> None:
    """Report the problems that cannot be judged well: near-constant or insensitive outputs,
    inputs or weights without effect, overhead-bound or too-large sizes. Exit 1 if any."""
    from dataclasses import asdict

    from rich.table import Table

    from kernelswarm.lint import Linter
    from kernelswarm.suite import discover

    resolved, why = resolve_device(device)
    if why:
        err.print(why)
        raise typer.Exit(2)
    paths = [root.resolve()] if root.is_file() else [p.path for p in discover(root, only)]
    if not paths:
        err.print(f"no problem files under {root}")
        raise typer.Exit(2)
    linter = Linter(resolved, sizes)
    results = []
    with err.status("linting…") as status, ThreadPoolExecutor(max(1, jobs)) as pool:
        for i, result in enumerate(pool.map(linter.lint, paths), start=1):
            status.update(f"linting: {i}/{len(paths)} done")
            results.append(result)
            if result.findings:
                err.print(
                    f"{Path(result.problem).name}: {', '.join(f.kind for f in result.findings)}"
                )
    table = Table(
        title=f"lint: {len(paths)} problems, {sum(1 for r in results if r.findings)} with findings"
    )
    for col in ("problem", "findings", "checked at", "H100 floor"):
        table.add_column(col)
    for r in results:
        if not r.findings:
            continue
        floor = r.default_floor_h100_seconds
        table.add_row(
            Path(r.problem).name,
            "\n".join(f"{f.kind}: {f.detail}" for f in r.findings),
            " ".join(r.checked_at) or "default",
            "-" if floor is None else f"{floor * 1e6:.3g} µs",
        )
    out.print(table)
    if json_path is not None:
        json_path.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    raise typer.Exit(1 if any(r.findings for r in results) else 0)


@app.command("optimize")
def optimize_command(
    problem: Annotated[Path, typer.Argument(help="KernelBench-format problem file")],
    swarm: Annotated[
        Path | None,
        typer.Option(help="Swarm file (TOML); without it, the offline built-in generators"),
    ] = None,
    device: Annotated[Device, typer.Option(help="Where to run")] = Device.auto,
    precision: Annotated[
        Precision, typer.Option(help="Precision policy candidates are judged under")
    ] = Precision.strict,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a size global: NAME=VALUE")
    ] = None,
    rounds: Annotated[
        int | None, typer.Option(help="Rounds (overrides the swarm file's budget)")
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for the winner and every candidate")
    ] = Path("kernelswarm-out"),
    db: Annotated[Path, typer.Option(help="Results database (SQLite)")] = Path("kernelswarm.db"),
    resume: Annotated[
        bool, typer.Option(help="Continue the last interrupted run of this problem and swarm")
    ] = False,
    jobs: Annotated[
        int,
        typer.Option(help="Candidates compiled and checked at once (timing stays one at a time)"),
    ] = 2,
    time_budget: Annotated[float, typer.Option(help="Seconds of timing per candidate")] = 10.0,
    timeout: Annotated[
        float, typer.Option(help="Wall-clock limit per worker process, seconds")
    ] = 600.0,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the result as JSON")
    ] = None,
) -> None:
    """Generate candidates with a swarm, judge and time every one, keep the fastest correct one."""
    from dataclasses import asdict
    from dataclasses import replace as dc_replace

    from rich.table import Table

    from kernelswarm.store import Store
    from kernelswarm.swarm import Supervisor, SwarmFileError, default_swarm, load_swarm

    resolved, why = resolve_device(device)
    if not problem.is_file():
        why = f"the problem file {problem} does not exist"
    try:
        overrides = tuple(Override.parse(s) for s in set_ or [])
        config = load_swarm(swarm) if swarm is not None else default_swarm()
    except (ValueError, SwarmFileError) as exc:
        why = str(exc)
    if why:
        err.print(f"[red]cannot optimize:[/red] {why}")
        raise typer.Exit(2)
    if rounds is not None:
        config = dc_replace(config, budget=dc_replace(config.budget, rounds=rounds))
    store = Store(db)
    supervisor = Supervisor(
        problem.resolve(), config, resolved, POLICIES[precision.value], overrides, store, out_dir,
        _timing_options(False, False, time_budget, True), Limits(wall_seconds=timeout), jobs, resume,
        progress=lambda m: err.print(f"[dim]{m}[/dim]"),
    )  # fmt: skip
    try:
        result = supervisor.run()
    except KeyboardInterrupt:
        err.print(f"[yellow]interrupted: finished work is in {db}; continue with --resume[/yellow]")
        raise typer.Exit(130) from None
    except RuntimeError as exc:
        err.print(f"[red]cannot optimize:[/red] {exc}")
        raise typer.Exit(2) from None
    finally:
        store.close()
    table = Table(
        title=f"{len(result.attempts)} attempts ({result.stopped_because})", title_justify="left"
    )
    for col in (
        "round",
        "generator",
        "what",
        "verdict",
        "time",
        "vs eager",
        "vs compile",
        "% SOL",
        "why",
    ):
        table.add_column(col)
    for a in result.attempts:
        table.add_row(
            str(a.round), a.generator, a.label or (Path(a.candidate_path).name if a.candidate_path else "-"),
            a.verdict, "-" if a.seconds is None else f"{a.seconds * 1e3:.4g} ms",
            "-" if not a.speedup_eager else f"{a.speedup_eager['median']:.3g}x",
            "-" if not a.speedup_compile else f"{a.speedup_compile['median']:.3g}x",
            "-" if a.sol_fraction is None else f"{100 * a.sol_fraction:.3g}%",
            (a.reasons[0][:100] if a.reasons else ""),
        )  # fmt: skip
    out.print(table)
    base = ", ".join(f"{k} {v * 1e3:.4g} ms" for k, v in result.baselines.items())
    out.print(
        f"baselines: {base}; tokens {result.tokens}, cost ${result.dollars:.4f}, {result.elapsed_seconds:.0f} s"
    )
    if result.winner is not None:
        out.print(f"[bold green]winner[/bold green]: {result.winner_path} "
                  f"({result.winner.speedup_over_best_baseline:.3g}x over the faster baseline)")  # fmt: skip
    else:
        out.print(
            f"[bold yellow]no faster kernel found[/bold yellow]: {result.winner_path} is the best baseline ({result.fallback})"
        )
    if json_path is not None:
        json_path.write_text(json.dumps(json_safe(asdict(result)), indent=2) + "\n")
    raise typer.Exit(0)


@app.command("selftest")
def selftest_command(
    examples: Annotated[
        Path,
        typer.Argument(help="Folder of example candidates that declare their expected verdicts"),
    ] = Path("examples"),
    device: Annotated[
        Device, typer.Option(help="Device for the examples that do not name one")
    ] = Device.auto,
    slow: Annotated[bool, typer.Option(help="Include examples that compile C++ or CUDA")] = True,
    only: Annotated[
        str | None, typer.Option(help="Only examples whose path contains this text")
    ] = None,
    jobs: Annotated[
        int, typer.Option(help="Examples judged at once (each in its own processes)")
    ] = 1,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write the outcomes as JSON")
    ] = None,
) -> None:
    """Run the example catalogue and show that the judge says what each example expects."""
    from rich.table import Table

    from kernelswarm.catalog import discover, run_example

    resolved, problem = resolve_device(device)
    if problem:
        err.print(problem)
        raise typer.Exit(2)
    runs = [
        r
        for r in discover(examples)
        if (slow or not r.slow) and (only is None or only in str(r.candidate))
    ]
    runs = [r for r in runs if r.device in (None, resolved)]
    for r in [r for r in runs if r.missing]:
        err.print(f"skipping {r.label}: needs {', '.join(r.missing)}")
    runs = [r for r in runs if not r.missing]
    if not runs:
        err.print(f"no runnable examples under {examples}")
        raise typer.Exit(2)
    table = Table(title=f"kernelswarm selftest on {resolved}")
    for col in ("example", "expected", "got", "ok", "reasons"):
        table.add_column(col)
    failures = 0
    outcomes = []
    with err.status("selftest…") as status, ThreadPoolExecutor(max(1, jobs)) as pool:
        for i, outcome in enumerate(pool.map(lambda r: run_example(r, resolved), runs), start=1):
            status.update(f"selftest {i}/{len(runs)} done")
            outcomes.append(outcome)
            failures += not outcome.ok
            run = outcome.run
            expected = run.verdict + (f" ({'|'.join(run.checks)})" if run.checks else "")
            table.add_row(
                run.label,
                expected,
                outcome.verdict,
                "✓" if outcome.ok else "✗",
                outcome.detail[:200],
            )
    out.print(table)
    if json_path is not None:
        rows = [{"example": o.run.label, "expected": o.run.verdict, "expected_checks": list(o.run.checks),
                 "verdict": o.verdict, "checks": list(o.checks), "ok": o.ok, "seconds": o.seconds,
                 "detail": o.detail} for o in outcomes]  # fmt: skip
        json_path.write_text(json.dumps(rows, indent=2))
    out.print(f"{len(runs) - failures} of {len(runs)} examples judged as expected")
    raise typer.Exit(1 if failures else 0)


@app.command("checks")
def checks_command() -> None:
    """List every check the judge runs."""
    render_checks(out)


@app.command("version")
def version_command() -> None:
    """Print the version."""
    out.print(f"kernelswarm {__version__}")


def main() -> None:
    app(prog_name="kernelswarm")


if __name__ == "__main__":
    main()
