"""`kernelswarm suite DIR`: a whole directory of problems, with or without solutions.

Without ``--solutions`` it measures every problem's baselines (eager, torch.compile, the speed
of light). With ``--solutions DIR`` it judges each problem's candidate, matched by name, and
reports per level: how many are correct, fast_p (the share of *all* the level's problems that
are correct and faster than p times the baseline) against eager and against torch.compile, and
geometric-mean speedups. Every result goes to the store as it arrives.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kernelswarm.judge.bench import BenchConfig
from kernelswarm.judge.check import CheckConfig
from kernelswarm.judge.executor import Executor, LocalExecutor
from kernelswarm.judge.prebuild import ToBuild, prebuilding
from kernelswarm.judge.results import BenchResult, TimingOptions
from kernelswarm.judge.sandbox import Limits
from kernelswarm.judge.verdict import Outcome, Verdict
from kernelswarm.plain import to_plain
from kernelswarm.precision import POLICIES
from kernelswarm.problem import Override, declared_cpu_sizes, may_be_problem
from kernelswarm.store import Store

FAST_P = (0.0, 0.5, 0.8, 1.0, 1.5, 2.0)


@dataclass(frozen=True)
class SuiteProblem:
    path: Path
    level: str  # "level1" ... or "" when the folder has no levels
    name: str


@dataclass(frozen=True)
class SuiteConfig:
    root: Path
    device: str
    solutions: Path | None = None
    policy: str = "strict"
    sizes: str = "auto"  # auto: the problems' CPU sizes when the device is the CPU; full; cpu
    overrides: tuple[Override, ...] = ()
    timing: TimingOptions | None = field(default_factory=TimingOptions)
    jobs: int = 1
    limits: Limits = field(default_factory=Limits)
    only: str = ""
    limit: int = 0
    unconfined: bool = False


@dataclass
class SuiteEntry:
    problem: SuiteProblem
    candidate: Path | None = None
    outcome: str = "missing"  # accepted, rejected, error, missing (no solution), or "measured"
    reasons: list[str] = field(default_factory=list)
    speedup_eager: float | None = None
    speedup_compile: float | None = None
    kernelbench_verdict: str | None = None
    verdict: Verdict | None = None  # the verdict that counts
    also: list[Verdict] = field(default_factory=list)  # other verdicts taken (kernelbench)
    measured: BenchResult | None = None  # without solutions: the baselines
    sizes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON: ``verdict`` is the outcome, ``timing`` the full verdict or
        measurement that counts."""
        timing = self.verdict or self.measured
        return {
            "problem": to_plain(self.problem),
            "candidate": str(self.candidate) if self.candidate else None,
            "verdict": self.outcome,
            "reasons": self.reasons,
            "speedup_eager": self.speedup_eager,
            "speedup_compile": self.speedup_compile,
            "kernelbench_verdict": self.kernelbench_verdict,
            "sizes": self.sizes,
            "timing": timing.to_dict() if timing is not None else None,
        }


@dataclass
class LevelSummary:
    level: str
    problems: int
    attempted: int
    correct: int
    fast_p_eager: dict[str, float]
    fast_p_compile: dict[str, float]
    geomean_eager: float | None
    geomean_compile: float | None
    kernelbench_wrongly_accepted: int | None


def discover(root: Path, only: str = "") -> list[SuiteProblem]:
    """Problem files under ``root`` (recursively), in level and numeric order; a file that does
    not even parse is kept (it may be a broken problem: judging it then says why), never
    skipped in silence."""
    found = []
    for path in root.rglob("*.py"):
        if only and only not in str(path):
            continue
        if not may_be_problem(path):
            continue
        level = next(
            (
                p
                for p in reversed(path.relative_to(root).parts[:-1])
                if re.fullmatch(r"level\d+", p)
            ),
            "",
        )
        found.append(SuiteProblem(path.resolve(), level, path.stem))

    def key(p: SuiteProblem) -> tuple[str, int, str]:
        number = re.match(r"(\d+)", p.name)
        return (p.level, int(number.group(1)) if number else 10**9, p.name)

    return sorted(found, key=key)


