"""Statistics for timings: medians and speedups with intervals that hold across runs.

Timing samples are not independent: calls of one block share the machine's state (clocks,
caches, the other processes), and that state drifts between blocks. An interval computed as if
every call were an independent draw is far too narrow: two runs of the same measurement then
disagree beyond their intervals. So intervals come from resampling whole rounds (one block of
each implementation), never single samples: the variation between blocks is what they measure.
With fewer than three rounds there is nothing to resample, and the order-statistics interval of
the pooled samples is given instead (it holds within that run only).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: bootstrap replicates, and samples kept of each round in them (a random subset: the pooled
#: median of the subsets tracks the pooled median of the rounds)
RESAMPLES = 1000
PER_ROUND = 256
MIN_ROUNDS = 3


def _rounds(rounds: Sequence[Sequence[float]]) -> list[np.ndarray]:
    return [np.asarray(r, dtype=float) for r in rounds if len(r)]


def _order_interval(xs: np.ndarray, confidence_z: float = 1.96) -> tuple[float, float]:
    xs = np.sort(xs)
    n = len(xs)
    half = confidence_z * math.sqrt(n) / 2
    lo = max(0, math.floor(n / 2 - half))
    hi = min(n - 1, math.ceil(n / 2 + half) - 1)
    return float(xs[lo]), float(xs[hi])


def _matrix(rounds: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Each round as a row of the same length: a random subset of its samples."""
    k = min(PER_ROUND, min(len(r) for r in rounds))
    return np.stack([rng.choice(r, size=k, replace=False) for r in rounds])


def _bootstrap_medians(matrix: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """The pooled median of each replicate's rounds (``picks``: replicates x rounds)."""
    chosen = matrix[picks]  # replicates x rounds x samples
    return np.median(chosen.reshape(len(picks), -1), axis=1)


def pooled_median(rounds: Sequence[Sequence[float]]) -> float | None:
    """The median of every round's samples together (what ``median_interval`` reports); None
    where there are none."""
    kept = _rounds(rounds)
    return float(np.median(np.concatenate(kept))) if kept else None


def median_interval(rounds: Sequence[Sequence[float]], seed: int = 0) -> tuple[float, float, float]:
    """(median, low, high): the pooled median and its 95% interval, resampling whole rounds."""
    kept = _rounds(rounds)
    if not kept:
        return math.nan, math.nan, math.nan
    pooled = np.concatenate(kept)
    median = float(np.median(pooled))
    if len(kept) < MIN_ROUNDS:
        low, high = _order_interval(pooled)
        return median, min(low, median), max(high, median)
    rng = np.random.default_rng(seed)
    matrix = _matrix(kept, rng)
    picks = rng.integers(0, len(kept), size=(RESAMPLES, len(kept)))
    low, high = np.percentile(_bootstrap_medians(matrix, picks), [2.5, 97.5])
    return median, min(float(low), median), max(float(high), median)


def relative_halfwidth(rounds: Sequence[Sequence[float]]) -> float:
    median, lo, hi = median_interval(rounds)
    return (hi - lo) / (2 * median) if median > 0 else math.inf


def ratio_interval(
    baseline_rounds: Sequence[Sequence[float]],
    candidate_rounds: Sequence[Sequence[float]],
    seed: int = 0,
) -> tuple[float, float, float]:
    """(median ratio, low, high) of baseline time / candidate time, 95% interval.

    Rounds are resampled whole, and in pairs where both sides have the same rounds (the blocks
    of one round ran next to each other, on the same state of the machine)."""
    base, cand = _rounds(baseline_rounds), _rounds(candidate_rounds)
    point = float(np.median(np.concatenate(base)) / np.median(np.concatenate(cand)))
    rng = np.random.default_rng(seed)
    if min(len(base), len(cand)) < MIN_ROUNDS:
        # too few rounds to resample: samples within each round (this run's interval only)
        def within(rounds: list[np.ndarray]) -> np.ndarray:
            parts = [r[rng.integers(0, len(r), size=(RESAMPLES, len(r)))] for r in rounds]
            return np.median(np.concatenate(parts, axis=1), axis=1)

        ratios = within(base) / within(cand)
    else:
        picks_base = rng.integers(0, len(base), size=(RESAMPLES, len(base)))
        picks_cand = (
            picks_base
            if len(base) == len(cand)
            else rng.integers(0, len(cand), size=(RESAMPLES, len(cand)))
        )
        ratios = _bootstrap_medians(_matrix(base, rng), picks_base) / _bootstrap_medians(
            _matrix(cand, rng), picks_cand
        )
    low, high = np.percentile(ratios, [2.5, 97.5])
    return point, min(float(low), point), max(float(high), point)


def describe_speedup(median: float, low: float, high: float) -> str:
    if low <= 1.0 <= high:
        return f"no measurable difference ({median:.3g}x, 95% interval {low:.3g}–{high:.3g})"
    if median >= 1:
        return f"{median:.3g}x faster (95% interval {low:.3g}–{high:.3g}x)"
    return f"{1 / median:.3g}x slower (95% interval {1 / high:.3g}–{1 / low:.3g}x slower)"
