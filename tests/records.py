"""Small typed records for tests that need a verdict or a measurement without running one."""

from __future__ import annotations

from kernelswarm.judge.floor import floor_for
from kernelswarm.judge.reasons import Check, Reason
from kernelswarm.judge.results import BenchResult, ImplTiming, Speedup, TimingOptions, TimingResult
from kernelswarm.judge.verdict import Outcome, Seeds, Verdict
from kernelswarm.protocol import Counts, Peaks, Versions

PEAKS = Peaks("test device", 1e12, {"fp32": 1e13, "tf32": 1e14}, 5e-6, "2.x", "2026-12-01 00:00:00")
COUNTS = Counts("float32", 2 * 10**9, 0, False, 8 << 20, 0, 4 << 20)
VERSIONS = Versions("3.11", "2.x", "Linux", False)


def timing(
    candidate: float | None = 1e-3, eager: float = 2e-3, compile_: float = 1.5e-3
) -> TimingResult:
    impls = {
        "eager": ImplTiming(
            "eager", eager, eager * 0.99, eager * 1.01, 0.01, 6, rounds=[[eager] * 3, [eager] * 3]
        ),
        "compile": ImplTiming(
            "compile", compile_, compile_ * 0.99, compile_ * 1.01, 0.01, 3, rounds=[[compile_] * 3]
        ),
    }
    speedups = {}
    if candidate is not None:
        impls["candidate"] = ImplTiming(
            "candidate",
            candidate,
            candidate * 0.99,
            candidate * 1.01,
            0.01,
            3,
            rounds=[[candidate] * 3],
            sol_fraction=0.5,
        )
        for name, base in (("eager", eager), ("compile", compile_)):
            ratio = base / candidate
            speedups[name] = Speedup(
                name, ratio, ratio * 0.98, ratio * 1.02, f"{ratio:.3g}x faster"
            )
    return TimingResult(
        device="cpu", options=TimingOptions(), peaks=PEAKS, counts=COUNTS,
        floor=floor_for(COUNTS, PEAKS, "fp32"), implementations=impls, speedups=speedups,
        warnings=[], rejections=[], sets=4, elapsed_seconds=1.0,
    )  # fmt: skip


def verdict(outcome: str = "accepted", candidate_seconds: float | None = 1e-3) -> Verdict:
    accepted = outcome == "accepted"
    return Verdict(
        verdict=Outcome(outcome),
        reasons=[] if accepted else [Reason(Check.VALUES, "output is all zeros")],
        problem="p.py", candidate="c.py", device="cpu", precision="strict",
        seeds=Seeds(1, "--seed 1", 2, {"base-0": 3}), versions=VERSIONS,
        timing=timing(candidate_seconds) if accepted and candidate_seconds else None,
    )  # fmt: skip


def bench() -> BenchResult:
    return BenchResult("p.py", timing(candidate=None), VERSIONS)
