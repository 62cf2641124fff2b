"""The candidate's calls: in which order, on which memory, and what each reply must show.

The plan feeds the candidate one call at a time, in an order meant to expose caching: test A,
test B, A again on the same tensors, A's values at new addresses, the other tests, a third
test's values written into A's own memory, then another test's values written into the previous
call's own memory (the way a CUDA graph's static inputs are updated). ``CallJudge`` applies the hygiene rules to the facts
the candidate worker reports (type, dtype, shape, device, aliasing, completion, mutation,
integrity) and compares every output with the float64 answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from kernelswarm.judge.compare import Comparison
from kernelswarm.judge.reasons import Check, Reasons
from kernelswarm.judge.tests import TestCase
from kernelswarm.judge.verdict import CallRecord, OutputRecord
from kernelswarm.protocol import RETAIN_OUTPUT_BYTES, Called, Finished, InputMode, OutputFact


@dataclass(frozen=True)
class PlannedCall:
    case: TestCase
    mode: InputMode
    key: str  # the name the candidate worker keeps these inputs under
    source: str | None  # the earlier key whose tensors are reused, cloned or overwritten

    @property
    def sends_inputs(self) -> bool:
        return self.mode in (InputMode.FRESH, InputMode.OVERWRITE)


def releases(plan: list[PlannedCall]) -> list[list[str]]:
    """For each call, the input keys no later call refers to (the worker frees them first)."""
    out: list[list[str]] = []
    live: set[str] = set()
    for i, planned in enumerate(plan):
        later = {p.source for p in plan[i:] if p.source is not None}
        gone = sorted(k for k in live if k not in later)
        live -= set(gone)
        live.add(planned.key)
        out.append(gone)
    return out


def held_for_calls(plan: list[PlannedCall]) -> int:
    """The most host memory the candidate worker holds for the judge's sake over these calls:
    every input set it is sent or clones (small ones are kept to the end), a pristine copy of
    one call's inputs, the outputs it keeps for the final look (at most RETAIN_OUTPUT_BYTES)
    and one call's outputs with their kept copies. On a GPU with room they cost no host memory;
    where it is full they arrive on the host."""
    if not plan:
        return 0
    received = sum(
        p.case.input_nbytes for p in plan if p.mode in (InputMode.FRESH, InputMode.CLONE)
    )
    outputs = [2 * sum(p.case.output_nbytes) for p in plan]
    pristine = max(p.case.input_nbytes for p in plan)
    return received + pristine + min(RETAIN_OUTPUT_BYTES, sum(outputs)) + max(outputs)


def plan_calls(tests: list[TestCase]) -> list[PlannedCall]:
    usable = [t for t in tests if t.usable]
    if len(usable) < 2:
        return [PlannedCall(t, InputMode.FRESH, t.name, None) for t in usable]
    a, b = usable[0], usable[1]
    plan = [
        PlannedCall(a, InputMode.FRESH, "A", None),
        PlannedCall(b, InputMode.FRESH, "B", None),
        PlannedCall(a, InputMode.REUSE, "A", "A"),
        PlannedCall(a, InputMode.CLONE, "A-clone", "A"),
    ]
    plan += [PlannedCall(t, InputMode.FRESH, t.name, None) for t in usable[2:]]
    if len(usable) >= 3 and _same_layout(a.inputs, usable[2].inputs):
        plan.append(PlannedCall(usable[2], InputMode.OVERWRITE, "A-overwritten", "A"))
    # New values written into the previous call's own buffers, as a static-shape loop or a CUDA
    # graph's inputs are updated: a cache keyed on the last call's addresses returns a stale answer.
    last = plan[-1]
    fresh = [t for t in usable if t is not last.case and _same_layout(t.inputs, last.case.inputs)]
    if fresh:
        plan.append(PlannedCall(fresh[0], InputMode.OVERWRITE, "previous-overwritten", last.key))
    return plan


def _same_layout(a: list[Any], b: list[Any]) -> bool:
    """Whether b's tensors can be written into a's (same count, shapes and dtypes)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if isinstance(x, torch.Tensor) != isinstance(y, torch.Tensor):
            return False
        if isinstance(x, torch.Tensor) and (x.shape != y.shape or x.dtype != y.dtype):
            return False
    return True


