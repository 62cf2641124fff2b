"""The judge: runs the reference and the candidate in separate workers and decides.

The reference worker draws every test's inputs under fresh seeds and computes the float64
answer; the candidate worker, a different process that never holds an answer, runs the
candidate on those inputs one call at a time in an order meant to expose caching (``calls``).
This process compares, applies the hygiene rules to the facts the candidate worker reports, and
writes the verdict; an accepted candidate is then timed against both baselines (``measure``).
"""

from __future__ import annotations

import contextlib
import random
import secrets
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kernelswarm.judge import memlog
from kernelswarm.judge.attribution import attribute
from kernelswarm.judge.builds import folder_for
from kernelswarm.judge.calls import CallJudge, held_for_calls, plan_calls, releases
from kernelswarm.judge.client import CandidateClient, Pending, ReferenceClient, open_endpoint
from kernelswarm.judge.gpu_memory import give_back
from kernelswarm.judge.gpus import Gpu, pinned
from kernelswarm.judge.lock import device_lock
from kernelswarm.judge.measure import Measurement, MeasurementFailed
from kernelswarm.judge.protections import available
from kernelswarm.judge.reasons import Check, Reason, Reasons
from kernelswarm.judge.results import TimingOptions, TimingResult
from kernelswarm.judge.sandbox import Limits, WorkerError, reference_limits
from kernelswarm.judge.shared import SharedTests
from kernelswarm.judge.tests import TestDrawer, TestPlan
from kernelswarm.judge.verdict import Outcome, PhaseTimes, Seeds, Verdict, Weights
from kernelswarm.precision import POLICIES, Policy
from kernelswarm.problem import Override
from kernelswarm.protocol import (
    CandidateLoaded,
    ReferenceLoaded,
    Role,
    TimingPrepared,
    Versions,
)

Progress = Callable[[str], None]

#: a test's inputs from this size on are freed in the candidate's worker once no call needs them
RELEASE_FROM_BYTES = 256 << 20

#: checks a verdict has passed once the candidate's calls were judged (unless they failed)
_CALL_CHECKS = frozenset({
    Check.FORWARD, Check.SYNTAX, Check.IMPORT, Check.CONSTRUCTOR, Check.INTERFACE,
    Check.STRUCTURE, Check.TYPE, Check.DTYPE, Check.SHAPE, Check.DEVICE, Check.VALUES,
    Check.NONFINITE, Check.STATE, Check.MUTATION, Check.ALIASING, Check.COMPLETION,
    Check.INTEGRITY, Check.PROTOCOL,
})  # fmt: skip


@dataclass(frozen=True)
class CheckConfig:
    problem: Path
    candidate: Path
    device: str = "cpu"
    policy: Policy = POLICIES["strict"]
    overrides: tuple[Override, ...] = ()
    seed: int | None = None
    #: "share": reference weights where names and shapes match; "seed": own init
    weights: str = "share"
    limits: Limits = field(default_factory=Limits)
    base_tests: int = 3
    min_strong: int = 3
    keep_scratch: bool = False
    timing: TimingOptions | None = None  # None: correctness only
    #: host memory the judge may fill with tests (inputs, answers, tolerances); None: a share
    #: of this machine's memory. Large problems get fewer tests, never fewer than MIN_TESTS.
    test_memory_bytes: int | None = None
    #: debugging only: both workers run in this process, without a sandbox (``judge.twin``)
    in_process: bool = False
    #: judge without confinement where this machine cannot confine a worker (said in the verdict)
    unconfined: bool = False
    #: keep the candidate's compiled builds between checks of the same source (``judge.builds``)
    build_cache: bool = True
    #: a round's tests, drawn once for every candidate (``judge.shared``); None: draw them here
    shared: SharedTests | None = None
    #: the GPU of several this check is pinned to (``judge.gpus``); None: the process's default
    gpu: Gpu | None = None


def describe_weights(loaded: CandidateLoaded) -> Weights:
    w = loaded.weights
    total = len(w.shared) + len(w.candidate_only) + len(w.shape_mismatch)
    if w.mode != "share":
        summary = "weights not shared (--weights seed): own initialisation under the same seed"
    elif w.shared and not w.candidate_only and not w.shape_mismatch:
        summary = (
            f"the candidate got the reference's weights ({len(w.shared)} tensors shared by name)"
        )
    elif w.shared:
        summary = (
            f"{len(w.shared)} of {total} candidate tensors got the reference's weights; "
            "the rest keep their own initialisation under the same seed"
        )
    elif total:
        summary = (
            "no weights shared (no names and shapes in common): the candidate keeps its "
            "own initialisation under the same seed as the reference"
        )
    else:
        summary = "neither model has weights"
    return Weights(**vars(w), summary=summary)


