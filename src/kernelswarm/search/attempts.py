"""The swarm's records: what each proposal became, what it had to beat, how the run ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kernelswarm.judge.floor import Floor
from kernelswarm.judge.results import BenchResult, Speedup
from kernelswarm.judge.verdict import Verdict
from kernelswarm.protocol import Peaks
from kernelswarm.search.types import Proposal


@dataclass
class Attempt:
    """One proposal and what became of it."""

    round: int
    generator: str
    label: str
    candidate_path: str | None
    verdict: str  # accepted, rejected, error, no-code, duplicate, generator-failed
    reasons: list[str] = field(default_factory=list)
    seconds: float | None = None
    speedup_eager: Speedup | None = None
    speedup_compile: Speedup | None = None
    sol_fraction: float | None = None
    candidate_id: int | None = None

    @classmethod
    def judged(
        cls, round_: int, proposal: Proposal, path: Path, candidate_id: int, verdict: Verdict
    ) -> Attempt:
        speedups = verdict.speedup or {}
        sol = verdict.speed_of_light
        return cls(
            round=round_, generator=proposal.generator, label=proposal.label,
            candidate_path=str(path), verdict=verdict.verdict.value,
            reasons=[f"{r.check.value}: {r.detail}" for r in verdict.reasons],
            seconds=verdict.candidate_seconds, speedup_eager=speedups.get("eager"),
            speedup_compile=speedups.get("compile"), sol_fraction=sol.fraction if sol else None,
            candidate_id=candidate_id,
        )  # fmt: skip

    def beats_both_baselines(self, min_gain: float = 1.0) -> bool:
        return bool(
            self.verdict == "accepted"
            and self.speedup_eager is not None
            and self.speedup_compile is not None
            and self.speedup_eager.clears(min_gain)
            and self.speedup_compile.clears(min_gain)
        )

    @property
    def speedup_over_best_baseline(self) -> float:
        return min(
            self.speedup_eager.median if self.speedup_eager else 0.0,
            self.speedup_compile.median if self.speedup_compile else 0.0,
        )


@dataclass(frozen=True)
class Bar:
    """What a candidate must beat: the baselines' times and the speed-of-light floor."""

    baselines: dict[str, float]  # eager, compile: seconds
    floor: Floor | None
    peaks: Peaks | None
    device_name: str

    @classmethod
    def of(cls, bench: BenchResult) -> Bar:
        timing = bench.timing
        baselines = {
            n: t.median for n, t in timing.implementations.items() if n in ("eager", "compile")
        }
        versions = bench.versions
        name = (
            versions.gpu if versions else None
        ) or f"CPU ({versions.platform if versions else ''})"
        return cls(baselines, timing.floor, timing.peaks, name)

    @property
    def floor_words(self) -> str:
        if self.floor is None:
            return ""
        f = self.floor
        return f"{f.flops / 1e9:.3g} GFLOP and {f.bytes / 2**20:.4g} MiB that must move, {f.bound}-bound"


@dataclass
class OptimizeResult:
    problem: str
    run_id: int
    winner: Attempt | None
    winner_path: str
    fallback: str | None  # the baseline written when no candidate won
    attempts: list[Attempt]
    baselines: dict[str, float]
    floor_seconds: float | None
    stopped_because: str
    tokens: int
    dollars: float
    elapsed_seconds: float
