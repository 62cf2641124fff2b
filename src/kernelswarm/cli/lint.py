"""``kernelswarm lint DIR``: the problems that cannot be judged well, and why (exit 1 if any)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from kernelswarm.cli import options as opt
from kernelswarm.lint import Linter
from kernelswarm.report.tables import render_lint
from kernelswarm.suite import discover


def lint_command(
    root: Annotated[Path, typer.Argument(help="A problem file, or a folder of them")],
    device: Annotated[opt.Device, typer.Option(help="Where to run the checks")] = opt.Device.cpu,
    sizes: Annotated[
        str,
        typer.Option(
            help="auto: declared CPU sizes on the CPU, else the default halved to fit; full"
        ),
    ] = "auto",
    jobs: Annotated[int, typer.Option(help="Problems checked at once")] = 1,
    only: opt.OnlyOption = "",
    json_path: opt.JsonOption = None,
) -> None:
    """Report the problems that cannot be judged well: near-constant or insensitive outputs,
    inputs or weights without effect, overhead-bound or too-large sizes. Exit 1 if any."""
    resolved, why = opt.resolve_device(device)
    why = why or opt.unwritable(None, json_path)  # said before anything runs
    if why:
        raise opt.fail("cannot lint", why)
    paths = [root.resolve()] if root.is_file() else [p.path for p in discover(root, only)]
    if not paths:
        raise opt.fail("cannot lint", f"no problem files under {root}")
    linter = Linter(resolved, sizes)
    results = []
    with opt.reporter("linting") as progress, ThreadPoolExecutor(max(1, jobs)) as pool:
        for i, result in enumerate(pool.map(linter.lint, paths), start=1):
            progress.advance(i, len(paths))
            results.append(result)
            if result.findings:
                opt.err.print(
                    Text(
                        f"{Path(result.problem).name}: {', '.join(f.kind for f in result.findings)}"
                    )
                )
    render_lint(results, opt.people(json_path))
    if json_path is not None:
        opt.write_json_to(results, json_path)
    raise typer.Exit(1 if any(r.findings for r in results) else 0)
