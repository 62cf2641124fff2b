"""The command line: one Typer app, one module per command."""

from __future__ import annotations

import signal
from typing import Annotated

import typer

from kernelswarm.cli.bench import bench_command
from kernelswarm.cli.check import check_command
from kernelswarm.cli.doctor import doctor_command
from kernelswarm.cli.export import export_command
from kernelswarm.cli.info import checks_command, schema_command, version_command, version_option
from kernelswarm.cli.lint import lint_command
from kernelswarm.cli.optimize import optimize_command
from kernelswarm.cli.report import report_command
from kernelswarm.cli.runs import app as runs_app
from kernelswarm.cli.selftest import selftest_command
from kernelswarm.cli.suite import suite_command

app = typer.Typer(
    no_args_is_help=True,
    help="Make PyTorch modules faster with generated kernels, judged so the numbers hold up.",
)


@app.callback()
def _common(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_option, is_eager=True, help="Print the version and exit"
        ),
    ] = False,
) -> None:
    """Make PyTorch modules faster with generated kernels, judged so the numbers hold up."""


app.command("check")(check_command)
app.command("bench")(bench_command)
app.command("suite")(suite_command)
app.command("lint")(lint_command)
app.command("optimize")(optimize_command)
app.command("selftest")(selftest_command)
app.command("checks")(checks_command)
app.command("doctor")(doctor_command)
app.command("version")(version_command)
app.command("schema")(schema_command)
app.add_typer(runs_app, name="runs")
app.command("report")(report_command)
app.command("export")(export_command)


def main() -> None:
    # SIGTERM ends a run as Ctrl-C does: workers closed, scratch folders removed, finished work kept
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    app(prog_name="kernelswarm")
