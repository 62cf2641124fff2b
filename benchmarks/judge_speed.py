"""Time to a verdict, with peak host and GPU memory, for KernelBench problems at their own sizes;
and, for the same candidate files, KernelBench's own evaluator in the same run.

    python3 benchmarks/judge_speed.py --kernelbench KB_CHECKOUT --out DIR \
        [--problems 19,23,...] [--candidate N=FILE ...] [--timing] [--kernelbench-eval]

KB_CHECKOUT is a KernelBench checkout beside the project (its files unchanged). A problem
without a candidate of its own is judged against itself (its ``Model`` renamed ``ModelNew``): a
stand-in that costs the judge what a real candidate costs, without a kernel. Memory is sampled
five times a second: the machine's host memory in use above what it was at the start (every
process: the judge, its workers, the evaluator) and the GPU's memory in use (nvidia-smi).
Writes ``DIR/judge_speed.json`` and one markdown row per run on standard output.

``--jobs N`` judges N problems at once where their inputs are small (under ``--small-gib``,
measured on the meta device: nothing allocated); larger ones run alone afterwards. Memory is then
each run's own: the host memory (RSS, libraries shared by its processes counted in each) and
GPU memory (nvidia-smi, per process) of its process tree — the judge and its workers — rather
than the machine's. ``--device cpu`` only tries the script out (on problems small enough).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path


def host_used() -> int:
    info = {}
    with open("/proc/meminfo") as fh:
        for line in fh:
            key, value = line.split(":", 1)
            info[key] = int(value.split()[0]) * 1024
    return info["MemTotal"] - info["MemAvailable"]


def gpu_used() -> int:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout  # fmt: skip
        return int(out.split()[0]) << 20
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return -1


def gpu_by_process() -> dict[str, int]:
    """GPU memory in use per process, named by its part: a worker by its role, else "judge"."""
    used: dict[str, int] = {}
    for pid, nbytes in gpu_by_pid().items():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        name = "judge"
        if b"--role" in argv:
            name = argv[argv.index(b"--role") + 1].decode()
        used[name] = used.get(name, 0) + nbytes
    return used


def _parents() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(entry.name)] = int(fields[1])
    return parents


def process_tree(root: int) -> set[int]:
    """``root`` and every process below it (the judge's confined workers included: their PID
    namespaces hide nothing from this one)."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in tree:
            tree.add(pid)
            todo += children.get(pid, [])
    return tree


