"""What crosses the line between the judge and its workers: one frozen dataclass per message.

The judge (trusted) sends requests; a worker (sandboxed, running problem or candidate code)
answers each with one reply, and may report the phase it enters on the way. Every message is a
record declared here, sent as ``{"kind", "seq", "body"}`` over ``wire`` (JSON and raw tensor
bytes, never pickle) and rebuilt on arrival by ``plain.from_plain``, which checks every field
against its declared type: a worker that runs untrusted code cannot make the judge read a
malformed message as anything but a ``protocol`` failure.

Who sends what, and when (docs/architecture.md has the sequence):

* worker, at start: ``Hello``; before each piece of work: ``PhaseEntered``; on any exception:
  ``Failed`` (in place of the reply);
* to the reference worker: ``LoadReference``, ``DrawTest``, ``DrawTimingSets``,
  ``AnswerTimingSet``, ``PrepareTiming``, ``CountWork``, ``Estimate``, ``Sensitivity``,
  ``MeasurePeaks``;
* to the candidate worker: ``LoadCandidate``, ``StoreTimingSets``, ``Call``, ``Finish``;
* to either, for timing: ``Ping``, ``Warmup``, ``Rewarm``, ``TimeBlock``, ``Escape``,
  ``FinalOutputs``; and ``Exit``.

Shared by both sides: standard library and torch only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

import torch

from kernelswarm.plain import PlainError, from_plain, to_plain
from kernelswarm.problem import Override

#: bumped whenever a message changes; a worker of another version is refused at its hello
PROTOCOL_VERSION = 5
#: the candidate worker keeps the outputs it returned, for the final look (whether they changed
#: after return), up to this many bytes (outputs and their copies); past it the oldest are
#: looked at once more and let go when the next call comes (the judge has compared them by then)
RETAIN_OUTPUT_BYTES = 1 << 30


class ProtocolError(Exception):
    """A message that is not one of this protocol's, or does not fit its declaration."""


class Role(StrEnum):
    REFERENCE = "reference"  # runs only the problem's own code
    CANDIDATE = "candidate"  # runs the untrusted candidate


class Owner(StrEnum):
    """Whose code runs in a phase: it decides whose fault a failure there is."""

    PROBLEM = "problem"
    CANDIDATE = "candidate"
    HARNESS = "harness"


class Phase(StrEnum):
    START = "start-up (importing torch)"
    LOAD_PROBLEM = "load problem"
    CONSTRUCT_REFERENCE = "construct reference model"
    IMPORT_CANDIDATE = "import candidate"
    CONSTRUCT_CANDIDATE = "construct candidate"
    SHARE_WEIGHTS = "share reference weights"
    MOVE_CANDIDATE = "move candidate to device"
    DRAW_INPUTS = "draw inputs"
    FLOAT64_REFERENCE = "float64 reference"
    WORKING_REFERENCE = "working-precision reference"
    POLICY_REFERENCE = "policy-precision reference"
    DRAW_TIMING_SETS = "draw timing input sets"
    PREPARE_TIMING = "import what timing needs (torch._dynamo, Inductor)"
    COUNT = "count flops and bytes"
    ESTIMATE = "estimate sizes on the meta device"
    SENSITIVITY = "measure the output's sensitivity"
    PEAKS = "measure the device's peaks"
    PREPARE_CALL = "prepare call"
    FORWARD = "forward call"
    INSPECT_OUTPUT = "inspect output of call"
    FINAL_RECHECK = "final re-check of returned outputs"
    TIME_BASELINE = "timing of the baselines"
    TIME_CANDIDATE = "timing of the candidate"
    #: entered only when the worker's own work while timing (checksums, copies of input sets and
    #: outputs) fails: reported as the judge's, not as the implementation timed
    TIMING_COPIES = "the judge's checksums and copies while timing"

    @property
    def owner(self) -> Owner:
        return PHASE_OWNER[self]


PHASE_OWNER: dict[Phase, Owner] = {
    Phase.START: Owner.HARNESS, Phase.PEAKS: Owner.HARNESS, Phase.PREPARE_CALL: Owner.HARNESS,
    Phase.PREPARE_TIMING: Owner.HARNESS,
    Phase.TIMING_COPIES: Owner.HARNESS,
    Phase.IMPORT_CANDIDATE: Owner.CANDIDATE, Phase.CONSTRUCT_CANDIDATE: Owner.CANDIDATE,
    Phase.SHARE_WEIGHTS: Owner.CANDIDATE, Phase.MOVE_CANDIDATE: Owner.CANDIDATE,
    Phase.FORWARD: Owner.CANDIDATE, Phase.INSPECT_OUTPUT: Owner.CANDIDATE,
    Phase.FINAL_RECHECK: Owner.CANDIDATE, Phase.TIME_CANDIDATE: Owner.CANDIDATE,
    **{p: Owner.PROBLEM for p in (
        Phase.LOAD_PROBLEM, Phase.CONSTRUCT_REFERENCE, Phase.DRAW_INPUTS, Phase.FLOAT64_REFERENCE,
        Phase.WORKING_REFERENCE, Phase.POLICY_REFERENCE, Phase.DRAW_TIMING_SETS, Phase.COUNT,
        Phase.ESTIMATE, Phase.SENSITIVITY, Phase.TIME_BASELINE,
    )},
}  # fmt: skip


