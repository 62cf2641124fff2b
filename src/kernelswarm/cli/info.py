"""``kernelswarm checks``, ``kernelswarm schema`` and ``kernelswarm version``."""

from __future__ import annotations

import sys

import typer

from kernelswarm import __version__
from kernelswarm.cli.options import out
from kernelswarm.report.verdict import render_checks


def checks_command() -> None:
    """List every check the judge runs."""
    render_checks(out)


def schema_command() -> None:
    """Print the swarm file's JSON Schema (for editors and other tools)."""
    from kernelswarm.search.swarm_schema import json_schema

    sys.stdout.write(json_schema())


def version_command() -> None:
    """Print the version."""
    out.print(f"kernelswarm {__version__}", markup=False)


def version_option(value: bool) -> None:
    """``--version``: the version, then exit."""
    if value:
        version_command()
        raise typer.Exit(0)
