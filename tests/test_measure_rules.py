"""The measurement's rules on scripted workers (no process, no clock): which side is stopped
while the other is timed, when never-seen sets reach the candidate, what a stopped or starved
block counts for, and what a candidate's running thread or memoisation costs it."""

from __future__ import annotations

import dataclasses
import math
import random
import time
from pathlib import Path

import pytest
import torch
from records import COUNTS, PEAKS, VERSIONS

from kernelswarm.judge import measure, timing_checks
from kernelswarm.judge.measure import Measurement, MeasurementFailed
from kernelswarm.judge.reasons import Check
from kernelswarm.judge.results import TimingOptions
from kernelswarm.precision import POLICIES
from kernelswarm.protocol import (
    Answers,
    BlockTimed,
    Escaped,
    Hello,
    Pong,
    Role,
    TimingSetsDrawn,
    Warmed,
)

PROBLEM = Path(__file__).parent.parent / "examples" / "problems" / "matmul.py"


class Scripted:
    """A worker whose timed calls take ``seconds`` each (``first`` for a set's first visit)."""

    def __init__(
        self, log: list[str], role: Role, seconds: float, first: float | None = None
    ) -> None:
        self.log, self.role = log, role
        self.seconds, self.first = seconds, first if first is not None else seconds
        self.hello = Hello(1, 3, role, VERSIONS)
        self.known: set[int] = set()
        self.timed: set[int] = set()
        self.cpu_share = 1.0
        self.threads: list[str] = []
        self.waited_ns: int | None = 0  # what the kernel says its threads waited for a core

    def run_queue_ns(self) -> int | None:
        return self.waited_ns

    # what both workers answer
    def freeze(self) -> None:
        self.log.append(f"freeze {self.role.value}")

    def thaw(self) -> None:
        self.log.append(f"thaw {self.role.value}")

    def warmup(self, impl: str, max_seconds: float, graph: bool) -> Warmed:
        return Warmed(6, [self.seconds] * 6, True, 0.0)

    def rewarm(self, impl: str, max_seconds: float) -> Warmed:
        return Warmed(3, [self.seconds] * 3, True)

    def time_block(self, impl, order, flush, arriving=None) -> BlockTimed:
        self.log.append(f"time {impl} {order if len(order) == 1 else len(order)}")
        if self.role is Role.CANDIDATE:
            missing = [j for j in order if j not in self.known and j not in (arriving or {})]
            assert not missing, f"set {missing} timed before it reached the candidate"
            self.known |= set(arriving or {})
        samples = [self.seconds if j in self.timed else self.first for j in order]
        self.timed |= set(order)
        wall = max(sum(samples), 0.06)
        sums = [[1.0, 1.0] for _ in order]
        return BlockTimed(samples, wall, sums, {str(j): [1.0, 1.0] for j in order}, 0, 0, None, [],
                          cpu_seconds=wall * self.cpu_share, threads_alive=self.threads)  # fmt: skip

    def ping(self) -> Pong:
        return Pong()

    def escape(self, impl: str, calls: int) -> Escaped:
        return Escaped(calls, calls * self.seconds, calls * self.seconds, [])

    # the reference's
    def draw_timing_sets(self, seeds, warmup_seeds, return_sets):
        self.log.append(f"draw {len(seeds)} sets, {len(warmup_seeds)} for warm-up")
        sets = [[torch.full((2, 2), float(i))] for i in range(len(seeds))]
        return TimingSetsDrawn(
            sets if return_sets else [], [[torch.zeros(2, 2)]] * len(warmup_seeds), 16
        )

    def count_work(self):
        return COUNTS

    def measure_peaks(self, quick: bool = False):
        return PEAKS

    def answer_timing_set(self, index: int) -> Answers:
        w = torch.ones(2, 2)
        return Answers([w.double()], [w], None, "Tensor", [], [])

    # the candidate's
    def store_timing_sets(self, sets, warmup) -> None:
        self.known |= set(sets)

    def hold_for_judge(self, nbytes: int) -> None:
        self.held_for_judge = nbytes

    def final_outputs(self, impl, indices):
        return [[torch.ones(2, 2)] for _ in indices]


@pytest.fixture(autouse=True)
def no_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the peaks cache and the device lock


def run(candidate: Scripted, reference: Scripted, **options) -> Measurement:
    options = {"budget_seconds": 0.0, "compile_baseline": False, "max_sets": 12, **options}
    opts = TimingOptions(**options)
    m = Measurement(
        opts,
        "cpu",
        POLICIES["strict"],
        PROBLEM,
        random.Random(0),
        reference,
        candidate,
        lambda _: None,
    )  # type: ignore[arg-type]
    m.result = m.run()
    return m