class FailureKind(StrEnum):
    """Why a worker did not answer as asked."""

    # reported by the worker, from the exception its work raised
    SYNTAX = "syntax"
    IMPORT = "import"
    INTERFACE = "interface"  # the file lacks what it must define (Model, ModelNew, get_inputs)
    COMPILE = "compile"
    OUT_OF_MEMORY = "out_of_memory"
    CUDA_ERROR = "cuda_error"
    EXIT = "exit"
    INTERRUPTED = "interrupted"
    EXCEPTION = "exception"
    # seen by the judge from outside
    CRASH = "crash"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    PROCESS_LIMIT = "process_limit"
    EARLY_EXIT = "early_exit"
    PROTOCOL = "protocol"


class InputMode(StrEnum):
    """How a call's inputs are placed in the candidate's process."""

    FRESH = "fresh"  # new tensors
    REUSE = "reuse"  # the same tensors as an earlier call
    CLONE = "clone"  # equal values at new addresses
    OVERWRITE = "overwrite"  # new values written into an earlier call's tensors

    @property
    def words(self) -> str:
        return {
            InputMode.FRESH: "fresh inputs",
            InputMode.REUSE: "the same input tensors again",
            InputMode.CLONE: "equal values at new addresses",
            InputMode.OVERWRITE: "new values written into earlier inputs' memory",
        }[self]


_KINDS: dict[str, type] = {}
M = TypeVar("M")


def _message(kind: str) -> Callable[[type[M]], type[M]]:
    """Register a record as the message of this kind."""

    def register(cls: type[M]) -> type[M]:
        cls.KIND = kind  # type: ignore[attr-defined]
        _KINDS[kind] = cls
        return cls

    return register


# -- records carried inside messages ----------------------------------------------------------


@dataclass(frozen=True)
class Versions:
    python: str
    torch: str
    platform: str
    cuda_available: bool
    gpu: str | None = None
    cuda: str | None = None


@dataclass(frozen=True)
class Answers:
    """The reference's outputs for one set of inputs: the judge's answer key."""

    expected: list[torch.Tensor]  # float64
    working: list[torch.Tensor]  # the problem's own precision
    policy: list[torch.Tensor] | None  # the precision policy's, when it names one
    structure: str  # "Tensor", "tuple(Tensor, Tensor)", ...
    mutated_inputs: list[int]  # inputs the reference itself modifies
    aliased_inputs: list[int]  # inputs whose memory the reference returns
    #: |float64 answer at inputs one ulp away (random directions) - float64 answer|, per
    #: floating output (float32): how much the answer itself moves with its inputs' last bit
    sensitivity: list[torch.Tensor | None] | None = None
    #: for small outputs (whose own rounding error is one noisy draw): the RMS over a few such
    #: inputs of |working-precision answer - float64 answer|, per output (float32)
    rounding: list[torch.Tensor | None] | None = None
    #: the largest magnitude among the floating inputs: rounding an input that large costs its
    #: last bit in anything computed from it
    input_scale: float = 1.0


@dataclass(frozen=True)
class Counts:
    """Flops and the fewest bytes one forward must move."""

    dtype: str
    flops: int
    other_flops: int
    convolution: bool
    input_bytes: int
    parameter_bytes: int
    output_bytes: int

    @property
    def moved_bytes(self) -> int:
        return self.input_bytes + self.parameter_bytes + self.output_bytes


@dataclass(frozen=True)
class Peaks:
    """What the device was measured to do."""

    device: str
    bandwidth: float  # bytes read + written per second
    matmul: dict[str, float]  # FLOP/s per format: fp32, tf32, bf16, fp16, fp64
    launch_overhead_seconds: float
    torch: str
    measured_at: str


@dataclass(frozen=True)
class WeightsReport:
    mode: str  # share | seed
    shared: list[str] = field(default_factory=list)
    shape_mismatch: list[str] = field(default_factory=list)
    reference_only: list[str] = field(default_factory=list)
    candidate_only: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    """Elements of a tensor that changed, and by how much at most."""

    elements: int
    max_abs_change: float


