"""What the commands share: options declared once, the consoles, device and --set handling."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from kernelswarm.judge.results import TimingOptions
from kernelswarm.problem import Override

if TYPE_CHECKING:
    from kernelswarm.cli.progress import Reporter
    from kernelswarm.judge.executor import Executor
    from kernelswarm.store import Store

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


DeviceOption = Annotated[Device, typer.Option(help="Where to run: auto picks cuda when present")]
PrecisionOption = Annotated[
    Precision,
    typer.Option(help="Precision policy; strict is the problem's own precision, TF32 off"),
]
SetOption = Annotated[
    list[str] | None, typer.Option("--set", help="Override a size global: NAME=VALUE (repeatable)")
]
JsonOption = Annotated[
    Path | None, typer.Option("--json", help="Write the result as JSON to this file")
]
SeedOption = Annotated[
    int | None, typer.Option(help="Master seed, to reproduce a run (fresh by default)")
]
TimeoutOption = Annotated[float, typer.Option(help="Wall-clock limit per worker process, seconds")]
TimeBudgetOption = Annotated[
    float, typer.Option(help="Seconds of timing before stopping short of the target interval")
]
WarmCacheOption = Annotated[
    bool, typer.Option(help="Do not flush the L2 cache between timed calls")
]
CudaGraphOption = Annotated[
    bool, typer.Option(help="Time CUDA-graph replays (no launch overhead) for every implementation")
]
UnconfinedOption = Annotated[
    bool,
    typer.Option(
        help="Judge even where this machine cannot confine a worker (no namespaces or Landlock): "
        "the candidate could then read what you can read. Said in the verdict.",
    ),
]
DbOption = Annotated[Path, typer.Option(help="Results database (SQLite)")]
HtmlOption = Annotated[
    Path | None,
    typer.Option("--html", help="Write the run's HTML report here (default: beside the results)"),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress; only the result")]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Every progress message, each on its own line")
]
GpusOption = Annotated[
    str | None,
    typer.Option(help="GPUs to judge on, e.g. 0,1 (default: every visible GPU, one judge each)"),
]


class ExecutorKind(StrEnum):
    local = "local"
    ray = "ray"


ExecutorOption = Annotated[
    ExecutorKind,
    typer.Option(
        "--executor", help="Where checks run: this host, or a Ray cluster (kernelswarm[ray])"
    ),
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(help="Ray cluster to join (default: start one on this host, or RAY_ADDRESS)"),
]
OnlyOption = Annotated[str, typer.Option(help="Only problems whose path contains this text")]


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


def parse_overrides(
    values: list[str] | None, problem: Path | None = None
) -> tuple[tuple[Override, ...], str | None]:
    """The --set overrides, or why they cannot be used (a name the problem file does not
    define is a mistake of the command line, said before anything runs)."""
    from kernelswarm.problem import settable_globals

    try:
        overrides = tuple(Override.parse(v) for v in values or [])
    except ValueError as exc:
        return (), f"--set: {exc}"
    names = settable_globals(problem) if problem is not None and problem.is_file() else None
    unknown = [o.name for o in overrides if names is not None and o.name not in names]
    if unknown:
        return (), (
            f"--set {unknown[0]}: {problem} defines no global {unknown[0]!r}; it can set "
            + (", ".join(sorted(names or [])) or "nothing")
        )
    return overrides, None


def timing_options(
    warm_cache: bool = False,
    cuda_graph: bool = False,
    budget: float = 30.0,
    compile_baseline: bool = True,
    remeasure_peaks: bool = False,
) -> TimingOptions:
    return TimingOptions(
        flush_l2=not warm_cache,
        cuda_graph=cuda_graph,
        budget_seconds=budget,
        compile_baseline=compile_baseline,
        remeasure_peaks=remeasure_peaks,
    )


def executor(
    kind: ExecutorKind, device: str, gpus: str | None, jobs: int, address: str | None, what: str
) -> Executor:
    """The executor the options ask for, or a clear failure (exit status 2)."""
    from kernelswarm.judge.executor import make_executor

    if address is not None and kind is not ExecutorKind.ray:
        raise fail(what, "--ray-address needs --executor ray")
    if gpus is not None and not device.startswith("cuda"):
        raise fail(what, f"--gpus chooses GPUs, but the device is {device}")
    try:
        return make_executor(
            kind.value, device, gpus, jobs, address,
            lambda m: err.print(Text(m, style="dim")),
        )  # fmt: skip
    except (ValueError, RuntimeError, ConnectionError) as exc:  # a bad --gpus, Ray absent or down
        raise fail(what, str(exc)) from None


def open_store(db: Path, what: str) -> Store:
    """The results database, or a clear failure (exit status 2) with nothing written."""
    from kernelswarm.store import Store, StoreError

    try:
        return Store(db)
    except (StoreError, RuntimeError) as exc:  # not a database, another program's, newer schema
        raise fail(what, str(exc)) from None


def unwritable(folder: Path | None, json_path: Path | None = None) -> str | None:
    """Why results could not be written where asked (checked before anything is measured)."""
    import tempfile

    for place, words in (
        (folder, "--out"),
        (json_path.parent if json_path and str(json_path) != "-" else None, "--json"),
    ):
        if place is None:
            continue
        try:
            place.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=place):
                pass
        except OSError as exc:
            return f"{words}: cannot write in {place} ({exc.strerror or exc})"
    return None


def reporter(what: str, quiet: bool = False, verbose: bool = False) -> Reporter:
    """Progress on standard error: live on a terminal, plain lines every few seconds otherwise."""
    from kernelswarm.cli.progress import Reporter

    return Reporter(err, what, quiet, verbose)


def write_json_to(data: object, json_path: Path) -> None:
    """``--json FILE`` (or ``-``: standard output), with an unwritable place said, not raised."""
    from kernelswarm.judge.verdict import write_json

    try:
        write_json(data, json_path)
    except OSError as exc:
        raise fail("cannot write the JSON", f"{json_path}: {exc.strerror or exc}") from None


def html_report(db: Path, run_id: int, html: Path | None) -> None:
    """The run's HTML report, written at the end of a run (a failure to write it is said, and
    the run's results stand: they are in the database)."""
    from kernelswarm.report.html import write_report

    target = html or Path(f"kernelswarm-run{run_id}.html")
    try:
        write_report(db, run_id, target)
    except (OSError, RuntimeError, ValueError) as exc:
        err.print(f"the HTML report was not written ({exc}); `kernelswarm report {run_id}` "
                  "can write it later", style="yellow", markup=False)  # fmt: skip
        return
    err.print(f"report: {target}", markup=False)


def people(json_path: Path | None) -> Console:
    """Where tables and summaries go: standard output, or standard error when ``--json -``
    writes the JSON there (so that the JSON stays a document a program can read)."""
    return err if json_path is not None and str(json_path) == "-" else out


def fail(what: str, why: str) -> typer.Exit:
    """Say why a command cannot run (exit status 2)."""
    err.print(f"[red]{what}:[/red] ", end="")
    err.print(why, markup=False, soft_wrap=True)  # never broken mid-path: a user copies it
    return typer.Exit(2)
