"""Calibrated comparison of an output against the float64 answer, and test strength.

For one output of one test the judge holds three things: ``e``, the float64 answer; ``r``, the
problem's own reference in the policy's precision; and the candidate's ``c``. The candidate
passes when, on every position where ``e`` is finite,

    normwise:    ||c - e|| / ||e||  <=  max(Kn ||r - e|| / ||e||,  F u)
    elementwise: |c_i - e_i|        <=  Ke (|r_i - e_i| + rms(r - e))  +  F u (|e_i| + rms(e))

and NaN/Inf sit exactly where they sit in ``e``. ``u`` is the unit roundoff of the policy's
format, and ``F`` a few units of it (exactly computed references have no error of their own). The same test, applied to zeros, a constant, or another input's answer, decides whether
a test is *strong*: if any of those would pass, the test proves nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from kernelswarm.judge.reasons import Check
from kernelswarm.precision import UNIT_ROUNDOFF, Policy


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing one output, with the numbers a person needs to believe it."""

    passed: bool
    detail: str
    check: Check = Check.VALUES  # or NONFINITE when NaN/Inf sit in the wrong places
    normwise_error: float | None = None
    allowed_normwise: float | None = None
    worst_ratio: float | None = None  # max over elements of error / allowed (<= 1 passes)
    worst_index: tuple[int, ...] | None = None


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _index(flat: int, shape: torch.Size) -> tuple[int, ...]:
    out = []
    for size in reversed(shape):
        out.append(flat % size)
        flat //= size
    return tuple(reversed(out))


def all_finite(t: torch.Tensor) -> bool:
    """Whether every element is finite; one reading pass, no mask, when they all are.

    A sum is finite only if every term is (an Inf or NaN term makes it Inf or NaN); a finite
    tensor whose sum overflows takes the elementwise path.
    """
    if not t.is_floating_point() or t.numel() == 0:
        return True
    if math.isfinite(float(t.sum(dtype=torch.float64))):
        return True
    return bool(torch.isfinite(t).all())


