"""One round's tests, drawn once and judged against by every candidate of the round.

In ``optimize`` every candidate of a round answers the same problem: drawing the tests (fresh
seeds, float64 answers, tolerances, strength) once per round rather than once per candidate
saves the reference's heaviest work, and the host memory of holding it once per judge running
side by side. Each round draws anew, under fresh seeds. The tests reach each candidate's worker
exactly as they would otherwise: one call at a time, never the answers.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from kernelswarm.judge.attribution import attribute
from kernelswarm.judge.client import ReferenceClient, open_endpoint
from kernelswarm.judge.protections import available
from kernelswarm.judge.reasons import Reason, Reasons
from kernelswarm.judge.sandbox import Limits, WorkerError, reference_limits
from kernelswarm.judge.tests import TestCase, TestDrawer, TestPlan, on_host
from kernelswarm.precision import Policy
from kernelswarm.problem import Override
from kernelswarm.protocol import ReferenceLoaded, Role, Versions


@dataclass
class SharedTests:
    """The tests of one round, with what drawing them found."""

    master: int  # the seed they were drawn under (--seed reproduces them)
    init_seed: int  # the seed both models are built under
    loaded: ReferenceLoaded
    tests: list[TestCase]
    reasons: list[Reason] = field(default_factory=list)  # the problem's (strength, determinism)
    notes: list[str] = field(default_factory=list)
    strong_enough: bool = True
    versions: Versions | None = None

    def on_host(self) -> SharedTests:
        """The same tests with every tensor in host memory: what travels to other machines."""
        return replace(self, tests=[on_host(t) for t in self.tests])


def draw_shared(
    problem: Path,
    device: str,
    policy: Policy,
    overrides: tuple[Override, ...],
    plan: TestPlan,
    limits: Limits | None = None,
    seed: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> SharedTests | Reason:
    """Draw a round's tests in a reference worker of their own; or why they could not be."""
    master = seed if seed is not None else secrets.randbits(40)
    rng = random.Random(master)
    init_seed = rng.getrandbits(48)  # as a judge draws it: the same seed reproduces the same tests
    reasons = Reasons()
    notes: list[str] = []
    ref = ReferenceClient(
        open_endpoint(
            Role.REFERENCE,
            device,
            reference_limits(limits or Limits()),
            confined=available().complete,
        )
    )
    try:
        versions = ref.start().versions
        loaded = ref.begin_load(str(problem), overrides, init_seed, policy).result()
        drawer = TestDrawer(plan, rng, reasons, notes, progress)
        drawer.draw(ref, loaded.variants)
    except WorkerError as exc:
        return attribute(exc.failure)
    finally:
        ref.close()
    return SharedTests(
        master=master,
        init_seed=init_seed,
        loaded=loaded,
        tests=drawer.tests,
        reasons=reasons.as_list(),
        notes=notes,
        strong_enough=drawer.strong_count() >= plan.min_strong,
        versions=versions,
    )


@dataclass(frozen=True)
class RoundRequest:
    """What drawing a round's tests needs (``optimize`` asks its executor for them)."""

    problem: Path
    device: str
    policy: Policy
    overrides: tuple[Override, ...]
    plan: TestPlan
    limits: Limits | None = None

    def draw(self, progress: Callable[[str], None] | None = None) -> SharedTests | Reason:
        return draw_shared(
            self.problem, self.device, self.policy, self.overrides, self.plan, self.limits,
            progress=progress,
        )  # fmt: skip
