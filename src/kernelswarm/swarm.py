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
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from kernelswarm.bench import TimingOptions, run_bench
from kernelswarm.generators.base import (
    Feedback,
    GenerationRequest,
    GeneratorConfig,
    Proposal,
    build_generator,
    registered_kinds,
)
from kernelswarm.generators.builtin import CONFIGS, candidate_source
from kernelswarm.generators.llm import GeneratorError
from kernelswarm.precision import Policy
from kernelswarm.problem import Override
from kernelswarm.sandbox import Limits, physical_memory_bytes
from kernelswarm.store import Store, sha256_text
from kernelswarm.verify import TEST_MEMORY_SHARE, CheckConfig, check

Progress = Callable[[str], None]


class SwarmFileError(Exception):
    """The swarm file cannot be used (the message says where and why)."""


@dataclass(frozen=True)
class Budget:
    rounds: int = 3
    wall_seconds: float = 3600.0
    tokens: int = 2_000_000
    dollars: float = 20.0
    near_speed_of_light: float = 0.9  # stop once a winner reaches this share of the floor
    #: a winner's 95% interval must lie above this multiple of both baselines: a gain of a
    #: fraction of a percent (the same library kernel reached another way) is no winner
    min_gain: float = 1.02


@dataclass(frozen=True)
class SwarmConfig:
    generators: tuple[GeneratorConfig, ...]
    budget: Budget = field(default_factory=Budget)


def default_swarm() -> SwarmConfig:
    """The offline swarm used without --swarm: the torch.compile configuration search."""
    return SwarmConfig(
        (GeneratorConfig(name="compile-search", kind="builtin", proposals_per_round=2),)
    )


