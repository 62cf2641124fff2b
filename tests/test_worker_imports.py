"""The sandboxed worker imports only the standard library, torch and numpy."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO

FORBIDDEN = (
    "typer",
    "rich",
    "jinja2",
    "matplotlib",
    "openai",
    "anthropic",
    "httpx",
    "ray",
    "click",
)


def test_worker_modules_import_nothing_else():
    code = (
        "import sys\n"
        "import kernelswarm.worker.main, kernelswarm.worker.candidate, kernelswarm.worker.reference\n"
        f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.strip() == "", f"the worker imported {out.stdout.strip()}"