def test_the_other_side_is_stopped_while_one_is_timed_and_new_sets_arrive_with_their_call():
    log: list[str] = []
    m = run(Scripted(log, Role.CANDIDATE, 1e-3), Scripted(log, Role.REFERENCE, 2e-3))
    timed = [i for i, line in enumerate(log) if line.startswith("time ")]
    for i in timed:
        side = "reference" if " candidate " in log[i] else "candidate"
        assert log[i - 1] == f"freeze {side}" and log[i + 1] == f"thaw {side}", log[i - 1 : i + 2]
    first_visits = [line for line in log if line.startswith("time candidate [")]
    assert len(first_visits) >= 3  # each never-seen set timed alone, the moment it arrives
    assert not m.rejections and m.result.speedups["eager"].median == pytest.approx(2.0)


def test_memoisation_shows_when_first_visits_are_slow():
    log: list[str] = []
    m = run(Scripted(log, Role.CANDIDATE, 1e-4, first=1e-3), Scripted(log, Role.REFERENCE, 1e-3))
    assert [r.check for r in m.rejections] == [Check.MEMOISATION]


class Stalled(Scripted):
    """An honest candidate whose first ``stalled`` first visits land on a stalled machine."""

    def __init__(self, log: list[str], seconds: float, stalled: int) -> None:
        super().__init__(log, Role.CANDIDATE, seconds)
        self.stalled = stalled

    def time_block(self, impl, order, flush, arriving=None) -> BlockTimed:
        answer = super().time_block(impl, order, flush, arriving)
        if arriving and self.stalled > 0:
            self.stalled -= 1
            return dataclasses.replace(answer, samples=[0.02])  # 200 times its calls in blocks
        return answer


def test_first_visits_slowed_by_a_stalled_machine_are_timed_again_before_any_rejection():
    # CI's two cores: an honest candidate's first visits stalled, its blocks not. More
    # never-seen sets, timed after, decide; said as a warning, and the report shows them.
    log: list[str] = []
    m = run(Stalled(log, 1e-4, stalled=12), Scripted(log, Role.REFERENCE, 1e-3), max_sets=40)
    assert not m.rejections, [r.detail for r in m.rejections]
    assert any("did not" in w and "stalled machine" in w for w in m.warnings), m.warnings
    cand = m.result.implementations["candidate"]
    assert cand.first_visits == measure.CONFIRM_FIRST
    assert cand.first_visit_median == pytest.approx(1e-4)


def test_a_memoiser_is_rejected_when_first_visits_are_timed_again_and_when_too_few_are_left():
    # 28 sets: fourteen never seen, twelve of them visited in the rounds, two left. Judged on two,
    # by the looser ratio for few first visits (1/3), repeats 2.5x faster would pass.
    for max_sets, again in ((40, True), (28, False), (12, False)):
        log: list[str] = []
        cand = Scripted(log, Role.CANDIDATE, 1e-4, first=2.5e-4)
        m = run(cand, Scripted(log, Role.REFERENCE, 1e-3), max_sets=max_sets)
        assert [r.check for r in m.rejections] == [Check.MEMOISATION]
        assert ("seen again on 4 more" in m.rejections[0].detail) is again
        assert not any("stalled machine" in w for w in m.warnings)


class Busy(Scripted):
    """A candidate whose first ``stalled`` first visits take 20 ms, its threads waiting for a
    core 30 ms meanwhile (as the kernel counts it), on a machine whose other processes hold the
    cores; ``first``: its first visits' time otherwise (a memoiser's are slower than repeats)."""

    def __init__(
        self,
        log: list[str],
        stalled: int,
        first: float = 1e-4,
        claims: float | None = None,
        kernel: bool = True,
    ) -> None:
        super().__init__(log, Role.CANDIDATE, 1e-4, first=first)
        self.stalled = stalled
        self.claims = claims  # what the worker says it waited around each lone call
        self.kernel = kernel  # whether the kernel's count shows the stalls

    def time_block(self, impl, order, flush, arriving=None) -> BlockTimed:
        answer = super().time_block(impl, order, flush, arriving)
        if len(order) == 1:
            answer = dataclasses.replace(answer, waited_s=self.claims)
        if arriving and self.stalled > 0:
            self.stalled -= 1
            if self.waited_ns is not None and self.kernel:
                self.waited_ns += 30_000_000
            return dataclasses.replace(answer, samples=[0.02])
        return answer


