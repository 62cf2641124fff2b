"""The judge's output: a verdict with every reason and the evidence behind it.

``verdict`` is "accepted", "rejected" (the candidate's fault: exit status 1) or "error" (the
judge could not judge: a bad problem file, bad arguments, weak tests, a broken harness: exit 2).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

SCHEMA = "kernelswarm.verdict/1"

#: every check the judge runs, with what it means; reasons name one of these
CHECKS: dict[str, str] = {
    "problem": "the problem file loads and its reference runs",
    "arguments": "the command's arguments make sense (device present, policy known)",
    "determinism": "the reference gives the same answer twice and builds the same weights in two processes",
    "strength": "enough tests on which zeros, a constant or another input's answer would fail",
    "syntax": "the candidate file parses",
    "import": "the candidate file imports",
    "compile": "the candidate's kernels compile",
    "interface": "the candidate defines ModelNew as an nn.Module with the problem's signature",
    "constructor": "ModelNew(*get_init_inputs()) runs",
    "forward": "forward runs without raising",
    "crash": "the worker process is not killed by a signal",
    "early_exit": "the worker process does not exit before reporting",
    "timeout": "the work finishes within the wall-clock limit",
    "memory": "the work stays within the memory limit",
    "cuda_error": "no CUDA error is raised",
    "structure": "the result has the reference's structure (tensor, tuple of tensors...)",
    "type": "each output is an exact torch.Tensor (no subclass, no lazy wrapper) with real storage",
    "dtype": "each output has the reference's dtype",
    "shape": "each output has the reference's shape",
    "device": "each output is on the device the inputs were on",
    "values": "each output matches the float64 answer within the calibrated tolerance",
    "nonfinite": "NaN and Inf appear exactly where the float64 answer has them",
    "state": "repeated, cloned and overwritten inputs give the right answer (no caching by address, id or shape)",
    "mutation": "inputs are not modified (unless the reference modifies them too)",
    "aliasing": "outputs share no memory with inputs or earlier outputs (unless the reference's do)",
    "completion": "the result is complete when forward returns (no work left on a side stream or thread)",
    "integrity": "the harness's timers, copies and comparisons are untouched; no torch mode left active",
    "protocol": "nothing but the harness writes to the harness's channel",
    "timing": "CUDA events agree with a host clock and a device-wide synchronise (no work escapes the timer)",
    "memoisation": "calls on new inputs are not slower than repeats (no reuse of earlier results)",
    "impossible": "the measured time is not under the speed-of-light floor",
    "harness": "the judge itself did not break",
}


@dataclass(frozen=True)
class Reason:
    check: str
    detail: str
    tests: list[str] = field(default_factory=list)


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
class Verdict:
    verdict: str
    reasons: list[Reason]
    problem: str
    candidate: str
    device: str
    precision: str
    seeds: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, Any] = field(default_factory=dict)
    tests: list[TestRecord] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    checks_passed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    versions: dict[str, Any] = field(default_factory=dict)
    elapsed_seconds: float = 0.0
    failure_log: str = ""
    timing: dict[str, Any] | None = None

    @property
    def speedup(self) -> dict[str, Any] | None:
        """Baseline time / candidate time, with its 95% interval, per baseline.

        Only an accepted candidate has a speedup: the times of a rejected one stay in ``timing``
        as evidence, but no number other tools could read as a result.
        """
        if not self.timing or self.verdict != "accepted":
            return None
        return {
            name: {
                "median": s["median"],
                "low": s["low"],
                "high": s["high"],
                "summary": s["summary"],
            }
            for name, s in self.timing["speedups"].items()
        }

    @property
    def speed_of_light(self) -> dict[str, Any] | None:
        if not self.timing or not self.timing.get("floor") or self.verdict != "accepted":
            return None
        floor = self.timing["floor"]
        cand = self.timing["implementations"].get("candidate") or {}
        return {
            "floor_seconds": floor["seconds"],
            "fraction": cand.get("sol_fraction"),
            "bound": floor["bound"],
            "flops": floor["flops"],
            "bytes": floor["bytes"],
        }

    @property
    def exit_code(self) -> int:
        return {"accepted": 0, "rejected": 1}.get(self.verdict, 2)

    @property
    def strong_tests(self) -> int:
        return sum(1 for t in self.tests if t.strong and not t.skipped)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["schema"] = SCHEMA
        data["strong_tests"] = self.strong_tests
        data["exit_code"] = self.exit_code
        data["speedup"] = self.speedup
        data["speed_of_light"] = self.speed_of_light
        return data

    def write_json(self, path: str | Path) -> None:
        text = json.dumps(json_safe(self.to_dict()), indent=2, allow_nan=False)
        Path(path).write_text(text + "\n")


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
    if is_dataclass(value) and not isinstance(value, type):
        return json_safe(asdict(value))
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # anything else (an enum, a dtype) by its name