class CallJudge:
    """Judges the candidate worker's replies, call by call; failures go to ``reasons``."""

    def __init__(self, device: str, reasons: Reasons, notes: list[str]) -> None:
        self.device = device
        self.reasons = reasons
        self.notes = notes
        self.records: list[CallRecord] = []
        self._fresh_failed: set[tuple[str, int]] = set()

    def judge(self, planned: PlannedCall, reply: Called) -> CallRecord:
        case, mode = planned.case, planned.mode
        label = f"{case.name} ({mode.words})"
        record = CallRecord(
            call=reply.call, test=case.name, inputs=mode.words, passed=True,
            host_seconds=reply.host_seconds, poisoned_bytes=reply.poisoned_bytes,
        )  # fmt: skip
        self.records.append(record)
        before = self.reasons.checks()
        if reply.tampered:
            self.reasons.reject(
                Check.INTEGRITY,
                f"the candidate replaced {', '.join(reply.tampered)} during forward",
                label,
            )
        if reply.structure != case.structure or len(reply.facts) != len(case.working):
            self.reasons.reject(
                Check.STRUCTURE,
                f"forward returned {reply.structure}; the reference returns {case.structure}",
                label,
            )
        else:
            for k, (fact, out) in enumerate(zip(reply.facts, reply.outputs, strict=True)):
                record.outputs.append(self._output(case, mode, label, k, fact, out))
        for m in reply.mutated_inputs:
            if m.input not in case.mutated_inputs:
                self.reasons.reject(
                    Check.MUTATION,
                    f"forward modified input {m.input} in place ({m.change.elements} elements changed, "
                    f"max change {m.change.max_abs_change:.3g}); the reference leaves its inputs alone",
                    label,
                )
        if reply.threads_alive:
            note = f"threads still running after forward returned: {', '.join(reply.threads_alive)}"
            if note not in self.notes:
                self.notes.append(note)
        record.passed = self.reasons.checks() == before and all(o.passed for o in record.outputs)
        return record

    def _output(
        self,
        case: TestCase,
        mode: InputMode,
        label: str,
        k: int,
        fact: OutputFact,
        out: torch.Tensor | None,
    ) -> OutputRecord:
        want = case.working[k]
        record = OutputRecord(index=k, passed=False)
        which = f"output {k}" if len(case.working) > 1 else "the output"
        reject = self.reasons.reject
        if not fact.exact_tensor and not fact.scalar:
            reject(Check.TYPE, f"{which} is a {fact.type}, not an exact torch.Tensor", label)
            return record
        if fact.scalar:
            if "Tensor" in case.structure:
                reject(
                    Check.TYPE,
                    f"{which} is a Python {fact.type}, the reference's is a tensor",
                    label,
                )
                return record
        else:
            if fact.null_data:
                reject(Check.TYPE, f"{which} has no storage (null data pointer)", label)
                return record
            if fact.dtype != str(want.dtype).removeprefix("torch."):
                reject(
                    Check.DTYPE, f"{which} is {fact.dtype}; the reference's is {want.dtype}", label
                )
            if fact.shape != list(want.shape):
                reject(
                    Check.SHAPE,
                    f"{which} has shape {fact.shape}; the reference's is {list(want.shape)}",
                    label,
                )
                return record
            if fact.device != self.device:
                reject(
                    Check.DEVICE,
                    f"{which} is on {fact.device}; the inputs were on {self.device}",
                    label,
                )
            if fact.layout != "torch.strided":
                reject(
                    Check.TYPE,
                    f"{which} has layout {fact.layout}; a dense tensor is expected",
                    label,
                )
                return record
            if fact.aliases_input is not None and fact.aliases_input not in case.aliased_inputs:
                reject(
                    Check.ALIASING,
                    f"{which} shares memory with input {fact.aliases_input}; the reference's does not",
                    label,
                )
            if fact.reuses_output_of_call is not None:
                reject(
                    Check.ALIASING,
                    f"{which} reuses the memory of the output returned by call "
                    f"{fact.reuses_output_of_call}, so that earlier result was overwritten",
                    label,
                )
            if fact.changed_after_return is not None:
                change = fact.changed_after_return
                reject(
                    Check.COMPLETION,
                    f"{which} changed after forward returned ({change.elements} elements, max change "
                    f"{change.max_abs_change:.3g}): work was still running on a side stream or thread",
                    label,
                )
        if out is None:
            return record
        if out.shape != want.shape:  # the fact said otherwise: the reply contradicts itself
            reject(
                Check.PROTOCOL,
                f"{which} arrived with shape {list(out.shape)}, not as reported",
                label,
            )
            return record
        comparison: Comparison = case.tolerances[k].check(out)
        record.passed = comparison.passed
        record.normwise_error = comparison.normwise_error
        record.allowed_normwise = comparison.allowed_normwise
        record.worst_ratio = comparison.worst_ratio
        record.worst_index = list(comparison.worst_index) if comparison.worst_index else None
        if not comparison.passed:
            check = comparison.check
            detail = f"{which}: {comparison.detail}"
            if mode is InputMode.FRESH:
                self._fresh_failed.add((case.name, k))
            elif check is Check.VALUES and (case.name, k) not in self._fresh_failed:
                # Right on fresh inputs, wrong on the same test's inputs in other memory:
                # the candidate keys something on addresses, ids or shapes.
                check, detail = Check.STATE, f"with {mode.words}, {detail}"
            reject(check, detail, label)
        return record

    def finish(self, reply: Finished) -> None:
        """The final re-check of every output the candidate returned."""
        for late in reply.outputs_changed_later:
            self.reasons.reject(
                Check.COMPLETION,
                f"the output of call {late.call} changed after it was returned "
                f"({late.change.elements} elements, max change {late.change.max_abs_change:.3g}): "
                "a later call overwrote it, or work was still running",
            )
        if reply.tampered:
            self.reasons.reject(
                Check.INTEGRITY, f"the candidate replaced {', '.join(reply.tampered)}"
            )
        if reply.threads_alive:
            self.notes.append(f"threads left running at the end: {', '.join(reply.threads_alive)}")
