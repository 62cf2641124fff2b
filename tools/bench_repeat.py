"""Run one problem's `bench` several times and measure how well the intervals hold across runs:
the share of ordered pairs of runs (i, j) where run j's median lies in run i's 95% interval.

    PYTHONPATH=src python3 tools/bench_repeat.py problems/level1/8_gelu.py --runs 10 --out $OUT

Intervals that hold across runs come out near the 83% two independent estimates of one quantity
share (each median inside the other's 95% interval); intervals from correlated samples, far less.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("problem")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--time-budget", default="10")
    parser.add_argument("--out", type=Path, default=Path("bench-repeat"))
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    runs = []
    for i in range(args.runs):
        path = args.out / f"bench_{i}.json"
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "kernelswarm", "bench", args.problem, "--device", args.device,
             "--time-budget", args.time_budget, "--json", str(path), *args.extra],
            capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode != 0:
            print(f"run {i} failed: {done.stderr[-400:]}", flush=True)
            continue
        data = json.loads(path.read_text())
        runs.append(
            {n: (t["median"], t["low"], t["high"]) for n, t in data["implementations"].items()}
        )
        print(f"run {i}: {time.monotonic() - started:.0f} s "
              + ", ".join(f"{n} {m * 1e3:.4f} ms [{lo * 1e3:.4f}, {hi * 1e3:.4f}]" for n, (m, lo, hi) in runs[-1].items()),
              flush=True)  # fmt: skip
    summary = {}
    for name in runs[0] if runs else []:
        pairs = hits = 0
        for i, a in enumerate(runs):
            for j, b in enumerate(runs):
                if i != j and name in a and name in b:
                    pairs += 1
                    hits += a[name][1] <= b[name][0] <= a[name][2]
        medians = [r[name][0] for r in runs if name in r]
        summary[name] = {
            "runs": len(medians),
            "covered_pairs": hits,
            "pairs": pairs,
            "coverage": hits / pairs if pairs else None,
            "spread_of_medians": (max(medians) - min(medians)) / min(medians) if medians else None,
            "mean_relative_halfwidth": sum((r[name][2] - r[name][1]) / (2 * r[name][0]) for r in runs if name in r) / len(medians),
        }  # fmt: skip
    (args.out / "summary.json").write_text(
        json.dumps({"problem": args.problem, "summary": summary, "runs": runs}, indent=2)
    )
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
