"""What a timed block, a back-to-back run, or a whole measurement must show before it counts.

Pure functions over the workers' typed replies and the measured times, so that each rule can be
tested on a recorded reply in milliseconds. ``measure`` calls them; each returns the failed
checks as ``Reason``s (the candidate's fault) or, for a baseline, ``harness`` reasons (ours).
"""

from __future__ import annotations

import math

from kernelswarm.judge.floor import Floor
from kernelswarm.judge.reasons import Check, Reason
from kernelswarm.judge.results import EscapeRecord, ImplTiming, TimingOptions
from kernelswarm.judge.stats import pooled_median
from kernelswarm.protocol import BlockTimed, Escaped, Peaks

#: repeats this much faster than first visits (both timed alone, the same way) are memoisation,
#: not cache warmth
MEMO_RATIO = 0.5
#: ... where fewer than FEW_FIRST_VISITS first visits were timed (only two or three sets fit in
#: memory: KernelBench's sizes), one sample decides: a wider margin. On the H100, L1/88's honest
#: Triton candidate's single first visit took 1.74x its lone repeats and 1.83x its blocks.
MEMO_RATIO_FEW = 1 / 3
FEW_FIRST_VISITS = 3
#: a call timed alone whose worker's threads waited for a core this share of its time, and at
#: least STALL_FLOOR_S, was stalled by the machine. On this project's 2-core CI machine, beside
#: three processes multiplying matrices, a 0.3 ms call with two torch threads took up to 556 ms,
#: its threads waiting 1.5-2x as long; on a quiet machine they waited 0.00 ms.
STALL_SHARE = 0.25
STALL_FLOOR_S = 0.5e-3
#: events may miss this share of the host-clock time of back-to-back calls before work "escaped"
ESCAPE_RATIO = 1.5
#: an implementation whose eager time is under this is measuring launch overhead
OVERHEAD_SECONDS = {"cuda": 20e-6, "cpu": 50e-6}
#: seconds the judge's clock may see beyond the worker's over back-to-back calls (messages,
#: scheduling)
JUDGE_SLACK = 0.01
#: a checksum at return may differ from the final one by this share of the output's magnitude
CHECKSUM_TOLERANCE = 1e-3
#: an implementation at this share of the speed of light or more is timing its work, however
#: close its time is to the per-call overhead ...
WORK_BOUND_SOL = 0.5
#: ... where its call takes at least this many times that overhead: a 64x64 ReLU on the CPU ran
#: at 0.43-0.45 of a floor drawn from DRAM bandwidth (its 32 KiB never leave the cache) in 2.9 µs
#: against an overhead of 2.1-2.7 µs, and at 0.5 on a busier moment's lower bandwidth it would not
#: have been told it measures launches (tests/test_bench.py failed so in a full run)
WORK_BOUND_OVERHEADS = 4
#: a timed block whose process had less CPU time than this share of its wall time was stopped
#: or starved: it measured waiting, not work
STARVED_RATIO = 0.5


