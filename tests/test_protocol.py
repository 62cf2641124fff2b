"""The protocol: every message survives the wire typed, and nothing malformed gets through."""

from __future__ import annotations

import pytest
import torch

from kernelswarm import protocol, wire
from kernelswarm.judge.attribution import attribute
from kernelswarm.judge.reasons import Check
from kernelswarm.judge.sandbox import Endpoint, WorkerError
from kernelswarm.plain import PlainError, from_plain
from kernelswarm.problem import Override
from kernelswarm.protocol import (
    Answers,
    Call,
    Called,
    Failed,
    FailureKind,
    InputMode,
    LoadReference,
    OutputFact,
    Owner,
    Phase,
    PhaseEntered,
    ProtocolError,
    Role,
    Stored,
)


def through_the_wire(message, seq=7):
    return protocol.decode(wire.decode_frame(wire.encode(protocol.encode(message, seq))))


def test_messages_cross_the_wire_typed():
    x = torch.randn(3, 4)
    call = Call(InputMode.OVERWRITE, "A-overwritten", "A", [48], [x, 3, None, "s"], ["B"])
    seq, back = through_the_wire(call)
    assert seq == 7 and isinstance(back, Call) and back.mode is InputMode.OVERWRITE
    assert torch.equal(back.inputs[0], x) and back.inputs[1:] == [3, None, "s"]
    assert back.inputs[0].data_ptr() != x.data_ptr()  # a copy, never the sender's memory
    load = LoadReference("p.py", [Override("n", 64), Override("shape", (2, 3))], 5, None, True)
    _, back = through_the_wire(load)
    assert back == LoadReference(
        "p.py", [Override("n", 64), Override("shape", (2, 3))], 5, None, True
    )
    fact = OutputFact("torch.Tensor", exact_tensor=True, dtype="float32", shape=[3], device="cpu",
                      layout="torch.strided", changed_after_return=protocol.Change(2, 0.5))  # fmt: skip
    called = Called(1, "Tensor", [x], [fact], [], 0.1, 0, 0, [], [])
    _, back = through_the_wire(called)
    assert back.facts[0].changed_after_return == protocol.Change(2, 0.5)


def test_every_kind_is_a_frozen_record_with_a_unique_name():
    kinds = protocol.kinds()
    assert len(kinds) == len({cls.__name__ for cls in kinds.values()}) >= 39
    for kind, cls in kinds.items():
        assert kind == cls.KIND and cls.__dataclass_params__.frozen, kind


@pytest.mark.parametrize(
    ("envelope", "words"),
    [
        ({"kind": "no_such", "seq": 1, "body": {}}, "unknown message kind"),
        ({"kind": "stored", "seq": 1, "body": {"extra": 1}}, "unknown fields extra"),
        (
            {"kind": "draw_test", "seq": 1, "body": {"name": "a", "seed": 1}},
            "missing field variant",
        ),
        (
            {"kind": "draw_test", "seq": 1, "body": {"name": "a", "seed": "1", "variant": "base"}},
            "expected int",
        ),
        (
            {"kind": "draw_test", "seq": 1, "body": {"name": "a", "seed": True, "variant": "base"}},
            "expected int",
        ),
        ({"kind": "phase", "seq": None, "body": {"phase": "in charge now"}}, "not one of"),
        ({"kind": "stored", "seq": "1", "body": {}}, "sequence number"),
        ({"kind": "stored", "body": {}}, "envelope"),
        (["stored"], "envelope"),
        ({"kind": "called", "seq": 1, "body": {"call": 1}}, "missing field"),
    ],
)
def test_malformed_messages_are_refused(envelope, words):
    with pytest.raises(ProtocolError, match=words):
        protocol.decode(envelope)


def test_non_messages_are_not_sent():
    with pytest.raises(ProtocolError):
        protocol.encode(Answers([], [], None, "Tensor", [], []), 1)


