"""``kernelswarm checks`` and ``kernelswarm version``."""

from __future__ import annotations

from kernelswarm import __version__
from kernelswarm.cli.options import out
from kernelswarm.report.verdict import render_checks


def checks_command() -> None:
    """List every check the judge runs."""
    render_checks(out)


def version_command() -> None:
    """Print the version."""
    out.print(f"kernelswarm {__version__}")