def block_reasons(
    name: str, order: list[int], answer: BlockTimed
) -> tuple[list[Reason], list[str]]:
    """(failed checks, warnings) of one timed block of ``name``."""
    reasons: list[Reason] = []
    warnings: list[str] = []
    if answer.tampered and name == "candidate":
        reasons.append(
            Reason(
                Check.INTEGRITY,
                f"the candidate replaced {', '.join(answer.tampered)} while being timed",
            )
        )
    # Compared whether or not the reset worked: a worker that could not reset the limit can
    # still read it, and a limit in force at the block's start (set by the process's own code
    # before, in its correctness calls) pins data as well as one set during it.
    before, after = answer.persisting_l2_before or 0, answer.persisting_l2_after or 0
    blame = Check.INTEGRITY if name == "candidate" else Check.HARNESS
    if answer.l2_note:
        warnings.append(
            f"the persisting-L2 limit could not be reset to 0 or read ({answer.l2_note})"
        )
    if after and after != before:
        reasons.append(
            Reason(
                blame,
                f"{name} set a persisting-L2 limit of {after} bytes while being timed: data "
                "pinned in L2 survives the flush and makes every call look warm",
            )
        )
    elif before:
        reasons.append(
            Reason(
                blame,
                f"a persisting-L2 limit of {before} bytes was in force in {name}'s process when "
                f"its block began ({answer.l2_note or 'not reset'}): data pinned in L2 "
                "survives the flush and makes every call look warm",
            )
        )
    if len(answer.checksums) != len(order):
        reasons.append(
            Reason(
                Check.PROTOCOL if name == "candidate" else Check.HARNESS,
                f"{name}: {len(answer.checksums)} checksums for a block of {len(order)} calls",
            )
        )
        return reasons, warnings
    for i, j in enumerate(order):
        at_return = answer.checksums[i]
        final = answer.final_checksums.get(str(j))
        if final is None or len(final) != 2 or len(at_return) != 2:
            reasons.append(
                Reason(
                    Check.PROTOCOL if name == "candidate" else Check.HARNESS,
                    f"{name}: no well-formed final checksum for input set {j}",
                )
            )
            break
        scale = abs(final[1]) + 1e-30
        if not (_agree(at_return[0], final[0], scale) and _agree(at_return[1], final[1], scale)):
            reasons.append(
                Reason(
                    Check.COMPLETION if name == "candidate" else Check.HARNESS,
                    f"{name}: a timed call's output at return (checksum {at_return[0]:.6g}) differs "
                    f"from the same input's final output ({final[0]:.6g}): work was still running "
                    "when forward returned (a side stream or a thread), so events timed only part of it",
                )
            )
            break
    return reasons, warnings


def _agree(at_return: float, final: float, scale: float) -> bool:
    """Whether a checksum at return agrees with the final one. Not a plain ``abs(a - b) > t``: a
    NaN at return makes every such comparison false, and the sum of memory not yet written (stale
    bits, or NaN the judge planted) is NaN or infinite as often as not. Non-finite values agree
    only with the same value (an output whose float32 sum overflows agrees with itself)."""
    if math.isnan(at_return) or math.isnan(final):
        return math.isnan(at_return) and math.isnan(final)
    if math.isinf(at_return) or math.isinf(final):
        return at_return == final
    return abs(at_return - final) <= CHECKSUM_TOLERANCE * scale


def escape_reasons(
    name: str, answer: Escaped, judge_seconds: float, judge_slack: float = JUDGE_SLACK
) -> tuple[EscapeRecord, list[Reason]]:
    """Back-to-back calls: the judge's clock against the worker's (``judge_slack`` seconds of
    messages and scheduling allowed), the worker's against events."""
    record = EscapeRecord(answer.calls, judge_seconds, answer.host_seconds, answer.event_seconds)
    check = Check.TIMING if name == "candidate" else Check.HARNESS
    reasons = []
    if answer.tampered and name == "candidate":
        reasons.append(
            Reason(
                Check.INTEGRITY,
                f"the candidate replaced {', '.join(answer.tampered)} while being timed",
            )
        )
    calls, worker_seconds = answer.calls, answer.host_seconds
    if judge_seconds > ESCAPE_RATIO * worker_seconds + judge_slack:
        reasons.append(
            Reason(
                check,
                f"{name}: the worker reported {worker_seconds * 1e3:.3g} ms for {calls} calls, but the "
                f"judge's own clock saw {judge_seconds * 1e3:.3g} ms: the worker's clock was tampered with",
            )
        )
    events = answer.event_seconds
    if events is not None and worker_seconds > ESCAPE_RATIO * events + 1e-3:
        reasons.append(
            Reason(
                check,
                f"{name}: asynchronous work escaped the timer: CUDA events saw {events / calls * 1e6:.3g} µs "
                f"per call, a host clock with a device-wide synchronise {worker_seconds / calls * 1e6:.3g} µs "
                f"({calls} back-to-back calls)",
            )
        )
    return record, reasons