def test_plain_refuses_what_does_not_fit():
    with pytest.raises(PlainError, match="expected a tensor"):
        from_plain(Answers, {"expected": [[1.0]], "working": [], "policy": None, "structure": "",
                             "mutated_inputs": [], "aliased_inputs": []})  # fmt: skip
    assert from_plain(float, "nan") != from_plain(float, "nan")  # strict JSON's non-finite numbers
    assert from_plain(float, 3) == 3.0 and isinstance(from_plain(float, 3), float)


class Recorded(Endpoint):
    """An endpoint fed recorded messages (no worker)."""

    def __init__(self, role, messages):
        super().__init__(role)
        self.messages = list(messages)

    def send(self, request):
        return 1

    def wait(self, seq, expect):
        while self.messages:
            reply = self._accept(*self.messages.pop(0), seq, expect)
            if reply is not None:
                return reply
        raise AssertionError("no reply recorded")


def _failed(phase, kind=FailureKind.EXCEPTION):
    return Failed(phase, "", kind, "RuntimeError", "boom", "")


def test_a_failure_is_the_problem_s_before_candidate_code_runs():
    worker = Recorded(
        Role.CANDIDATE, [(None, PhaseEntered(Phase.LOAD_PROBLEM)), (1, _failed(Phase.LOAD_PROBLEM))]
    )
    with pytest.raises(WorkerError) as caught:
        worker.request(Stored(), Stored)
    assert caught.value.failure.owner is Owner.PROBLEM
    assert attribute(caught.value.failure).check is Check.PROBLEM


def test_once_candidate_code_ran_every_failure_is_the_candidate_s():
    # A candidate that writes a forged phase report, or a forged failure claiming the problem's
    # code failed, does not turn its own failure into "could not judge".
    for forged in (PhaseEntered(Phase.LOAD_PROBLEM), _failed(Phase.CONSTRUCT_REFERENCE)):
        worker = Recorded(Role.CANDIDATE, [(None, PhaseEntered(Phase.FORWARD, "1")), (1, forged)])
        with pytest.raises(WorkerError) as caught:
            worker.request(Stored(), Stored)
        failure = caught.value.failure
        assert failure.owner is Owner.CANDIDATE and failure.kind is FailureKind.PROTOCOL
        assert attribute(failure).check is Check.PROTOCOL
        assert "after candidate code had run" in failure.detail
    # a failure in a harness phase after candidate code ran is still the candidate's
    worker = Recorded(
        Role.CANDIDATE, [(None, PhaseEntered(Phase.FORWARD, "1")), (1, _failed(Phase.PREPARE_CALL))]
    )
    with pytest.raises(WorkerError) as caught:
        worker.request(Stored(), Stored)
    assert attribute(caught.value.failure).check is Check.FORWARD


def test_a_reply_of_the_wrong_kind_or_sequence_is_a_protocol_failure():
    for messages in ([(1, Stored())], [(2, Stored())]):
        worker = Recorded(Role.CANDIDATE, [(None, PhaseEntered(Phase.FORWARD, "1")), *messages])
        with pytest.raises(WorkerError) as caught:
            worker.request(Stored(), Called)
        assert caught.value.failure.kind is FailureKind.PROTOCOL
        assert attribute(caught.value.failure).check is Check.PROTOCOL


