"""The judge's vocabulary of checks, and the reasons it gives when one fails.

Every rejection names one ``Check`` and says in a sentence what happened; ``Reasons`` keeps the
first detail of each failed check and every test on which it failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Check(StrEnum):
    PROBLEM = "problem"
    ARGUMENTS = "arguments"
    DETERMINISM = "determinism"
    STRENGTH = "strength"
    SYNTAX = "syntax"
    IMPORT = "import"
    COMPILE = "compile"
    INTERFACE = "interface"
    CONSTRUCTOR = "constructor"
    FORWARD = "forward"
    CRASH = "crash"
    EARLY_EXIT = "early_exit"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    PROCESSES = "processes"
    CUDA_ERROR = "cuda_error"
    STRUCTURE = "structure"
    TYPE = "type"
    DTYPE = "dtype"
    SHAPE = "shape"
    DEVICE = "device"
    VALUES = "values"
    NONFINITE = "nonfinite"
    STATE = "state"
    MUTATION = "mutation"
    ALIASING = "aliasing"
    COMPLETION = "completion"
    INTEGRITY = "integrity"
    PROTOCOL = "protocol"
    TIMING = "timing"
    MEMOISATION = "memoisation"
    IMPOSSIBLE = "impossible"
    HARNESS = "harness"
    CONFINEMENT = "confinement"
    TOOLCHAIN = "toolchain"

    @property
    def judge_fault(self) -> bool:
        """Whether failing this check means "could not judge" rather than "the candidate is wrong"."""
        return self in JUDGE_FAULTS

    @property
    def meaning(self) -> str:
        return CHECKS[self]


#: checks whose failure means "could not judge" (exit 2), not "rejected" (exit 1)
JUDGE_FAULTS = frozenset(
    {
        Check.PROBLEM,
        Check.ARGUMENTS,
        Check.DETERMINISM,
        Check.STRENGTH,
        Check.HARNESS,
        Check.CONFINEMENT,
        Check.TOOLCHAIN,
    }
)

#: every check the judge runs, with what it means
CHECKS: dict[Check, str] = {
    Check.PROBLEM: "the problem file loads and its reference runs",
    Check.ARGUMENTS: "the command's arguments make sense (device present, policy known)",
    Check.DETERMINISM: "the reference gives the same answer twice and builds the same weights in two processes",
    Check.STRENGTH: "enough tests on which zeros, a constant or another input's answer would fail",
    Check.SYNTAX: "the candidate file parses",
    Check.IMPORT: "the candidate file imports",
    Check.COMPILE: "the candidate's kernels compile",
    Check.INTERFACE: "the candidate defines ModelNew as an nn.Module with the problem's signature",
    Check.CONSTRUCTOR: "ModelNew(*get_init_inputs()) runs",
    Check.FORWARD: "forward runs without raising",
    Check.CRASH: "the worker process is not killed by a signal",
    Check.EARLY_EXIT: "the worker process does not exit before reporting",
    Check.TIMEOUT: "the work finishes within the wall-clock limit",
    Check.MEMORY: "the work stays within the memory limit",
    Check.CUDA_ERROR: "no CUDA error is raised",
    Check.STRUCTURE: "the result has the reference's structure (tensor, tuple of tensors...)",
    Check.TYPE: "each output is an exact torch.Tensor (no subclass, no lazy wrapper) with real storage",
    Check.DTYPE: "each output has the reference's dtype",
    Check.SHAPE: "each output has the reference's shape",
    Check.DEVICE: "each output is on the device the inputs were on",
    Check.VALUES: "each output matches the float64 answer within the calibrated tolerance",
    Check.NONFINITE: "NaN and Inf appear exactly where the float64 answer has them",
    Check.STATE: "repeated, cloned and overwritten inputs give the right answer (no caching by address, id or shape)",
    Check.MUTATION: "inputs are not modified (unless the reference modifies them too)",
    Check.ALIASING: "outputs share no memory with inputs or earlier outputs (unless the reference's do)",
    Check.COMPLETION: "the result is complete when forward returns (no work left on a side stream or thread)",
    Check.INTEGRITY: "the harness's timers, copies and comparisons are untouched; no torch mode left active",
    Check.PROTOCOL: "nothing but the harness writes to the harness's channel",
    Check.TIMING: "CUDA events agree with a host clock and a device-wide synchronise (no work escapes the timer)",
    Check.MEMOISATION: "calls on new inputs are not slower than repeats, nor rounds before the last new input than after (no reuse of earlier results)",
    Check.IMPOSSIBLE: "the measured time is not under the speed-of-light floor",
    Check.HARNESS: "the judge itself did not break",
    Check.CONFINEMENT: "the workers run confined: own namespaces, Landlock, limits (or --unconfined was asked for)",
    Check.PROCESSES: "the work stays within the process limit",
    Check.TOOLCHAIN: "the tools the candidate's backend needs (Triton, ninja) are installed here",
}


@dataclass
class Reason:
    """One failed check: which, what happened, and on which tests."""

    check: Check
    detail: str
    tests: list[str] = field(default_factory=list)

    def line(self, width: int = 160) -> str:
        """``check: first line of the detail`` (for tables and logs)."""
        return f"{self.check.value}: {self.detail.splitlines()[0][:width] if self.detail else ''}"


class Reasons:
    """The failed checks of one verdict, in the order they first failed."""

    def __init__(self) -> None:
        self._by_check: dict[Check, Reason] = {}

    def reject(self, check: Check, detail: str, test: str | None = None) -> None:
        """Record a failed check; repeated failures of one check keep the first detail."""
        reason = self._by_check.get(check)
        if reason is None:
            self._by_check[check] = reason = Reason(check, detail)
        if test and test not in reason.tests:
            reason.tests.append(test)

    def add(self, reason: Reason) -> None:
        self.reject(reason.check, reason.detail)

    def __contains__(self, check: object) -> bool:
        return check in self._by_check

    def __getitem__(self, check: Check) -> Reason:
        return self._by_check[check]

    def __bool__(self) -> bool:
        return bool(self._by_check)

    def __len__(self) -> int:
        return len(self._by_check)

    def checks(self) -> set[Check]:
        return set(self._by_check)

    def judge_faults(self) -> bool:
        return any(c.judge_fault for c in self._by_check)

    def as_list(self) -> list[Reason]:
        return list(self._by_check.values())
