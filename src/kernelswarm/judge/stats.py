"""Statistics for timings: medians with distribution-free intervals, and speedup intervals.

Timing samples are not normal (long right tails from interrupts and clock changes), so the
median's interval comes from order statistics, and the interval of a speedup (baseline median
over candidate median) from a bootstrap that resamples within each round, so that slow drift
between rounds is not mistaken for noise within one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def median_interval(
    samples: Sequence[float], confidence_z: float = 1.96
) -> tuple[float, float, float]:
    """(median, low, high): a 95% distribution-free interval for the median."""
    xs = np.sort(np.asarray(samples, dtype=float))
    n = len(xs)
    if n == 0:
        return math.nan, math.nan, math.nan
    median = float(np.median(xs))
    half = confidence_z * math.sqrt(n) / 2
    lo = max(0, math.floor(n / 2 - half))
    hi = min(n - 1, math.ceil(n / 2 + half) - 1)
    return median, float(xs[lo]), float(xs[hi])


def relative_halfwidth(samples: Sequence[float]) -> float:
    median, lo, hi = median_interval(samples)
    return (hi - lo) / (2 * median) if median > 0 else math.inf


def ratio_interval(
    baseline_rounds: Sequence[Sequence[float]],
    candidate_rounds: Sequence[Sequence[float]],
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(median ratio, low, high) of baseline time / candidate time, 95% stratified bootstrap."""
    base = [np.asarray(r, dtype=float) for r in baseline_rounds if len(r)]
    cand = [np.asarray(r, dtype=float) for r in candidate_rounds if len(r)]
    point = float(np.median(np.concatenate(base)) / np.median(np.concatenate(cand)))
    rng = np.random.default_rng(seed)

    def resample(rounds: list[np.ndarray]) -> np.ndarray:
        # For each bootstrap replicate, resample every round with replacement, then pool.
        parts = [r[rng.integers(0, len(r), size=(resamples, len(r)))] for r in rounds]
        return np.median(np.concatenate(parts, axis=1), axis=1)

    ratios = resample(base) / resample(cand)
    low, high = np.percentile(ratios, [2.5, 97.5])
    return point, float(low), float(high)


def describe_speedup(median: float, low: float, high: float) -> str:
    if low <= 1.0 <= high:
        return f"no measurable difference ({median:.3g}x, 95% interval {low:.3g}–{high:.3g})"
    if median >= 1:
        return f"{median:.3g}x faster (95% interval {low:.3g}–{high:.3g}x)"
    return f"{1 / median:.3g}x slower (95% interval {1 / high:.3g}–{1 / low:.3g}x slower)"