class Judge:
    def __init__(self, config: CheckConfig, progress: Progress | None = None) -> None:
        self.config = config
        self.progress = progress or (lambda message: None)
        self.reasons = Reasons()
        self.notes: list[str] = []
        self.passed: set[Check] = set()
        self.failure_log = ""
        self.timing: TimingResult | None = None
        #: the reference importing what timing needs, while the candidate runs (see _prepare)
        self.preparing: Pending[TimingPrepared] | None = None
        self.weights: Weights | None = None
        self.protections: list[str] = []
        self.phases = PhaseTimes()
        master = config.seed if config.seed is not None else secrets.randbits(40)
        self.rng = random.Random(master)
        self.init_seed = self.rng.getrandbits(48)
        if config.shared is not None:  # the round's tests: its seeds, a fresh one for the rest
            master, self.init_seed = config.shared.master, config.shared.init_seed
            self.rng = random.Random(secrets.randbits(40))
        self.seeds = Seeds(master=master, reproduce_with=f"--seed {master}", init=self.init_seed)
        plan = TestPlan(
            config.policy, config.base_tests, config.min_strong, config.test_memory_bytes,
            config.device,
        )  # fmt: skip
        self.tests = TestDrawer(plan, self.rng, self.reasons, self.notes, self.progress)
        if config.shared is not None:
            self.tests.tests = list(config.shared.tests)
            for reason in config.shared.reasons:
                self.reasons.add(reason)
            self.notes.extend(config.shared.notes)
            self.notes.append(
                "tests shared by every candidate of this round (drawn once, fresh seeds)"
            )
        self.calls = CallJudge(config.device, self.reasons, self.notes)
        if config.in_process:
            self.notes.append(
                "judged in-process (debugging): the candidate ran in the judge's own process, "
                "without a sandbox, limits or isolation"
            )

    def _confinement(self) -> bool:
        """Whether workers run confined; a reason when they cannot and must."""
        if self.config.in_process:
            return False
        if self.config.unconfined:
            self.notes.append(
                "judged unconfined (--unconfined): the workers had no namespaces and no Landlock; "
                "the candidate could read what this user can read, see other processes and use "
                "the network"
            )
            return False
        protections = available()
        self.protections = [name for name, active, _ in protections.lines() if active]
        if protections.complete:
            return True
        self.protections = []
        self.reasons.reject(
            Check.CONFINEMENT,
            f"this machine cannot confine a worker ({'; '.join(protections.problems)}), and an "
            "untrusted candidate is not run without it: judge on a machine that can (kernelswarm "
            "doctor says what is missing), or pass --unconfined to judge anyway",
        )
        return False

    def run(self) -> Verdict:
        with pinned(self.config.gpu):  # workers, tensors and the device lock: that GPU's
            return self._run()

    def _run(self) -> Verdict:
        started = time.monotonic()
        cfg = self.config
        confined = self._confinement()
        if Check.CONFINEMENT in self.reasons:
            return self._verdict(None, time.monotonic() - started)
        # The reference runs only the problem's own code: it gets at least the default limit, so
        # that a short --timeout meant for the candidate cannot make a slow problem unjudgeable.
        ref_limits = reference_limits(cfg.limits)
        # With the round's tests drawn already, the reference worker is needed only for timing.
        need_ref = cfg.shared is None or cfg.timing is not None
        ref = (
            ReferenceClient(
                open_endpoint(
                    Role.REFERENCE,
                    cfg.device,
                    ref_limits,
                    cfg.keep_scratch,
                    cfg.in_process,
                    confined,
                )
            )
            if need_ref
            else None
        )
        builds = None
        if cfg.build_cache and not cfg.in_process:
            builds, reused = folder_for(cfg.candidate, cfg.device)
            self.notes.append(
                "compiled builds reused from the cache (same source, same toolchain)"
                if reused
                else f"compiled builds kept for the next check of this source ({builds.name})"
            )
        cand = CandidateClient(
            open_endpoint(
                Role.CANDIDATE,
                cfg.device,
                cfg.limits,
                cfg.keep_scratch,
                cfg.in_process,
                confined,
                builds,
            )
        )
        versions: Versions | None = None
        try:
            self.progress("starting worker processes")
            with self._clock("starting"):
                if ref is not None:
                    ref.spawn()
                cand.spawn()
                versions = (
                    ref.handshake().versions if ref is not None else cand.handshake().versions
                )
                if ref is not None:
                    cand.handshake()
            # Everything up to timing uses the device, but never while another process times.
            with device_lock(cfg.device, self.progress, shared=True):
                self._correctness(ref, cand)
            if cfg.timing is not None and not self.reasons:
                assert ref is not None
                if cfg.shared is None:  # the tests are judged: their memory goes to the timing
                    self.tests.release()
                    memlog.log("tests let go for timing")
                with self._clock("timing"):
                    self._prepared()
                    self._measure(ref, cand, cfg.timing)
        except WorkerError as exc:
            self.failure_log = exc.failure.log_tail
            self.reasons.add(attribute(exc.failure))
        except Exception:  # a bug of the judge's own: reported as such (exit 2), never hidden
            self.reasons.reject(
                Check.HARNESS, "the judge itself failed:\n" + traceback.format_exc()
            )
        finally:
            if ref is not None:
                ref.close()
            cand.close()
        return self._verdict(versions, time.monotonic() - started)

    def _correctness(self, ref: ReferenceClient | None, cand: CandidateClient) -> None:
        """Load both workers, draw and judge the tests, run every candidate call."""
        cfg = self.config
        ref_loading = (
            ref.begin_load(str(cfg.problem), cfg.overrides, self.init_seed, cfg.policy)
            if ref is not None
            else None
        )
        # the candidate compiles while the reference computes
        cand_loading = cand.begin_load(
            str(cfg.problem), str(cfg.candidate), cfg.overrides, self.init_seed, cfg.weights
        )
        self.progress("loading the problem")
        with self._clock("loading_and_building"):
            loaded = ref_loading.result() if ref_loading is not None else None
        self.passed.add(Check.PROBLEM)
        if cfg.shared is not None:
            loaded = cfg.shared.loaded
            strong = cfg.shared.strong_enough
        else:
            assert ref is not None and loaded is not None
            with self._clock("reference"):
                self.tests.draw(ref, loaded.variants)
                # heard from the judge: the reference lets go of the last test it sent (GiB at
                # KernelBench's sizes, kept until the judge speaks) before the candidate runs
                ref.ping()
            strong = not self.tests.strong_count() < cfg.min_strong
        self._prepare(ref)  # the reference's work for the tests is done (or was the round's)
        if strong:
            self.passed.add(Check.STRENGTH)
        self._note_constant_parameters(loaded)
        self.progress("loading and compiling the candidate")
        with self._clock("loading_and_building"):
            cand_loaded = cand_loading.result()
        self.weights = describe_weights(cand_loaded)
        if cand_loaded.fingerprint != loaded.fingerprint:
            self.reasons.reject(
                Check.DETERMINISM,
                "Model(*get_init_inputs()) built different weights in two processes under the same "
                "seed: the problem's initialisation draws from an unseeded source",
            )
        if cand_loaded.tampered:
            self.reasons.reject(
                Check.INTEGRITY,
                f"the candidate replaced {', '.join(cand_loaded.tampered)} while loading",
            )
        if self.reasons.judge_faults():
            return
        with self._clock("correctness"):
            self._calls(cand)

    def _prepare(self, ref: ReferenceClient | None) -> None:
        """With timing to come, the reference (idle until then) imports what it needs now."""
        timing = self.config.timing
        if ref is not None and timing is not None:
            self.preparing = ref.begin_prepare_timing(timing.compile_baseline)

    def _prepared(self) -> None:
        if self.preparing is None:
            return
        prepared, self.preparing = self.preparing.result(), None
        if prepared.missing:
            self.notes.append(f"timing: could not import {prepared.missing}")

    def _calls(self, cand: CandidateClient) -> None:
        plan = plan_calls(self.tests.tests)
        # Large inputs (GiB at KernelBench's sizes) are freed in the worker once no later call
        # refers to them; small ones are kept, so that fresh inputs never land in a freed test's
        # memory and an address-keyed cache is caught as such (state), not as wrong values.
        large = bool(plan) and plan[0].case.input_nbytes >= RELEASE_FROM_BYTES
        frees = releases(plan) if large else [[] for _ in plan]
        cand.hold_for_judge(held_for_calls(plan))
        for number, (planned, release) in enumerate(zip(plan, frees, strict=True), 1):
            self.progress(f"candidate: call {number} ({planned.case.name}, {planned.mode.words})")
            reply = cand.call(
                planned.mode, planned.key, planned.source, planned.case.output_nbytes,
                planned.case.inputs if planned.sends_inputs else None, release,
            )  # fmt: skip
            self.calls.judge(planned, reply)
            del reply
            if large:  # the judge's copies of GiB of outputs: the candidate's next call needs them
                give_back()
            memlog.log(f"call {number} judged")
        self.progress("candidate: final re-check of every returned output")
        self.calls.finish(cand.finish())

    @contextlib.contextmanager
    def _clock(self, phase: str) -> Iterator[None]:
        """Add the time spent inside to ``phase`` (even when it ends in a failure)."""
        started = time.monotonic()
        try:
            yield
        finally:
            setattr(self.phases, phase, getattr(self.phases, phase) + time.monotonic() - started)

    def _note_constant_parameters(self, loaded: ReferenceLoaded) -> None:
        constant = loaded.constant_parameters
        if constant:
            self.notes.append(
                f"{len(constant)} parameters hold one value throughout as initialised "
                f"({', '.join(constant[:6])}{', ...' if len(constant) > 6 else ''}): the tests use "
                "them as they are, so a kernel that ignores them (takes a weight of 1, a bias of 0) "
                "cannot be told apart here"
            )

    def _measure(self, ref: ReferenceClient, cand: CandidateClient, options: TimingOptions) -> None:
        """Time the accepted candidate against eager and torch.compile (see ``measure``)."""
        for client in (ref, cand):
            client.extend(options.budget_seconds + 300)
        measurement = Measurement(
            options, self.config.device, self.config.policy, self.config.problem, self.rng,
            ref, cand, self.progress,
        )  # fmt: skip
        try:
            self.timing = result = measurement.run()
        except MeasurementFailed as failed:
            for reason in failed.reasons:
                self.reasons.add(reason)
            return
        for reason in result.rejections:
            self.reasons.add(reason)
        self.notes.extend(f"timing: {w}" for w in result.warnings)
        if not result.rejections:
            self.passed |= {Check.TIMING, Check.MEMOISATION, Check.IMPOSSIBLE}

    def _verdict(self, versions: Versions | None, elapsed: float) -> Verdict:
        reasons = self.reasons.as_list()
        if any(not r.check.judge_fault for r in reasons):
            outcome = Outcome.REJECTED
        elif reasons:
            outcome = Outcome.ERROR
        else:
            outcome = Outcome.ACCEPTED
        if not self.calls.records and outcome is Outcome.ACCEPTED:
            outcome = Outcome.ERROR
            reasons.append(Reason(Check.HARNESS, "no call of the candidate was judged"))
        if self.calls.records:
            self.passed |= _CALL_CHECKS
        self.passed -= {r.check for r in reasons}
        self.seeds.tests = {t.name: t.record.seed for t in self.tests.tests}
        return Verdict(
            verdict=outcome,
            reasons=reasons,
            problem=str(self.config.problem),
            candidate=str(self.config.candidate),
            device=self.config.device,
            precision=self.config.policy.name,
            seeds=self.seeds,
            weights=self.weights,
            tests=[t.record for t in self.tests.tests],
            calls=self.calls.records,
            checks_passed=sorted(c.value for c in self.passed),
            notes=self.notes,
            versions=versions,
            elapsed_seconds=round(elapsed, 2),
            failure_log=self.failure_log,
            timing=self.timing,
            protections=self.protections,
            phases=PhaseTimes(
                **{
                    **{k: round(v, 2) for k, v in vars(self.phases).items()},
                    "total": round(elapsed, 2),
                }
            ),
        )


def check(config: CheckConfig, progress: Progress | None = None) -> Verdict:
    """Judge one candidate against one problem."""
    return Judge(config, progress).run()