def test_first_visits_the_machine_stalled_are_set_aside_and_never_make_a_memoiser_pass():
    # Ten never-seen sets, all visited in the rounds (none left to confirm with); six of the
    # first visits stalled, 200 times a call's time.
    def judged(cand: Busy) -> Measurement:
        return run(cand, Scripted([], Role.REFERENCE, 1e-3), max_sets=20)

    # honest: the four first visits left are as fast as repeats; accepted, and said
    m = judged(Busy([], stalled=6))
    assert not m.rejections, [r.detail for r in m.rejections]
    assert any("waited for a CPU core" in w for w in m.warnings), m.warnings
    cand = m.result.implementations["candidate"]
    assert cand.first_visits == 4 and cand.first_visit_median == pytest.approx(1e-4)
    # ... the same where the kernel keeps no such count: rejected, as before
    unknown = Busy([], stalled=6)
    unknown.waited_ns = None
    assert [r.check for r in judged(unknown).rejections] == [Check.MEMOISATION]
    # a memoiser (first visits 2.5x its repeats) with six stalled: the four left show it
    m = judged(Busy([], stalled=6, first=2.5e-4))
    assert [r.check for r in m.rejections] == [Check.MEMOISATION]
    assert "not counted" in m.rejections[0].detail
    # a memoiser that stalls (nearly) every first visit, its own threads competing for the
    # cores: too few left to judge it, so it is not judged at all; never accepted
    for stalled in (7, 10):
        m = judged(Busy([], stalled=stalled, first=2.5e-4))
        assert [r.check for r in m.rejections] == [Check.HARNESS], m.rejections
        assert "could not be timed" in m.rejections[0].detail
        assert f"{stalled} of its 10 calls" in m.rejections[0].detail


def test_a_stall_counts_only_where_the_kernel_and_the_worker_both_saw_it():
    # The judge's own reading covers the whole request (the worker's wake-up too); the worker's
    # covers the call alone but could be misstated: the least of the two is taken.
    def judged(cand: Busy) -> Measurement:
        return run(cand, Scripted([], Role.REFERENCE, 1e-3), max_sets=20)

    # the worker says its calls waited 30 ms, the kernel saw no wait: not stalled
    m = judged(Busy([], stalled=6, claims=0.03, kernel=False))
    assert [r.check for r in m.rejections] == [Check.MEMOISATION]
    assert "not counted" not in m.rejections[0].detail
    # the kernel saw it, the worker denies it: not stalled either (the finding stands)
    m = judged(Busy([], stalled=6, claims=0.0))
    assert [r.check for r in m.rejections] == [Check.MEMOISATION]
    m = judged(Busy([], stalled=6, claims=0.029))  # both saw it: set aside
    assert not m.rejections and any("waited for a CPU core" in w for w in m.warnings)


def test_the_worker_reads_what_its_threads_waited_around_a_call_timed_alone():
    from kernelswarm.worker.guard import Trusted
    from kernelswarm.worker.timing import Implementation, TimingSession

    session = TimingSession(torch.device("cpu"), Trusted())
    session.store({0: [torch.ones(4)], 1: [torch.zeros(4)]}, [], own=True)
    honest = Implementation(run=lambda args: args[0] * 2)
    alone = session.block("candidate", honest, [1], flush=False)
    if alone.waited_s is None:
        pytest.skip("this kernel keeps no schedstat")
    assert 0.0 <= alone.waited_s < 1.0
    assert session.block("candidate", honest, [0, 1, 0], flush=False).waited_s is None


def test_a_baseline_s_stalled_first_visits_do_not_let_a_memoiser_s_fast_blocks_pass():
    # What a call alone costs eager over one in its blocks is allowed for the candidate too.
    # Eager's first visits stalled on a busy machine (8 of 10, 20 ms against 1 ms) allowed a
    # memoiser's lone calls 20 times its blocks: one that slows its lone repeats on purpose
    # (cheats/timing/slow_lone_repeats.py) passed. Eager's unstalled first visits decide.
    class BusyEager(Scripted):
        def __init__(self, stalled: int) -> None:
            super().__init__([], Role.REFERENCE, 1e-3)
            self.stalled = stalled

        def time_block(self, impl, order, flush, arriving=None) -> BlockTimed:
            first = len(order) == 1 and order[0] not in self.timed
            answer = super().time_block(impl, order, flush, arriving)
            if first and self.stalled > 0:
                self.stalled -= 1
                self.waited_ns = (self.waited_ns or 0) + 30_000_000
                return dataclasses.replace(answer, samples=[0.02])
            return answer

    class SlowLoneRepeats(Scripted):
        def time_block(self, impl, order, flush, arriving=None) -> BlockTimed:
            answer = super().time_block(impl, order, flush, arriving)
            return dataclasses.replace(answer, samples=[2.5e-4]) if len(order) == 1 else answer

    memoiser = SlowLoneRepeats([], Role.CANDIDATE, 1e-4, first=2.5e-4)
    m = run(memoiser, BusyEager(stalled=8), max_sets=20)
    assert [r.check for r in m.rejections] == [Check.MEMOISATION], m.rejections
    assert m.result.implementations["eager"].first_visit_median == pytest.approx(0.02)


