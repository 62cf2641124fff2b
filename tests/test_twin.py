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
        and phases.total >= phases.starting + phases.reference + phases.correctness
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
