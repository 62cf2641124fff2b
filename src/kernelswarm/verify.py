"""The judge: runs the reference and the candidate in separate workers and decides.

The reference worker draws every test's inputs under fresh seeds and computes the float64
answer; the candidate worker, a different process that never holds an answer, runs the
candidate on those inputs one call at a time in an order meant to expose caching (same tensors
again, equal values at new addresses, new values at old addresses). This process compares,
applies the hygiene rules to the facts the candidate worker reports, and writes the verdict.
"""

from __future__ import annotations

import math
import random
import secrets
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from kernelswarm import variants
from kernelswarm.bench import Measurement, TimingOptions, device_lock
from kernelswarm.compare import Comparison, Tolerance, all_finite
from kernelswarm.precision import POLICIES, UNIT_ROUNDOFF, Policy
from kernelswarm.problem import Override
from kernelswarm.sandbox import Failure, Limits, Worker, WorkerError, physical_memory_bytes
from kernelswarm.verdict import CallRecord, OutputRecord, Reason, TestRecord, Verdict
from kernelswarm.worker.common import same_bits

#: checks whose failure means "could not judge" rather than "the candidate is wrong"
JUDGE_FAULTS = frozenset({"problem", "arguments", "determinism", "strength", "harness"})

Progress = Callable[[str], None]
#: tests drawn beyond the default ones when too few are strong
MAX_EXTRA_TESTS = 8
#: tests kept however large a test is (two base tests for the call plan, one variant)
MIN_TESTS = 3
#: the share of physical memory one judge's tests may take by default
TEST_MEMORY_SHARE = 0.35


@dataclass(frozen=True)
class CheckConfig:
    problem: Path
    candidate: Path
    device: str = "cpu"
    policy: Policy = POLICIES["strict"]
    overrides: tuple[Override, ...] = ()
    seed: int | None = None
    weights: str = (
        "share"  # "share": reference weights where names and shapes match; "seed": own init
    )
    limits: Limits = field(default_factory=Limits)
    base_tests: int = 3
    min_strong: int = 3
    keep_scratch: bool = False
    timing: TimingOptions | None = None  # None: correctness only
    #: host memory the judge may fill with tests (inputs, answers, tolerances); None: a share
    #: of this machine's memory. Large problems get fewer tests, never fewer than MIN_TESTS.
    test_memory_bytes: int | None = None


@dataclass
class TestCase:
    """One test as the judge holds it: inputs, answers and tolerances (never sent to a candidate)."""

    record: TestRecord
    inputs: list[Any]
    expected: list[torch.Tensor]
    working: list[torch.Tensor]
    structure: str
    mutated_inputs: list[int]
    aliased_inputs: list[int]
    tolerances: list[Tolerance] = field(default_factory=list)

    @property
    def output_nbytes(self) -> list[int]:
        return [w.numel() * w.element_size() for w in self.working]

    @property
    def host_bytes(self) -> int:
        """What the judge holds for this test."""
        tensors = [x for x in self.inputs if isinstance(x, torch.Tensor)]
        tensors += self.expected + self.working
        tensors += [
            t.allowed
            for t in self.tolerances
            if isinstance(getattr(t, "allowed", None), torch.Tensor)
        ]
        return sum(t.numel() * t.element_size() for t in tensors)


_MODE_WORDS = {
    "fresh": "fresh inputs",
    "reuse": "the same input tensors again",
    "clone": "equal values at new addresses",
    "overwrite": "new values written into earlier inputs' memory",
}

_FAILURE_CHECKS = {
    "syntax": "syntax", "import": "import", "compile": "compile", "out_of_memory": "memory",
    "memory_limit": "memory", "cuda_error": "cuda_error", "exit": "early_exit",
    "early_exit": "early_exit", "crash": "crash", "timeout": "timeout", "protocol": "protocol",
    "interrupted": "harness",
}  # fmt: skip