def test_a_call_is_stalled_when_its_threads_waited_for_a_core_a_good_share_of_it():
    assert timing_checks.stalled(0.3e-3, 0.6e-3) and timing_checks.stalled(0.4, 0.1)
    assert not timing_checks.stalled(0.3e-3, 0.4e-3)  # under the floor
    assert not timing_checks.stalled(0.4, 0.09)  # under a quarter of the call
    assert not timing_checks.stalled(0.3e-3, None)  # the kernel does not say


def test_the_kernel_s_count_of_a_process_s_waits_for_a_core_is_read():
    import os

    from kernelswarm.judge.processes import ProcessTree
    from kernelswarm.schedstat import run_queue_ns

    tree = ProcessTree(os.getpid(), confined=False)
    before = tree.run_queue_ns()
    if before is None:
        pytest.skip("this kernel keeps no schedstat")
    sum(range(200_000))
    after = tree.run_queue_ns()
    assert after is not None and after >= before
    assert run_queue_ns(2**22 + 12345) is None  # no such process


def test_a_candidate_thread_running_while_timed_is_rejected():
    log: list[str] = []
    cand = Scripted(log, Role.CANDIDATE, 1e-3)
    cand.threads = ["helper"]
    m = run(cand, Scripted(log, Role.REFERENCE, 1e-3))
    assert [r.check for r in m.rejections] == [Check.TIMING] and "helper" in m.rejections[0].detail


def test_stopped_or_starved_blocks_are_not_counted():
    log: list[str] = []
    ref = Scripted(log, Role.REFERENCE, 2e-3)
    ref.cpu_share = 0.1  # as if stopped 90% of the time
    with pytest.raises(MeasurementFailed) as failed:
        run(Scripted(log, Role.CANDIDATE, 1e-3), ref)
    assert failed.value.reasons[-1].check is Check.HARNESS
    assert "stopped or starved" in failed.value.reasons[-1].detail


def test_blocks_starved_while_the_machine_is_busy_are_timed_again_past_the_budget():
    # A busy machine (CI's two cores, shared by two tests) starves a few blocks in a row: the
    # measurement goes on until each side has three counted ones, not to a 'could not be measured'.
    log: list[str] = []
    cand = Scripted(log, Role.CANDIDATE, 1e-3)
    busy = iter([0.1] * 12)
    original = cand.time_block

    def time_block(*args, **kwargs):
        cand.cpu_share = next(busy, 1.0)
        return original(*args, **kwargs)

    cand.time_block = time_block  # type: ignore[method-assign]
    m = run(cand, Scripted(log, Role.REFERENCE, 2e-3))
    assert not m.rejections and len(m.result.implementations["candidate"].rounds) >= 3
    assert m.discarded["candidate"] >= 3
    assert any("stopped or starved" in w for w in m.warnings)


def test_at_least_three_rounds_whatever_the_budget(monkeypatch):
    monkeypatch.setattr(measure, "FRESH_PER_BLOCK", 1)
    log: list[str] = []
    m = run(Scripted(log, Role.CANDIDATE, 1e-3), Scripted(log, Role.REFERENCE, 2e-3))
    assert len(m.result.implementations["candidate"].rounds) >= 3


