"""The in-process twin: the same judge, the same protocol, no worker process — and the same
verdicts as the sandboxed workers give, in a fraction of the time.

Only candidates that cannot harm the test process are judged here (no crashes, exits, patched
clocks or forged frames: those need a real worker, and ``test_catalog`` runs them there).
"""

from __future__ import annotations

import pytest
from conftest import EXAMPLES, PROBLEMS

from kernelswarm.judge.check import CheckConfig, check
from kernelswarm.judge.reasons import Check
from kernelswarm.problem import Override

CASES = [
    ("matmul.py", "good/matmul_tiled.py", (), "accepted", set()),
    ("matmul.py", "cheats/zeros.py", (), "rejected", {Check.VALUES}),
    ("matmul.py", "cheats/cache_by_address.py", (), "rejected", {Check.STATE}),
    ("matmul.py", "cheats/cache_by_shape.py", (), "rejected", {Check.STATE, Check.VALUES}),
    ("matmul.py", "cheats/partial_rows.py", (), "rejected", {Check.VALUES}),
    ("matmul.py", "cheats/wrong_dtype.py", (), "rejected", {Check.DTYPE}),
    ("matmul.py", "cheats/bf16_matmul.py", (), "rejected", {Check.VALUES}),
    (
        "matmul.py",
        "cheats/reused_output_buffer.py",
        (),
        "rejected",
        {Check.ALIASING, Check.COMPLETION},
    ),
    ("relu.py", "cheats/identity_relu.py", (Override("dim", 1024),), "rejected", {Check.VALUES}),
    (
        "relu.py",
        "cheats/inplace_relu.py",
        (Override("dim", 1024),),
        "rejected",
        {Check.MUTATION, Check.ALIASING},
    ),
    ("sum_rows.py", "good/sum_rows_tree.py", (), "accepted", set()),
    ("layernorm_mean.py", "cheats/layernorm_zeros.py", (), "error", {Check.STRENGTH}),
    ("dropout_linear.py", "cheats/dropout_identity.py", (), "error", {Check.DETERMINISM}),
    ("unseeded_init.py", "cheats/unseeded_scale.py", (), "error", {Check.DETERMINISM}),
    ("broken_syntax.py", "good/matmul_tiled.py", (), "error", {Check.PROBLEM}),
    ("matmul.py", "cheats/syntax_error.py", (), "rejected", {Check.SYNTAX}),
    ("matmul.py", "cheats/no_modelnew.py", (), "rejected", {Check.INTERFACE}),
    ("matmul.py", "cheats/constructor_raises.py", (), "rejected", {Check.CONSTRUCTOR}),
    ("matmul.py", "cheats/forward_raises.py", (), "rejected", {Check.FORWARD}),
]


@pytest.mark.parametrize(
    ("problem", "candidate", "overrides", "outcome", "checks"),
    CASES,
    ids=[f"{p}:{c}" for p, c, *_ in CASES],
)
def test_in_process_verdicts(problem, candidate, overrides, outcome, checks):
    config = CheckConfig(
        problem=PROBLEMS / problem, candidate=EXAMPLES / candidate, overrides=overrides, seed=3,
        in_process=True,
    )  # fmt: skip
    verdict = check(config)
    assert verdict.verdict.value == outcome, [r.line() for r in verdict.reasons]
    found = {r.check for r in verdict.reasons}
    assert not checks or found & checks, [r.line() for r in verdict.reasons]
    assert any("judged in-process" in n for n in verdict.notes)
    phases = verdict.phases
    assert (
        phases is not None
        # each phase is rounded to 0.01 s on its own: three roundings may add up to 0.015 s
        and phases.total + 0.015 >= phases.starting + phases.reference + phases.correctness
    )


def test_the_twin_and_the_workers_agree_on_the_numbers():
    # Same seed, same tests, same errors: only the process boundary differs.
    common = dict(
        problem=PROBLEMS / "sum_rows.py", candidate=EXAMPLES / "good" / "sum_rows_tree.py", seed=11
    )
    twin = check(CheckConfig(**common, in_process=True))
    real = check(CheckConfig(**common))
    assert twin.seeds.tests == real.seeds.tests
    errors = [[o.normwise_error for o in c.outputs] for c in twin.calls]
    assert errors == [[o.normwise_error for o in c.outputs] for c in real.calls]


def test_a_round_s_tests_are_drawn_once_and_shared():
    from kernelswarm.judge.shared import SharedTests, draw_shared
    from kernelswarm.judge.tests import TestPlan
    from kernelswarm.precision import POLICIES

    shared = draw_shared(
        PROBLEMS / "matmul.py", "cpu", POLICIES["strict"], (), TestPlan(POLICIES["strict"]), seed=5
    )
    assert isinstance(shared, SharedTests) and shared.strong_enough
    verdicts = [
        check(CheckConfig(PROBLEMS / "matmul.py", EXAMPLES / c, shared=shared))
        for c in ("good/matmul_tiled.py", "cheats/zeros.py", "cheats/cache_previous_call.py")
    ]
    assert [v.verdict.value for v in verdicts] == ["accepted", "rejected", "rejected"]
    assert verdicts[2].reasons[0].check is Check.STATE
    assert all(v.seeds.tests == verdicts[0].seeds.tests for v in verdicts)  # the same tests
    assert all(v.seeds.master == 5 and v.phases.reference == 0 for v in verdicts)  # drawn once
    # and the same tests, drawn by a judge of its own under the same seed
    alone = check(CheckConfig(PROBLEMS / "matmul.py", EXAMPLES / "good/matmul_tiled.py", seed=5))
    assert alone.seeds.tests == verdicts[0].seeds.tests