@dataclass(frozen=True)
class OutputFact:
    """What the candidate worker saw of one returned output (never a judgement)."""

    type: str
    scalar: bool = False
    exact_tensor: bool = False
    dtype: str | None = None
    shape: list[int] | None = None
    device: str | None = None
    layout: str | None = None
    null_data: bool = False
    aliases_input: int | None = None
    reuses_output_of_call: int | None = None
    changed_after_return: Change | None = None


@dataclass(frozen=True)
class Mutation:
    input: int
    change: Change


@dataclass(frozen=True)
class LateChange:
    call: int
    change: Change


# -- worker to judge, unasked ---------------------------------------------------------------


@_message("hello")
@dataclass(frozen=True)
class Hello:
    pid: int
    protocol: int
    role: Role
    versions: Versions


@_message("phase")
@dataclass(frozen=True)
class PhaseEntered:
    phase: Phase
    detail: str = ""


@_message("failed")
@dataclass(frozen=True)
class Failed:
    phase: Phase
    detail: str
    failure: FailureKind
    exception: str
    message: str
    traceback: str


# -- requests ---------------------------------------------------------------------------------


@_message("load_reference")
@dataclass(frozen=True)
class LoadReference:
    problem: str
    overrides: list[Override]
    init_seed: int
    policy_dtype: str | None
    policy_tf32: bool


@_message("load_candidate")
@dataclass(frozen=True)
class LoadCandidate:
    problem: str
    candidate: str
    overrides: list[Override]
    init_seed: int
    weights: str  # share | seed


@_message("draw_test")
@dataclass(frozen=True)
class DrawTest:
    name: str
    seed: int
    variant: str


@_message("draw_timing_sets")
@dataclass(frozen=True)
class DrawTimingSets:
    seeds: list[int]
    warmup_seeds: list[int]
    return_sets: bool


@_message("answer_timing_set")
@dataclass(frozen=True)
class AnswerTimingSet:
    index: int


@_message("prepare_timing")
@dataclass(frozen=True)
class PrepareTiming:
    """Import what timing will need (the flop counter's torch._dynamo; torch.compile's Inductor
    with ``compile``): seconds of one core, sent while the candidate runs its correctness calls
    and the reference worker would otherwise wait."""

    compile: bool


@_message("count_work")
@dataclass(frozen=True)
class CountWork:
    pass


@_message("estimate")
@dataclass(frozen=True)
class Estimate:
    problem: str
    overrides: list[Override]


@_message("sensitivity")
@dataclass(frozen=True)
class Sensitivity:
    seeds: list[int]


@_message("measure_peaks")
@dataclass(frozen=True)
class MeasurePeaks:
    quick: bool = False  # a short probe, to check the judge's cached peaks


@_message("store_timing_sets")
@dataclass(frozen=True)
class StoreTimingSets:
    sets: dict[str, list[Any]]  # by set number: the sets visited again and again
    warmup: list[list[Any]]


@_message("call")
@dataclass(frozen=True)
class Call:
    mode: InputMode
    key: str
    source: str | None
    output_nbytes: list[int]
    inputs: list[Any] | None  # with FRESH and OVERWRITE only
    #: inputs kept under these keys will not be used again: the worker frees them first (a
    #: KernelBench test's inputs are GiB on the GPU, and the plan makes a dozen calls)
    release: list[str]


@_message("finish")
@dataclass(frozen=True)
class Finish:
    pass


@_message("ping")
@dataclass(frozen=True)
class Ping:
    pass


@_message("warmup")
@dataclass(frozen=True)
class Warmup:
    impl: str
    max_seconds: float
    graph: bool


@_message("rewarm")
@dataclass(frozen=True)
class Rewarm:
    impl: str
    max_seconds: float


@_message("time_block")
@dataclass(frozen=True)
class TimeBlock:
    impl: str
    order: list[int]
    flush: bool
    #: input sets never sent before, placed just before this block times them (the candidate
    #: cannot prepare their answers while nothing is timed)
    arriving: dict[str, list[Any]] = field(default_factory=dict)


@_message("escape")
@dataclass(frozen=True)
class Escape:
    impl: str
    calls: int


@_message("final_outputs")
@dataclass(frozen=True)
class FinalOutputs:
    impl: str
    indices: list[int]


@_message("exit")
@dataclass(frozen=True)
class Exit:
    pass


# -- replies ----------------------------------------------------------------------------------


@_message("reference_loaded")
@dataclass(frozen=True)
class ReferenceLoaded:
    fingerprint: str
    parameters: int
    constant_parameters: list[str]
    init_inputs: str
    variants: list[str] | None


@_message("candidate_loaded")
@dataclass(frozen=True)
class CandidateLoaded:
    fingerprint: str
    weights: WeightsReport
    tampered: list[str]