def test_an_idle_thread_beside_a_timed_block_is_not_work_and_a_busy_one_is():
    # torch.compile leaves an idle thread pool behind: alive, but using no CPU time. A thread
    # that computes while the calls are timed is work beside them.
    import threading

    from kernelswarm.worker.guard import Trusted
    from kernelswarm.worker.timing import TimingSession

    stop = threading.Event()
    idle = threading.Thread(target=stop.wait, name="idle-pool", daemon=True)
    busy = threading.Thread(
        target=lambda: [sum(range(1000)) for _ in iter(lambda: stop.is_set(), True)],
        name="busy-worker", daemon=True,
    )  # fmt: skip
    idle.start()
    busy.start()
    try:
        session = TimingSession(torch.device("cpu"), Trusted(), lambda: [idle, busy])
        before = {t: session.trusted.thread_cpu_ns(t.ident) for t in (idle, busy)}
        time.sleep(0.2)  # the timed block
        assert session._busy(before, host_seconds=0.2) == ["busy-worker"]
        # a thread that started during the block counts, whatever it did
        late = threading.Thread(target=stop.wait, name="late", daemon=True)
        late.start()
        session.threads = lambda: [idle, late]
        assert session._busy({idle: session.trusted.thread_cpu_ns(idle.ident)}, 0.2) == ["late"]
    finally:
        stop.set()


def test_a_time_above_the_speed_of_light_but_short_of_impossible_is_said_plainly():
    # The floor here is 60 µs (records.PEAKS, records.COUNTS); a time under it by a little is
    # no cheat (the peaks are measurements), but 120% of the speed of light is never shown bare.
    log: list[str] = []
    m = run(Scripted(log, Role.CANDIDATE, 1e-3), Scripted(log, Role.REFERENCE, 50e-6))
    assert m.result.implementations["eager"].sol_fraction == pytest.approx(1.2)
    said = [w for w in m.result.warnings if "of the speed of light" in w]
    assert len(said) == 1 and "eager at 120.0%" in said[0] and "measured peaks" in said[0]
    assert "candidate" not in said[0].split(" of the speed")[0] and not m.rejections
    m = run(Scripted(log, Role.CANDIDATE, 1e-3), Scripted(log, Role.REFERENCE, 70e-6))
    assert not [w for w in m.result.warnings if "of the speed of light" in w]


def test_warm_up_sets_of_their_own_unless_they_alone_exceed_the_memory_budget():
    # A set here is 12 MiB (records.COUNTS). At KernelBench's sizes (12 GiB a set for L1/19) two
    # warm-up sets were 24 GiB more in each worker; there the workers warm up on the first set.
    log: list[str] = []

    def drawn(**options) -> str:
        log.clear()
        candidate = Scripted(log, Role.CANDIDATE, 1e-3)
        m = run(candidate, Scripted(log, Role.REFERENCE, 2e-3), **options)
        assert not m.rejections
        said = [x for x in log if x.startswith("draw")][-1]
        # the candidate's memory limit leaves out every set it holds, and one timed output
        sets, warmup = (int(w) for w in said.split() if w.isdigit())
        assert candidate.held_for_judge == (sets + warmup + 1) * (12 << 20)
        return said

    assert drawn() == "draw 12 sets, 2 for warm-up"
    # five timed sets fill the budget, the two warm-up sets fit it alone: they are drawn (the
    # catalogue's matmul at N=4096 on a GPU; warmed on the first timed set, a side stream's
    # unfinished output likely held that set's answer already and passed the completion check)
    assert drawn(set_memory_bytes=60 << 20) == "draw 5 sets, 2 for warm-up"
    assert drawn(set_memory_bytes=20 << 20) == "draw 2 sets, 0 for warm-up"

    from kernelswarm.worker.guard import Trusted
    from kernelswarm.worker.timing import Implementation, TimingSession

    session = TimingSession(torch.device("cpu"), Trusted())
    first, second = [torch.zeros(3)], [torch.ones(3)]
    session.store({0: first, 1: second}, [], own=True)
    seen: list[float] = []
    warmed = session.warmup(Implementation(run=lambda args: seen.append(float(args[0][0]))), 0.5)
    assert warmed.calls >= 5 and set(seen) == {0.0}  # the first set, the pool's, only


