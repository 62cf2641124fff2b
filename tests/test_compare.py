"""Calibrated tolerances: correct kernels with other rounding pass, downgraded precision fails,
and every failure explains itself with numbers."""

from __future__ import annotations

import math

import torch

from kernelswarm.judge.compare import Tolerance
from kernelswarm.precision import POLICIES, round_to_tf32

STRICT = POLICIES["strict"]


def matmul_case(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    e = a.double() @ b.double()
    return a, b, e, a @ b


def test_accepts_other_summation_orders():
    a, b, e, w = matmul_case()
    tol = Tolerance(e, w, None, STRICT)
    tiled = sum(a[:, k : k + 16] @ b[k : k + 16] for k in range(0, 256, 16))
    assert tol.check(tiled).passed
    assert tol.check((a.double() @ b.double()).float()).passed


def test_rejects_tf32_bf16_and_fp16_under_strict():
    a, b, e, w = matmul_case()
    tol = Tolerance(e, w, None, STRICT)
    for cand in (round_to_tf32(a) @ round_to_tf32(b), (a.bfloat16() @ b.bfloat16()).float(),
                 a.half().float() @ b.half().float()):  # fmt: skip
        result = tol.check(cand)
        assert not result.passed
        assert "normwise error" in result.detail and "worst element" in result.detail


def test_tf32_policy_accepts_tf32_but_not_bf16():
    a, b, e, w = matmul_case()
    tf32_ref = round_to_tf32(a) @ round_to_tf32(b)
    tol = Tolerance(e, w, tf32_ref, POLICIES["tf32"])
    assert tol.check(round_to_tf32(a) @ round_to_tf32(b)).passed
    assert not tol.check((a.bfloat16() @ b.bfloat16()).float()).passed


def test_zeros_and_constants_are_named():
    _, _, e, w = matmul_case()
    tol = Tolerance(e, w, None, STRICT)
    assert "all zeros" in tol.check(torch.zeros_like(w)).detail
    assert "constant" in tol.check(torch.full_like(w, 3.0)).detail


def test_one_wrong_element_is_found_and_located():
    _, _, e, w = matmul_case()
    tol = Tolerance(e, w, None, STRICT)
    bad = w.clone()
    bad[17, 42] += 1e-2 * float(w.abs().mean())
    result = tol.check(bad)
    assert not result.passed and result.worst_index == (17, 42)


def test_nonfinite_positions_must_match_exactly():
    e = torch.tensor([1.0, math.inf, -math.inf, math.nan], dtype=torch.float64)
    w = e.float()
    tol = Tolerance(e, w, None, STRICT)
    assert tol.check(w.clone()).passed
    for bad in (
        [1.0, math.inf, -math.inf, 0.0],
        [1.0, -math.inf, -math.inf, math.nan],
        [math.nan] * 4,
    ):
        result = tol.check(torch.tensor(bad))
        assert not result.passed and result.check == "nonfinite"


def test_exact_outputs_allow_either_reference_at_near_ties():
    e = torch.tensor([0, 1, 2])
    w = torch.tensor([0, 1, 3])  # the working precision broke a near tie differently
    tol = Tolerance(e, w, None, STRICT)
    assert tol.check(torch.tensor([0, 1, 2])).passed and tol.check(torch.tensor([0, 1, 3])).passed
    assert not tol.check(torch.tensor([1, 1, 2])).passed


def test_kernelbench_policy_reproduces_allclose():
    e = torch.full((1000,), 3e-5, dtype=torch.float64)
    tol = Tolerance(e, e.float(), None, POLICIES["kernelbench"])
    assert tol.check(torch.zeros(1000)).passed  # exactly the weakness it exists to show
    assert not tol.check(torch.full((1000,), 0.5)).passed


def test_exactly_computed_reference_still_allows_last_bit_differences():
    x = torch.randn(1000)
    e = torch.relu(x.double())
    tol = Tolerance(e, torch.relu(x), None, STRICT)
    assert tol.check(torch.relu(x)).passed
    assert tol.check(torch.relu(x) * (1 + 2**-23)).passed
    assert not tol.check(torch.relu(x) * (1 + 2**-10)).passed
