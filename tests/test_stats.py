"""Median intervals and speedup intervals."""

from __future__ import annotations

import numpy as np

from kernelswarm.judge.stats import (
    describe_speedup,
    median_interval,
    ratio_interval,
    relative_halfwidth,
)


def test_median_interval_contains_the_median_and_narrows_with_samples():
    rng = np.random.default_rng(0)
    small = rng.lognormal(0, 0.1, 50)
    large = rng.lognormal(0, 0.1, 5000)
    for xs in (small, large):
        m, lo, hi = median_interval(xs)
        assert lo <= m <= hi
    assert relative_halfwidth(large) < relative_halfwidth(small) / 5


def test_median_interval_covers_the_true_median_about_95_percent():
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(400):
        _, lo, hi = median_interval(rng.exponential(1.0, 101))
        hits += lo <= np.log(2) <= hi
    assert 0.9 <= hits / 400 <= 0.99


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