def memoisation_reason(timing: ImplTiming, baseline: ImplTiming | None = None) -> Reason | None:
    """First visits of input sets much slower than repeats: earlier results were reused.

    Repeats twice over: timed alone the same way as the first visits (like for like), and the
    timed blocks themselves (what the candidate is scored on). A candidate can tell a call timed
    alone from one of a block (it comes after a pause) and make its lone repeats as slow as it
    likes, at no cost to its median; it cannot make its blocks slow without losing what it
    gained. A call alone may cost more than one in a block on any implementation (launches not
    overlapped, pools woken): the baseline's own ratio, timed the same way in the same rounds,
    is allowed for.
    """
    first = timing.first_visit_median
    if first is None:
        return None
    ratio = MEMO_RATIO if timing.first_visits >= FEW_FIRST_VISITS else MEMO_RATIO_FEW
    repeat = timing.repeat_median
    if repeat is not None and repeat < ratio * first and first - repeat > 2e-6:
        return Reason(
            Check.MEMOISATION,
            f"calls on inputs it had seen before took {repeat * 1e6:.3g} µs, calls on inputs seen for the "
            f"first time {first * 1e6:.3g} µs: it reuses earlier results instead of computing them",
        )
    block = timing.median
    alone = 1.0  # what a call alone costs the baseline over one in its blocks
    if baseline is not None and baseline.first_visit_median and baseline.median > 0:
        alone = max(1.0, baseline.first_visit_median / baseline.median)
    if block > 0 and block < ratio * first / alone and first - block > 2e-6:
        seen = f"; {baseline.name}'s: x{alone:.2f}" if baseline is not None and alone > 1 else ""
        return Reason(
            Check.MEMOISATION,
            f"calls on inputs seen for the first time took {first * 1e6:.3g} µs, its timed blocks "
            f"{block * 1e6:.3g} µs a call (what a call alone costs over one in a block, at most "
            f"x{1 / ratio:.0f}{seen}): it reuses earlier results instead of computing them",
        )
    return None


def _before_after(
    rounds: list[list[float]], fresh: list[bool]
) -> tuple[float | None, float | None]:
    """Pooled medians of the rounds that had first visits, and of those that had none."""
    paired = list(zip(rounds, fresh, strict=True))
    return pooled_median([r for r, f in paired if f]), pooled_median(
        [r for r, f in paired if not f]
    )


def late_memoisation_reason(
    candidate: list[list[float]],
    candidate_fresh: list[bool],
    baseline: list[list[float]] | None = None,
    baseline_fresh: list[bool] | None = None,
) -> Reason | None:
    """Rounds timed once no unseen set was left much faster than rounds while they still came.

    First visits are kept back for a few rounds only (``FRESH_PER_BLOCK`` a round); a candidate
    that computes honestly while unseen sets keep arriving and answers from memory once they stop
    would pass the first-visit comparison and still have most rounds timed as lookups. Its rounds
    (``candidate_fresh``: whether each had first visits) are compared before and after; where a
    baseline was timed in the same rounds, its own change is taken out (a machine that got
    quieter speeds both up).
    """
    before_m, after_m = _before_after(candidate, candidate_fresh)
    if before_m is None or after_m is None or before_m <= 0:
        return None
    machine = 1.0
    if baseline is not None and baseline_fresh is not None:
        b_before, b_after = _before_after(baseline, baseline_fresh)
        if b_before and b_after:
            machine = min(1.0, b_after / b_before)
    if after_m < MEMO_RATIO * machine * before_m and before_m - after_m > 2e-6:
        return Reason(
            Check.MEMOISATION,
            f"once no input set it had not seen was left to time (after round {sum(candidate_fresh)}), its "
            f"calls took {after_m * 1e6:.3g} µs, while unseen sets still came {before_m * 1e6:.3g} µs"
            + (f" (the baseline's own change: x{machine:.2f})" if machine < 1.0 else "")
            + ": it reuses earlier results once it knows no new inputs will come",
        )
    return None


def impossible_reason(candidate: ImplTiming, floor: Floor) -> Reason | None:
    """A candidate faster than the bytes that must move allow (or than the flops, with room for
    fast convolution algorithms) measured something other than its work."""
    if candidate.median >= floor.impossible_below:
        return None
    return Reason(
        Check.IMPOSSIBLE,
        f"measured {candidate.median * 1e6:.3g} µs per call, under the speed-of-light floor: {floor.explain()} "
        f"(rejected below {floor.impossible_below * 1e6:.3g} µs, allowing for peaks measured a little "
        "under the hardware's and for fast convolution algorithms)",
    )


