"""The CUDA examples of the catalogue one at a time, each with its time and verdict (a slow or
stuck one shows at once, where tests/test_gpu.py reports only at the end).

Run on the GPU machine:  PYTHONPATH=src python3 tools/gpu_examples.py [SECONDS_EACH]
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from kernelswarm.catalog import discover, run_example

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def main() -> None:
    limit = float(sys.argv[1]) if len(sys.argv) > 1 else 120.0
    for run in [r for r in discover(EXAMPLES) if r.device == "cuda"]:
        t0 = time.monotonic()
        try:
            o = run_example(run, device="cuda", timeout=limit)
            words = f"{'ok ' if o.ok else 'BAD'} {o.verdict}: {o.detail[:200]}"
        except subprocess.TimeoutExpired:
            words = f"TIMEOUT after {limit:g} s"
        print(f"{time.monotonic() - t0:6.1f} s  {run.label}  {words}", flush=True)


if __name__ == "__main__":
    main()
