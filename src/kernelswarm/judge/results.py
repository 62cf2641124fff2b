"""What a measurement produces, as records: times, speedups, the floor, and how they were taken.

The same records go from the measurement to the verdict, the store, the swarm's feedback and the
reports. Their JSON (``to_dict``) flattens each implementation's samples into
``samples_seconds`` and keeps the round sizes, so ``from_dict`` rebuilds the rounds exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from kernelswarm.judge.floor import Floor
from kernelswarm.judge.reasons import Reason
from kernelswarm.plain import from_plain, to_plain
from kernelswarm.protocol import Counts, Peaks, Versions

BENCH_SCHEMA = "kernelswarm.bench/1"


@dataclass(frozen=True)
class TimingOptions:
    """How a measurement is taken."""

    flush_l2: bool = True
    cuda_graph: bool = False
    budget_seconds: float = 30.0
    target_rel_ci: float = 0.01
    passes: int = 3
    compile_baseline: bool = True
    min_rounds: int = 3
    max_rounds: int = 30
    max_sets: int = 64
    set_memory_bytes: int = 1 << 30
    remeasure_peaks: bool = False


@dataclass(frozen=True)
class EscapeRecord:
    """Back-to-back calls, seen by three clocks: the judge's, the worker's, the device's events."""

    calls: int
    judge_seconds: float
    host_seconds: float
    event_seconds: float | None


@dataclass
class ImplTiming:
    """The measured time of one implementation."""

    name: str
    median: float = math.nan
    low: float = math.nan
    high: float = math.nan
    rel_halfwidth: float = math.inf
    samples: int = 0
    first_visit_median: float | None = None
    repeat_median: float | None = None
    #: first visits timed and counted (one or two where only a few sets fit in memory)
    first_visits: int = 0
    warmup_calls: int = 0
    first_call_seconds: float | None = None
    compile_seconds: float | None = None
    escape: EscapeRecord | None = None
    #: the same, with too few calls to fill a stream's launch queue (see measure.SHORT_ESCAPE)
    escape_short: EscapeRecord | None = None
    sol_fraction: float | None = None
    rounds: list[list[float]] = field(default_factory=list)

    @property
    def all_samples(self) -> list[float]:
        return [s for r in self.rounds for s in r]


@dataclass(frozen=True)
class Speedup:
    """Baseline time over candidate time, with its 95% interval."""

    baseline: str
    median: float
    low: float
    high: float
    summary: str

    def clears(self, gain: float) -> bool:
        """Whether the whole interval lies above ``gain``."""
        return self.low > gain


@dataclass
class TimingResult:
    device: str
    options: TimingOptions
    peaks: Peaks
    counts: Counts
    floor: Floor | None
    implementations: dict[str, ImplTiming]
    speedups: dict[str, Speedup]
    warnings: list[str]
    rejections: list[Reason]
    sets: int = 0
    elapsed_seconds: float = 0.0

    def median(self, name: str) -> float | None:
        impl = self.implementations.get(name)
        return None if impl is None else impl.median

    def to_dict(self) -> dict[str, Any]:
        data = to_plain(self)
        for impl in data["implementations"].values():
            impl["round_sizes"] = [len(r) for r in impl.pop("rounds")]
        data["samples_seconds"] = {n: t.all_samples for n, t in self.implementations.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TimingResult:
        """The inverse of ``to_dict`` (also reads verdicts of schema 1, which kept no round
        sizes: their samples become one round)."""
        data = dict(data)
        samples = data.pop("samples_seconds", {}) or {}
        impls = {}
        for name, impl in (data.get("implementations") or {}).items():
            impl = dict(impl)
            flat = list(samples.get(name, []))
            sizes = impl.pop("round_sizes", None) or ([len(flat)] if flat else [])
            rounds, start = [], 0
            for size in sizes:
                rounds.append(flat[start : start + size])
                start += size
            impl["rounds"] = rounds
            for key in ("escape", "escape_short"):
                if impl.get(key) == {}:
                    impl[key] = None
            impls[name] = impl
        data["implementations"] = impls
        return from_plain(cls, data, "timing")


@dataclass
class BenchResult:
    """``kernelswarm bench``: a problem's baselines, alone."""

    problem: str
    timing: TimingResult
    versions: Versions | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": BENCH_SCHEMA,
            **self.timing.to_dict(),
            "problem": self.problem,
            "versions": to_plain(self.versions),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchResult:
        data = dict(data)
        schema = data.pop("schema", BENCH_SCHEMA)
        if schema != BENCH_SCHEMA:
            raise ValueError(
                f"a measurement of schema {schema!r}; this kernelswarm reads {BENCH_SCHEMA}"
            )
        problem = str(data.pop("problem", ""))
        versions = data.pop("versions", None) or None
        return cls(
            problem=problem,
            timing=TimingResult.from_dict(data),
            versions=from_plain(Versions, versions) if versions else None,
        )
