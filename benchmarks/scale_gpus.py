"""Candidates judged per minute against the number of GPUs (issue 12), same candidate files.

    python3 benchmarks/scale_gpus.py [--root problems] [--gpus 0 0,1 0,1,2,3] [--limit N]

For every problem under ROOT a stand-in candidate is written (the problem's own ``Model`` renamed
``ModelNew``: what a real candidate costs the judge, without a kernel); then ``kernelswarm suite
ROOT --solutions ...`` judges and times all of them once per GPU set, each in a fresh database.
Prints one markdown row per GPU set: seconds, candidates judged, candidates per minute, and the
speed-up over one GPU; writes ``OUT/scale_gpus.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def stand_ins(root: Path, folder: Path, limit: int) -> int:
    """One candidate per problem file (matched by name), the problem itself as ModelNew."""
    count = 0
    for problem in sorted(root.rglob("*.py")):
        text = problem.read_text()
        if "class Model" not in text or "def get_inputs" not in text:
            continue
        target = folder / problem.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(re.sub(r"\bModel\b", "ModelNew", text))
        count += 1
        if limit and count >= limit:
            break
    return count


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=Path("problems"))
    ap.add_argument("--gpus", nargs="+", default=["0", "0,1", "0,1,2,3"])
    ap.add_argument("--limit", type=int, default=0, help="at most this many problems (0: all)")
    ap.add_argument("--time-budget", type=float, default=2.0)
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "/tmp/scale_gpus")))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    import torch

    available = torch.cuda.device_count()
    sets = [g for g in args.gpus if max(int(i) for i in g.split(",")) < available]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        solutions = Path(tmp) / "solutions"
        n = stand_ins(args.root, solutions, args.limit)
        print(f"{n} stand-in candidates; {available} GPU(s) here\n")
        print("| GPUs | seconds | judged | per minute | vs one GPU |")
        print("|---|---|---|---|---|")
        for gpus in sets:
            db, result = Path(tmp) / f"{gpus}.db", args.out / f"suite_{gpus.replace(',', '_')}.json"
            cmd = [sys.executable, "-m", "kernelswarm", "suite", str(args.root), "--solutions",
                   str(solutions), "--device", "cuda", "--gpus", gpus, "--time-budget",
                   str(args.time_budget), "--db", str(db), "--json", str(result), "--quiet",
                   "--html", str(args.out / f"report_{gpus.replace(',', '_')}.html")]  # fmt: skip
            if args.limit:
                cmd += ["--limit", str(args.limit)]
            start = time.monotonic()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            seconds = time.monotonic() - start
            judged = 0
            if result.exists():
                entries = json.loads(result.read_text())["entries"]
                judged = sum(e["verdict"] in ("accepted", "rejected") for e in entries)
            rate = 60 * judged / seconds if seconds else 0.0
            base = rows[0]["per_minute"] if rows else rate
            rows.append({"gpus": gpus, "seconds": round(seconds, 1), "judged": judged,
                         "per_minute": round(rate, 2), "exit": proc.returncode})  # fmt: skip
            print(
                f"| {gpus} | {seconds:.0f} | {judged} | {rate:.2f} | {rate / base:.2f}x |",
                flush=True,
            )
            if proc.returncode != 0:
                print(f"    exit {proc.returncode}: {proc.stderr[-600:]}")
    (args.out / "scale_gpus.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
