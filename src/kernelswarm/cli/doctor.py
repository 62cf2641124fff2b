"""``kernelswarm doctor``: which protections a worker gets on this machine, and what else is here."""

from __future__ import annotations

import platform
import sys

import typer
from rich.table import Table
from rich.text import Text

from kernelswarm import __version__, cuda_ipc
from kernelswarm.cli import options as opt
from kernelswarm.judge.protections import available


def doctor_command() -> None:
    """List the protections active here (exit 1 if any is missing: untrusted candidates are then
    refused unless --unconfined), and the versions the judge runs with."""
    import torch

    protections = available()
    table = Table(title="Confinement of worker processes on this machine", title_justify="left")
    for col in ("protection", "active", "detail"):
        table.add_column(col)
    for name, active, detail in protections.lines():
        table.add_row(name, "✓" if active else "✗", Text(detail))
    opt.out.print(table)
    for problem in protections.problems:
        opt.out.print(Text(f"missing: {problem}", style="red"))
    cuda = torch.cuda.is_available()
    opt.out.print(
        f"kernelswarm {__version__}, Python {platform.python_version()}, torch {torch.__version__}, "
        f"{'CUDA ' + str(torch.version.cuda) + ' on ' + torch.cuda.get_device_name() if cuda else 'no CUDA device'}, "
        f"{sys.platform}",
        markup=False,
    )
    if cuda:
        opt.out.print(f"GPU tensors towards the judge: {cuda_ipc.describe()}", markup=False)
    if not protections.complete:
        opt.out.print(
            "untrusted candidates are refused here unless --unconfined is given", style="yellow"
        )
    raise typer.Exit(0 if protections.complete else 1)
