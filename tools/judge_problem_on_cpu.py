"""Judge a problem file against itself on the CPU, at its KERNELSWARM_CPU_SIZES.

The problem's own Model is the candidate, so the verdict should be ``accepted``; anything else
says the problem is unusable (``strength``: outputs too weak; ``determinism``: randomness).
Usage: python tools/judge_problem_on_cpu.py problems/level2/<file>.py  (kernelswarm lint does more)
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tempfile
from pathlib import Path

PYTHON = sys.executable
CANDIDATE = """import importlib.util
_spec = importlib.util.spec_from_file_location("_reference_problem", r"{path}")
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
ModelNew = _module.Model
"""


def cpu_sizes(path: Path) -> dict:
    """The top-level KERNELSWARM_CPU_SIZES literal, read without running the file."""
    for node in ast.parse(path.read_text(), filename=str(path)).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "KERNELSWARM_CPU_SIZES" for t in node.targets
        ):
            return dict(ast.literal_eval(node.value))
    return {}


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    problem = Path(sys.argv[1]).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / "candidate.py"
        candidate.write_text(CANDIDATE.format(path=problem))
        cmd = [PYTHON, "-m", "kernelswarm", "check", str(problem), str(candidate),
               "--device", "cpu", "--no-timing", "-q"]  # fmt: skip
        for name, value in cpu_sizes(problem).items():
            cmd += ["--set", f"{name}={value!r}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