class Tolerance:
    """The allowed error for one output of one test, computed once from ``e`` and ``r``."""

    def __init__(
        self,
        expected: torch.Tensor,
        working: torch.Tensor,
        policy_output: torch.Tensor | None,
        policy: Policy,
    ) -> None:
        self.policy = policy
        self.shape = expected.shape
        self.out_dtype = working.dtype
        self.exact = not expected.is_floating_point()
        # Held for every test, so kept lean (the judge holds all of them in host memory): the
        # working output as it came, the finite mask only where something is not finite, and
        # the allowed error in float32 where the output is no wider.
        self.e = expected if self.exact else expected.double()
        self.w = working
        if self.exact or not policy.calibrated:
            return
        w = working.double()
        r = policy_output.double() if policy_output is not None else w
        if policy_output is not None and not all_finite(r):
            r = torch.where(torch.isfinite(r), r, w)  # the policy format overflowed: fall back
        del w
        self.all_finite = all_finite(self.e)
        finite = None if self.all_finite else torch.isfinite(self.e)
        self.finite: torch.Tensor | None = finite
        e = self.e.flatten() if self.all_finite else self.e[finite]
        ref_diff = (r.flatten() if self.all_finite else r[finite]) - e
        del r, finite
        ref_diff.abs_()
        self.unit = max(policy.unit_roundoff or 0.0, UNIT_ROUNDOFF.get(working.dtype, 2.0**-24))
        n = max(e.numel(), 1)
        self.norm_e = float(e.norm())
        rms_ref = float(ref_diff.norm()) / math.sqrt(n)
        rms_e = self.norm_e / math.sqrt(n)
        self.reference_normwise = float(ref_diff.norm()) / self.norm_e if self.norm_e else math.inf
        floor = policy.floor_ulps * self.unit
        self.allowed_normwise = max(policy.normwise_factor * self.reference_normwise, floor)
        allowed = ref_diff.add_(rms_ref).mul_(policy.elementwise_factor)
        allowed.add_(e.abs().add_(rms_e).mul_(floor))
        if working.dtype in (torch.float32, torch.float16, torch.bfloat16):
            # rounding a bound by 2^-24 changes no verdict; clamped, never widened to infinity
            allowed = allowed.clamp_(max=torch.finfo(torch.float32).max).float()
        self.allowed = allowed

    def check(self, candidate: torch.Tensor, quick: bool = False) -> Comparison:
        """Compare a candidate output (already known to have the right shape).

        ``quick`` answers pass/fail only and stops at the first failed criterion (strength probes).
        """
        if self.exact:
            return self._check_exact(candidate)
        c = candidate.double()
        if not self.policy.calibrated:
            return self._check_allclose(c)
        if not (self.all_finite and all_finite(c)):
            bad_nonfinite = self._nonfinite_mismatch(c)
            if bad_nonfinite:
                return Comparison(False, bad_nonfinite, Check.NONFINITE)
        e = self.e.flatten() if self.all_finite else self.e[self.finite]
        cf = c.flatten() if self.all_finite else c[self.finite]
        diff = (cf - e).abs()
        normwise = (
            float(diff.norm()) / self.norm_e
            if self.norm_e
            else (0.0 if not diff.any() else math.inf)
        )
        if quick and normwise > self.allowed_normwise:
            return Comparison(False, "", Check.VALUES, normwise, self.allowed_normwise)
        ratio = (diff / self.allowed).masked_fill_(diff == 0, 0.0)  # 0/0 where both are zero
        worst = int(ratio.argmax()) if ratio.numel() else 0
        worst_ratio = float(ratio[worst]) if ratio.numel() else 0.0
        passed = normwise <= self.allowed_normwise and worst_ratio <= 1.0
        if quick:
            return Comparison(
                passed, "", Check.VALUES, normwise, self.allowed_normwise, worst_ratio
            )
        worst_index = self._position(worst) if ratio.numel() else None
        detail = ""
        if not passed:
            detail = self._explain(cf, e, diff, normwise, worst, worst_index, worst_ratio)
        return Comparison(
            passed, detail, Check.VALUES, normwise, self.allowed_normwise, worst_ratio, worst_index
        )

    def _position(self, k: int) -> tuple[int, ...]:
        """The index in the output of the k-th finite element."""
        if self.all_finite:
            return _index(k, self.shape)
        assert self.finite is not None
        return _index(int(self.finite.flatten().nonzero()[k]), self.shape)

    def _explain(
        self,
        cf: torch.Tensor,
        e: torch.Tensor,
        diff: torch.Tensor,
        normwise: float,
        worst: int,
        worst_index: tuple[int, ...] | None,
        worst_ratio: float,
    ) -> str:
        max_e = float(e.abs().max()) if e.numel() else 0.0
        if not cf.any() and max_e > 0:
            lead = f"output is all zeros where the expected output is not (max |expected| = {_fmt(max_e)}); "
        elif cf.numel() > 1 and bool((cf == cf[0]).all()) and float(e.std()) > 0:
            lead = f"output is the constant {_fmt(float(cf[0]))} everywhere; "
        else:
            wrong = int((diff > self.allowed).sum())
            lead = f"{wrong} of {diff.numel()} elements outside tolerance; "
        return (
            f"{lead}normwise error {_fmt(normwise)} vs allowed {_fmt(self.allowed_normwise)} "
            f"(max({_fmt(self.policy.normwise_factor)} x the reference's own {_fmt(self.reference_normwise)}, "
            f"{_fmt(self.policy.floor_ulps)}u = {_fmt(self.policy.floor_ulps * self.unit)})); worst element {list(worst_index or ())}: got {_fmt(float(cf[worst]))}, "
            f"expected {_fmt(float(e[worst]))} (error {_fmt(float(diff[worst]))}, "
            f"allowed {_fmt(float(self.allowed[worst]))}, {_fmt(worst_ratio)}x over)"
        )

    def _nonfinite_mismatch(self, c: torch.Tensor) -> str:
        e = self.e
        wrong = (
            (e.isnan() != c.isnan())
            | (e.isposinf() != c.isposinf())
            | (e.isneginf() != c.isneginf())
        )
        count = int(wrong.sum())
        if not count:
            return ""
        first = _index(int(wrong.flatten().nonzero()[0]), self.shape)
        got = float(c[first])
        want = float(e[first])
        return (
            f"NaN/Inf in the wrong places: {count} of {e.numel()} positions (first at {list(first)}: "
            f"got {got}, expected {_fmt(want)})"
        )

    def _check_exact(self, c: torch.Tensor) -> Comparison:
        # Integer and boolean outputs (argmax, top-k indices, masks) must be exact; where the
        # working-precision reference itself disagrees with float64 (a near tie), either is right.
        ok = (c == self.e) | (c == self.w)
        wrong = int((~ok).sum())
        if not wrong:
            return Comparison(True, "", Check.VALUES, 0.0, 0.0, 0.0)
        first = _index(int((~ok).flatten().nonzero()[0]), self.shape)
        return Comparison(
            False,
            f"{wrong} of {c.numel()} exact values differ (first at {list(first)}: got "
            f"{c[first].item()}, expected {self.e[first].item()})",
            worst_index=first,
        )

    def _check_allclose(self, c: torch.Tensor) -> Comparison:
        atol, rtol = self.policy.atol or 0.0, self.policy.rtol or 0.0
        w = self.w.double()
        both_nan = c.isnan() & w.isnan()
        slack = atol + rtol * w.abs()
        over = torch.where(both_nan, torch.zeros_like(w), (c - w).abs() - slack)
        over = torch.nan_to_num(over, nan=math.inf)
        worst = int(over.flatten().argmax())
        worst_over = float(over.flatten()[worst])
        index = _index(worst, self.shape)
        if worst_over <= 0:
            return Comparison(True, "", worst_ratio=0.0, worst_index=index)
        wrong = int((over > 0).sum())
        return Comparison(
            False,
            f"{wrong} of {c.numel()} elements outside atol={atol:g}, rtol={rtol:g} (worst at "
            f"{list(index)}: got {_fmt(float(c[index]))}, reference {_fmt(float(w[index]))})",
            worst_index=index,
        )