def match_solution(problem: SuiteProblem, root: Path, solutions: Path) -> Path | None:
    """The candidate for a problem: same relative path, same file name, or KernelBench's
    ``level_<L>_problem_<N>_*.py`` naming."""
    rel = problem.path.relative_to(root.resolve())
    for option in (solutions / rel, solutions / rel.name):
        if option.is_file():
            return option
    number = re.match(r"(\d+)", problem.name)
    level = re.search(r"(\d+)", problem.level)
    if number and level:
        matches = sorted(solutions.rglob(f"level_{level.group(1)}_problem_{number.group(1)}_*.py"))
        if matches:
            return matches[0]
    return None


def _sizes(cfg: SuiteConfig, problem: SuiteProblem) -> list[Override]:
    use_cpu = cfg.sizes == "cpu" or (cfg.sizes == "auto" and cfg.device == "cpu")
    declared = declared_cpu_sizes(problem.path) if use_cpu else []
    explicit = {o.name for o in cfg.overrides}
    return [o for o in declared if o.name not in explicit] + list(cfg.overrides)


def _judge(
    cfg: SuiteConfig,
    problem: SuiteProblem,
    candidate: Path,
    overrides: list[Override],
    executor: Executor,
) -> SuiteEntry:
    entry = SuiteEntry(problem, candidate, sizes=[f"{o.name}={o.value}" for o in overrides])
    config = CheckConfig(
        problem=problem.path,
        candidate=candidate.resolve(),
        device=cfg.device,
        policy=POLICIES[cfg.policy],
        overrides=tuple(overrides),
        limits=cfg.limits,
        timing=cfg.timing,
        unconfined=cfg.unconfined,
    )
    verdict = executor.check(config)
    if cfg.policy == "kernelbench":
        # The looser rule decided; the strict one says whether that was right.
        strict = executor.check(replace(config, policy=POLICIES["strict"], timing=None))
        entry.kernelbench_verdict = verdict.verdict.value
        entry.also = [verdict]
        _count(entry, strict, speedups_from=verdict if strict.accepted else None)
    else:
        _count(entry, verdict, speedups_from=verdict)
    return entry


def _count(entry: SuiteEntry, verdict: Verdict, speedups_from: Verdict | None) -> None:
    entry.verdict = verdict
    entry.outcome = verdict.verdict.value
    entry.reasons = [r.line() for r in verdict.reasons]
    speedup = (speedups_from.speedup if speedups_from else None) or {}
    entry.speedup_eager = speedup["eager"].median if "eager" in speedup else None
    entry.speedup_compile = speedup["compile"].median if "compile" in speedup else None


def _measure(
    cfg: SuiteConfig, problem: SuiteProblem, overrides: list[Override], runs: Executor
) -> SuiteEntry:
    entry = SuiteEntry(problem, sizes=[f"{o.name}={o.value}" for o in overrides])
    config = BenchConfig(
        problem.path, cfg.device, POLICIES[cfg.policy], tuple(overrides),
        cfg.timing or TimingOptions(), cfg.limits,
    )  # fmt: skip
    result = runs.bench(config)
    if not isinstance(result, BenchResult):
        entry.outcome = "error"
        entry.reasons = [result.line()]
        return entry
    entry.outcome = "measured"
    entry.measured = result
    entry.reasons = list(result.timing.warnings)
    return entry


