"""The measurement, judge side: baselines and candidate timed interleaved, checked, compared.

Baselines (eager, torch.compile) run in the reference worker, the candidate in its own worker:
no baseline output ever exists in the candidate's process. Blocks alternate between them, in a
rotating order, round after round, until every median's 95% interval is within the target or
the time budget is spent. Each block is checked before its numbers count:

* every call's output checksum at return equals that of the same input set's final output
  (work left running after forward returned shows as a difference);
* the worker's clocks, events and copies are untouched, and no persisting-L2 limit was set;
* back-to-back calls: the span of the CUDA events must match a host clock over the same calls
  with a device-wide synchronise, and the worker's host clock must match this process's clock;
* calls on input sets seen for the first time must not be much slower than repeats
  (memoisation gains nothing when every timed result is recomputed);
* a few final outputs, picked after the fact, are compared with the float64 answer;
* the candidate may not beat the speed-of-light floor.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from kernelswarm.compare import Tolerance
from kernelswarm.precision import Policy
from kernelswarm.problem import size_globals
from kernelswarm.roofline import Floor, cache_path, cached_peaks, floor_for, rate_for, store_peaks
from kernelswarm.sandbox import Worker, WorkerError
from kernelswarm.stats import describe_speedup, median_interval, ratio_interval, relative_halfwidth
from kernelswarm.verdict import Reason

Progress = Callable[[str], None]

#: repeats this much faster than first visits are memoisation, not cache warmth (which on a
#: CPU, with no cache flush, honestly gives up to about 1.5x)
MEMO_RATIO = 0.5
#: never-seen input sets inserted at random positions into each timed block
FRESH_PER_BLOCK = 4
#: events may miss this share of the host-clock time of back-to-back calls before work "escaped"
ESCAPE_RATIO = 1.5
#: an implementation whose eager time is under this is measuring launch overhead
OVERHEAD_SECONDS = {"cuda": 20e-6, "cpu": 50e-6}


@dataclass(frozen=True)
class TimingOptions:
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
    warmup_calls: int = 0
    first_call_seconds: float | None = None
    compile_seconds: float | None = None
    escape: dict[str, Any] = field(default_factory=dict)
    sol_fraction: float | None = None
    rounds: list[list[float]] = field(default_factory=list)


@dataclass
class SpeedupResult:
    baseline: str
    median: float
    low: float
    high: float
    summary: str


@dataclass
class TimingResult:
    device: str
    options: dict[str, Any]
    peaks: dict[str, Any]
    counts: dict[str, Any]
    floor: dict[str, Any] | None
    implementations: dict[str, ImplTiming]
    speedups: dict[str, SpeedupResult]
    warnings: list[str]
    rejections: list[Reason]
    sets: int = 0
    elapsed_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for impl in data["implementations"].values():
            impl.pop("rounds")  # raw samples travel separately (samples_seconds)
        data["samples_seconds"] = {
            n: [s for r in t.rounds for s in r] for n, t in self.implementations.items()
        }
        return data


@contextlib.contextmanager
def device_lock(device: str, progress: Progress, shared: bool = False) -> Iterator[None]:
    """A readers-writer lock per device (a file lock), across every kernelswarm process.

    Any work on the device holds it shared (warm-ups, compiling, correctness checks); a timed
    phase holds it exclusive, so that nothing else runs on the device while anything is timed.
    A process must release one hold before taking the other (flock does not nest).
    """
    index = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0] if device == "cuda" else ""
    path = cache_path().parent / f"timing-{device}{index}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fh, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(
                f"waiting for other kernelswarm work on {device} ({'a timed phase' if shared else 'to finish'})"
            )
            fcntl.flock(fh, mode)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Measurement:
    """One measurement run: eager and torch.compile, and a candidate when there is one."""

    def __init__(
        self,
        options: TimingOptions,
        device: str,
        policy: Policy,
        problem: Path,
        rng: random.Random,
        reference: Worker,
        candidate: Worker | None,
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
        self.impls: dict[str, ImplTiming] = {}
        self.workers: dict[str, Worker] = {}
        self.checksums_bad: dict[str, str] = {}
        self.fresh: list[int] = []
        self.passes = options.passes
        self.fresh_used: dict[str, int] = {}
        self.visits: dict[str, tuple[list[float], list[float]]] = {}

    def reject(self, check: str, detail: str) -> None:
        self.rejections.append(Reason(check, detail))

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
            return self._timed(started, n_sets, counts, peaks)

    def _warm_all(self) -> None:
        opts = self.options

        self.workers = {"eager": self.ref}
        if self.cand is not None:
            self.workers = {"candidate": self.cand, "eager": self.ref}
        if opts.compile_baseline:
            self.workers["compile"] = self.ref
        for name in list(self.workers):
            self._warm(name)

    def _timed(
        self, started: float, n_sets: int, counts: dict[str, Any], peaks: dict[str, Any]
    ) -> TimingResult:
        opts = self.options
        names = list(self.workers)
        for name in names:  # a short warm-up again: the one above may have shared the device
            self.workers[name].request({"op": "rewarm", "impl": name, "max_seconds": 1.0})

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
            done = round_index + 1 >= opts.min_rounds and all(
                relative_halfwidth([s for r in self.impls[n].rounds for s in r])
                <= opts.target_rel_ci
                for n in names
            )
            if done or time.monotonic() > deadline:
                break
        for name in names:
            self._summarise(name)
            self._escape(name)
        if self.cand is not None:
            self._recheck(used)
            self._memoisation("candidate")
        floor = self._floor(counts, peaks)
        self._overhead(peaks)
        speedups = self._speedups()
        return TimingResult(
            device=self.device,
            options=asdict(opts),
            peaks=peaks,
            counts=counts,
            floor=floor.to_dict() if floor else None,
            implementations=self.impls,
            speedups=speedups,
            warnings=self.warnings,
            rejections=self.rejections,
            sets=used,
            elapsed_seconds=round(time.monotonic() - started, 2),
        )

    # -- steps --------------------------------------------------------------------------------
    def _peaks(self, fresh: bool = False) -> dict[str, Any]:
        hello = self.ref.hello.get("versions", {})
        key = f"{hello.get('gpu') if self.device == 'cuda' else 'cpu'}|torch {hello.get('torch')}"
        if self.device == "cpu":
            key += f"|{os.cpu_count()} cores"
        peaks = None if (fresh or self.options.remeasure_peaks) else cached_peaks(key)
        if peaks is None:
            self.progress("measuring the device's peaks (once per device)")
            peaks = self.ref.request({"op": "peaks"})
            peaks.pop("kind", None)
            peaks.pop("seq", None)
            store_peaks(key, peaks)
        return peaks

    def _prepare_sets(self) -> tuple[dict[str, Any], int]:
        """Draw the timing input sets: as many as fit the memory budget, counting each set's
        output too (every set's last output is kept until the re-check)."""
        self.progress("drawing timing input sets")
        self.ref.request(
            {
                "op": "timing_sets",
                "seeds": [self.rng.getrandbits(48)],
                "warmup_seeds": [],
                "return_sets": False,
            }
        )
        counts = self.ref.request({"op": "counts"})
        counts.pop("kind", None)
        counts.pop("seq", None)
        per_set = int(counts["input_bytes"] + counts["output_bytes"])
        n_sets = int(
            max(2, min(self.options.max_sets, self.options.set_memory_bytes // max(per_set, 1)))
        )
        seeds = [self.rng.getrandbits(48) for _ in range(n_sets)]
        warmup = [self.rng.getrandbits(48) for _ in range(2)]
        sets = self.ref.request(
            {
                "op": "timing_sets",
                "seeds": seeds,
                "warmup_seeds": warmup,
                "return_sets": self.cand is not None,
            }
        )
        if self.cand is not None:
            self.cand.request({"op": "timing_sets", "sets": sets["sets"], "warmup": sets["warmup"]})
        return counts, n_sets

    def _warm(self, name: str) -> None:
        self.progress(f"warming up {name}")
        timing = ImplTiming(name)
        self.impls[name] = timing
        max_seconds = 20.0 if name == "compile" else 5.0
        try:
            answer = self.workers[name].request(
                {
                    "op": "warmup",
                    "impl": name,
                    "max_seconds": max_seconds,
                    "graph": self.options.cuda_graph,
                }
            )
        except WorkerError as exc:
            if name == "candidate":
                raise
            self.warnings.append(
                f"the {name} baseline could not run: {exc.failure.detail.splitlines()[0]}"
            )
            del self.workers[name]
            del self.impls[name]
            return
        times = answer["times"]
        timing.warmup_calls = answer["calls"]
        timing.first_call_seconds = sorted(times[-3:])[len(times[-3:]) // 2]
        if name == "compile":
            # The first call compiles; later calls are what running costs.
            settled = min(times[1:]) if len(times) > 1 else 0.0
            timing.compile_seconds = answer["setup_seconds"] + times[0] - settled
        if not answer["stable"]:
            self.warnings.append(
                f"{name}: warm-up did not settle within {max_seconds:g} s ({answer['calls']} calls)"
            )

    def _order(self, name: str, used: int) -> tuple[list[int], set[int]]:
        """Passes over the repeat pool, with a few never-seen sets at random positions."""
        order = list(range(used))
        for _ in range(self.passes - 1):
            again = list(range(used))
            self.rng.shuffle(again)
            order += again
        seen = self.fresh_used.setdefault(name, 0)
        fresh = self.fresh[seen : seen + FRESH_PER_BLOCK]
        self.fresh_used[name] = seen + len(fresh)
        positions: set[int] = set()
        for j in fresh:
            position = self.rng.randrange(len(order) + 1)
            order.insert(position, j)
            positions = {p + (p >= position) for p in positions} | {position}
        return order, positions

    def _block(self, name: str, used: int) -> None:
        order, fresh_positions = self._order(name, used)
        worker = self.workers[name]
        answer = worker.request(
            {"op": "time", "impl": name, "order": order, "flush": self.options.flush_l2}
        )
        samples = answer["samples"]
        timing = self.impls[name]
        timing.rounds.append(samples)
        first, repeats = self.visits.setdefault(name, ([], []))
        for i, sample in enumerate(samples):
            (first if i in fresh_positions else repeats).append(sample)
        if answer["tampered"] and name == "candidate":
            self.reject(
                "integrity",
                f"the candidate replaced {', '.join(answer['tampered'])} while being timed",
            )
        limits = answer["persisting_l2_limit"]
        if answer.get("l2_note"):
            note = f"the persisting-L2 limit could not be reset to 0 ({answer['l2_note']})"
            if note not in self.warnings:
                self.warnings.append(note)
        elif limits["after"] and limits["after"] != limits["before"]:
            self.reject(
                "integrity" if name == "candidate" else "harness",
                f"{name} set a persisting-L2 limit of {limits['after']} bytes while being timed: data "
                "pinned in L2 survives the flush and makes every call look warm",
            )
        for i, j in enumerate(order):
            at_return = answer["checksums"][i]
            final = answer["final_checksums"][str(j)]
            scale = abs(final[1]) + 1e-30
            if (
                abs(at_return[0] - final[0]) > 1e-3 * scale
                or abs(at_return[1] - final[1]) > 1e-3 * scale
            ):
                if name not in self.checksums_bad:
                    self.checksums_bad[name] = (
                        f"a timed call's output at return (checksum {at_return[0]:.6g}) differs from the same "
                        f"input's final output ({final[0]:.6g}): work was still running when forward "
                        "returned (a side stream or a thread), so events timed only part of it"
                    )
                    check = "completion" if name == "candidate" else "harness"
                    self.reject(check, f"{name}: {self.checksums_bad[name]}")
                break

    def _summarise(self, name: str) -> None:
        timing = self.impls[name]
        samples = [s for r in timing.rounds for s in r]
        timing.samples = len(samples)
        timing.median, timing.low, timing.high = median_interval(samples)
        timing.rel_halfwidth = relative_halfwidth(samples)
        first, repeats = self.visits.get(name, ([], []))
        if first:
            timing.first_visit_median = float(torch.tensor(first).median())
        if repeats:
            timing.repeat_median = float(torch.tensor(repeats).median())

    def _escape(self, name: str) -> None:
        timing = self.impls[name]
        worker = self.workers[name]
        calls = int(min(5000, max(10, 0.1 / max(timing.median, 1e-7))))
        start = time.perf_counter()
        worker.request({"op": "ping"})
        rtt = time.perf_counter() - start
        start = time.perf_counter()
        answer = worker.request({"op": "escape", "impl": name, "calls": calls})
        judge_seconds = time.perf_counter() - start - rtt
        timing.escape = {
            "calls": calls,
            "judge_seconds": judge_seconds,
            "host_seconds": answer["host_seconds"],
            "event_seconds": answer["event_seconds"],
        }
        check = "timing" if name == "candidate" else "harness"
        if answer["tampered"] and name == "candidate":
            self.reject(
                "integrity",
                f"the candidate replaced {', '.join(answer['tampered'])} while being timed",
            )
        worker_seconds = answer["host_seconds"]
        if judge_seconds > ESCAPE_RATIO * worker_seconds + 0.01:
            self.reject(
                check,
                f"{name}: the worker reported {worker_seconds * 1e3:.3g} ms for {calls} calls, but the judge's "
                f"own clock saw {judge_seconds * 1e3:.3g} ms: the worker's clock was tampered with",
            )
        events = answer["event_seconds"]
        if events is not None and worker_seconds > ESCAPE_RATIO * events + 1e-3:
            self.reject(
                check,
                f"{name}: asynchronous work escaped the timer: CUDA events saw {events / calls * 1e6:.3g} µs "
                f"per call, a host clock with a device-wide synchronise {worker_seconds / calls * 1e6:.3g} µs "
                f"({calls} back-to-back calls)",
            )

    def _recheck(self, used: int) -> None:
        assert self.cand is not None
        indices = self.rng.sample(range(used), k=min(3, used))
        self.progress("re-checking timed outputs against float64")
        outputs = self.cand.request(
            {"op": "final_outputs", "impl": "candidate", "indices": indices}
        )["outputs"]
        for j, leaves in zip(indices, outputs, strict=True):
            answers = self.ref.request(
                {"op": "reference_for_set", "index": j, "name": f"timing set {j}"}
            )
            policy_outs = answers["policy"] or [None] * len(answers["expected"])
            for k, (e, w, p) in enumerate(
                zip(answers["expected"], answers["working"], policy_outs, strict=True)
            ):
                if k >= len(leaves) or leaves[k].shape != w.shape:
                    self.reject(
                        "values",
                        f"a timed call on timing set {j} returned output {k} of the wrong shape",
                    )
                    return
                result = Tolerance(e, w, p, self.policy).check(leaves[k])
                if not result.passed:
                    self.reject(
                        "values",
                        f"the output of a timed call (timing set {j}) is wrong: {result.detail}",
                    )
                    return

    def _memoisation(self, name: str) -> None:
        timing = self.impls.get(name)
        if timing is None or timing.first_visit_median is None or timing.repeat_median is None:
            return
        first, repeat = timing.first_visit_median, timing.repeat_median
        if repeat < MEMO_RATIO * first and first - repeat > 2e-6:
            self.reject(
                "memoisation",
                f"calls on inputs it had seen before took {repeat * 1e6:.3g} µs, calls on inputs seen for the "
                f"first time {first * 1e6:.3g} µs: it reuses earlier results instead of computing them",
            )

    def _floor(self, counts: dict[str, Any], peaks: dict[str, Any]) -> Floor | None:
        dtype = getattr(torch, str(counts.get("dtype", "float32")), torch.float32)
        floor = floor_for(counts, peaks, rate_for(self.policy.name, dtype))
        fastest = min(self.impls.values(), key=lambda t: t.median)
        if fastest.median < floor.impossible_below:
            # Before anything is called impossible, make sure the peaks are not stale or were
            # measured on a busy machine: measure them again, now.
            self.progress("re-measuring the device's peaks")
            peaks.update({k: v for k, v in self._peaks(fresh=True).items()})
            floor = floor_for(counts, peaks, rate_for(self.policy.name, dtype))
            self.warnings.append(
                "the device's peaks were measured again: an implementation beat the floor"
            )
        for timing in self.impls.values():
            if timing.median > 0:
                timing.sol_fraction = floor.seconds / timing.median
        baselines = [t for n, t in self.impls.items() if n != "candidate"]
        if any(t.median < floor.impossible_below for t in baselines):
            self.warnings.append(
                "a baseline ran faster than the speed-of-light floor (its peak rates do not bound this "
                "problem on this device), so no time is judged impossible here"
            )
            return floor
        cand = self.impls.get("candidate")
        if cand is not None and cand.median < floor.impossible_below:
            self.reject(
                "impossible",
                f"measured {cand.median * 1e6:.3g} µs per call, under the speed-of-light floor: {floor.explain()} "
                f"(rejected below {floor.impossible_below * 1e6:.3g} µs, allowing for peaks measured a little "
                "under the hardware's and for fast convolution algorithms)",
            )
        return floor

    def _overhead(self, peaks: dict[str, Any]) -> None:
        eager = self.impls.get("eager")
        if eager is None:
            return
        limit = max(
            OVERHEAD_SECONDS.get(self.device, 20e-6),
            10 * float(peaks.get("launch_overhead_seconds", 0)),
        )
        if eager.median < limit:
            names = list(size_globals(self.problem))
            hint = f" e.g. --set {names[0]}=<larger>" if names else ""
            self.warnings.append(
                f"eager takes {eager.median * 1e6:.3g} µs per call, near the per-call overhead of this device "
                f"({float(peaks.get('launch_overhead_seconds', 0)) * 1e6:.2g} µs): this measures launches, not "
                f"kernels. Scale the problem up{hint} (size globals: {', '.join(names) or 'none found'})."
            )

    def _speedups(self) -> dict[str, SpeedupResult]:
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
            out[name] = SpeedupResult(name, median, low, high, describe_speedup(median, low, high))
        return out


def run_bench(
    problem: Path,
    device: str,
    policy: Policy,
    overrides: list[tuple[str, Any]],
    options: TimingOptions,
    limits: Any,
    seed: int | None,
    progress: Progress,
) -> tuple[TimingResult | None, list[Reason], dict[str, Any]]:
    """Baselines of a problem alone: (result, reasons it could not be measured, versions)."""
    import secrets

    master = seed if seed is not None else secrets.randbits(40)
    rng = random.Random(master)
    ref = Worker("reference", device, limits)
    try:
        progress("starting the reference worker")
        versions = ref.start()["versions"]
        ref.request({"op": "load", "problem": str(problem), "candidate": "", "overrides": overrides,
                     "init_seed": rng.getrandbits(48), "weights": "share",
                     "policy_dtype": policy.reference_dtype, "policy_tf32": policy.tf32})  # fmt: skip
        ref.extend(options.budget_seconds + 300)
        result = Measurement(options, device, policy, problem, rng, ref, None, progress).run()
        return result, [], versions
    except WorkerError as exc:
        failure = exc.failure
        detail = failure.detail + ("\n" + failure.traceback if failure.traceback else "")
        return None, [Reason("problem" if failure.owner == "problem" else "harness", detail)], {}
    finally:
        ref.close()
