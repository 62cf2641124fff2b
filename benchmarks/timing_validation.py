"""Validate the timing engine on a CUDA GPU (issue 3). Writes JSON under --out and prints tables.

Sections (--sections, default all):
  agreement      kernelswarm's eager median against triton.testing.do_bench (both flush L2) and
                 torch.utils.benchmark (warm cache; compared with kernelswarm --warm-cache)
  repeatability  the same measurement repeated: spread of the median
  copy           a plain copy against its speed-of-light floor
  footguns       how methodology mistakes move the speedup of torch.compile over eager
  cheats         side-stream, background-thread and memoising candidates: kernelswarm's verdict,
                 and what an events-only timer reports for them

Run on the GPU machine:  PYTHONPATH=src python3 benchmarks/timing_validation.py --out $OUT
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from kernelswarm.judge.client import ReferenceClient
from kernelswarm.judge.measure import Measurement
from kernelswarm.judge.results import TimingOptions
from kernelswarm.judge.sandbox import Limits, Worker
from kernelswarm.precision import POLICIES, set_strict_matmul_flags
from kernelswarm.problem import Override, load_problem
from kernelswarm.protocol import Role
from kernelswarm.variants import make_inputs, seed_everything

ROOT = Path(__file__).resolve().parent.parent
L1 = ROOT / "problems" / "level1"
EX = ROOT / "examples" / "problems"
# (label, problem file, overrides): eager time on an H100/H200 from tens of µs to milliseconds
AGREEMENT = [
    ("copy 2 GiB", L1 / "1_copy.py", {}),
    ("matmul 4096", L1 / "2_matmul_square.py", {}),
    ("matmul 2048", L1 / "2_matmul_square.py", {"N": 2048}),
    ("matmul skinny", L1 / "3_matmul_skinny.py", {}),
    ("bmm 64x1024", L1 / "4_bmm.py", {}),
    ("softmax 16384x32768", L1 / "5_softmax.py", {}),
    ("layernorm 65536x8192", L1 / "6_layernorm.py", {}),
    ("rmsnorm 65536x8192", L1 / "7_rmsnorm.py", {}),
    ("gelu 2 GiB", L1 / "8_gelu.py", {}),
    ("conv2d 3x3", L1 / "9_conv2d.py", {}),
    ("sum rows", L1 / "10_sum_rows.py", {}),
    ("softmax 1024x32768", L1 / "5_softmax.py", {"rows": 1024}),
]
REPEAT = [AGREEMENT[1], AGREEMENT[5], AGREEMENT[6], AGREEMENT[9], AGREEMENT[11]]
FOOTGUN = [
    ("softmax", L1 / "5_softmax.py", {}, {"rows": 16, "cols": 1024}),
    ("layernorm", L1 / "6_layernorm.py", {}, {"rows": 16, "features": 1024}),
    ("rmsnorm", L1 / "7_rmsnorm.py", {}, {"rows": 16, "features": 1024}),
    ("gelu", L1 / "8_gelu.py", {}, {"rows": 16, "cols": 1024}),
    ("conv2d", L1 / "9_conv2d.py", {}, {"batch": 1, "size": 16}),
]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def engine(
    problem: Path, overrides: dict[str, Any], options: TimingOptions, repeats: int = 1
) -> list[dict]:
    """kernelswarm's measurement (reference worker only), repeated on one worker."""
    ref = ReferenceClient(Worker(Role.REFERENCE, "cuda", Limits(wall_seconds=3000)))
    try:
        ref.start()
        overridden = tuple(Override(k, v) for k, v in overrides.items())
        ref.begin_load(str(problem), overridden, 1, None).result()
        out = []
        for i in range(repeats):
            m = Measurement(
                options,
                "cuda",
                POLICIES["strict"],
                problem,
                random.Random(i),
                ref,
                None,
                lambda _: None,
            )
            out.append(m.run().to_dict())
        return out
    finally:
        ref.close()