def load_swarm(path: Path) -> SwarmConfig:
    """Parse and validate a swarm TOML file."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise SwarmFileError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SwarmFileError(f"{path} is not valid TOML: {exc}") from exc
    tables = data.get("generator")
    if not isinstance(tables, list) or not tables:
        raise SwarmFileError(f"{path} defines no [[generator]] table")
    allowed = {f.name for f in fields(GeneratorConfig)}
    generators = []
    for i, table in enumerate(tables, start=1):
        where = f"{path}, generator {i}"
        if "api_key" in table:
            raise SwarmFileError(
                f"{where}: keys never live in the swarm file; name the variable with api_key_env"
            )
        missing = [k for k in ("name", "kind") if k not in table]
        if missing:
            raise SwarmFileError(f"{where}: missing {', '.join(missing)}")
        unknown = set(table) - allowed
        if unknown:
            raise SwarmFileError(
                f"{where}: unknown keys {', '.join(sorted(unknown))}; known: {', '.join(sorted(allowed))}"
            )
        if table["kind"] not in registered_kinds():
            raise SwarmFileError(
                f"{where}: unknown kind {table['kind']!r}; known: {', '.join(registered_kinds())}"
            )
        if table["kind"] in ("openai", "anthropic") and not table.get("model"):
            raise SwarmFileError(f"{where}: kind {table['kind']!r} needs a model")
        generators.append(GeneratorConfig(**table))
    names = [g.name for g in generators]
    if len(set(names)) != len(names):
        raise SwarmFileError(f"{path}: generator names must be unique")
    budget_table = data.get("budget", {})
    unknown = set(budget_table) - {f.name for f in fields(Budget)}
    if unknown:
        raise SwarmFileError(f"{path}: unknown [budget] keys {', '.join(sorted(unknown))}")
    return SwarmConfig(tuple(generators), Budget(**budget_table))


@dataclass
class Attempt:
    round: int
    generator: str
    label: str
    candidate_path: str | None
    verdict: str  # accepted, rejected, error, no-code, duplicate, generator-failed
    reasons: list[str] = field(default_factory=list)
    seconds: float | None = None
    speedup_eager: dict[str, float] | None = None
    speedup_compile: dict[str, float] | None = None
    sol_fraction: float | None = None
    candidate_id: int | None = None

    def beats_both_baselines(self, min_gain: float = 1.0) -> bool:
        return bool(
            self.verdict == "accepted"
            and self.speedup_eager
            and self.speedup_compile
            and self.speedup_eager["low"] > min_gain
            and self.speedup_compile["low"] > min_gain
        )

    @property
    def speedup_over_best_baseline(self) -> float:
        return min(
            (self.speedup_eager or {}).get("median", 0.0),
            (self.speedup_compile or {}).get("median", 0.0),
        )


@dataclass
class OptimizeResult:
    problem: str
    run_id: int
    winner: Attempt | None
    winner_path: str
    fallback: str | None  # the baseline written when no candidate won
    attempts: list[Attempt]
    baselines: dict[str, float]
    floor_seconds: float | None
    stopped_because: str
    tokens: int
    dollars: float
    elapsed_seconds: float


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
        self.progress = progress or (lambda message: None)
        self.cache = store  # the generators' reply cache
        self.attempts: list[Attempt] = []
        self.history: dict[str, list[Feedback]] = {g.name: [] for g in swarm.generators}
        self.seen: set[str] = set()
        self.tokens = 0
        self.dollars = 0.0

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
        started = time.monotonic()
        fingerprint = self.fingerprint()
        run_id = self.store.unfinished_run("optimize", fingerprint) if self.resume else None
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
        self.problem_id = self.store.problem(self.problem)
        self.judged = self.store.judged(run_id)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        baselines, floor, floor_text, peaks, device_name = self._baselines()
        generators = [build_generator(cfg, self) for cfg in self.swarm.generators]
        budget = self.swarm.budget
        stopped = f"all {budget.rounds} rounds done"
        for round_ in range(1, budget.rounds + 1):
            self.progress(f"round {round_}: asking {len(generators)} generator(s)")
            request_base = {
                "problem_source": self.problem.read_text(), "problem_name": self.problem.stem,
                "device": self.device, "device_name": device_name, "precision": self.policy.name,
                "round": round_, "peaks": peaks, "baselines": baselines, "floor_seconds": floor,
                "floor_explained": floor_text,
            }  # fmt: skip
            proposals = self._ask(generators, request_base, round_)
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
        winner_path, fallback = self._write_winner(winner, baselines, floor, device_name)
        self.store.finish_run(run_id)
        return OptimizeResult(
            problem=str(self.problem), run_id=run_id, winner=winner, winner_path=str(winner_path),
            fallback=fallback, attempts=self.attempts, baselines=baselines, floor_seconds=floor,
            stopped_because=stopped, tokens=self.tokens, dollars=round(self.dollars, 4),
            elapsed_seconds=round(time.monotonic() - started, 1),
        )  # fmt: skip

    def _baselines(self) -> tuple[dict[str, float], float | None, str, dict[str, Any], str]:
        self.progress("measuring the baselines")
        stored = self.store.query(
            "SELECT json FROM baselines WHERE run_id=? ORDER BY id DESC LIMIT 1", (self.run_id,)
        )
        if stored:
            timing = json.loads(stored[0]["json"])
            versions: dict[str, Any] = timing.get("versions", {})
        else:
            result, problems, versions = run_bench(
                self.problem, self.device, self.policy, [(o.name, o.value) for o in self.overrides],
                self.timing, self.limits, None, self.progress,
            )  # fmt: skip
            if result is None:
                raise RuntimeError("; ".join(r.detail.splitlines()[0] for r in problems))
            timing = {**result.to_dict(), "versions": versions}
            self.store.baseline(self.run_id, self.problem_id, self.device, timing)
        impls = timing["implementations"]
        baselines = {name: impls[name]["median"] for name in ("eager", "compile") if name in impls}
        floor = timing.get("floor") or {}
        floor_text = ""
        if floor:
            floor_text = (
                f"{floor['flops'] / 1e9:.3g} GFLOP and {floor['bytes'] / 2**20:.4g} MiB that must move, "
                f"{floor['bound']}-bound"
            )
        device_name = versions.get("gpu") or f"CPU ({versions.get('platform', '')})"
        return baselines, floor.get("seconds"), floor_text, timing.get("peaks", {}), device_name

    def _ask(self, generators: list[Any], base: dict[str, Any], round_: int) -> list[Proposal]:
        def ask(generator: Any) -> list[Proposal]:
            name = generator.config.name
            request = GenerationRequest(
                backend=generator.config.backend, history=list(self.history[name]), **base
            )
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
                self.store.generation(self.run_id, round_, proposal, None)
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
            self.store.generation(self.run_id, round_, proposal, cid)
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

        def judge(item: tuple[Proposal, Path, int]) -> tuple[Proposal, Path, int, dict[str, Any]]:
            proposal, path, cid = item
            digest = sha256_text(proposal.source or "")
            if digest in self.judged:  # resumed: this verdict was already taken
                return proposal, path, cid, self.judged[digest]
            self.progress(f"judging {path.name}")
            verdict = check(
                CheckConfig(
                    problem=self.problem.resolve(),
                    candidate=path.resolve(),
                    device=self.device,
                    policy=self.policy,
                    overrides=self.overrides,
                    limits=self.limits,
                    timing=self.timing,
                    # the judges of one round run side by side: they share the host's memory
                    test_memory_bytes=int(
                        physical_memory_bytes() * TEST_MEMORY_SHARE / max(1, self.jobs)
                    ),
                )
            ).to_dict()
            self.store.verdict(self.run_id, self.problem_id, cid, verdict)
            return proposal, path, cid, verdict

        with ThreadPoolExecutor(max(1, self.jobs)) as pool:
            for proposal, path, cid, verdict in pool.map(judge, todo):
                attempt = self._attempt(round_, proposal, path, cid, verdict)
                self.attempts.append(attempt)
                self._feedback(attempt, proposal.source or "")
                self.progress(
                    f"{path.name}: {attempt.verdict}"
                    + (f" ({attempt.reasons[0][:120]})" if attempt.reasons else "")
                )

    @staticmethod
    def _attempt(
        round_: int, proposal: Proposal, path: Path, cid: int, verdict: dict[str, Any]
    ) -> Attempt:
        speed = verdict.get("speedup") or {}
        timing = verdict.get("timing") or {}
        cand = (timing.get("implementations") or {}).get("candidate") or {}
        return Attempt(
            round=round_, generator=proposal.generator, label=proposal.label, candidate_path=str(path),
            verdict=verdict["verdict"],
            reasons=[f"{r['check']}: {r['detail']}" for r in verdict["reasons"]],
            seconds=cand.get("median"), speedup_eager=speed.get("eager"), speedup_compile=speed.get("compile"),
            sol_fraction=(verdict.get("speed_of_light") or {}).get("fraction"), candidate_id=cid,
        )  # fmt: skip

    def _feedback(self, attempt: Attempt, source: str) -> None:
        self.history.setdefault(attempt.generator, []).append(
            Feedback(
                round=attempt.round,
                source=source,
                verdict=attempt.verdict,
                reasons=attempt.reasons,
                seconds=attempt.seconds,
                speedup_eager=(attempt.speedup_eager or {}).get("median"),
                speedup_compile=(attempt.speedup_compile or {}).get("median"),
                sol_fraction=attempt.sol_fraction,
            )
        )

    def _best(self) -> Attempt | None:
        winners = [a for a in self.attempts if a.beats_both_baselines(self.swarm.budget.min_gain)]
        return max(winners, key=lambda a: a.speedup_over_best_baseline, default=None)

    def _write_winner(
        self,
        winner: Attempt | None,
        baselines: dict[str, float],
        floor: float | None,
        device_name: str,
    ) -> tuple[Path, str | None]:
        path = self.out_dir / f"{self.problem.stem}_winner.py"
        stamp = time.strftime("%Y-%m-%d %H:%M")
        if winner is not None and winner.candidate_path:
            e, c = winner.speedup_eager or {}, winner.speedup_compile or {}
            header = [
                f"kernelswarm winner for {self.problem.name}, {stamp}",
                f"origin: generator {winner.generator!r}, round {winner.round}"
                + (f", {winner.label}" if winner.label else ""),
                f"judged: accepted under the {self.policy.name} policy on {self.device} ({device_name})",
                f"speedup: {e.get('median', 0):.3g}x over eager (95% {e.get('low', 0):.3g}-{e.get('high', 0):.3g}), "
                f"{c.get('median', 0):.3g}x over torch.compile (95% {c.get('low', 0):.3g}-{c.get('high', 0):.3g})",
            ]
            if winner.seconds:
                header.append(f"time: {winner.seconds * 1e3:.4g} ms per call" + (
                    f", {100 * winner.sol_fraction:.0f}% of the speed of light" if winner.sol_fraction else ""))  # fmt: skip
            header.append(
                f"evidence: {self.store.path} run {self.run_id}, candidate {winner.candidate_id}"
            )
            body = Path(winner.candidate_path).read_text()
            fallback = None
        else:
            fallback = (
                "compile"
                if baselines.get("compile", 1e9) < baselines.get("eager", 1e9)
                else "eager"
            )
            header = [
                f"kernelswarm result for {self.problem.name}, {stamp}: no faster kernel found",
                f"no candidate was faster than both eager and torch.compile with 95% confidence ({len(self.attempts)} attempts)",
                f"this file is the best baseline, {'torch.compile' if fallback == 'compile' else 'eager PyTorch'}",
                f"evidence: {self.store.path} run {self.run_id}",
            ]
            source = self.problem.read_text()
            if fallback == "compile":
                body = candidate_source(source, CONFIGS[0])
            else:
                body = (
                    source.rstrip()
                    + '\n\n\nclass ModelNew(Model):\n    """The problem\'s own Model: eager PyTorch was the fastest."""\n'
                )
        path.write_text("".join(f"# {line}\n" for line in header) + "\n" + body)
        return path, fallback
