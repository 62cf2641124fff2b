"""``kernelswarm bench``: a problem's baselines alone, with no candidate."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kernelswarm.judge.attribution import attribute
from kernelswarm.judge.client import ReferenceClient, open_endpoint
from kernelswarm.judge.measure import Measurement, MeasurementFailed
from kernelswarm.judge.protections import available
from kernelswarm.judge.reasons import Reason
from kernelswarm.judge.results import BenchResult, TimingOptions
from kernelswarm.judge.sandbox import Limits, WorkerError
from kernelswarm.precision import Policy
from kernelswarm.problem import Override
from kernelswarm.protocol import Role

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchConfig:
    problem: Path
    device: str
    policy: Policy
    overrides: tuple[Override, ...] = ()
    options: TimingOptions = field(default_factory=TimingOptions)
    limits: Limits = field(default_factory=Limits)
    seed: int | None = None


def run_bench(config: BenchConfig, progress: Progress | None = None) -> BenchResult | Reason:
    """The problem's baselines measured, or the reason they could not be."""
    progress = progress or (lambda message: None)
    master = config.seed if config.seed is not None else secrets.randbits(40)
    rng = random.Random(master)
    # Only the problem's own code runs here: confined where this machine can, else not.
    confined = available().complete
    ref = ReferenceClient(
        open_endpoint(Role.REFERENCE, config.device, config.limits, confined=confined)
    )
    try:
        progress("starting the reference worker")
        versions = ref.start().versions
        ref.begin_load(
            str(config.problem), config.overrides, rng.getrandbits(48), config.policy
        ).result()
        ref.extend(config.options.budget_seconds + 300)
        timing = Measurement(
            config.options, config.device, config.policy, config.problem, rng, ref, None, progress
        ).run()
        return BenchResult(problem=str(config.problem), timing=timing, versions=versions)
    except WorkerError as exc:
        return attribute(exc.failure)
    except MeasurementFailed as failed:
        return failed.reasons[0]
    finally:
        ref.close()
