"""Median intervals and speedup intervals."""

from __future__ import annotations

import numpy as np

from kernelswarm.judge.stats import (
    describe_speedup,
    median_interval,
    ratio_interval,
    relative_halfwidth,
)


def test_median_interval_contains_the_median_and_narrows_with_rounds():
    rng = np.random.default_rng(0)
    few = [rng.lognormal(0, 0.1, 200) for _ in range(3)]
    many = [rng.lognormal(0, 0.1, 200) for _ in range(30)]
    for rounds in (few, many):
        m, lo, hi = median_interval(rounds)
        assert lo <= m <= hi
    assert relative_halfwidth(many) < relative_halfwidth(few)


def _drifting_run(rng, rounds=8, per_round=300, drift=0.02):
    """Rounds whose level drifts (the machine's state between blocks), samples noisy within."""
    return [rng.normal(1.0 + rng.normal(0, drift), 0.01, per_round) for _ in range(rounds)]


def test_intervals_from_whole_rounds_hold_across_runs():
    # Two runs of the same measurement: the second's median falls in the first's interval about
    # as often as it should. Treating every sample as independent (the order-statistics interval
    # of the pooled samples) would almost never cover it, the drift between rounds being ignored.
    rng = np.random.default_rng(1)
    covered = naive = 0
    trials = 100
    for _ in range(trials):
        first, second = _drifting_run(rng), _drifting_run(rng)
        _, lo, hi = median_interval(first)
        m2 = float(np.median(np.concatenate(second)))
        covered += lo <= m2 <= hi
        pooled = np.sort(np.concatenate(first))
        n = len(pooled)
        naive += pooled[int(n / 2 - n**0.5)] <= m2 <= pooled[int(n / 2 + n**0.5)]
    assert covered / trials >= 0.7
    assert naive / trials < 0.3


def test_ratio_interval_finds_a_known_speedup():
    rng = np.random.default_rng(2)
    base = [list(rng.normal(2.0, 0.02, 200)) for _ in range(4)]
    cand = [list(rng.normal(1.0, 0.01, 200)) for _ in range(4)]
    median, low, high = ratio_interval(base, cand)
    assert low < 2.0 < high and high - low < 0.05
    assert "faster" in describe_speedup(median, low, high)


def test_equal_times_are_no_measurable_difference():
    rng = np.random.default_rng(3)
    a = [list(rng.normal(1.0, 0.05, 100)) for _ in range(3)]
    b = [list(rng.normal(1.0, 0.05, 100)) for _ in range(3)]
    assert describe_speedup(*ratio_interval(a, b)).startswith("no measurable difference")


def test_slower_is_said_in_its_own_units():
    text = describe_speedup(0.5, 0.48, 0.52)
    assert text.startswith("2x slower") and "1.92–2.08x slower" in text