def direct(
    problem: Path, overrides: dict[str, Any], seed: int = 0
) -> tuple[torch.nn.Module, list[Any]]:
    prob = load_problem(problem, [Override(k, v) for k, v in overrides.items()])
    seed_everything(seed)
    model = prob.model_class(*prob.get_init_inputs()).cuda()
    inputs = [
        x.cuda() if isinstance(x, torch.Tensor) else x
        for x in make_inputs(prob.get_inputs, seed, "base")
    ]
    return model, inputs


def events_median(fn, reps: int = 50, flush: bool = False) -> float:
    cache = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
    times = []
    for _ in range(reps):
        if flush:
            cache.zero_()
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        torch.cuda.synchronize()
        times.append(s.elapsed_time(e) * 1e-3)
    return statistics.median(times)


def _agreement_row(label: str, problem: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    import torch.utils.benchmark as tub
    import triton.testing

    flushed = engine(problem, overrides, TimingOptions(budget_seconds=4, compile_baseline=False))[0]
    warm = engine(
        problem, overrides, TimingOptions(budget_seconds=4, compile_baseline=False, flush_l2=False)
    )[0]
    model, inputs = direct(problem, overrides)
    with torch.no_grad():

        def fn() -> Any:
            return model(*inputs)

        do_bench = triton.testing.do_bench(fn, warmup=100, rep=1000, return_mode="median") * 1e-3
        timer = tub.Timer(stmt="fn()", globals={"fn": fn}).blocked_autorange(min_run_time=1.0)
    return {
        "problem": label,
        "kernelswarm": flushed["implementations"]["eager"]["median"],
        "kernelswarm_ci": flushed["implementations"]["eager"]["rel_halfwidth"],
        "do_bench": do_bench,
        "kernelswarm_warm": warm["implementations"]["eager"]["median"],
        "torch_benchmark": timer.median,
        "eager_sol": flushed["implementations"]["eager"]["sol_fraction"],
        "floor": flushed["floor"],
    }


def agreement(results: dict) -> None:
    rows = []
    for label, problem, overrides in AGREEMENT:
        log(f"agreement: {label}")
        rows.append(_agreement_row(label, problem, overrides))
        torch.cuda.empty_cache()
    results["agreement"] = rows
    print(
        "\n| problem | kernelswarm (flushed) | do_bench | diff | kernelswarm --warm-cache | torch.utils.benchmark | diff | % SOL |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        d1 = r["do_bench"] / r["kernelswarm"] - 1
        d2 = r["torch_benchmark"] / r["kernelswarm_warm"] - 1
        print(f"| {r['problem']} | {r['kernelswarm'] * 1e6:.1f} µs ±{r['kernelswarm_ci'] * 100:.2f}% | {r['do_bench'] * 1e6:.1f} µs | "
              f"{d1 * 100:+.1f}% | {r['kernelswarm_warm'] * 1e6:.1f} µs | {r['torch_benchmark'] * 1e6:.1f} µs | "
              f"{d2 * 100:+.1f}% | {100 * (r['eager_sol'] or 0):.0f}% |")  # fmt: skip


def repeatability(results: dict) -> None:
    rows = []
    for label, problem, overrides in REPEAT:
        log(f"repeatability: {label}")
        runs = engine(
            problem, overrides, TimingOptions(budget_seconds=3, compile_baseline=False), repeats=5
        )
        medians = [r["implementations"]["eager"]["median"] for r in runs]
        spread = (max(medians) - min(medians)) / statistics.median(medians)
        rows.append({"problem": label, "medians": medians, "spread": spread})
    results["repeatability"] = rows
    print("\n| problem | 5 medians (µs) | spread (max-min)/median |\n|---|---|---|")
    for r in rows:
        print(
            f"| {r['problem']} | {', '.join(f'{m * 1e6:.1f}' for m in r['medians'])} | {r['spread'] * 100:.2f}% |"
        )


def _footgun_row(
    label: str, problem: Path, overrides: dict[str, Any], tiny: dict[str, Any]
) -> dict[str, Any]:
    honest = engine(problem, overrides, TimingOptions(budget_seconds=5))[0]["implementations"]
    model, inputs = direct(problem, overrides)
    with torch.no_grad():
        compiled = torch.compile(model)

        def first_call(f: Any) -> float:
            t0 = time.perf_counter()
            f(*inputs)
            torch.cuda.synchronize()
            return time.perf_counter() - t0

        no_warmup = first_call(model) / first_call(compiled)
        for _ in range(5):
            model(*inputs)
            compiled(*inputs)
        torch.cuda.synchronize()

        def nosync(f: Any) -> float:
            t = time.perf_counter()
            f(*inputs)
            return time.perf_counter() - t

        no_sync = statistics.median(nosync(model) for _ in range(20)) / statistics.median(
            nosync(compiled) for _ in range(20)
        )
        torch.cuda.synchronize()
        warm = events_median(lambda: model(*inputs)) / events_median(lambda: compiled(*inputs))
    tiny_model, tiny_inputs = direct(problem, tiny)
    with torch.no_grad():
        tiny_compiled = torch.compile(tiny_model)
        for _ in range(5):
            tiny_compiled(*tiny_inputs)
        tiny_ratio = events_median(lambda: tiny_model(*tiny_inputs), flush=True) / events_median(
            lambda: tiny_compiled(*tiny_inputs), flush=True
        )
    return {
        "problem": label,
        "honest": honest["eager"]["median"] / honest["compile"]["median"],
        "honest_interval": [honest["eager"]["rel_halfwidth"], honest["compile"]["rel_halfwidth"]],
        "eager_ms": honest["eager"]["median"] * 1e3,
        "no_warmup": no_warmup,
        "no_sync": no_sync,
        "warm_same_input": warm,
        "tiny": tiny_ratio,
    }


def footguns(results: dict) -> None:
    set_strict_matmul_flags()
    rows = []
    for label, problem, overrides, tiny in FOOTGUN:
        log(f"footguns: {label}")
        rows.append(_footgun_row(label, problem, overrides, tiny))
        torch.cuda.empty_cache()
    results["footguns"] = rows
    print(
        "\n| problem (eager ms) | honest | no warm-up | no synchronise | warm L2, same input | tiny shapes |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['problem']} ({r['eager_ms']:.2f}) | {r['honest']:.2f}x | {r['no_warmup']:.3g}x | {r['no_sync']:.2f}x | "
              f"{r['warm_same_input']:.2f}x | {r['tiny']:.2f}x |")  # fmt: skip


def _load_candidate(path: Path, init: list[Any]) -> torch.nn.Module:
    spec = importlib.util.spec_from_file_location("cheat_" + path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ModelNew(*init).cuda()


def _events_of_candidate(path: Path, inputs: list[Any]) -> float:
    """What a KernelBench-style timer reports: events on the current stream, one input, warm."""
    cand = _load_candidate(path, [])
    with torch.no_grad():
        for _ in range(45):
            cand(*inputs)
        torch.cuda.synchronize()
        return events_median(lambda: cand(*inputs))


def cheats(results: dict) -> None:
    set_strict_matmul_flags()
    matmul = EX / "matmul.py"
    cases = [
        ("side stream (after 40 calls)", ROOT / "examples/cheats/cuda/side_stream_when_timed.py"),
        (
            "background thread (after 40 calls)",
            ROOT / "examples/cheats/timing/thread_when_timed.py",
        ),
        ("memoising by content", ROOT / "examples/cheats/timing/memoise_by_content.py"),
        ("honest: fp32 computed in float64", ROOT / "examples/good/matmul_float64.py"),
    ]
    model, inputs = direct(matmul, {"N": 4096})
    with torch.no_grad():
        eager_events = events_median(lambda: model(*inputs))
    rows = []
    for label, path in cases:
        # First what a KernelBench-style timer reports, then kernelswarm, one at a time: two
        # measurements sharing a GPU disturb each other.
        cand_events = _events_of_candidate(path, inputs)
        torch.cuda.synchronize()
        out = Path(results["_out"]) / f"cheat_{path.stem}.json"
        cmd = [sys.executable, "-m", "kernelswarm", "check", str(matmul), str(path), "--device", "cuda", "--set",
               "N=4096", "--time-budget", "10", "--json", str(out), "-q"]  # fmt: skip
        subprocess.run(cmd, capture_output=True, text=True, timeout=500)
        verdict = (
            json.loads(out.read_text()) if out.exists() else {"verdict": "none", "reasons": []}
        )
        rows.append({"candidate": label, "events_only_speedup": eager_events / cand_events,
                     "events_only_ms": cand_events * 1e3, "verdict": verdict["verdict"],
                     "reasons": [f"{r['check']}: {r['detail'][:220]}" for r in verdict["reasons"]],
                     "speedup": verdict.get("speedup")})  # fmt: skip
    results["cheats"] = rows
    print(f"\neager matmul 4096 (events only): {eager_events * 1e3:.3f} ms")
    print(
        "| candidate | events-only timer says | kernelswarm verdict | reasons |\n|---|---|---|---|"
    )
    for r in rows:
        print(f"| {r['candidate']} | {r['events_only_ms']:.3f} ms = {r['events_only_speedup']:.3g}x | {r['verdict']} | "
              f"{'; '.join(r['reasons'])[:300]} |")  # fmt: skip


def copy_sol(results: dict) -> None:
    log("copy: speed of light")
    run = engine(L1 / "1_copy.py", {}, TimingOptions(budget_seconds=5))[0]
    results["copy"] = {
        "floor": run["floor"],
        "implementations": run["implementations"],
        "peaks": run["peaks"],
    }
    for name, t in run["implementations"].items():
        print(
            f"copy {name}: {t['median'] * 1e6:.1f} µs, {100 * t['sol_fraction']:.1f}% of speed of light"
        )
    print(f"peaks: {json.dumps(run['peaks'])}")


def modes(results: dict) -> None:
    """CUDA-graph mode, and the overhead warning on a tiny problem, through the command line."""
    rows = {}
    runs = {
        "softmax 1024 rows": ["--set", "rows=1024"],
        "softmax 1024 rows, CUDA graphs": ["--set", "rows=1024", "--cuda-graph"],
        "softmax 16x1024 (tiny)": ["--set", "rows=16", "--set", "cols=1024"],
        "softmax 16x1024 (tiny), CUDA graphs": [
            "--set",
            "rows=16",
            "--set",
            "cols=1024",
            "--cuda-graph",
        ],
    }
    for label, extra in runs.items():
        log(f"modes: {label}")
        out = Path(results["_out"]) / "mode.json"
        cmd = [sys.executable, "-m", "kernelswarm", "bench", str(L1 / "5_softmax.py"), "--device", "cuda",
               "--time-budget", "4", "--json", str(out), *extra]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            rows[label] = {"error": proc.stdout[-1500:] + proc.stderr[-1500:]}
            continue
        data = json.loads(out.read_text())
        rows[label] = {n: t["median"] for n, t in data["implementations"].items()} | {
            "warnings": data["warnings"]
        }
    results["modes"] = rows
    for label, row in rows.items():
        print(label, json.dumps(row)[:600])


SECTIONS = {"copy": copy_sol, "agreement": agreement, "repeatability": repeatability, "footguns": footguns,
            "cheats": cheats, "modes": modes}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="out")
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--only", default="", help="only problems whose label contains this")
    parser.add_argument("--footgun-problems", default="softmax,rmsnorm,conv2d")
    args = parser.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    AGREEMENT[:] = [a for a in AGREEMENT if args.only in a[0]]
    FOOTGUN[:] = [f for f in FOOTGUN if f[0] in args.footgun_problems.split(",")]
    results: dict = {"_out": args.out, "device": torch.cuda.get_device_name(), "torch": torch.__version__,
                     "date": time.strftime("%Y-%m-%d")}  # fmt: skip
    for name in args.sections.split(","):
        start = time.monotonic()
        SECTIONS[name](results)
        log(f"{name} took {time.monotonic() - start:.0f} s")
        (Path(args.out) / "timing_validation.json").write_text(
            json.dumps(results, indent=2, default=str)
        )


if __name__ == "__main__":
    main()
