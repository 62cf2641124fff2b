"""Entry point of the worker process (``python -m kernelswarm.worker``): limits and dispatch.

The judge starts it in a new session and process group, with an allow-listed environment, a
private scratch directory as working directory, and two pipes whose numbers it passes here.
Standard output and error go to a log file the judge only ever shows as text; requests and
replies (``protocol``) travel on the pipes. The process ends through ``os._exit``, so exit hooks
a candidate registers never run.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
from typing import Any

import torch

from kernelswarm import protocol, wire
from kernelswarm.poison import release_poisoned
from kernelswarm.protocol import DrawnTest, Exit, Hello, Role, TimingSetAnswered
from kernelswarm.worker.guard import Phases, Trusted, failed, versions


def _limit_resources(file_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))


def make_role(role: Role, phases: Phases, device: torch.device, trusted: Trusted) -> Any:
    """The object that answers this worker's requests (``handle(request) -> reply``)."""
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    if role is Role.REFERENCE:
        from kernelswarm.worker.reference import ReferenceRole

        answerer: Any = ReferenceRole(phases, device, trusted)
    else:
        from kernelswarm.worker.candidate import CandidateRole

        answerer = CandidateRole(phases, device, trusted)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return answerer


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="kernelswarm.worker")
    parser.add_argument("--role", choices=[r.value for r in Role], required=True)
    parser.add_argument("--in-fd", type=int, required=True)
    parser.add_argument("--out-fd", type=int, required=True)
    parser.add_argument("--device", required=True)
    parser.add_argument("--file-limit", type=int, default=8 << 30)
    parser.add_argument("--bulk-in-fd", type=int, default=None)
    parser.add_argument("--bulk-out-fd", type=int, default=None)
    parser.add_argument("--bulk-bytes", type=int, default=wire.DEFAULT_MAX_BODY_BYTES)
    parser.add_argument("--wire-ipc", action="store_true", help="name large GPU tensors sent")
    args = parser.parse_args(argv)

    _limit_resources(args.file_limit)
    trusted = Trusted()  # before any problem or candidate code is imported
    bulk_in = bulk_out = None
    if args.bulk_in_fd is not None and args.bulk_out_fd is not None:
        bulk_in = wire.Bulk(args.bulk_in_fd, args.bulk_bytes)
        bulk_out = wire.Bulk(args.bulk_out_fd, args.bulk_bytes)
    # GPU tensors the judge sends (inputs) go straight onto this worker's GPU
    on_gpu = torch.device(args.device) if args.device.startswith("cuda") else None
    channel = wire.Channel(
        args.in_fd, args.out_fd, bulk_out=bulk_out, bulk_in=bulk_in, device=on_gpu,
        ipc_out=args.wire_ipc and on_gpu is not None,
    )  # fmt: skip
    phases = Phases(lambda entered: channel.send(protocol.encode(entered, None)))
    role = Role(args.role)
    answerer = make_role(role, phases, torch.device(args.device), trusted)
    hello = Hello(os.getpid(), protocol.PROTOCOL_VERSION, role, versions())
    channel.send(protocol.encode(hello, None))

    sent_test = False  # the last reply was a test (or timing set) the judge may have mapped
    while True:
        try:
            seq, request = protocol.decode(channel.recv())
        except (wire.WireError, protocol.ProtocolError):
            os._exit(3)  # the judge went away, or something other than the judge wrote to us
        if isinstance(request, Exit):
            break
        if sent_test and channel.released:
            release_poisoned()  # the judge has copied the test it mapped: memory goes back
        try:
            reply = answerer.handle(request)
        except BaseException as exc:  # everything, SystemExit included, is reported as a failure
            reply = failed(exc, phases)
        # what the request carried (a call's inputs: GiB at KernelBench's sizes) goes now, not
        # once the next request has arrived beside it
        del request
        try:
            channel.send(protocol.encode(reply, seq))
        except wire.WireError as exc:  # e.g. a result that cannot travel
            channel.send(protocol.encode(failed(exc, phases), seq))
        sent_test = role is Role.REFERENCE and isinstance(reply, DrawnTest | TimingSetAnswered)
        if sent_test:
            # a test's inputs and answers, sent: give their GPU memory back while the judge
            # takes them in (never after a timing request: its allocations must stay warm);
            # what the judge maps goes back once it has copied it (above)
            del reply
            release_poisoned()  # filled first: it held the test's answers
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
