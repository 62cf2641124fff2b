"""The judge's typed view of its workers, and the only place where requests are built.

``ReferenceClient`` and ``CandidateClient`` turn a method call into a ``protocol`` request, send
it to their endpoint (a sandboxed ``Worker`` process, or the in-process twin), and return the
typed reply. Nothing else in the judge constructs a request (a test enforces it), so the whole
conversation with a worker can be read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic

import torch

from kernelswarm.judge.sandbox import Endpoint, Limits, R, Worker
from kernelswarm.precision import Policy
from kernelswarm.problem import Override
from kernelswarm.protocol import (
    Answers,
    AnswerTimingSet,
    BlockTimed,
    Call,
    Called,
    CandidateLoaded,
    Counts,
    CountWork,
    DrawnTest,
    DrawTest,
    DrawTimingSets,
    Escape,
    Escaped,
    Estimate,
    Estimated,
    FinalOutputs,
    FinalOutputsCopied,
    Finish,
    Finished,
    Hello,
    InputMode,
    LoadCandidate,
    LoadReference,
    MeasurePeaks,
    Peaks,
    PeaksMeasured,
    Ping,
    Pong,
    PrepareTiming,
    ReferenceLoaded,
    Rewarm,
    Role,
    Sensitivity,
    SensitivityMeasured,
    Stored,
    StoreTimingSets,
    TimeBlock,
    TimingPrepared,
    TimingSetAnswered,
    TimingSetsDrawn,
    Warmed,
    Warmup,
    WorkCounted,
)


def open_endpoint(
    role: Role,
    device: str,
    limits: Limits,
    keep_scratch: bool = False,
    in_process: bool = False,
    confined: bool = True,
    builds: Path | None = None,
    gpu: bool = True,
) -> Endpoint:
    """A worker for ``role``: a confined process (or, with ``confined=False``, only a sandboxed
    one), or (debugging only) the in-process twin."""
    if in_process:
        from kernelswarm.judge.twin import InProcessWorker

        return InProcessWorker(role, device)
    return Worker(role, device, limits, keep_scratch, confined, builds, gpu)


@dataclass
class Pending(Generic[R]):
    """A request sent and not yet answered (the other worker can work meanwhile)."""

    endpoint: Endpoint
    seq: int
    expect: type[R]

    def result(self) -> R:
        return self.endpoint.wait(self.seq, self.expect)


class TimingClient:
    """What both workers answer: timing an implementation they hold."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    @property
    def hello(self) -> Hello | None:
        return self.endpoint.hello

    def start(self) -> Hello:
        return self.endpoint.start()

    def spawn(self) -> None:
        """Start the worker; ``handshake`` waits for it (two workers then start side by side)."""
        self.endpoint.spawn()

    def handshake(self) -> Hello:
        return self.endpoint.handshake()

    def close(self) -> None:
        self.endpoint.close()

    def freeze(self) -> None:
        self.endpoint.freeze()

    def thaw(self) -> None:
        self.endpoint.thaw()

    def run_queue_ns(self) -> int | None:
        return self.endpoint.run_queue_ns()

    def extend(self, seconds: float) -> None:
        self.endpoint.extend(seconds)

    def ping(self) -> Pong:
        return self.endpoint.request(Ping(), Pong)

    def warmup(self, impl: str, max_seconds: float, graph: bool) -> Warmed:
        return self.endpoint.request(Warmup(impl, max_seconds, graph), Warmed)

    def rewarm(self, impl: str, max_seconds: float) -> Warmed:
        return self.endpoint.request(Rewarm(impl, max_seconds), Warmed)

    def time_block(
        self, impl: str, order: list[int], flush: bool, arriving: dict[int, list[Any]] | None = None
    ) -> BlockTimed:
        sets = {str(j): inputs for j, inputs in (arriving or {}).items()}
        return self.endpoint.request(TimeBlock(impl, order, flush, sets), BlockTimed)

    def escape(self, impl: str, calls: int) -> Escaped:
        return self.endpoint.request(Escape(impl, calls), Escaped)

    def final_outputs(self, impl: str, indices: list[int]) -> list[list[torch.Tensor]]:
        return self.endpoint.request(FinalOutputs(impl, indices), FinalOutputsCopied).outputs