@_message("drawn_test")
@dataclass(frozen=True)
class DrawnTest:
    inputs: list[Any]
    again: list[torch.Tensor] | None  # a second run on the same inputs (first test only)
    answers: Answers


@_message("timing_sets_drawn")
@dataclass(frozen=True)
class TimingSetsDrawn:
    sets: list[list[Any]]
    warmup: list[list[Any]]
    set_bytes: int


@_message("timing_set_answered")
@dataclass(frozen=True)
class TimingSetAnswered:
    answers: Answers


@_message("timing_prepared")
@dataclass(frozen=True)
class TimingPrepared:
    #: what could not be imported (said again, and attributed, where it is used): "" if nothing
    missing: str = ""


@_message("work_counted")
@dataclass(frozen=True)
class WorkCounted:
    counts: Counts


@_message("estimated")
@dataclass(frozen=True)
class Estimated:
    counts: Counts


@_message("sensitivity_measured")
@dataclass(frozen=True)
class SensitivityMeasured:
    inputs: dict[str, float]
    weights: dict[str, float]
    constant_init: list[str]


@_message("peaks_measured")
@dataclass(frozen=True)
class PeaksMeasured:
    peaks: Peaks


@_message("stored")
@dataclass(frozen=True)
class Stored:
    pass


@_message("called")
@dataclass(frozen=True)
class Called:
    call: int
    structure: str
    outputs: list[torch.Tensor | None]  # first copies, on the host; None where not copied
    facts: list[OutputFact]
    mutated_inputs: list[Mutation]
    host_seconds: float
    free_bytes: int
    poisoned_bytes: int
    threads_alive: list[str]
    tampered: list[str]


@_message("finished")
@dataclass(frozen=True)
class Finished:
    outputs_changed_later: list[LateChange]
    threads_alive: list[str]
    tampered: list[str]


@_message("pong")
@dataclass(frozen=True)
class Pong:
    pass


@_message("warmed")
@dataclass(frozen=True)
class Warmed:
    calls: int
    times: list[float]
    stable: bool
    setup_seconds: float = 0.0


@_message("block_timed")
@dataclass(frozen=True)
class BlockTimed:
    samples: list[float]
    host_seconds: float
    checksums: list[list[float]]  # [sum, sum |x|] of each call's output, at return
    final_checksums: dict[str, list[float]]  # the same of each set's final output
    persisting_l2_before: int | None
    persisting_l2_after: int | None
    l2_note: str | None
    tampered: list[str]
    cpu_seconds: float = 0.0  # the worker's CPU time over the block: far under host_seconds,
    # the process was stopped or starved while it was timed
    threads_alive: list[str] = field(default_factory=list)  # threads of untrusted code
    # the outputs' float32 checksums overflowed (float64 ones did not): this block's completion
    # check could not tell them apart; from the next block on they are summed in float64
    widened: bool = False
    # a call timed alone: seconds the worker's threads waited for a core meanwhile (as the
    # kernel counts it); None for a block, or where not known
    waited_s: float | None = None


@_message("escaped")
@dataclass(frozen=True)
class Escaped:
    calls: int
    host_seconds: float
    event_seconds: float | None
    tampered: list[str]


@_message("final_outputs_copied")
@dataclass(frozen=True)
class FinalOutputsCopied:
    outputs: list[list[torch.Tensor]]


def encode(message: Any, seq: int | None) -> dict[str, Any]:
    """A message as the plain object ``wire`` sends."""
    kind = getattr(type(message), "KIND", None)
    if kind is None or _KINDS.get(kind) is not type(message):
        raise ProtocolError(f"{type(message).__name__} is not a message of this protocol")
    return {"kind": kind, "seq": seq, "body": to_plain(message)}


def decode(obj: Any) -> tuple[int | None, Any]:
    """(sequence number, message) of a plain object received from the other side."""
    if not isinstance(obj, dict) or set(obj) != {"kind", "seq", "body"}:
        raise ProtocolError("a frame that is not a message envelope arrived")
    cls = _KINDS.get(obj["kind"]) if isinstance(obj["kind"], str) else None
    if cls is None:
        raise ProtocolError(f"unknown message kind {obj['kind']!r}")
    seq = obj["seq"]
    if seq is not None and type(seq) is not int:
        raise ProtocolError("a message's sequence number is not an integer")
    try:
        return seq, from_plain(cls, obj["body"], obj["kind"])
    except PlainError as exc:
        raise ProtocolError(f"malformed {obj['kind']!r} message: {exc}") from None


def kinds() -> dict[str, type]:
    """Every message kind and its record (for the documentation and its test)."""
    return dict(_KINDS)
