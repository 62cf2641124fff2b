"""The judge's output: a verdict with every reason and the evidence behind it.

``outcome`` is accepted, rejected (the candidate's fault: exit status 1) or error (the judge could
not judge: a bad problem file, bad arguments, weak tests, a broken harness: exit 2). The JSON
(``to_dict``) carries a schema version; ``from_dict`` reads this version and the ones before it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from kernelswarm.judge.reasons import Reason
from kernelswarm.judge.results import Speedup, TimingResult
from kernelswarm.plain import from_plain, to_plain
from kernelswarm.protocol import Versions, WeightsReport

SCHEMA = "kernelswarm.verdict/2"
#: keys of the JSON that are derived from the others (written for readers, ignored on reading)
_DERIVED = ("schema", "strong_tests", "exit_code", "speedup", "speed_of_light")


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ERROR = "error"

    @property
    def exit_code(self) -> int:
        return {Outcome.ACCEPTED: 0, Outcome.REJECTED: 1}.get(self, 2)


@dataclass
class OutputRecord:
    """One output of one call: the measured error next to the allowed one."""

    index: int
    passed: bool
    normwise_error: float | None = None
    allowed_normwise: float | None = None
    worst_ratio: float | None = None
    worst_index: list[int] | None = None


@dataclass
class TestRecord:
    """One set of inputs: where it came from and whether it can tell right from wrong."""

    __test__ = False  # not a pytest class

    name: str
    variant: str
    seed: int
    strong: bool = True
    weak_because: list[str] = field(default_factory=list)
    skipped: str | None = None
    reference_normwise_error: list[float | None] = field(default_factory=list)


@dataclass
class CallRecord:
    """One call of the candidate's forward."""

    call: int
    test: str
    inputs: str  # fresh | same tensors again | clone (new addresses) | new values at old addresses
    passed: bool
    outputs: list[OutputRecord] = field(default_factory=list)
    host_seconds: float | None = None
    poisoned_bytes: int | None = None


@dataclass
class Seeds:
    """Every seed a verdict drew, and how to draw them again."""

    master: int
    reproduce_with: str
    init: int | None = None
    tests: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Weights(WeightsReport):
    """Which of the candidate's tensors got the reference's values, in a sentence too."""

    summary: str = ""


@dataclass
class PhaseTimes:
    """Where a verdict's time went, in seconds (the candidate's build overlaps the reference)."""

    starting: float = 0.0  # starting both workers
    loading_and_building: float = 0.0  # the problem loaded; the candidate imported and compiled
    reference: float = 0.0  # drawing the tests: inputs and float64 answers
    correctness: float = 0.0  # the candidate's calls and the final re-check
    timing: float = 0.0
    total: float = 0.0


@dataclass(frozen=True)
class SpeedOfLight:
    floor_seconds: float
    fraction: float | None
    bound: str
    flops: int
    bytes: int


@dataclass
class Verdict:
    verdict: Outcome
    reasons: list[Reason]
    problem: str
    candidate: str
    device: str
    precision: str
    seeds: Seeds | None = None
    weights: Weights | None = None
    tests: list[TestRecord] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    checks_passed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    versions: Versions | None = None
    elapsed_seconds: float = 0.0
    failure_log: str = ""
    timing: TimingResult | None = None
    #: the protections the workers ran under (empty: unconfined or in-process)
    protections: list[str] = field(default_factory=list)
    phases: PhaseTimes | None = None

    @property
    def accepted(self) -> bool:
        return self.verdict is Outcome.ACCEPTED

    @property
    def speedup(self) -> dict[str, Speedup] | None:
        """Baseline time / candidate time, with its 95% interval, per baseline.

        Only an accepted candidate has a speedup: the times of a rejected one stay in ``timing``
        as evidence, but no number other tools could read as a result.
        """
        if self.timing is None or not self.accepted:
            return None
        return dict(self.timing.speedups)

    @property
    def candidate_seconds(self) -> float | None:
        if self.timing is None or not self.accepted:
            return None
        return self.timing.median("candidate")

    @property
    def speed_of_light(self) -> SpeedOfLight | None:
        if self.timing is None or self.timing.floor is None or not self.accepted:
            return None
        floor = self.timing.floor
        cand = self.timing.implementations.get("candidate")
        return SpeedOfLight(
            floor.seconds,
            cand.sol_fraction if cand else None,
            floor.bound,
            floor.flops,
            floor.bytes,
        )

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    @property
    def strong_tests(self) -> int:
        return sum(1 for t in self.tests if t.strong and not t.skipped)

    def to_dict(self) -> dict[str, Any]:
        data = to_plain(self)
        data["timing"] = self.timing.to_dict() if self.timing is not None else None
        data["schema"] = SCHEMA
        data["strong_tests"] = self.strong_tests
        data["exit_code"] = self.exit_code
        data["speedup"] = to_plain(self.speedup)
        data["speed_of_light"] = to_plain(self.speed_of_light)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        """A verdict from its JSON, of this schema or an earlier one."""
        data = dict(data)
        schema = data.get("schema", "kernelswarm.verdict/1")
        if schema not in ("kernelswarm.verdict/1", SCHEMA):
            raise ValueError(
                f"a verdict of schema {schema!r}; this kernelswarm reads up to {SCHEMA}"
            )
        for key in _DERIVED:
            data.pop(key, None)
        timing = data.pop("timing", None)
        if schema == "kernelswarm.verdict/1":
            # schema 1 wrote empty mappings for absent seeds, weights and versions
            for key in ("seeds", "weights", "versions"):
                data[key] = data.get(key) or None
        verdict = from_plain(cls, data, "verdict")
        verdict.timing = TimingResult.from_dict(timing) if timing else None
        return verdict

    def write_json(self, path: str | Path) -> None:
        write_json(self.to_dict(), path)


def json_safe(value: Any) -> Any:
    """Strict JSON: non-finite floats become the strings "inf", "-inf", "nan"."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json_safe(to_plain(value)) if hasattr(value, "__dataclass_fields__") else str(value)


def json_text(data: Any) -> str:
    return json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n"


def write_json(data: Any, path: str | Path) -> None:
    """Strict JSON to a file, or to standard output when the path is ``-``."""
    text = json_text(data)
    if str(path) == "-":
        import sys

        sys.stdout.write(text)
        return
    Path(path).write_text(text)