def test_out_of_memory_in_the_worker_s_own_timing_work_is_reported_as_the_judge_s(monkeypatch):
    # At L1/19's size a checksum's float64 copy ran the candidate's worker out of memory on the
    # H200, and the candidate was rejected for it. The worker's own work now says so; a forward
    # that runs out of memory while timed (a cache growing with every call) stays its own.
    from kernelswarm.protocol import Phase
    from kernelswarm.worker import timing
    from kernelswarm.worker.guard import Phases, Trusted

    entered: list[Phase] = []
    phases = Phases(lambda report: entered.append(report.phase))
    session = timing.TimingSession(torch.device("cpu"), Trusted(), phases=phases)
    session.store({0: [torch.ones(4)], 1: [torch.zeros(4)]}, [], own=True)
    honest = timing.Implementation(run=lambda args: args[0] * 2)

    def no_room(out, wide=False):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 12.00 GiB")

    monkeypatch.setattr(timing, "checksum", no_room)
    with pytest.raises(torch.OutOfMemoryError):
        session.block("candidate", honest, [0, 1, 0], flush=False)
    assert entered == [Phase.TIMING_COPIES]
    monkeypatch.undo()

    entered.clear()

    def greedy(args):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")

    with pytest.raises(torch.OutOfMemoryError):
        session.block("candidate", timing.Implementation(run=greedy), [0, 1, 0], flush=False)
    assert entered == []
    with pytest.raises(torch.OutOfMemoryError), session.own_work():
        raise torch.OutOfMemoryError("placing an arriving set")
    assert entered == [Phase.TIMING_COPIES]


class QueueFilling(Scripted):
    """Leaves each call's work on a side stream: back to back, once a stream's launch queue is
    full, launching waits for that work, and the events' span grows with it."""

    def escape(self, impl: str, calls: int) -> Escaped:
        work = calls * 2.7e-3  # the side stream's matmuls, finished only by the synchronise
        queued = 1000  # launches the queue takes before launching waits
        events = max(calls - queued, 0) * 2.7e-3 + calls * 2e-6
        return Escaped(calls, work, events, [])


def test_work_escaping_the_timer_is_caught_by_calls_too_few_to_fill_the_launch_queue():
    log: list[str] = []
    m = run(QueueFilling(log, Role.CANDIDATE, 2e-6), Scripted(log, Role.REFERENCE, 2e-3))
    cand = m.result.implementations["candidate"]
    assert cand.escape is not None and cand.escape.calls == 5000
    long_run = cand.escape
    assert long_run.host_seconds < 1.5 * long_run.event_seconds  # the long run alone: blind
    assert cand.escape_short is not None and cand.escape_short.calls == measure.SHORT_ESCAPE
    timing = [r for r in m.rejections if r.check is Check.TIMING]
    assert len(timing) == 1 and "escaped the timer" in timing[0].detail
    # honest implementations pass both runs
    ok = run(Scripted(log, Role.CANDIDATE, 1e-3), Scripted(log, Role.REFERENCE, 2e-3))
    assert not ok.rejections and ok.result.implementations["eager"].escape_short is not None


def test_outputs_whose_float32_checksums_overflow_are_summed_again_in_float64():
    # Timing checksums sum float32 outputs in float32; two different outputs that both overflow
    # would agree (inf == inf). Such a block is timed again with float64 sums.
    from kernelswarm.worker.guard import Trusted
    from kernelswarm.worker.timing import Implementation, TimingSession

    def session() -> TimingSession:
        s = TimingSession(torch.device("cpu"), Trusted())
        s.store({0: [torch.zeros(64)], 1: [torch.ones(64)]}, [], own=True)
        return s

    returned: list[torch.Tensor] = []

    def changes_its_last_output(args):  # the previous output changes after its return
        if returned:
            returned[-1].fill_(1e38)
        returned.append(torch.full((64,), 3e38))
        return returned[-1]

    order = [0, 1, 0, 1]
    s = session()
    cheat = Implementation(run=changes_its_last_output)
    first = s.block("candidate", cheat, order, False)
    # blind in float32 (inf == inf): said, so that the judge does not count this block
    assert first.widened and "candidate" in s.wide
    assert timing_checks.block_reasons("candidate", order, first)[0] == []
    answer = s.block("candidate", cheat, order, False)
    assert not answer.widened and all(math.isfinite(x) for c in answer.checksums for x in c)
    reasons, _ = timing_checks.block_reasons("candidate", order, answer)
    assert [r.check for r in reasons] == [Check.COMPLETION]

    for value in (3e38, math.inf):  # huge, or infinite, and unchanged: nothing to say
        s = session()
        fresh = Implementation(run=lambda args, v=value: torch.full((64,), v))
        for _ in range(2):
            answer = s.block("eager", fresh, order, False)
            assert timing_checks.block_reasons("eager", order, answer)[0] == []
        assert ("eager" in s.wide) == math.isfinite(value)  # float64 sums overflow no further


class Widening(Scripted):
    """Reports its first timed block's checksums as overflowing float32 (``times``: how often)."""

    times = 1

    def time_block(self, impl, order, flush, arriving=None) -> BlockTimed:
        answer = super().time_block(impl, order, flush, arriving)
        if self.times:
            self.times -= 1
            return dataclasses.replace(answer, widened=True)
        return answer


