"""Whose fault a worker's failure is, and which check it fails."""

from __future__ import annotations

import importlib.util

from kernelswarm.judge.reasons import Check, Reason
from kernelswarm.judge.sandbox import Failure
from kernelswarm.protocol import FailureKind, Owner, Phase

#: the check a failure of the candidate's worker fails, by failure kind
_FAILURE_CHECKS = {
    FailureKind.SYNTAX: Check.SYNTAX, FailureKind.IMPORT: Check.IMPORT,
    FailureKind.INTERFACE: Check.INTERFACE, FailureKind.COMPILE: Check.COMPILE,
    FailureKind.OUT_OF_MEMORY: Check.MEMORY, FailureKind.MEMORY_LIMIT: Check.MEMORY,
    FailureKind.PROCESS_LIMIT: Check.PROCESSES,
    FailureKind.CUDA_ERROR: Check.CUDA_ERROR, FailureKind.EXIT: Check.EARLY_EXIT,
    FailureKind.EARLY_EXIT: Check.EARLY_EXIT, FailureKind.CRASH: Check.CRASH,
    FailureKind.TIMEOUT: Check.TIMEOUT, FailureKind.PROTOCOL: Check.PROTOCOL,
    FailureKind.INTERRUPTED: Check.HARNESS,
}  # fmt: skip
#: where an exception of the candidate's code was raised decides the check it fails
_EXCEPTION_CHECKS = {
    Phase.IMPORT_CANDIDATE: Check.IMPORT, Phase.CONSTRUCT_CANDIDATE: Check.CONSTRUCTOR,
    Phase.SHARE_WEIGHTS: Check.CONSTRUCTOR, Phase.MOVE_CANDIDATE: Check.CONSTRUCTOR,
}  # fmt: skip
#: phases of the candidate's worker where the judge's own copies are made (inputs placed, a
#: pristine copy, outputs kept, the final look): out of memory there is no proof against the
#: candidate — the GPU is shared with the judge and the reference — so it is "could not judge",
#: never a rejection, and never an acceptance either
_JUDGE_COPIES = {
    Phase.PREPARE_CALL, Phase.INSPECT_OUTPUT, Phase.FINAL_RECHECK, Phase.TIMING_COPIES,
}  # fmt: skip


#: tools a candidate's backend needs: missing here, it is this machine that cannot judge
TOOLCHAIN = {"triton": "Triton", "ninja": "ninja (torch's C++/CUDA extension builds)"}


def missing_tool(failure: Failure) -> str | None:
    """The toolchain a candidate needed and this machine lacks (checked here, not taken from the
    candidate's word: a candidate cannot turn its own rejection into "could not judge")."""
    text = failure.detail
    for module, words in TOOLCHAIN.items():
        said = f"No module named '{module}'" in text or (
            module == "ninja" and "Ninja is required" in text
        )
        if said and importlib.util.find_spec(module) is None:
            return words
    return None


def attribute(failure: Failure) -> Reason:
    """The failed check a worker's failure stands for: the problem's, the harness's, or one of
    the candidate's (by failure kind, and for an exception by where it was raised)."""
    detail = failure.detail + ("\n" + failure.traceback.rstrip() if failure.traceback else "")
    if failure.kind is FailureKind.OUT_OF_MEMORY and failure.phase in _JUDGE_COPIES:
        return Reason(
            Check.HARNESS,
            f"no room for the judge's own copies during {failure.phase.value} (the GPU is shared "
            f"by the judge, the reference and the candidate): {detail}",
        )
    if failure.owner is Owner.PROBLEM and failure.kind is FailureKind.OUT_OF_MEMORY:
        # not a fault of the problem's code: the reference does not fit at this size beside the
        # judge's float64 copies and the candidate (L1/45 on an H100)
        return Reason(
            Check.PROBLEM,
            f"the reference ran out of memory during {failure.phase.value} at these sizes (the "
            "judge runs it in float64 as well, on a device shared with the candidate and the "
            "judge): judge smaller sizes (--set) or on a device with more memory. " + detail,
        )
    if failure.owner is Owner.PROBLEM:
        return Reason(Check.PROBLEM, f"the problem's own code failed: {detail}")
    if failure.owner is Owner.HARNESS:
        return Reason(Check.HARNESS, f"the worker failed before any candidate code ran: {detail}")
    tool = missing_tool(failure) if failure.owner is Owner.CANDIDATE else None
    if tool is not None:
        return Reason(
            Check.TOOLCHAIN,
            f"this machine lacks {tool}, which the candidate's backend needs: install it to judge "
            f"this candidate ({failure.detail.splitlines()[0][:200]})",
        )
    check = _FAILURE_CHECKS.get(failure.kind)
    if check is None:
        check = _EXCEPTION_CHECKS.get(failure.phase, Check.FORWARD)
    return Reason(check, detail)