def overhead_warning(
    device: str, eager: ImplTiming, peaks: Peaks, size_names: list[str]
) -> str | None:
    """A warning when eager's time is near the per-call overhead: launches are timed, not work.

    Not where eager runs at half the speed of light or more: the work's own floor is then at
    least half of each call, and launches (queued behind the work) are not what is timed. (On
    an H100, L1/12 at KernelBench's size: eager 62 µs at 71% of the speed of light, against a
    host cost of 10 µs per call, was once told "this measures launches".) Unless the call is
    within WORK_BOUND_OVERHEADS of that host cost: the floor is drawn from memory bandwidth, and
    a set small enough to stay in cache can reach "half" of it with overhead alone."""
    limit = max(OVERHEAD_SECONDS.get(device, 20e-6), 10 * peaks.launch_overhead_seconds)
    work_bound = (eager.sol_fraction or 0.0) >= WORK_BOUND_SOL and (
        eager.median >= WORK_BOUND_OVERHEADS * peaks.launch_overhead_seconds
    )
    if eager.median >= limit or work_bound:
        return None
    hint = f" e.g. --set {size_names[0]}=<larger>" if size_names else ""
    return (
        f"eager takes {eager.median * 1e6:.3g} µs per call, near the per-call overhead of this device "
        f"({peaks.launch_overhead_seconds * 1e6:.2g} µs): this measures launches, not "
        f"kernels. Scale the problem up{hint} (size globals: {', '.join(size_names) or 'none found'})."
    )


def wide_intervals_warning(
    impls: dict[str, ImplTiming], options: TimingOptions, seconds: float
) -> str | None:
    """Said when timing ended (its budget or its rounds spent) with an interval wider than the
    target: a speedup then reads "no measurable difference" where a longer measurement might
    tell. (L1/12 on an H100: three rounds, one slow, 1.21x with an interval of 0.93–1.22.)"""
    wide = [
        f"{name} ±{t.rel_halfwidth:.1%} over {len(t.rounds)} rounds"
        for name, t in impls.items()
        if t.rel_halfwidth > options.target_rel_ci
    ]
    if not wide:
        return None
    return (
        f"timing ended after {seconds:.0f} s with intervals wider than the "
        f"±{options.target_rel_ci:.0%} aimed at ({'; '.join(wide)}): a longer --time-budget may "
        "narrow them"
    )


def threads_reason(threads: list[str]) -> Reason:
    return Reason(
        Check.TIMING,
        f"threads of the candidate were running while it was timed ({', '.join(threads[:4])}): "
        "work done beside the timed calls is not measured",
    )


def starved(device: str, answer: BlockTimed) -> bool:
    """Whether a block's process had far less CPU time than wall time (stopped, or starved)."""
    return answer.host_seconds > 0.05 and answer.cpu_seconds < STARVED_RATIO * answer.host_seconds


def stalled(sample: float, waited: float | None) -> bool:
    """Whether a call timed alone was stalled by the machine: its worker's threads waited for a
    core (``waited`` seconds, the kernel's count: the least of the judge's reading around the
    request and the worker's around the call) for a good share of the call. A worker that
    understates its waits keeps its finding; one that makes waits (its own threads competing)
    gains nothing: a stalled call is never what makes it pass (``Measurement._unless_stalled``)."""
    return waited is not None and waited >= STALL_FLOOR_S and waited >= STALL_SHARE * sample


def busy_reason(finding: Reason, stalled_calls: int, first_visits: int, waited: float) -> Reason:
    """Too few first visits left, once those stalled by the machine are set aside, to tell a
    memoiser from a busy machine: not judged (never accepted)."""
    return Reason(
        Check.HARNESS,
        f"the candidate could not be timed: {stalled_calls} of its {first_visits} calls on inputs "
        f"seen for the first time waited for a CPU core ({waited * 1e3:.3g} ms in all: other "
        "processes, or its own threads, held the machine's cores), too many to tell memoisation "
        "from a busy machine "
        f"({finding.detail}); time it on a quiet machine",
    )


def unmeasured_reason(name: str, discarded: int) -> Reason:
    return Reason(
        Check.HARNESS,
        f"{name} could not be measured: all {discarded} of its timed blocks were stopped or starved "
        "(the machine is too busy to time anything)",
    )