def test_a_block_whose_checksums_overflowed_is_not_counted_and_only_one_may():
    log: list[str] = []
    m = run(Widening(log, Role.CANDIDATE, 1e-3), Scripted(log, Role.REFERENCE, 2e-3))
    assert not m.rejections
    assert any("overflowed float32" in w for w in m.result.warnings)
    rounds = m.result.implementations["candidate"].rounds
    assert len(rounds) == len(m.result.implementations["eager"].rounds) - 1
    twice = Widening(log, Role.CANDIDATE, 1e-3)
    twice.times = 2
    m = run(twice, Scripted(log, Role.REFERENCE, 2e-3))
    assert [r.check for r in m.rejections] == [Check.PROTOCOL]


class NoEvents(Scripted):
    """A CPU worker: back-to-back calls have no events to hold against the host clock."""

    def escape(self, impl: str, calls: int) -> Escaped:
        return Escaped(calls, calls * self.seconds, None, [])


def test_the_short_escape_run_is_only_where_events_are():
    log: list[str] = []
    m = run(NoEvents(log, Role.CANDIDATE, 1e-3), NoEvents(log, Role.REFERENCE, 2e-3))
    assert not m.rejections
    assert all(
        t.escape is not None and t.escape_short is None for t in m.result.implementations.values()
    )
    # a few milliseconds of calls: a scheduler's hiccup of 30 ms on the judge's clock is no proof
    # of a tampered clock there (the long run keeps its own, narrower, allowance)
    _, reasons = timing_checks.escape_reasons(
        "candidate", Escaped(100, 0.002, 0.002, []), 0.03, measure.SHORT_ESCAPE_SLACK
    )
    assert reasons == []
    assert timing_checks.escape_reasons("candidate", Escaped(100, 0.002, 0.002, []), 0.03)[1]


def test_intervals_left_wide_when_timing_ends_are_said():
    # One slow round among three (as L1/12's on an H100): the interval is wide and the judge
    # says that a longer budget may narrow it; steady rounds say nothing.
    log: list[str] = []
    cand = Scripted(log, Role.CANDIDATE, 1e-3)
    slow = iter([1.0, 1.0, 1.3])
    original = cand.time_block

    def time_block(impl, order, flush, arriving=None):
        if len(order) > 1:  # a round's block, not a single first visit or repeat
            cand.seconds = cand.first = 1e-3 * next(slow, 1.0)
        return original(impl, order, flush, arriving)

    cand.time_block = time_block  # type: ignore[method-assign]
    m = run(cand, Scripted(log, Role.REFERENCE, 2e-3))
    said = [w for w in m.warnings if "wider than" in w]
    assert len(said) == 1 and "candidate ±" in said[0] and "--time-budget" in said[0], m.warnings
    steady = run(Scripted(log, Role.CANDIDATE, 1e-3), Scripted(log, Role.REFERENCE, 2e-3))
    assert not [w for w in steady.warnings if "wider than" in w]


def test_no_garbage_collection_lands_in_a_timed_call():
    # A check run in the pytest process (a heap of millions of objects) saw one lone first
    # visit take 55 ms against 0.4 ms repeats and called it memoisation: a collection of the
    # whole heap had landed in it. Timed calls run with the collector off, as in timeit.
    import gc

    from kernelswarm.worker.guard import Trusted
    from kernelswarm.worker.timing import Implementation, TimingSession

    session = TimingSession(torch.device("cpu"), Trusted())
    session.store({0: [torch.ones(4)], 1: [torch.zeros(4)]}, [], own=True)
    inside = [False]
    collected_inside: list[str] = []

    def noted(phase: str, info: dict) -> None:
        if phase == "start" and inside[0]:
            collected_inside.append(f"generation {info['generation']}")

    def busy(args):  # allocates enough objects to set off collections at this threshold
        inside[0] = True
        junk = [[i] for i in range(2000)]
        inside[0] = False
        return args[0] * len(junk)

    threshold = gc.get_threshold()
    gc.set_threshold(10)
    gc.callbacks.append(noted)
    try:
        session.block("candidate", Implementation(run=busy), [0, 1, 0, 1], flush=False)
        assert gc.isenabled()  # on again after the block
        busy([torch.ones(1)])  # the test's own check: collections do happen in it untimed
        assert collected_inside, "the threshold set off no collection: the test shows nothing"
        collected_inside.clear()
        session.block("candidate", Implementation(run=busy), [0, 1, 0, 1], flush=False)
    finally:
        gc.callbacks.remove(noted)
        gc.set_threshold(*threshold)
    assert collected_inside == []