@pytest.mark.parametrize(
    ("kind", "phase", "check"),
    [
        (FailureKind.SYNTAX, Phase.IMPORT_CANDIDATE, Check.SYNTAX),
        (FailureKind.INTERFACE, Phase.IMPORT_CANDIDATE, Check.INTERFACE),
        (FailureKind.EXCEPTION, Phase.IMPORT_CANDIDATE, Check.IMPORT),
        (FailureKind.EXCEPTION, Phase.CONSTRUCT_CANDIDATE, Check.CONSTRUCTOR),
        (FailureKind.EXCEPTION, Phase.SHARE_WEIGHTS, Check.CONSTRUCTOR),
        (FailureKind.EXCEPTION, Phase.FORWARD, Check.FORWARD),
        (FailureKind.EXCEPTION, Phase.PREPARE_CALL, Check.FORWARD),
        (FailureKind.COMPILE, Phase.IMPORT_CANDIDATE, Check.COMPILE),
        (FailureKind.OUT_OF_MEMORY, Phase.FORWARD, Check.MEMORY),
        # the judge's own copies on a GPU it shares: no proof against the candidate either way
        (FailureKind.OUT_OF_MEMORY, Phase.PREPARE_CALL, Check.HARNESS),
        (FailureKind.OUT_OF_MEMORY, Phase.FINAL_RECHECK, Check.HARNESS),
        # while timed: the worker's own checksums and copies, or the candidate's forward (a
        # cache that grows with every call runs out of memory there: its own fault)
        (FailureKind.OUT_OF_MEMORY, Phase.TIMING_COPIES, Check.HARNESS),
        (FailureKind.OUT_OF_MEMORY, Phase.TIME_CANDIDATE, Check.MEMORY),
        (FailureKind.EXIT, Phase.FORWARD, Check.EARLY_EXIT),
        (FailureKind.CUDA_ERROR, Phase.TIME_CANDIDATE, Check.CUDA_ERROR),
    ],
)
def test_candidate_failures_name_their_check(kind, phase, check):
    worker = Recorded(
        Role.CANDIDATE, [(None, PhaseEntered(Phase.IMPORT_CANDIDATE)), (1, _failed(phase, kind))]
    )
    with pytest.raises(WorkerError) as caught:
        worker.request(Stored(), Stored)
    assert attribute(caught.value.failure).check is check


def test_the_reference_worker_s_own_failures_are_never_the_candidate_s():
    for phase, check in ((Phase.START, Check.HARNESS), (Phase.PEAKS, Check.HARNESS),
                         (Phase.FLOAT64_REFERENCE, Check.PROBLEM), (Phase.TIME_BASELINE, Check.PROBLEM)):  # fmt: skip
        worker = Recorded(Role.REFERENCE, [(1, _failed(phase))])
        with pytest.raises(WorkerError) as caught:
            worker.request(Stored(), Stored)
        assert attribute(caught.value.failure).check is check, phase
    # out of memory in the worker's own checksums while timing the baselines: the judge's
    worker = Recorded(
        Role.REFERENCE, [(1, _failed(Phase.TIMING_COPIES, FailureKind.OUT_OF_MEMORY))]
    )
    with pytest.raises(WorkerError) as caught:
        worker.request(Stored(), Stored)
    reason = attribute(caught.value.failure)
    assert reason.check is Check.HARNESS and "judge's own copies" in reason.detail
    # out of memory in the reference itself: this device's limit at these sizes, said so, and
    # not the problem's code failing (L1/45 at its own size on an H100)
    worker = Recorded(
        Role.REFERENCE, [(1, _failed(Phase.FLOAT64_REFERENCE, FailureKind.OUT_OF_MEMORY))]
    )
    with pytest.raises(WorkerError) as caught:
        worker.request(Stored(), Stored)
    reason = attribute(caught.value.failure)
    assert reason.check is Check.PROBLEM and "own code failed" not in reason.detail
    assert "more memory" in reason.detail and "float64 reference" in reason.detail


def test_a_missing_toolchain_is_this_machine_s_not_the_candidate_s(monkeypatch):
    import importlib.util

    from kernelswarm.judge import attribution
    from kernelswarm.judge.sandbox import Failure
    from kernelswarm.protocol import Owner

    def import_failure(module: str) -> Failure:
        return Failure(
            FailureKind.IMPORT, Phase.IMPORT_CANDIDATE, Owner.CANDIDATE,
            f"import failed during import candidate: ModuleNotFoundError: No module named '{module}'",
        )  # fmt: skip

    real = importlib.util.find_spec
    monkeypatch.setattr(
        attribution.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "triton" else real(name, *a),
    )
    reason = attribute(import_failure("triton"))
    assert reason.check is Check.TOOLCHAIN and reason.check.judge_fault
    assert "lacks Triton" in reason.detail
    # any other missing module is the candidate's own import failure
    assert attribute(import_failure("flash_attn_nonexistent")).check is Check.IMPORT
    # where Triton is installed, a candidate saying it is missing is not believed
    monkeypatch.setattr(attribution.importlib.util, "find_spec", lambda name, *a: object())
    assert attribute(import_failure("triton")).check is Check.IMPORT