def run_suite(
    cfg: SuiteConfig,
    store: Store | None,
    progress: Callable[[SuiteEntry, int, int], None],
    executor: Executor | None = None,
    started: Callable[[int], None] | None = None,
) -> list[SuiteEntry]:
    """Every problem under ``cfg.root``: its baselines measured, or its solution judged (on the
    executor's GPUs or cluster)."""
    runs: Executor = executor or LocalExecutor(cfg.device, None, cfg.jobs, lambda m: None)
    problems = discover(cfg.root, cfg.only)
    if cfg.limit:
        problems = problems[: cfg.limit]
    run_id = store.start_run("suite", {"config": cfg}) if store else 0
    if started is not None and store is not None:
        started(run_id)  # the caller's report reads this run back
    done = 0
    lock = threading.Lock()

    def one(problem: SuiteProblem) -> SuiteEntry:
        nonlocal done
        overrides = _sizes(cfg, problem)
        if cfg.solutions is None:
            entry = _measure(cfg, problem, overrides, runs)
        else:
            candidate = match_solution(problem, cfg.root, cfg.solutions)
            entry = (
                _judge(cfg, problem, candidate, overrides, runs)
                if candidate
                else SuiteEntry(problem)
            )
        if store is not None:
            pid = store.problem(problem.path, problem.level)
            if entry.candidate is not None and entry.verdict is not None:
                cid = store.candidate(pid, entry.candidate.read_text(), str(entry.candidate))
                for verdict in [entry.verdict, *entry.also]:
                    store.verdict(run_id, pid, cid, verdict)
            elif entry.measured is not None:
                store.baseline(run_id, pid, entry.measured)
        with lock:
            done += 1
            progress(entry, done, len(problems))
        return entry

    ahead = []
    if cfg.solutions is not None:  # on a GPU, the solutions are built while others are judged
        for problem in problems:
            candidate = match_solution(problem, cfg.root, cfg.solutions)
            if candidate is not None:
                ahead.append(
                    ToBuild(problem.path, candidate.resolve(), tuple(_sizes(cfg, problem)))
                )
    try:
        with (
            prebuilding(ahead, cfg.device, cfg.limits),
            ThreadPoolExecutor(max(1, cfg.jobs, runs.slots)) as pool,
        ):
            entries = list(pool.map(one, problems))
    except BaseException:
        if store:
            store.finish_run(run_id, "interrupted")
        raise
    if store:
        store.finish_run(run_id)
    return entries


def _geomean(values: list[float]) -> float | None:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def summarise(entries: list[SuiteEntry]) -> list[LevelSummary]:
    """Per level, then "all": correct counts, fast_p and geometric-mean speedups."""
    levels = sorted({e.problem.level for e in entries})
    groups = [
        (lvl or "(no level)", [e for e in entries if e.problem.level == lvl]) for lvl in levels
    ]
    if len(groups) > 1:
        groups.append(("all", entries))
    out = []
    for name, group in groups:
        n = len(group)
        correct = [e for e in group if e.outcome == Outcome.ACCEPTED]

        def fast(
            attr: str,
            p: float,
            group: list[SuiteEntry] = group,
            correct: list[SuiteEntry] = correct,
        ) -> float:
            hits = [e for e in correct if (getattr(e, attr) or 0.0) > p] if p > 0 else correct
            return len(hits) / len(group) if group else 0.0

        kb = [e for e in group if e.kernelbench_verdict is not None]
        out.append(
            LevelSummary(
                level=name,
                problems=n,
                attempted=sum(1 for e in group if e.candidate is not None),
                correct=len(correct),
                fast_p_eager={f"{p:g}": fast("speedup_eager", p) for p in FAST_P},
                fast_p_compile={f"{p:g}": fast("speedup_compile", p) for p in FAST_P},
                geomean_eager=_geomean([e.speedup_eager for e in correct if e.speedup_eager]),
                geomean_compile=_geomean([e.speedup_compile for e in correct if e.speedup_compile]),
                kernelbench_wrongly_accepted=(
                    sum(
                        1
                        for e in kb
                        if e.kernelbench_verdict == "accepted" and e.outcome != "accepted"
                    )
                    if kb
                    else None
                ),
            )
        )
    return out