def test_a_candidate_replacing_the_collector_s_switches_is_seen(monkeypatch):
    # the harness calls them around every timed block: a replacement would run the candidate's
    # code there, untimed (its own copies are the ones called; the replacement is reported)
    import gc

    from kernelswarm.worker.guard import Trusted

    trusted = Trusted()
    monkeypatch.setattr(gc, "disable", lambda: None)
    assert "gc.disable" in trusted.tampered() and trusted.gc_disable is not gc.disable


def test_the_copy_before_a_lone_call_is_made_smaller_where_the_device_is_full(monkeypatch):
    # TimingSession.stand_in (on a GPU before every lone call on a held set): a set's bytes from
    # one host chunk, into memory halved until it fits; none at all is the judge's out of memory
    from kernelswarm.protocol import Phase
    from kernelswarm.worker import timing
    from kernelswarm.worker.guard import Phases, Trusted

    monkeypatch.setattr(timing, "STAND_IN_CHUNK", 1 << 10)
    entered: list[Phase] = []
    session = timing.TimingSession(
        torch.device("cpu"), Trusted(), phases=Phases(lambda r: entered.append(r.phase))
    )
    session.store({0: [torch.ones(1 << 12), 3], 1: [torch.ones(8)]}, [], own=True)  # 16 KiB
    asked: list[int] = []
    real_empty = torch.empty

    def empty(size, **kw):
        asked.append(size)
        if size > room:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return real_empty(size, **kw)

    monkeypatch.setattr(timing.torch, "empty", empty)
    room = 5 << 10
    session.stand_in(0)
    assert asked == [16 << 10, 8 << 10, 4 << 10]  # halved until it fits
    assert session.host_chunk is not None and session.host_chunk.numel() == 1 << 10
    session.stand_in(1)  # 32 bytes: a chunk of its own size is enough, the larger one is kept
    assert asked[-1] == 32 and session.host_chunk.numel() == 1 << 10 and entered == []
    room = 512
    with pytest.raises(torch.OutOfMemoryError):
        session.stand_in(0)
    assert entered == [Phase.TIMING_COPIES]  # the judge's work, not the candidate's


def test_a_timed_set_s_answers_are_let_go_before_the_next_is_answered():
    # The re-check of timed outputs holds one set's float64 answers and allowances at a time: at
    # L1/19's size on an H200 a set's 24 GiB, still held by the loop's variables while the next
    # set was answered, ran the reference's float64 run out of memory.
    import weakref

    log: list[str] = []
    reference = Scripted(log, Role.REFERENCE, 2e-3)
    alive: list[weakref.ref] = []
    held_while_answering: list[int] = []

    def answer_timing_set(index: int) -> Answers:
        held_while_answering.append(sum(r() is not None for r in alive))
        w = torch.ones(2, 2)
        answers = Answers([w.double()], [w], None, "Tensor", [], [])
        alive.extend(weakref.ref(t) for t in (answers.expected[0], answers.working[0]))
        return answers

    reference.answer_timing_set = answer_timing_set  # type: ignore[method-assign]
    run(Scripted(log, Role.CANDIDATE, 1e-3), reference)
    assert len(held_while_answering) >= 2  # several sets re-checked
    assert held_while_answering == [0] * len(held_while_answering)


def test_a_first_visit_s_received_copy_is_let_go_before_it_is_timed():
    # The channel's copy of an arriving set, held by the request until the block returned, had
    # taken the pages freed last: on a 2-core virtual machine L1/96's first visits (8192x8192)
    # then faulted in cold pages for their temporaries, 373-535 ms against 49 ms for repeats,
    # and the honest candidate was rejected for memoisation in eight runs of nine.
    import weakref

    from kernelswarm.worker.guard import Trusted
    from kernelswarm.worker.timing import Implementation, TimingSession

    session = TimingSession(torch.device("cpu"), Trusted())
    session.store({0: [torch.zeros(64)]}, [], own=True)
    received = torch.ones(64)
    gone = weakref.ref(received)
    arriving = {1: [received]}
    del received
    alive_when_called: list[bool] = []

    def run(args):
        alive_when_called.append(gone() is not None)
        return args[0] * 2

    answer = session.block("candidate", Implementation(run=run), [1], False, arriving)
    assert alive_when_called == [False]
    assert torch.equal(session.sets[1][0], torch.ones(64))  # the set itself is held, a copy
    assert answer.final_checksums["1"][0] == 128.0