def tree_host_bytes(pids: set[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return total


def gpu_by_pid() -> dict[int, int]:
    """GPU memory in use per process id (nvidia-smi)."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return {}
    used = {}
    for line in out.splitlines():
        try:
            pid, mib = (int(x) for x in line.split(","))
        except ValueError:
            continue
        used[pid] = used.get(pid, 0) + (mib << 20)
    return used


class Peaks:
    """Peak host memory (above the start) and GPU memory while a command runs: the machine's,
    or (``tree``) its process tree's alone (``own``: the command's process id, once it runs)."""

    def __init__(self, tree: bool = False) -> None:
        self.tree = tree
        self.base = host_used()
        self.host = 0
        self.gpu = 0
        self.parts: dict[str, int] = {}  # each part's peak GPU memory
        self.own: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            if self.tree:
                if self.own is None:  # not started yet
                    continue
                tree = process_tree(self.own)
                self.host = max(self.host, tree_host_bytes(tree))
                by_pid = gpu_by_pid()
                self.gpu = max(self.gpu, sum(by_pid.get(pid, 0) for pid in tree))
                continue
            self.host = max(self.host, host_used() - self.base)
            self.gpu = max(self.gpu, gpu_used())
            for name, used in gpu_by_process().items():
                self.parts[name] = max(self.parts.get(name, 0), used)

    def __enter__(self) -> Peaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Run:
    problem: str
    tool: str
    candidate: str
    seconds: float
    host_peak_gib: float
    gpu_peak_gib: float
    outcome: str
    phases: dict = field(default_factory=dict)
    detail: str = ""
    gpu_parts_gib: dict = field(default_factory=dict)


def self_candidate(problem: Path, folder: Path) -> Path:
    """The problem's own Model as ModelNew (every use of the name ``Model`` renamed)."""
    source = re.sub(r"\bModel\b", "ModelNew", problem.read_text())
    path = folder / f"self_{problem.name}"
    path.write_text(source)
    return path


def _run(
    cmd: list[str], limit: float, peaks: Peaks | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The command, killed after ``limit`` seconds (then exit status 124, as timeout(1) says);
    ``peaks`` (when it counts one process tree) is told the command's process id."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    if peaks is not None and peaks.tree:
        peaks.own = proc.pid
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)  # the judge and its workers
        out, _ = proc.communicate()
        return subprocess.CompletedProcess(cmd, 124, out or "", f"stopped after {limit:.0f} s")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def input_bytes(problem: Path) -> int | None:
    """The bytes of a problem's inputs, drawn on the meta device (nothing allocated); None where
    that cannot be told."""
    import importlib.util

    import torch

    try:
        spec = importlib.util.spec_from_file_location(f"kb_{problem.stem}", problem)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        with torch.device("meta"):
            inputs = module.get_inputs()
    except Exception:  # any problem whose inputs cannot be drawn on meta: treated as large
        return None
    return sum(x.numel() * x.element_size() for x in inputs if isinstance(x, torch.Tensor))


def judge(
    problem: Path,
    candidate: Path,
    out: Path,
    timing: bool,
    budget: float,
    limit: float,
    alone: bool = True,
    device: str = "cuda",
) -> Run:
    verdict_path = out / f"verdict_{problem.stem}_{candidate.stem}.json"
    cmd = [
        sys.executable, "-m", "kernelswarm", "check", str(problem), str(candidate),
        "--device", device, "--json", str(verdict_path), "-q",
    ]  # fmt: skip
    cmd += ["--time-budget", str(budget)] if timing else ["--no-timing"]
    memlog = out / f"memlog_{problem.stem}.txt"
    memlog.unlink(missing_ok=True)
    # the judge's own GPU memory, per event
    env = {**os.environ, "KERNELSWARM_MEMORY_LOG": str(memlog)}
    start = time.monotonic()
    with Peaks(tree=not alone) as peaks:
        proc = _run(cmd, limit, peaks, env)
    seconds = time.monotonic() - start
    outcome, phases, detail = f"exit {proc.returncode}", {}, proc.stderr[-400:]
    if proc.returncode == 124:
        verdict_path.unlink(missing_ok=True)
        outcome = "stopped"
    if verdict_path.exists():
        v = json.loads(verdict_path.read_text())
        outcome, phases = v["verdict"], v.get("phases") or {}
        detail = "; ".join(
            r["detail"][:160] if r["check"] != "harness" else r["detail"][-700:]
            for r in v.get("reasons", [])[:2]
        )
        for name, s in ((v.get("timing") or {}).get("speedups") or {}).items():
            detail += f" speedup vs {name}: {s.get('median')}"
    parts = {k: round(v / 2**30, 1) for k, v in peaks.parts.items()}
    return Run(problem.name, "kernelswarm", candidate.name, round(seconds, 1),
               round(peaks.host / 2**30, 2), round(peaks.gpu / 2**30, 2), outcome, phases, detail,
               parts)  # fmt: skip


KB_EVAL = r"""
import sys, json, time, torch
sys.path[:0] = sys.argv[1].split(":")
from kernelbench.eval import eval_kernel_against_ref
ref, cand, build = open(sys.argv[2]).read(), open(sys.argv[3]).read(), sys.argv[4]
start = time.monotonic()
backend = "triton" if "import triton" in cand else "cuda"
r = eval_kernel_against_ref(ref, cand, num_correct_trials=5, num_perf_trials=100, backend=backend,
                            measure_performance=True, build_dir=build, device=torch.device("cuda:0"))
print("KBRESULT " + json.dumps({"compiled": r.compiled, "correctness": r.correctness,
      "runtime_ms": r.runtime, "ref_runtime_ms": getattr(r, "ref_runtime", None),
      "seconds": time.monotonic() - start, "metadata": {k: str(v)[:200] for k, v in r.metadata.items()}}))
"""


def kernelbench_eval(kb_pkg: str, problem: Path, candidate: Path, out: Path, limit: float) -> Run:
    build = out / f"kb_build_{candidate.stem}"
    start = time.monotonic()
    with Peaks() as peaks:
        proc = _run(
            [sys.executable, "-c", KB_EVAL, str(kb_pkg), str(problem), str(candidate), str(build)],
            limit,
            # its utils import litellm, which otherwise fetches a price list on import, three
            # tries with waits on a machine without network: not the evaluator's own time
            env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
        )
    seconds = time.monotonic() - start
    found = [line for line in proc.stdout.splitlines() if line.startswith("KBRESULT ")]
    if found:
        r = json.loads(found[-1][len("KBRESULT ") :])
        outcome = "correct" if r["correctness"] else ("wrong" if r["compiled"] else "not compiled")
        detail = f"runtime {r['runtime_ms']} ms, reference {r['ref_runtime_ms']} ms"
    else:
        outcome, detail = f"exit {proc.returncode}", (proc.stderr or proc.stdout)[-400:]
    return Run(problem.name, "KernelBench eval", candidate.name, round(seconds, 1),
               round(peaks.host / 2**30, 2), round(peaks.gpu / 2**30, 2), outcome, {}, detail)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernelbench", type=Path, required=True, help="a KernelBench checkout")
    ap.add_argument(
        "--kb-package",
        help="folders (':'-separated) holding KernelBench's eval package and its needs",
    )
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "/tmp/judge_speed")))
    ap.add_argument("--problems", default="", help="level-1 problem numbers, comma-separated")
    ap.add_argument("--candidate", action="append", default=[], help="N=FILE")
    ap.add_argument("--timing", action="store_true")
    ap.add_argument("--time-budget", type=float, default=5.0)
    ap.add_argument("--kernelbench-eval", action="store_true")
    ap.add_argument("--repeat", type=int, default=1, help="judge each candidate this many times")
    ap.add_argument(
        "--stop-after",
        type=float,
        default=1e9,
        help="seconds: start nothing that could run past them (a run may take --limit)",
    )
    ap.add_argument("--limit", type=float, default=300.0, help="seconds one run may take")
    ap.add_argument("--jobs", type=int, default=1, help="small problems judged at once")
    ap.add_argument("--device", default="cuda", help="cuda; cpu only to try this script")
    ap.add_argument(
        "--small-gib", type=float, default=1.0, help="with --jobs: inputs under this are small"
    )
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    level1 = args.kernelbench / "KernelBench" / "level1"
    by_number = {int(p.name.split("_")[0]): p for p in level1.glob("*.py")}
    numbers = [int(n) for n in args.problems.split(",") if n] or sorted(by_number)
    candidates = {int(k): Path(v) for k, v in (c.split("=", 1) for c in args.candidate)}
    runs: list[Run] = []
    started = time.monotonic()
    lock = threading.Lock()
    print(
        "| problem | tool | candidate | outcome | seconds | host peak GiB | GPU peak GiB | phases |"
    )
    print("|---|---|---|---|---|---|---|---|")

    def problem_runs(n: int, alone: bool) -> None:
        # a deadline, not a start-by time: a run begun just before it could take --limit more,
        # past the device call's own limit, and the call's files would not come back
        if time.monotonic() - started + args.limit > args.stop_after:
            with lock:
                print(f"(problem {n} not started: --stop-after)", flush=True)
            return
        problem = by_number[n]
        cand = candidates.get(n) or self_candidate(problem, args.out)
        todo = ["ks"] * args.repeat
        if args.kernelbench_eval and args.kb_package:
            todo.append("kb")
        for tool in todo:
            if tool == "ks":
                run = judge(
                    problem, cand, args.out, args.timing, args.time_budget, args.limit, alone,
                    args.device,
                )  # fmt: skip
            else:
                run = kernelbench_eval(args.kb_package, problem, cand, args.out, args.limit)
            with lock:
                runs.append(run)
                report(run)
                (args.out / "judge_speed.json").write_text(
                    json.dumps([asdict(r) for r in runs], indent=1)
                )

    small: list[int] = []
    if args.jobs > 1:
        limit = args.small_gib * 2**30
        small = [n for n in numbers if (b := input_bytes(by_number[n])) is not None and b < limit]
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        list(pool.map(lambda n: problem_runs(n, alone=False), small))
    for n in numbers:
        if n not in small:
            problem_runs(n, alone=True)
    summarise(runs, time.monotonic() - started)