class Judge:
    def __init__(self, config: CheckConfig, progress: Progress | None = None) -> None:
        self.config = config
        self.progress = progress or (lambda message: None)
        self.reasons: dict[str, Reason] = {}
        self.notes: list[str] = []
        self.tests: list[TestCase] = []
        self.calls: list[CallRecord] = []
        self.passed_checks: set[str] = set()
        self.failure_log = ""
        self._fresh_failed: dict[tuple[str, int], bool] = {}
        self._probe_cache: dict[tuple[str, int, str], bool] = {}
        self.timing: dict[str, Any] | None = None
        self.imported = False  # whether candidate code has run (failures are then its fault)
        self.weights: dict[str, Any] = {}
        self._budget_words = ""
        master = config.seed if config.seed is not None else secrets.randbits(40)
        self.rng = random.Random(master)
        self.seeds: dict[str, Any] = {"master": master, "reproduce_with": f"--seed {master}"}
        self.init_seed = self.rng.getrandbits(48)
        self.seeds["init"] = self.init_seed

    # -- reasons ------------------------------------------------------------------------------
    def reject(self, check: str, detail: str, test: str | None = None) -> None:
        """Record a failed check; repeated failures of one check keep the first detail."""
        reason = self.reasons.get(check)
        if reason is None:
            self.reasons[check] = reason = Reason(check, detail)
        if test and test not in reason.tests:
            reason.tests.append(test)

    def _failure(self, failure: Failure, candidate_imported: bool) -> None:
        self.failure_log = failure.log_tail
        detail = failure.detail
        if failure.traceback:
            detail += "\n" + failure.traceback.rstrip()
        if failure.owner == "problem":
            self.reject("problem", f"the problem's own code failed: {detail}")
            return
        if failure.owner == "harness" and not candidate_imported:
            self.reject("harness", f"the worker failed before any candidate code ran: {detail}")
            return
        check = _FAILURE_CHECKS.get(failure.kind)
        if check is None:  # an exception: where it happened decides the check
            phase = failure.phase
            if phase.startswith("import candidate"):
                check = "interface" if "ModelNew" in failure.detail else "import"
            elif phase.startswith("construct candidate") or phase.startswith("share"):
                check = "constructor"
            else:
                check = "forward"
        self.reject(check, detail)

    # -- the run ------------------------------------------------------------------------------
    def run(self) -> Verdict:
        started = time.monotonic()
        cfg = self.config
        # The reference runs only the problem's own code: it gets at least the default limit, so
        # that a short --timeout meant for the candidate cannot make a slow problem unjudgeable.
        ref_limits = replace(
            cfg.limits, wall_seconds=max(cfg.limits.wall_seconds, Limits().wall_seconds)
        )
        ref = Worker("reference", cfg.device, ref_limits, cfg.keep_scratch)
        cand = Worker("candidate", cfg.device, cfg.limits, cfg.keep_scratch)
        versions: dict[str, Any] = {}
        try:
            self.progress("starting worker processes")
            ref.spawn()
            cand.spawn()
            versions = ref.handshake()["versions"]
            cand.handshake()
            load = {
                "op": "load",
                "problem": str(cfg.problem),
                "candidate": str(cfg.candidate),
                "overrides": [[o.name, o.value] for o in cfg.overrides],
                "init_seed": self.init_seed,
                "weights": cfg.weights,
                "policy_dtype": cfg.policy.reference_dtype,
                "policy_tf32": cfg.policy.tf32,
            }
            # Everything up to timing uses the device, but never while another process times.
            with device_lock(cfg.device, self.progress, shared=True):
                self._correctness(ref, cand, load)
            if cfg.timing is not None and not self.reasons:
                self._measure(ref, cand, cfg.timing)
        except WorkerError as exc:
            self._failure(
                exc.failure, candidate_imported=self.imported or exc.failure.owner == "candidate"
            )
        except Exception:  # a bug of the judge's own: reported as such (exit 2), never hidden
            self.reject("harness", "the judge itself failed:\n" + traceback.format_exc())
        finally:
            ref.close()
            cand.close()
        return self._verdict(versions, self.weights, time.monotonic() - started)

    def _correctness(self, ref: Worker, cand: Worker, load: dict[str, Any]) -> None:
        """Load both workers, draw and judge the tests, run every candidate call."""
        ref_seq = ref.send(load)
        cand_seq = cand.send(load)  # the candidate compiles while the reference computes
        self.progress("loading the problem")
        loaded = ref.wait(ref_seq)
        self.passed_checks.add("problem")
        self._draw_tests(ref, loaded.get("variants"))
        constant = loaded.get("constant_parameters") or []
        if constant:
            self.notes.append(
                f"{len(constant)} parameters hold one value throughout as initialised "
                f"({', '.join(constant[:6])}{', ...' if len(constant) > 6 else ''}): the tests use "
                "them as they are, so a kernel that ignores them (takes a weight of 1, a bias of 0) "
                "cannot be told apart here"
            )
        self.progress("loading and compiling the candidate")
        self.imported = True
        cand_loaded = cand.wait(cand_seq)
        self.weights = self._weights(cand_loaded, loaded)
        if cand_loaded["tampered"]:
            self.reject(
                "integrity",
                f"the candidate replaced {', '.join(cand_loaded['tampered'])} while loading",
            )
        if not any(r.check in JUDGE_FAULTS for r in self.reasons.values()):
            self._run_calls(cand)
            self._finish(cand)

    def _measure(self, ref: Worker, cand: Worker, options: TimingOptions) -> None:
        """Time the accepted candidate against eager and torch.compile (see ``bench``)."""
        for worker in (ref, cand):
            worker.extend(options.budget_seconds + 300)
        measurement = Measurement(
            options,
            self.config.device,
            self.config.policy,
            self.config.problem,
            self.rng,
            ref,
            cand,
            self.progress,
        )
        result = measurement.run()
        self.timing = result.to_dict()
        for reason in result.rejections:
            self.reject(reason.check, reason.detail)
        self.notes.extend(f"timing: {w}" for w in result.warnings)
        if not result.rejections:
            self.passed_checks |= {"timing", "memoisation", "impossible"}

    def _weights(self, cand_loaded: dict[str, Any], ref_loaded: dict[str, Any]) -> dict[str, Any]:
        if cand_loaded["fingerprint"] != ref_loaded["fingerprint"]:
            self.reject(
                "determinism",
                "Model(*get_init_inputs()) built different weights in two processes under the same "
                "seed: the problem's initialisation draws from an unseeded source",
            )
        w = dict(cand_loaded["weights"])
        if w["mode"] == "share":
            total = len(w["shared"]) + len(w["candidate_only"]) + len(w["shape_mismatch"])
            if w["shared"] and not w["candidate_only"] and not w["shape_mismatch"]:
                w["summary"] = (
                    f"the candidate got the reference's weights ({len(w['shared'])} tensors shared by name)"
                )
            elif w["shared"]:
                w["summary"] = (
                    f"{len(w['shared'])} of {total} candidate tensors got the reference's weights; "
                    "the rest keep their own initialisation under the same seed"
                )
            else:
                w["summary"] = (
                    "no weights shared (no names and shapes in common): the candidate keeps its "
                    "own initialisation under the same seed as the reference"
                    if total
                    else "neither model has weights"
                )
        else:
            w["summary"] = (
                "weights not shared (--weights seed): own initialisation under the same seed"
            )
        return w

    # -- tests --------------------------------------------------------------------------------
    def draw_tests(self, ref: Worker, problem_variants: list[str] | None) -> None:
        """Draw the tests and judge their strength, with no candidate (``lint`` uses this)."""
        self._draw_tests(ref, problem_variants)

    def _spec_list(self, problem_variants: list[str] | None) -> list[tuple[str, str]]:
        chosen = problem_variants or list(variants.DEFAULT_VARIANTS)
        specs = [(f"base-{i}", "base") for i in range(self.config.base_tests)]
        specs += [(v, v) for v in chosen if v != "base"]
        return specs

    def _draw_test(self, ref: Worker, name: str, variant: str) -> TestCase:
        seed = self.rng.getrandbits(48)
        self.progress(f"reference: test {name}")
        resp = ref.request({"op": "test", "name": name, "seed": seed, "variant": variant})
        record = TestRecord(name=name, variant=variant, seed=seed)
        case = TestCase(
            record, resp["inputs"], resp["expected"], resp["working"], resp["structure"],
            resp["mutated_inputs"], resp["aliased_inputs"],
        )  # fmt: skip
        self._domain(case, variant)
        if not record.skipped:
            case.tolerances = [
                Tolerance(e, w, p, self.config.policy)
                for e, w, p in zip(
                    case.expected,
                    case.working,
                    resp["policy"] or [None] * len(case.expected),
                    strict=True,
                )
            ]
            record.reference_normwise_error = [
                getattr(t, "reference_normwise", None) for t in case.tolerances
            ]
        if resp.get("again") is not None:
            self._determinism(case, resp["again"])
        return case

    def _domain(self, case: TestCase, variant: str) -> None:
        for e, w in zip(case.expected, case.working, strict=True):
            if not e.is_floating_point() or (all_finite(e) and all_finite(w)):
                continue
            bad_e = int((~torch.isfinite(e)).sum())
            if bad_e and variant != "base":
                case.record.skipped = f"outside the problem's domain: the float64 reference gives NaN/Inf at {bad_e} positions"
                return
            bad_w = int((torch.isfinite(e) & ~torch.isfinite(w)).sum())
            if bad_w:
                case.record.skipped = (
                    f"outside the working precision's range: the {w.dtype} reference overflows at "
                    f"{bad_w} positions where the float64 answer is finite"
                )
                return

    def _determinism(self, case: TestCase, again: list[torch.Tensor]) -> None:
        """The reference run twice on the same inputs must agree up to rounding.

        Differences above the square root of the unit roundoff cannot come from a different
        summation order; they mean randomness (dropout in training mode), and no tolerance
        calibrated on such a reference would mean anything.
        """
        for k, (first, second) in enumerate(zip(case.working, again, strict=True)):
            if same_bits(first, second):
                continue
            if first.is_floating_point():
                a, b = first.double(), second.double()
                scale = float(a.norm()) or 1.0
                spread = float((a - b).nan_to_num(nan=math.inf).norm()) / scale
                limit = math.sqrt(UNIT_ROUNDOFF.get(first.dtype, 2.0**-24))
            else:
                spread = float((first != second).double().mean())
                limit = 1e-3
            if spread > limit:
                self.reject(
                    "determinism",
                    f"the reference gives different answers on the same inputs (relative difference "
                    f"{spread:.3g} in output {k}, far above rounding): dropout in training mode or "
                    "another random operation; such a problem cannot be judged by comparison",
                )
                return
            self.notes.append(
                f"the reference's output {k} differs between two runs on the same inputs by "
                f"{spread:.2g} (relative): non-deterministic summation order, within rounding"
            )

    def _max_tests(self, per_test: int) -> int:
        """How many tests of ``per_test`` host bytes the judge may hold (at least MIN_TESTS)."""
        budget = self.config.test_memory_bytes
        if budget is None:
            budget = int(physical_memory_bytes() * TEST_MEMORY_SHARE)
        self._budget_words = (
            f"each test holds {per_test / 2**30:.2f} GiB on the host (inputs, float64 answers, "
            f"tolerances) and the judge's tests may take {budget / 2**30:.1f} GiB"
        )
        return max(MIN_TESTS, budget // max(per_test, 1))

    def _draw_tests(self, ref: Worker, problem_variants: list[str] | None) -> None:
        specs = self._spec_list(problem_variants)
        most = len(specs)
        while len(self.tests) < min(len(specs), most):
            name, variant = specs[len(self.tests)]
            self.tests.append(self._draw_test(ref, name, variant))
            if "determinism" in self.reasons:
                return
            if len(self.tests) == 1:
                per_test = self.tests[0].host_bytes
                if MIN_TESTS * per_test > 0.8 * physical_memory_bytes():
                    self.reject(
                        "problem",
                        f"too large to judge on this machine: one test holds {per_test / 2**30:.1f} GiB "
                        f"on the host (inputs, float64 answers, tolerances) and the judge needs "
                        f"{MIN_TESTS}, over 80% of its {physical_memory_bytes() / 2**30:.0f} GiB; "
                        "shrink the problem with --set NAME=VALUE",
                    )
                    return
                most = self._max_tests(per_test)
                if most < len(specs):
                    self.notes.append(f"{self._budget_words}: {most} tests instead of {len(specs)}")
                    # two base tests for the call plan, then the adversarial variants, then
                    # the remaining base tests
                    rest = specs[2:]
                    specs = specs[:2] + [x for x in rest if x[1] != "base"]
                    specs += [x for x in rest if x[1] == "base"]
        self._strength()
        extra = [
            v for v in variants.EXTRA_VARIANTS if problem_variants is None or v in problem_variants
        ]
        drawn = 0
        while self._strong_count() < self.config.min_strong and drawn < MAX_EXTRA_TESTS:
            if len(self.tests) >= most:
                self.notes.append(
                    f"{self._budget_words}: no more tests drawn to strengthen the check"
                )
                break
            if not extra:  # more seeds of the variants that gave strong tests
                extra = list(dict.fromkeys(t.record.variant for t in self.tests if t.record.strong))
                if not extra:
                    break
            variant = extra.pop(0)
            drawn += 1
            name = f"{variant}-{sum(t.record.variant == variant for t in self.tests) + 1}"
            self.notes.append(f"weak tests found: added test {name} to strengthen the check")
            self.tests.append(self._draw_test(ref, name, variant))
            self._strength()
        strong = self._strong_count()
        if strong < self.config.min_strong:
            weak = [t.record for t in self.tests if not t.record.strong and not t.record.skipped]
            why = "; ".join(f"{r.name}: {', '.join(r.weak_because)}" for r in weak[:4])
            self.reject(
                "strength",
                f"only {strong} strong tests (need {self.config.min_strong}): on the others a "
                f"trivial output would pass ({why}). The problem's output is too close to constant, "
                "or insensitive to its inputs, to tell a right kernel from a wrong one.",
            )
        else:
            self.passed_checks.add("strength")

    def _strong_count(self) -> int:
        return sum(1 for t in self.tests if t.record.strong and not t.record.skipped)

    def _strength(self) -> None:
        """Mark each test weak if zeros, a constant, another answer or the input would pass it.

        Probe outcomes are cached: drawing one more test adds probes, it changes none. The
        input-returned-unchanged probe counts only if it fails somewhere: where it passes on
        every test, the function *is* the identity (a copy, a reshape), returning an equal tensor
        is right, and returning the input's own memory is the aliasing check's business.
        """
        usable = [t for t in self.tests if not t.record.skipped]
        outcomes: dict[tuple[str, int, str], bool] = {}
        for case in usable:
            for k, (tol, w) in enumerate(zip(case.tolerances, case.working, strict=True)):
                for name, probe in self._probes(case, k, w, usable).items():
                    key = (case.record.name, k, name)
                    if key not in self._probe_cache:  # built one at a time: tests can be GiB
                        self._probe_cache[key] = tol.check(probe(), quick=True).passed
                    outcomes[key] = self._probe_cache[key]
        identity = [
            passed for (_, _, name), passed in outcomes.items() if name.startswith("input ")
        ]
        identity_is_the_function = bool(identity) and all(identity)
        for case in usable:
            weak = []
            for (test, k, name), passed in outcomes.items():
                if test != case.record.name or not passed:
                    continue
                if identity_is_the_function and name.startswith("input "):
                    continue
                weak.append((f"output {k}: " if len(case.working) > 1 else "") + name)
            case.record.weak_because = weak
            case.record.strong = not weak
        note = "the output equals an input on every test: returning an equal tensor is right, its own memory is not"
        if identity_is_the_function and note not in self.notes:
            self.notes.append(note)

    @staticmethod
    def _probes(
        case: TestCase, k: int, w: torch.Tensor, usable: list[TestCase]
    ) -> dict[str, Callable[[], torch.Tensor]]:
        probes: dict[str, Callable[[], torch.Tensor]] = {"zeros": lambda: torch.zeros_like(w)}
        others = [t for t in usable if t is not case and t.working[k].shape == w.shape]
        same_dist = [t for t in others if t.record.variant == "base"]
        if w.is_floating_point() and same_dist:
            mean = float(torch.stack([t.expected[k].double().mean() for t in same_dist]).mean())
            probes["a constant (the mean answer of other tests)"] = lambda: torch.full_like(w, mean)
        for t in others[:3]:
            probes[f"the answer of test {t.record.name}"] = _given(t.working[k])
        for i, x in enumerate(case.inputs):
            if isinstance(x, torch.Tensor) and x.shape == w.shape and x.dtype == w.dtype:
                probes[f"input {i} returned unchanged"] = _given(x)
        return probes

    # -- the candidate's calls ----------------------------------------------------------------
    def _call_plan(self) -> list[tuple[TestCase, str, str, str | None]]:
        usable = [t for t in self.tests if not t.record.skipped]
        plan: list[tuple[TestCase, str, str, str | None]] = []
        if len(usable) >= 2:
            a, b = usable[0], usable[1]
            plan += [(a, "fresh", "A", None), (b, "fresh", "B", None), (a, "reuse", "A", "A"),
                     (a, "clone", "A-clone", "A")]  # fmt: skip
            plan += [(t, "fresh", t.record.name, None) for t in usable[2:]]
            if len(usable) >= 3 and _same_layout(a.inputs, usable[2].inputs):
                plan.append((usable[2], "overwrite", "A-overwritten", "A"))
        else:
            plan += [(t, "fresh", t.record.name, None) for t in usable]
        return plan

    def _run_calls(self, cand: Worker) -> None:
        for number, (case, mode, key, source) in enumerate(self._call_plan(), start=1):
            self.progress(f"candidate: call {number} ({case.record.name}, {_MODE_WORDS[mode]})")
            message: dict[str, Any] = {
                "op": "call", "mode": mode, "key": key, "source": source,
                "output_nbytes": case.output_nbytes,
            }  # fmt: skip
            if mode in ("fresh", "overwrite"):
                message["inputs"] = case.inputs
            self._judge_call(case, mode, cand.request(message))

    def _judge_call(self, case: TestCase, mode: str, resp: dict[str, Any]) -> None:
        name = case.record.name
        label = f"{name} ({_MODE_WORDS[mode]})"
        record = CallRecord(
            call=resp["call"], test=name, inputs=_MODE_WORDS[mode], passed=True,
            host_seconds=resp["host_seconds"], poisoned_bytes=resp["poison"]["poisoned_bytes"],
        )  # fmt: skip
        self.calls.append(record)
        before = set(self.reasons)
        if resp["tampered"]:
            self.reject(
                "integrity",
                f"the candidate replaced {', '.join(resp['tampered'])} during forward",
                label,
            )
        if resp["structure"] != case.structure:
            self.reject(
                "structure",
                f"forward returned {resp['structure']}; the reference returns {case.structure}",
                label,
            )
        else:
            for k, (fact, out) in enumerate(zip(resp["facts"], resp["outputs"], strict=True)):
                record.outputs.append(self._judge_output(case, mode, label, k, fact, out))
        for m in resp["mutated_inputs"]:
            if m["input"] not in case.mutated_inputs:
                self.reject(
                    "mutation",
                    f"forward modified input {m['input']} in place ({m['elements']} elements changed, "
                    f"max change {m['max_abs_change']:.3g}); the reference leaves its inputs alone",
                    label,
                )
        if resp["threads_alive"]:
            note = (
                f"threads still running after forward returned: {', '.join(resp['threads_alive'])}"
            )
            if note not in self.notes:
                self.notes.append(note)
        record.passed = set(self.reasons) == before and all(o.passed for o in record.outputs)

    def _judge_output(
        self,
        case: TestCase,
        mode: str,
        label: str,
        k: int,
        fact: dict[str, Any],
        out: torch.Tensor | None,
    ) -> OutputRecord:
        want = case.working[k]
        record = OutputRecord(index=k, passed=False)
        which = f"output {k}" if len(case.working) > 1 else "the output"
        if not fact.get("exact_tensor") and not fact.get("scalar"):
            self.reject("type", f"{which} is a {fact['type']}, not an exact torch.Tensor", label)
            return record
        if fact.get("scalar"):
            if case.structure.count("Tensor"):
                self.reject(
                    "type",
                    f"{which} is a Python {fact['type']}, the reference's is a tensor",
                    label,
                )
                return record
        else:
            if fact.get("null_data"):
                self.reject("type", f"{which} has no storage (null data pointer)", label)
                return record
            if fact["dtype"] != str(want.dtype).removeprefix("torch."):
                self.reject(
                    "dtype", f"{which} is {fact['dtype']}; the reference's is {want.dtype}", label
                )
            if list(fact["shape"]) != list(want.shape):
                self.reject(
                    "shape",
                    f"{which} has shape {fact['shape']}; the reference's is {list(want.shape)}",
                    label,
                )
                return record
            if fact["device"] != self.config.device:
                self.reject(
                    "device",
                    f"{which} is on {fact['device']}; the inputs were on {self.config.device}",
                    label,
                )
            if fact["layout"] != "torch.strided":
                self.reject(
                    "type",
                    f"{which} has layout {fact['layout']}; a dense tensor is expected",
                    label,
                )
                return record
            if (
                fact.get("aliases_input") is not None
                and fact["aliases_input"] not in case.aliased_inputs
            ):
                self.reject(
                    "aliasing",
                    f"{which} shares memory with input {fact['aliases_input']}; the reference's does not",
                    label,
                )
            if fact.get("reuses_output_of_call") is not None:
                self.reject(
                    "aliasing",
                    f"{which} reuses the memory of the output returned by call "
                    f"{fact['reuses_output_of_call']}, so that earlier result was overwritten",
                    label,
                )
            if "changed_after_return" in fact:
                change = fact["changed_after_return"]
                self.reject(
                    "completion",
                    f"{which} changed after forward returned ({change['elements']} elements, max change "
                    f"{change['max_abs_change']:.3g}): work was still running on a side stream or thread",
                    label,
                )
        if out is None:
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
            fresh_failed = self._fresh_failed.get((case.record.name, k), False)
            if mode == "fresh":
                self._fresh_failed[(case.record.name, k)] = True
            elif check == "values" and not fresh_failed:
                # Right on fresh inputs, wrong on the same test's inputs in other memory:
                # the candidate keys something on addresses, ids or shapes.
                check, detail = "state", f"with {_MODE_WORDS[mode]}, {detail}"
            self.reject(check, detail, label)
        return record

    def _finish(self, cand: Worker) -> None:
        self.progress("candidate: final re-check of every returned output")
        resp = cand.request({"op": "finish"})
        for change in resp["outputs_changed_later"]:
            self.reject(
                "completion",
                f"the output of call {change['call']} changed after it was returned "
                f"({change['elements']} elements, max change {change['max_abs_change']:.3g}): a later "
                "call overwrote it, or work was still running",
            )
        if resp["tampered"]:
            self.reject("integrity", f"the candidate replaced {', '.join(resp['tampered'])}")
        if resp["threads_alive"]:
            self.notes.append(
                f"threads left running at the end: {', '.join(resp['threads_alive'])}"
            )

    # -- the verdict --------------------------------------------------------------------------
    def _verdict(
        self, versions: dict[str, Any], weights: dict[str, Any], elapsed: float
    ) -> Verdict:
        reasons = list(self.reasons.values())
        candidate_faults = [r for r in reasons if r.check not in JUDGE_FAULTS]
        if candidate_faults:
            verdict = "rejected"
        elif reasons:
            verdict = "error"
        else:
            verdict = "accepted"
        if not self.calls and verdict == "accepted":
            verdict = "error"
            reasons.append(Reason("harness", "no call of the candidate was judged"))
        if self.calls:
            self.passed_checks |= {"forward", "syntax", "import", "constructor", "interface"}
            self.passed_checks |= {
                "structure", "type", "dtype", "shape", "device", "values", "nonfinite", "state",
                "mutation", "aliasing", "completion", "integrity", "protocol",
            }  # fmt: skip
        self.passed_checks -= {r.check for r in reasons}
        self.seeds["tests"] = {t.record.name: t.record.seed for t in self.tests}
        return Verdict(
            verdict=verdict,
            reasons=reasons,
            problem=str(self.config.problem),
            candidate=str(self.config.candidate),
            device=self.config.device,
            precision=self.config.policy.name,
            seeds=self.seeds,
            weights=weights,
            tests=[t.record for t in self.tests],
            calls=self.calls,
            checks_passed=sorted(self.passed_checks),
            notes=self.notes,
            versions=versions,
            elapsed_seconds=round(elapsed, 2),
            failure_log=self.failure_log,
            timing=self.timing,
        )


def _given(tensor: torch.Tensor) -> Callable[[], torch.Tensor]:
    return lambda: tensor


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


def check(config: CheckConfig, progress: Progress | None = None) -> Verdict:
    """Judge one candidate against one problem."""
    return Judge(config, progress).run()
