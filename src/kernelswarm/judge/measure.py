"""The measurement, judge side: baselines and candidate timed interleaved, checked, compared.

Baselines (eager, torch.compile) run in the reference worker, the candidate in its own worker:
no baseline output ever exists in the candidate's process. Blocks alternate between them, in a
rotating order, round after round, until every median's 95% interval is within the target or
the time budget is spent. Each block is checked before its numbers count (``timing_checks``):

* every call's output checksum at return equals that of the same input set's final output
  (work left running after forward returned shows as a difference);
* the worker's clocks, events and copies are untouched, and no persisting-L2 limit was set;
* back-to-back calls: the span of the CUDA events must match a host clock over the same calls
  with a device-wide synchronise, and the worker's host clock must match this process's clock;
* calls on input sets seen for the first time must not be much slower than repeats timed the
  same way, nor than the timed blocks themselves (memoisation gains nothing when every timed
  result is recomputed); rounds after the last first visit not much faster than those before;
* a few final outputs, and first visits' outputs, picked after the fact, are compared with the
  float64 answer;
* the candidate may not beat the speed-of-light floor.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from kernelswarm.judge import memlog, timing_checks
from kernelswarm.judge.client import CandidateClient, ReferenceClient, TimingClient
from kernelswarm.judge.compare import placed, tolerances
from kernelswarm.judge.floor import (
    Floor,
    cached_peaks,
    counts_dtype,
    floor_for,
    implausible,
    rate_for,
    store_peaks,
)
from kernelswarm.judge.gpu_memory import give_back
from kernelswarm.judge.lock import device_lock
from kernelswarm.judge.reasons import Check, Reason
from kernelswarm.judge.results import (
    EscapeRecord,
    ImplTiming,
    Speedup,
    TimingOptions,
    TimingResult,
)
from kernelswarm.judge.sandbox import WorkerError, judge_device
from kernelswarm.judge.stats import (
    describe_speedup,
    median_interval,
    ratio_interval,
    relative_halfwidth,
)
from kernelswarm.precision import Policy
from kernelswarm.problem import size_globals
from kernelswarm.protocol import BlockTimed, Counts, Peaks

Progress = Callable[[str], None]
#: input sets drawn for warming up only, where memory allows
WARMUP_SETS = 2

#: back-to-back calls of the second escape check: a stream's launch queue holds about a
#: thousand launches; past it, launching waits for the device, and the events' span then grows
#: with the work left on a side stream (on the H200 the first run alone, 5000 calls of a side
#: stream's matmul at N=4096, did not show it: examples/cheats/cuda/side_stream_when_timed.py)
SHORT_ESCAPE = 100
#: what the judge's clock may see beyond the worker's in that short run (a few milliseconds of
#: calls; the long run's JUDGE_SLACK, 10 ms, is within one busy scheduler's hiccup)
SHORT_ESCAPE_SLACK = 0.05

#: never-seen input sets timed alone after each timed block, as many repeats beside them
FRESH_PER_BLOCK = 4
#: first visits whose outputs are compared with float64 after timing (picked at random)
RECHECK_FIRST = 8
#: never-seen sets timed alone (as many repeats beside them) to confirm a memoisation finding
#: before the candidate is rejected, where sets are left: a stall of the machine during the
#: first visits must not decide alone. A memoiser computes these as it did the first ones. It
#: clears stalls shorter than the rounds, not stretches of seconds (cores oversubscribed by
#: other processes' thread pools: ~100 ms a call against 0.3 ms, docs/judge.md)
CONFIRM_FIRST = 4


@dataclasses.dataclass
class LoneCalls:
    """Calls timed alone: first visits and lone repeats, and which of them the machine stalled
    (their worker's threads waited for a core: ``timing_checks.stalled``)."""

    first: list[float] = dataclasses.field(default_factory=list)
    repeats: list[float] = dataclasses.field(default_factory=list)
    first_stalled: list[bool] = dataclasses.field(default_factory=list)
    repeats_stalled: list[bool] = dataclasses.field(default_factory=list)
    waited: float = 0.0  # seconds the stalled calls waited for a core, in all

    def add(self, first: bool, samples: list[float], waited: float | None) -> None:
        stalled = any(timing_checks.stalled(s, waited) for s in samples)
        (self.first if first else self.repeats).extend(samples)
        (self.first_stalled if first else self.repeats_stalled).extend([stalled] * len(samples))
        if stalled and waited is not None:
            self.waited += waited

    def __add__(self, other: LoneCalls) -> LoneCalls:
        return LoneCalls(
            self.first + other.first,
            self.repeats + other.repeats,
            self.first_stalled + other.first_stalled,
            self.repeats_stalled + other.repeats_stalled,
            self.waited + other.waited,
        )

    def clean(self) -> LoneCalls:
        """The calls the machine did not stall."""
        return LoneCalls(
            [s for s, x in zip(self.first, self.first_stalled, strict=True) if not x],
            [s for s, x in zip(self.repeats, self.repeats_stalled, strict=True) if not x],
        )


def _median(samples: list[float]) -> float | None:
    return float(torch.tensor(samples).median()) if samples else None


class MeasurementFailed(Exception):
    """Nothing could be measured (the reasons say why)."""

    def __init__(self, reasons: list[Reason]) -> None:
        super().__init__("; ".join(r.detail for r in reasons))
        self.reasons = reasons


class Measurement:
    """One measurement run: eager and torch.compile, and a candidate when there is one."""

    def __init__(
        self,
        options: TimingOptions,
        device: str,
        policy: Policy,
        problem: Path,
        rng: random.Random,
        reference: ReferenceClient,
        candidate: CandidateClient | None,
        progress: Progress,
    ) -> None:
        self.options = options
        self.device = device
        self.policy = policy
        self.problem = problem
        self.rng = rng
        self.ref = reference
        self.cand = candidate
        self.progress = progress
        self.warnings: list[str] = []
        self.rejections: list[Reason] = []
        self._reported: set[tuple[str, Check]] = set()
        self.impls: dict[str, ImplTiming] = {}
        self.workers: dict[str, TimingClient] = {}
        self.fresh: list[int] = []
        #: the never-seen sets, held here until the block that times them first
        self.arriving: dict[int, list[Any]] = {}
        self.discarded: dict[str, int] = {}
        self.passes = options.passes
        self.fresh_used: dict[str, int] = {}
        self.widened: set[str] = set()  # implementations whose checksums went float64
        self.visits: dict[str, LoneCalls] = {}
        #: the candidate's lone calls timed to confirm a memoisation finding
        self.confirming = LoneCalls()
        #: per implementation, the sets whose first visit was timed and counted
        self.visited: dict[str, list[int]] = {}
        #: per implementation, for each counted round: whether it had first visits
        self.round_fresh: dict[str, list[bool]] = {}

    def reject(self, name: str, reason: Reason) -> None:
        """Record a failed rule, once per implementation and check."""
        if (name, reason.check) not in self._reported:
            self._reported.add((name, reason.check))
            self.rejections.append(reason)

    def warn(self, warning: str) -> None:
        if warning not in self.warnings:
            self.warnings.append(warning)

    # -- the run ------------------------------------------------------------------------------
    def run(self) -> TimingResult:
        """Measure. Drawing inputs and warming up (compiling) may overlap other measurements;
        everything timed holds this device's lock, since two measurements at once disturb both."""
        started = time.monotonic()
        with device_lock(self.device, self.progress, shared=True):
            counts, n_sets = self._prepare_sets()
            self._warm_all()
        with device_lock(self.device, self.progress):
            peaks = self._peaks()
            memlog.log("peaks")
            return self._timed(started, n_sets, counts, peaks)

    def _warm_all(self) -> None:
        self.workers = {"eager": self.ref}
        if self.cand is not None:
            self.workers = {"candidate": self.cand, "eager": self.ref}
        if self.options.compile_baseline:
            self.workers["compile"] = self.ref
        for name in list(self.workers):
            self._warm(name)
            memlog.log(f"{name} warmed up")

    def _timed(self, started: float, n_sets: int, counts: Counts, peaks: Peaks) -> TimingResult:
        opts = self.options
        names = list(self.workers)
        for name in names:  # a short warm-up again: the one above may have shared the device
            self.workers[name].rewarm(name, 1.0)
        memlog.log("warmed up again")

        # Blocks are sized for the slowest implementation: about a quarter of a second each.
        per_call = max(max(self.impls[n].first_call_seconds or 1e-6 for n in names), 1e-7)
        calls_per_block = int(min(2000, max(opts.passes * 2, 0.25 / per_call)))
        # Half the sets are visited again and again; the other half are kept back and each is
        # visited once, at a random position of some block: the first visits (what memoisation
        # cannot speed up) are spread over the whole measurement, like the repeats.
        pool = max(1, n_sets // 2)
        used = max(1, min(pool, calls_per_block // opts.passes))
        # When few sets fit in memory (large inputs), each is visited more often per block,
        # so that a block still holds about calls_per_block samples.
        self.passes = max(opts.passes, calls_per_block // used)
        self.fresh = list(range(pool, n_sets))
        deadline = started + opts.budget_seconds
        for round_index in range(opts.max_rounds):
            order_names = names[round_index % len(names) :] + names[: round_index % len(names)]
            for name in order_names:
                self.progress(f"timing round {round_index + 1}: {name}")
                self._block(name, used)
            memlog.log(f"timing round {round_index + 1}")
            # At least min_rounds counted for each, whatever the budget: intervals come from
            # whole rounds, and a block stopped or starved on a busy machine is not counted (a
            # wait for it to settle, up to max_rounds, rather than no measurement at all).
            if any(len(self.impls[n].rounds) < opts.min_rounds for n in names):
                continue
            done = all(
                relative_halfwidth(self.impls[n].rounds) <= opts.target_rel_ci for n in names
            )
            if done or time.monotonic() > deadline:
                break
        for name in names:
            if not self.impls[name].rounds:
                self.reject(
                    name, timing_checks.unmeasured_reason(name, self.discarded.get(name, 0))
                )
                raise MeasurementFailed(self.rejections)
            self._summarise(name)
            self._escape(name)
        wide = timing_checks.wide_intervals_warning(self.impls, opts, time.monotonic() - started)
        if wide:
            self.warn(wide)
        memlog.log("escape checks")
        if self.cand is not None:
            base = "eager" if "eager" in self.impls else None
            baseline = self._unstalled(self.impls[base]) if base else None
            memo = timing_checks.memoisation_reason(self.impls["candidate"], baseline)
            if memo is not None:
                memo = self._confirm_memoisation(memo, used, baseline)
            if memo is not None:
                memo = self._unless_stalled(memo, baseline)
            self._recheck(used)  # after: first visits timed to confirm are re-checked too
            if memo is not None:
                self.reject("candidate", memo)
            late = timing_checks.late_memoisation_reason(
                self.impls["candidate"].rounds, self.round_fresh.get("candidate", []),
                self.impls[base].rounds if base else None,
                self.round_fresh.get(base, []) if base else None,
            )  # fmt: skip
            if late is not None:
                self.reject("candidate", late)
        floor, peaks = self._floor(counts, peaks)
        eager = self.impls.get("eager")
        if eager is not None:
            names_ = list(size_globals(self.problem))
            warning = timing_checks.overhead_warning(self.device, eager, peaks, names_)
            if warning:
                self.warn(warning)
        return TimingResult(
            device=self.device,
            options=opts,
            peaks=peaks,
            counts=counts,
            floor=floor,
            implementations=self.impls,
            speedups=self._speedups(),
            warnings=self.warnings,
            rejections=self.rejections,
            sets=used,
            elapsed_seconds=round(time.monotonic() - started, 2),
        )

    # -- steps --------------------------------------------------------------------------------
    def _peaks(self, fresh: bool = False) -> Peaks:
        """The device's peaks: the judge's cache (out of every worker's reach), checked against a
        short probe of the device as it is now; measured again when the two disagree."""
        hello = self.ref.hello
        gpu = hello.versions.gpu if hello else None
        key = f"{gpu if self.device == 'cuda' else 'cpu'}|torch {hello.versions.torch if hello else '?'}"
        if self.device == "cpu":
            key += f"|{os.cpu_count()} cores"
        peaks = None if (fresh or self.options.remeasure_peaks) else cached_peaks(key)
        if peaks is not None:
            self.progress("probing the device's peaks")
            why = implausible(peaks, self.ref.measure_peaks(quick=True))
            if why:
                self.warn(f"the cached peaks of this device were measured again: {why}")
                peaks = None
        if peaks is None:
            self.progress("measuring the device's peaks (once per device)")
            peaks = self.ref.measure_peaks()
            store_peaks(key, peaks)
        return peaks

    def _prepare_sets(self) -> tuple[Counts, int]:
        """Draw the timing input sets: as many as fit the memory budget, counting each set's
        output too (every set's last output is kept until the re-check)."""
        self.progress("drawing timing input sets")
        self.ref.draw_timing_sets([self.rng.getrandbits(48)], [], return_sets=False)
        memlog.log("one set drawn to count the work")
        counts = self.ref.count_work()
        memlog.log("work counted on one set")
        per_set = counts.input_bytes + counts.output_bytes
        n_sets = int(
            max(2, min(self.options.max_sets, self.options.set_memory_bytes // max(per_set, 1)))
        )
        seeds = [self.rng.getrandbits(48) for _ in range(n_sets)]
        # Warm-up sets of their own unless they alone exceed the budget: at KernelBench's sizes
        # two more sets are 12 GiB in each worker and 12 GiB more through host memory to the
        # candidate; the workers then warm up on the first set (the pool's). Not more often: a
        # warm-up on a timed set leaves that set's answers in the memory the timed calls are
        # given next, so that an output not yet written when forward returns can already hold
        # the right values (the likely reason why, on the H200, a side stream's unfinished matmul
        # at N=4096 passed the completion check once warmed on set 0; with warm-up sets of its
        # own it had always been caught there).
        apart = WARMUP_SETS * per_set <= self.options.set_memory_bytes
        warmup = [self.rng.getrandbits(48) for _ in range(WARMUP_SETS if apart else 0)]
        drawn = self.ref.draw_timing_sets(seeds, warmup, return_sets=self.cand is not None)
        if self.cand is not None:
            # The repeat pool goes now; every other set reaches the candidate only with the
            # block that times it first, so its answer cannot be prepared while nothing is timed.
            pool = max(1, n_sets // 2)
            # every set, warm-up's too, and a timed output with its copy, where the GPU is full
            self.cand.hold_for_judge((n_sets + len(warmup) + 1) * per_set)
            self.cand.store_timing_sets(dict(enumerate(drawn.sets[:pool])), drawn.warmup)
            self.arriving = {j: drawn.sets[j] for j in range(pool, n_sets)}
        del drawn
        give_back()  # the sets passed on to the candidate: GiB at KernelBench's sizes
        memlog.log(f"timing sets drawn ({n_sets} and {len(warmup)} for warm-up)")
        return counts, n_sets

    def _warm(self, name: str) -> None:
        self.progress(f"warming up {name}")
        timing = ImplTiming(name)
        self.impls[name] = timing
        max_seconds = 20.0 if name == "compile" else 5.0
        try:
            answer = self.workers[name].warmup(name, max_seconds, self.options.cuda_graph)
        except WorkerError as exc:
            if name == "candidate":
                raise
            self.warn(f"the {name} baseline could not run: {exc.failure.detail.splitlines()[0]}")
            del self.workers[name]
            del self.impls[name]
            return
        times = answer.times
        timing.warmup_calls = answer.calls
        timing.first_call_seconds = sorted(times[-3:])[len(times[-3:]) // 2]
        if name == "compile":
            # The first call compiles; later calls are what running costs.
            settled = min(times[1:]) if len(times) > 1 else 0.0
            timing.compile_seconds = answer.setup_seconds + times[0] - settled
        if not answer.stable:
            self.warn(
                f"{name}: warm-up did not settle within {max_seconds:g} s ({answer.calls} calls)"
            )

    def _order(self, used: int) -> list[int]:
        """Passes over the repeat pool, each in a new random order."""
        order = list(range(used))
        for _ in range(self.passes - 1):
            again = list(range(used))
            self.rng.shuffle(again)
            order += again
        return order

    @contextlib.contextmanager
    def _alone(self, name: str) -> Iterator[None]:
        """While one side is timed, the other side's processes are stopped."""
        others = [w for n, w in self.workers.items() if w is not self.workers[name]]
        other = others[0] if others else None
        if other is not None:
            other.freeze()
        try:
            yield
        finally:
            if other is not None:
                other.thaw()

    def _time(
        self,
        name: str,
        order: list[int],
        arriving: dict[int, list[Any]],
        first_visit: bool = False,
    ) -> BlockTimed | None:
        """One timed block, checked; the worker's answer, or None where it is not to be counted.

        ``first_visit``: the candidate's call on a set it had never seen, counted even where its
        process had little CPU time for its wall time (below): a candidate that slept after
        computing an unseen set's answer had every first visit dropped as "starved", and none was
        left to show that its repeats were lookups (``cheats/timing/sleep_to_discard_first_visits.py``,
        accepted 1.93x faster than eager). Its wall time is what the call cost."""
        with self._alone(name):
            answer = self.workers[name].time_block(name, order, self.options.flush_l2, arriving)
        reasons, warnings = timing_checks.block_reasons(name, order, answer)
        for reason in reasons:
            self.reject(name, reason)
        for warning in warnings:
            self.warn(warning)
        if name == "candidate" and answer.threads_alive:
            self.reject(name, timing_checks.threads_reason(answer.threads_alive))
        if answer.widened:
            # Its completion check could not tell outputs apart (float32 sums that overflow);
            # the worker sums later blocks in float64. Not counted: once per implementation.
            if name in self.widened:
                self.reject(
                    name,
                    Reason(
                        Check.PROTOCOL if name == "candidate" else Check.HARNESS,
                        f"{name}: a second timed block reported checksums overflowing float32, "
                        "after the worker had changed to float64 ones",
                    ),
                )
            self.widened.add(name)
            self.warn(
                f"{name}: the checksums of a timed block's outputs overflowed float32; that block "
                "was not counted and later ones were checked in float64"
            )
            return None
        if timing_checks.starved(self.device, answer) and not first_visit:
            # Stopped or starved while timed (a busy machine, or another process's doing): the
            # block measured waiting, not work, and is not counted.
            self.discarded[name] = self.discarded.get(name, 0) + 1
            self.warn(
                f"{name}: a timed block was stopped or starved (CPU time {answer.cpu_seconds:.3g} s of "
                f"{answer.host_seconds:.3g} s) and was not counted"
            )
            return None
        return answer

    def _block(self, name: str, used: int) -> None:
        """A round's block of repeats; then, each timed alone, a few sets never seen before (each
        the moment it arrives) and as many sets of the repeat pool, in a random order. First visits
        are compared with repeats timed the same way: what memoisation cannot speed up, against
        what it can."""
        calls = self.visits.setdefault(name, LoneCalls())
        seen = self.fresh_used.setdefault(name, 0)
        fresh = self.fresh[seen : seen + FRESH_PER_BLOCK]
        self.fresh_used[name] = seen + len(fresh)
        answer = self._time(name, self._order(used), {})
        if answer is not None:
            self.impls[name].rounds.append(answer.samples)
            self.round_fresh.setdefault(name, []).append(bool(fresh))
        self._singles(name, fresh, used, calls)

    def _singles(self, name: str, fresh: list[int], used: int, calls: LoneCalls) -> None:
        """Each never-seen set in ``fresh`` timed alone the moment it arrives, and as many sets
        of the repeat pool, in a random order; their samples added to ``calls``, each with the
        time its worker's threads waited for a core meanwhile: the least of what this process
        read from the kernel around the request (out of the worker's reach, but counting its
        wake-up too) and what the worker read around the call itself (which it could misstate;
        the least of the two is never more than the truth)."""
        singles = [(j, True) for j in fresh] + [(self.rng.randrange(used), False) for _ in fresh]
        self.rng.shuffle(singles)
        for j, first in singles:
            arriving = (
                {j: self.arriving.pop(j)} if name == "candidate" and j in self.arriving else {}
            )
            # A call timed alone runs as the calls of a block do: a few untimed calls first
            # (thread pools awake, caches and launch paths warm), on sets every side has seen,
            # asked for before a first visit's set is sent (an untimed call once it is in the
            # candidate's process could prepare its answer). Repeats the same way: like for like.
            worker = self.workers[name]
            worker.rewarm(name, 0.0)
            before = worker.run_queue_ns()
            answer = self._time(name, [j], arriving, first and name == "candidate")
            after = worker.run_queue_ns()
            if answer is None:
                continue
            if first:
                self.visited.setdefault(name, []).append(j)
            waited = None if before is None or after is None else (after - before) * 1e-9
            if waited is not None and answer.waited_s is not None:
                waited = min(waited, answer.waited_s)
            calls.add(first, answer.samples, waited)

    def _confirm_memoisation(
        self, finding: Reason, used: int, baseline: ImplTiming | None
    ) -> Reason | None:
        """A memoisation finding seen again on CONFIRM_FIRST more never-seen sets (and as many
        lone repeats), timed now: the finding they make, or None (said as a warning) where they
        do not make it. The finding as it was where fewer sets are left (large inputs: two or
        three sets in memory, all visited already).

        Safe against the memoiser: every one of these calls is on a set it has never seen, so
        it computes it as it did the first ones; and its timed blocks, which the comparison with
        first visits also uses, are measured already."""
        seen = self.fresh_used.get("candidate", 0)
        fresh = self.fresh[seen : seen + CONFIRM_FIRST]
        if len(fresh) < CONFIRM_FIRST:
            # fewer would be judged by the looser ratio for few first visits: a memoiser 2.5x
            # faster on repeats, found on twelve, would pass on two
            return finding
        self.fresh_used["candidate"] = seen + len(fresh)
        self.progress("timing more never-seen sets: the first ones looked memoised")
        self._singles("candidate", fresh, used, self.confirming)
        first = self.confirming.first
        timing = self.impls["candidate"]
        if len(first) < CONFIRM_FIRST:  # a block whose checksums widened is not counted
            return finding
        first_median = float(torch.tensor(first).median())
        again = dataclasses.replace(
            timing,
            first_visits=len(first),
            first_visit_median=first_median,
            repeat_median=_median(self.confirming.repeats),
        )
        confirmed = timing_checks.memoisation_reason(again, baseline)
        if confirmed is not None:
            return Reason(
                confirmed.check,
                f"{confirmed.detail} (first seen on {timing.first_visits} first visits, seen again "
                f"on {len(first)} more)",
            )
        self.warn(
            f"candidate: its first {timing.first_visits} first visits looked memoised ("
            f"{finding.detail}); {len(first)} more, timed after, took "
            f"{first_median * 1e6:.3g} µs and did not (a stalled machine, not the "
            "candidate): the first visits reported are these"
        )
        self.impls["candidate"] = again  # what the report shows is what the verdict rests on
        return None

    def _unless_stalled(self, finding: Reason, baseline: ImplTiming | None) -> Reason | None:
        """A memoisation finding, judged again without the lone calls the machine stalled (their
        worker's threads waiting for a core: other processes, or its own threads, held the
        cores): the finding those left make, or None (said as a warning); not judged at all
        (``harness``) where fewer than CONFIRM_FIRST first visits are left. The finding as it
        was where none was stalled.

        Safe against the memoiser: setting calls aside never makes it pass. Every first visit
        left is a set it computed, as slow as its others; and one that stalls its own first
        visits (its threads competing for the cores) leaves too few, and is not judged."""
        calls = self.visits.get("candidate", LoneCalls()) + self.confirming
        stalled = sum(calls.first_stalled)
        if not stalled:
            return finding
        clean = calls.clean()
        if len(clean.first) < CONFIRM_FIRST:
            return timing_checks.busy_reason(finding, stalled, len(calls.first), calls.waited)
        again = dataclasses.replace(
            self.impls["candidate"],
            first_visits=len(clean.first),
            first_visit_median=_median(clean.first),
            repeat_median=_median(clean.repeats),
        )
        found = timing_checks.memoisation_reason(again, baseline)
        if found is not None:
            return Reason(
                found.check,
                f"{found.detail} ({stalled} first visits during which the machine stalled it not "
                "counted)",
            )
        self.warn(
            f"candidate: {stalled} of its {len(calls.first)} first visits waited for a CPU core "
            f"({calls.waited * 1e3:.3g} ms in all: other processes, or its own threads, held "
            "the cores) and looked "
            f"memoised ({finding.detail}); the {len(clean.first)} the machine did not stall "
            "did not: the first visits reported are these"
        )
        self.impls["candidate"] = again
        return None

    def _unstalled(self, baseline: ImplTiming) -> ImplTiming:
        """The baseline as the memoisation rules see it: its first visits' median without those
        the machine stalled, where any are left. Stalled, they would allow the candidate's lone
        calls more over its blocks (what a call alone costs a baseline over one in its blocks):
        a memoiser's fast blocks passed on a busy machine."""
        unstalled = _median(self.visits.get(baseline.name, LoneCalls()).clean().first)
        if unstalled is None:
            return baseline
        return dataclasses.replace(baseline, first_visit_median=unstalled)

    def _summarise(self, name: str) -> None:
        timing = self.impls[name]
        samples = timing.all_samples
        timing.samples = len(samples)
        timing.median, timing.low, timing.high = median_interval(timing.rounds)
        timing.rel_halfwidth = relative_halfwidth(timing.rounds)
        calls = self.visits.get(name, LoneCalls())
        timing.first_visits = len(calls.first)
        timing.first_visit_median = _median(calls.first)
        timing.repeat_median = _median(calls.repeats)

    def _escape(self, name: str) -> None:
        """Back-to-back calls: about a tenth of a second of them; then, where there are events to
        hold against the host clock (CUDA), SHORT_ESCAPE more."""
        timing = self.impls[name]
        calls = int(min(5000, max(10, 0.1 / max(timing.median, 1e-7))))
        timing.escape = self._escape_run(name, calls)
        if timing.escape.event_seconds is not None:
            short = min(calls, SHORT_ESCAPE)
            timing.escape_short = self._escape_run(name, short, SHORT_ESCAPE_SLACK)

    def _escape_run(
        self, name: str, calls: int, judge_slack: float = timing_checks.JUDGE_SLACK
    ) -> EscapeRecord:
        worker = self.workers[name]
        with self._alone(name):
            start = time.perf_counter()
            worker.ping()
            rtt = time.perf_counter() - start
            start = time.perf_counter()
            answer = worker.escape(name, calls)
            judge_seconds = time.perf_counter() - start - rtt
        record, reasons = timing_checks.escape_reasons(name, answer, judge_seconds, judge_slack)
        for reason in reasons:
            self.reject(name, reason)
        return record

    def _recheck(self, used: int) -> None:
        """A few repeated sets' last outputs, and the first visits' (up to RECHECK_FIRST), against
        float64: a first visit is a call whose output is otherwise never looked at, and a fast
        wrong answer there would hide a memoiser's slow first visits."""
        assert self.cand is not None
        first = self.visited.get("candidate", [])
        indices = self.rng.sample(range(used), k=min(3, used)) + self.rng.sample(
            first, k=min(RECHECK_FIRST, len(first))
        )
        self.progress("re-checking timed outputs against float64")
        for j in indices:
            reason = self._recheck_set(j)
            # one set at a time: at KernelBench's sizes each set's output, answers and
            # allowances are GiB on the judge's GPU, all gone with the call above (L1/19 on
            # an H200: a set's 24 GiB still held by loop variables while the next was answered
            # ran the reference's float64 run out of memory); their memory goes back before
            # the reference answers the next set
            give_back()
            if reason is not None:
                self.reject("candidate", reason)
                return

    def _recheck_set(self, j: int) -> Reason | None:
        """The candidate's last output on timing set ``j`` against the float64 answer: why it
        fails, or None."""
        assert self.cand is not None
        leaves = self.cand.final_outputs("candidate", [j])[0]
        memlog.log(f"timed output of set {j} received")
        answers = self.ref.answer_timing_set(j)
        memlog.log(f"timing set {j} answered")
        gpu = judge_device(self.device)
        if gpu is not None:
            answers = placed(answers, gpu)  # compared on the GPU
        for k, (w, tolerance) in enumerate(
            zip(answers.working, tolerances(answers, self.policy), strict=True)
        ):
            if k >= len(leaves) or leaves[k].shape != w.shape:
                return Reason(
                    Check.VALUES,
                    f"a timed call on timing set {j} returned output {k} of the wrong shape",
                )
            result = tolerance.check(leaves[k])
            if not result.passed:
                return Reason(
                    Check.VALUES,
                    f"the output of a timed call (timing set {j}) is wrong: {result.detail}",
                )
        return None

    def _floor(self, counts: Counts, peaks: Peaks) -> tuple[Floor, Peaks]:
        """The floor, and the peaks it stands on (measured again if anything beat them)."""
        rate = rate_for(self.policy.name, counts_dtype(counts))
        floor = floor_for(counts, peaks, rate)
        fastest = min(self.impls.values(), key=lambda t: t.median)
        if fastest.median < floor.impossible_below:
            # Before anything is called impossible, make sure the peaks are not stale or were
            # measured on a busy machine: measure them again, now.
            self.progress("re-measuring the device's peaks")
            peaks = self._peaks(fresh=True)
            floor = floor_for(counts, peaks, rate)
            self.warn("the device's peaks were measured again: an implementation beat the floor")
        for timing in self.impls.values():
            if timing.median > 0:
                timing.sol_fraction = floor.seconds / timing.median
        beat = [
            f"{n} at {t.sol_fraction:.1%}"
            for n, t in self.impls.items()
            if t.sol_fraction is not None
            and t.sol_fraction > 1
            and t.median >= floor.impossible_below
        ]
        if beat:
            # Said, not hidden: above 100% of the speed of light reads as an error to anyone who
            # knows what it means. (On the H200, eager ReLU at L1/19's size: 101.3%.)
            self.warn(
                f"{', '.join(beat)} of the speed of light: the floor stands on this device's "
                f"measured peaks ({floor.bound}-bound: {floor.explain()}), not on its data-sheet "
                "limits, and this problem ran a little faster than those measurements; within "
                "the margin allowed before a time is called impossible"
            )
        baselines = [t for n, t in self.impls.items() if n != "candidate"]
        if any(t.median < floor.impossible_below for t in baselines):
            self.warn(
                "a baseline ran faster than the speed-of-light floor (its peak rates do not bound this "
                "problem on this device), so no time is judged impossible here"
            )
            return floor, peaks
        cand = self.impls.get("candidate")
        if cand is not None:
            reason = timing_checks.impossible_reason(cand, floor)
            if reason is not None:
                self.reject("candidate", reason)
        return floor, peaks

    def _speedups(self) -> dict[str, Speedup]:
        cand = self.impls.get("candidate")
        if cand is None:
            return {}
        out = {}
        for name in ("eager", "compile"):
            base = self.impls.get(name)
            if base is None:
                continue
            median, low, high = ratio_interval(
                base.rounds, cand.rounds, seed=self.rng.getrandbits(32)
            )
            out[name] = Speedup(name, median, low, high, describe_speedup(median, low, high))
        return out