def report(run: Run) -> None:
    phases = " ".join(f"{k[:5]}={v}" for k, v in run.phases.items())
    if run.gpu_parts_gib:
        phases += " GPU GiB: " + " ".join(f"{k}={v}" for k, v in run.gpu_parts_gib.items())
    print(f"| {run.problem} | {run.tool} | {run.candidate} | {run.outcome} | {run.seconds} "
          f"| {run.host_peak_gib} | {run.gpu_peak_gib} | {phases} |", flush=True)  # fmt: skip
    if run.outcome not in ("accepted", "correct"):
        print(f"    {run.detail[:800]}", flush=True)


def summarise(runs: list[Run], wall: float) -> None:
    """Verdicts per GPU-hour, per tool: every run counts, whatever its outcome. Per tool, from
    the seconds its runs took one after another; with --jobs, also from the wall clock."""
    print()
    for tool in sorted({r.tool for r in runs}):
        mine = [r for r in runs if r.tool == tool]
        seconds = sum(r.seconds for r in mine)
        done = sum(r.outcome in ("accepted", "rejected", "correct", "wrong") for r in mine)
        rate = 3600 * len(mine) / seconds if seconds else 0.0
        print(
            f"{tool}: {len(mine)} runs ({done} with a verdict on the candidate) in {seconds:.0f} s: "
            f"{rate:.0f} per GPU-hour"
        )
    if runs and wall:
        print(
            f"all runs: {len(runs)} in {wall:.0f} s of wall clock: {3600 * len(runs) / wall:.0f} per GPU-hour"
        )


if __name__ == "__main__":
    main()
