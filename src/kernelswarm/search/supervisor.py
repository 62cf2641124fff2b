"""The supervisor: rounds of generators, every proposal judged, the fastest correct one kept.

A round asks every generator at once (API calls run concurrently), drops proposals already seen
in this run, and judges the rest with ``check``'s rules and timing: compilation runs in
parallel, timing one measurement at a time per device (the device lock). Each generator then
hears what happened to its own proposals. The run stops at its round, time, token or money
budget, or early when a correct candidate reaches the speed of light closely enough.

The winner is the fastest accepted candidate whose speedup interval lies above *both* baselines
(eager and torch.compile), by at least the budget's ``min_gain`` (2%). Without one, the answer is "no faster kernel found", and the file
written is the best baseline. Everything goes to the store as it happens; ``--resume`` picks an
interrupted run up where it stopped: replies come from the cache, verdicts from the store.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kernelswarm.judge.bench import BenchConfig, run_bench
from kernelswarm.judge.check import CheckConfig
from kernelswarm.judge.executor import Executor, LocalExecutor
from kernelswarm.judge.prebuild import ToBuild, prebuilding
from kernelswarm.judge.results import BenchResult, TimingOptions
from kernelswarm.judge.sandbox import Limits, physical_memory_bytes
from kernelswarm.judge.shared import RoundRequest, SharedTests
from kernelswarm.judge.tests import DEVICE_TEST_SHARE, TEST_MEMORY_SHARE, TestPlan
from kernelswarm.judge.verdict import Verdict
from kernelswarm.precision import Policy
from kernelswarm.problem import Override
from kernelswarm.search.attempts import Attempt, Bar, OptimizeResult
from kernelswarm.search.llm import GeneratorError
from kernelswarm.search.registry import build_generator
from kernelswarm.search.swarm_file import SwarmConfig
from kernelswarm.search.types import Feedback, GenerationRequest, Proposal
from kernelswarm.search.winner import write_winner
from kernelswarm.store import Store, sha256_text

Progress = Callable[[str], None]


class NothingToResume(RuntimeError):
    pass


class NoGenerator(RuntimeError):
    """No generator of the swarm can propose anything (each one's reason in the message)."""


class Supervisor:
    def __init__(
        self,
        problem: Path,
        swarm: SwarmConfig,
        device: str,
        policy: Policy,
        overrides: tuple[Override, ...],
        store: Store,
        out_dir: Path,
        timing: TimingOptions,
        limits: Limits,
        jobs: int = 2,
        resume: bool = False,
        progress: Progress | None = None,
        unconfined: bool = False,
        executor: Executor | None = None,
    ) -> None:
        self.problem = problem
        self.swarm = swarm
        self.device = device
        self.policy = policy
        self.overrides = overrides
        self.store = store
        self.out_dir = out_dir
        self.timing = timing
        self.limits = limits
        self.jobs = jobs
        self.resume = resume
        self.unconfined = unconfined
        self.progress = progress or (lambda message: None)
        #: where checks run (this host's GPUs, or a Ray cluster); the store stays here
        self.executor = executor or LocalExecutor(device, None, jobs, self.progress)
        self.cache = store  # the generators' reply cache
        self.attempts: list[Attempt] = []
        self.history: dict[str, list[Feedback]] = {g.name: [] for g in swarm.generators}
        self.seen: set[str] = set()
        self.tokens = 0
        self.dollars = 0.0
        self.run_id = 0
        self.problem_id = 0
        self.judged: dict[str, Verdict] = {}

    @property
    def slots(self) -> int:
        """Checks judged at once: --jobs, or more to keep every GPU busy."""
        return max(1, self.jobs, self.executor.slots)

    def fingerprint(self) -> str:
        """What makes two runs the same run (for --resume)."""
        key = {
            "problem": sha256_text(self.problem.read_text()),
            "swarm": json.dumps(asdict(self.swarm), sort_keys=True, default=str),
            "device": self.device,
            "policy": self.policy.name,
            "overrides": [[o.name, o.value] for o in self.overrides],
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]

    # -- the run ------------------------------------------------------------------------------
    def run(self) -> OptimizeResult:
        """The whole run; the store says honestly how it ended (finished, failed, interrupted)."""
        started = time.monotonic()
        generators = self._generators()  # before anything is measured or stored
        fingerprint = self.fingerprint()
        run_id = self.store.unfinished_run("optimize", fingerprint) if self.resume else None
        if self.resume and run_id is None:
            raise NothingToResume(
                f"nothing to resume: {self.store.path} holds no unfinished optimize run of this "
                "problem with this swarm, device, precision and sizes; run without --resume"
            )
        if run_id is not None:
            self.store.reopen_run(run_id)
            self.progress(f"resuming run {run_id}")
        else:
            run_id = self.store.start_run(
                "optimize",
                {"fingerprint": fingerprint, "problem": str(self.problem), "swarm": self.swarm,
                 "device": self.device, "policy": self.policy.name, "overrides": list(self.overrides)},
            )  # fmt: skip
        self.run_id = run_id
        try:
            return self._rounds(started, generators)
        except KeyboardInterrupt:
            self.store.finish_run(run_id, "interrupted")
            raise
        except BaseException:
            self.store.finish_run(run_id, "failed")
            raise

    def _generators(self) -> list[Any]:
        """Every generator of the swarm, built and probed (key set, endpoint reachable, model
        offered); a run where none can propose stops here, before the baselines are measured."""
        generators = [build_generator(cfg, self) for cfg in self.swarm.generators]
        failed = {}
        for generator in generators:
            probe = getattr(generator, "probe", None)
            why = probe() if probe is not None else None
            if why is not None:
                failed[generator.config.name] = why
                self.progress(f"{generator.config.name}: {why}")
        if failed and len(failed) == len(generators):
            raise NoGenerator(
                "every generator failed its probe: "
                + "; ".join(f"{name}: {why}" for name, why in failed.items())
            )
        return generators

    def _rounds(self, started: float, generators: list[Any]) -> OptimizeResult:
        run_id = self.run_id
        self.problem_id = self.store.problem(self.problem)
        self.judged = self.store.judged(run_id)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        bar = self._bar()
        budget = self.swarm.budget
        stopped = f"all {budget.rounds} rounds done"
        for round_ in range(1, budget.rounds + 1):
            self.progress(f"round {round_}: asking {len(generators)} generator(s)")
            proposals = self._ask(generators, bar, round_)
            self._judge_round(proposals, round_)
            best = self._best()
            if best is not None and (best.sol_fraction or 0) >= budget.near_speed_of_light:
                stopped = (
                    f"a winner reached {100 * (best.sol_fraction or 0):.0f}% of the speed of light"
                )
                break
            if time.monotonic() - started > budget.wall_seconds:
                stopped = f"the wall-clock budget of {budget.wall_seconds:g} s was spent"
                break
            if self.tokens >= budget.tokens:
                stopped = f"the token budget of {budget.tokens} was spent"
                break
            if self.dollars >= budget.dollars:
                stopped = f"the money budget of ${budget.dollars:g} was spent"
                break
        winner = self._best()
        winner_path, fallback = write_winner(
            self.problem, self.out_dir, winner, bar, self.policy.name, self.device,
            len(self.attempts), f"{self.store.path} run {self.run_id}",
        )  # fmt: skip
        self.store.finish_run(run_id)
        return OptimizeResult(
            problem=str(self.problem), run_id=run_id, winner=winner, winner_path=str(winner_path),
            fallback=fallback, attempts=self.attempts, baselines=bar.baselines,
            floor_seconds=bar.floor.seconds if bar.floor else None,
            stopped_because=stopped, tokens=self.tokens, dollars=round(self.dollars, 4),
            elapsed_seconds=round(time.monotonic() - started, 1),
        )  # fmt: skip

    def _bar(self) -> Bar:
        """The baselines: measured once per run, read back from the store on --resume."""
        self.progress("measuring the baselines")
        stored = self.store.baseline_of(self.run_id)
        if stored is None:
            config = BenchConfig(
                self.problem, self.device, self.policy, self.overrides, self.timing, self.limits
            )
            result = run_bench(config, self.progress)
            if not isinstance(result, BenchResult):
                raise RuntimeError(result.detail.splitlines()[0])
            self.store.baseline(self.run_id, self.problem_id, result)
            stored = result
        return Bar.of(stored)

    def _ask(self, generators: list[Any], bar: Bar, round_: int) -> list[Proposal]:
        source = self.problem.read_text()

        def ask(generator: Any) -> list[Proposal]:
            name = generator.config.name
            request = GenerationRequest(
                problem_source=source, problem_name=self.problem.stem, device=self.device,
                device_name=bar.device_name, backend=generator.config.backend,
                precision=self.policy.name, round=round_, peaks=bar.peaks,
                baselines=dict(bar.baselines), floor_seconds=bar.floor.seconds if bar.floor else None,
                floor_explained=bar.floor_words, history=list(self.history[name]),
            )  # fmt: skip
            try:
                return generator.propose(request)
            except GeneratorError as exc:
                why = str(exc)
            except Exception as exc:  # one generator's bug never stops the others; it is reported
                why = f"{type(exc).__name__}: {exc}"
            self.progress(f"{name}: {why}")
            self.attempts.append(Attempt(round_, name, "", None, "generator-failed", [why]))
            return []

        with ThreadPoolExecutor(max(1, len(generators))) as pool:
            results = list(pool.map(ask, generators))
        return [p for batch in results for p in batch]

    def _judge_round(self, proposals: list[Proposal], round_: int) -> None:
        todo: list[tuple[Proposal, Path, int]] = []
        for n, proposal in enumerate(proposals):
            self.tokens += proposal.input_tokens + proposal.output_tokens
            self.dollars += proposal.cost
            if proposal.source is None:
                self._remember(round_, proposal, None)
                attempt = Attempt(
                    round_, proposal.generator, proposal.label, None, "no-code", [proposal.note]
                )
                self.attempts.append(attempt)
                self._feedback(attempt, "")
                continue
            digest = sha256_text(proposal.source)
            cid = self.store.candidate(
                self.problem_id, proposal.source, f"{proposal.generator} round {round_}"
            )
            self._remember(round_, proposal, cid)
            if digest in self.seen:
                self.attempts.append(
                    Attempt(round_, proposal.generator, proposal.label, None, "duplicate",
                            ["identical to a candidate already judged in this run"], candidate_id=cid)
                )  # fmt: skip
                continue
            self.seen.add(digest)
            path = self.out_dir / "candidates" / f"r{round_}_{proposal.generator}_{n}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(proposal.source)
            todo.append((proposal, path, cid))

        shared = (
            self._shared_tests()
            if any(sha256_text(p.source or "") not in self.judged for p, _, _ in todo)
            else None
        )

        def judge(item: tuple[Proposal, Path, int]) -> tuple[Proposal, Path, int, Verdict]:
            proposal, path, cid = item
            digest = sha256_text(proposal.source or "")
            if digest in self.judged:  # resumed: this verdict was already taken
                return proposal, path, cid, self.judged[digest]
            self.progress(f"judging {path.name}")
            verdict = self.executor.check(
                CheckConfig(
                    problem=self.problem.resolve(),
                    candidate=path.resolve(),
                    device=self.device,
                    policy=self.policy,
                    overrides=self.overrides,
                    limits=self.limits,
                    timing=self.timing,
                    unconfined=self.unconfined,
                    shared=shared,
                    # the judges of one round run side by side: they share the host's memory
                    test_memory_bytes=int(
                        physical_memory_bytes() * TEST_MEMORY_SHARE / max(1, self.slots)
                    ),
                )
            )
            self.store.verdict(self.run_id, self.problem_id, cid, verdict)
            return proposal, path, cid, verdict

        ahead = [
            ToBuild(self.problem.resolve(), path.resolve(), self.overrides)
            for p, path, _ in todo
            if sha256_text(p.source or "") not in self.judged
        ]
        with (
            prebuilding(ahead, self.device, self.limits, self.progress),
            ThreadPoolExecutor(self.slots) as pool,
        ):
            for proposal, path, cid, verdict in pool.map(judge, todo):
                attempt = Attempt.judged(round_, proposal, path, cid, verdict)
                self.attempts.append(attempt)
                self._feedback(attempt, proposal.source or "")
                self.progress(
                    f"{path.name}: {attempt.verdict}"
                    + (f" ({attempt.reasons[0][:120]})" if attempt.reasons else "")
                )

    def _shared_tests(self) -> SharedTests | None:
        """This round's tests, drawn once for every candidate (None: each draws its own)."""
        self.progress("drawing this round's tests")
        shared = self.executor.draw_round(
            RoundRequest(
                self.problem.resolve(), self.device, self.policy, self.overrides,
                # held through every candidate's timing: no more than the fixed share
                TestPlan(self.policy, device=self.device, gpu_share_max=DEVICE_TEST_SHARE),
                self.limits,
            )
        )  # fmt: skip
        if isinstance(shared, SharedTests):
            return shared
        self.progress(
            f"the round's tests could not be drawn once ({shared.line()}); each candidate draws its own"
        )
        return None

    def _remember(self, round_: int, proposal: Proposal, candidate_id: int | None) -> None:
        p = proposal
        self.store.generation(
            self.run_id, round_, candidate_id, generator=p.generator, label=p.label, note=p.note,
            prompt=p.prompt, reply=p.reply, tokens=(p.input_tokens, p.output_tokens), cost=p.cost,
            cached=p.cached,
        )  # fmt: skip

    def _feedback(self, attempt: Attempt, source: str) -> None:
        self.history.setdefault(attempt.generator, []).append(
            Feedback(
                round=attempt.round,
                source=source,
                verdict=attempt.verdict,
                reasons=attempt.reasons,
                seconds=attempt.seconds,
                speedup_eager=attempt.speedup_eager.median if attempt.speedup_eager else None,
                speedup_compile=attempt.speedup_compile.median if attempt.speedup_compile else None,
                sol_fraction=attempt.sol_fraction,
            )
        )

    def _best(self) -> Attempt | None:
        winners = [a for a in self.attempts if a.beats_both_baselines(self.swarm.budget.min_gain)]
        return max(winners, key=lambda a: a.speedup_over_best_baseline, default=None)