class ReferenceClient(TimingClient):
    """The reference worker: the problem's own code, the answers, the baselines."""

    def begin_load(
        self, problem: str, overrides: tuple[Override, ...], init_seed: int, policy: Policy | None
    ) -> Pending[ReferenceLoaded]:
        request = LoadReference(
            problem=self.endpoint.stage(problem),
            overrides=list(overrides),
            init_seed=init_seed,
            policy_dtype=policy.reference_dtype if policy else None,
            policy_tf32=policy.tf32 if policy else False,
        )
        return Pending(self.endpoint, self.endpoint.send(request), ReferenceLoaded)

    def draw_test(self, name: str, seed: int, variant: str) -> DrawnTest:
        return self.endpoint.request(DrawTest(name, seed, variant), DrawnTest)

    def draw_timing_sets(
        self, seeds: list[int], warmup_seeds: list[int], return_sets: bool
    ) -> TimingSetsDrawn:
        return self.endpoint.request(
            DrawTimingSets(seeds, warmup_seeds, return_sets), TimingSetsDrawn
        )

    def answer_timing_set(self, index: int) -> Answers:
        return self.endpoint.request(AnswerTimingSet(index), TimingSetAnswered).answers

    def begin_prepare_timing(self, compile: bool) -> Pending[TimingPrepared]:
        """Sent, not awaited: the reference imports what timing needs while the candidate runs."""
        return Pending(self.endpoint, self.endpoint.send(PrepareTiming(compile)), TimingPrepared)

    def count_work(self) -> Counts:
        return self.endpoint.request(CountWork(), WorkCounted).counts

    def estimate(self, problem: str, overrides: list[Override]) -> Counts:
        return self.endpoint.request(
            Estimate(self.endpoint.stage(problem), overrides), Estimated
        ).counts

    def sensitivity(self, seeds: list[int]) -> SensitivityMeasured:
        return self.endpoint.request(Sensitivity(seeds), SensitivityMeasured)

    def measure_peaks(self, quick: bool = False) -> Peaks:
        return self.endpoint.request(MeasurePeaks(quick), PeaksMeasured).peaks


class CandidateClient(TimingClient):
    """The candidate worker: untrusted code, fed one call at a time."""

    def begin_load(
        self,
        problem: str,
        candidate: str,
        overrides: tuple[Override, ...],
        init_seed: int,
        weights: str,
    ) -> Pending[CandidateLoaded]:
        stage = self.endpoint.stage
        request = LoadCandidate(
            stage(problem), stage(candidate), list(overrides), init_seed, weights
        )
        return Pending(self.endpoint, self.endpoint.send(request), CandidateLoaded)

    def hold_for_judge(self, nbytes: int) -> None:
        """It holds up to ``nbytes`` of host memory for the judge from now on (the tests' inputs,
        their copies, the outputs it keeps): not counted against its own memory limit."""
        self.endpoint.hold_for_judge(nbytes)

    def store_timing_sets(self, sets: dict[int, list[Any]], warmup: list[list[Any]]) -> None:
        by_number = {str(j): inputs for j, inputs in sets.items()}
        self.endpoint.request(StoreTimingSets(by_number, warmup), Stored)

    def call(
        self,
        mode: InputMode,
        key: str,
        source: str | None,
        output_nbytes: list[int],
        inputs: list[Any] | None,
        release: list[str] | None = None,
    ) -> Called:
        request = Call(mode, key, source, output_nbytes, inputs, release or [])
        return self.endpoint.request(request, Called)

    def finish(self) -> Finished:
        return self.endpoint.request(Finish(), Finished)
