"""Entry point of the worker process (``python -m kernelswarm.worker``).

The judge starts it in a new session and process group, with an allow-listed environment, a
private scratch directory as working directory, and two pipes whose numbers it passes here.
Standard output and error go to a log file the judge only ever shows as text; the verdict's
facts travel on the pipe. The process ends through ``os._exit``, so exit hooks a candidate
registers never run.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
from typing import Any

import torch

from kernelswarm import wire
from kernelswarm.worker.common import Phases, Trusted, failure_message, versions


def _limit_resources(file_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="kernelswarm.worker")
    parser.add_argument("--role", choices=["reference", "candidate"], required=True)
    parser.add_argument("--in-fd", type=int, required=True)
    parser.add_argument("--out-fd", type=int, required=True)
    parser.add_argument("--device", required=True)
    parser.add_argument("--file-limit", type=int, default=8 << 30)
    args = parser.parse_args(argv)

    _limit_resources(args.file_limit)
    trusted = Trusted()  # before any problem or candidate code is imported
    channel = wire.Channel(args.in_fd, args.out_fd)
    phases = Phases(channel)
    device = torch.device(args.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    role: Any
    if args.role == "reference":
        from kernelswarm.worker.reference import ReferenceRole

        role = ReferenceRole(phases, device, trusted)
    else:
        from kernelswarm.worker.candidate import CandidateRole

        role = CandidateRole(phases, device, trusted)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    channel.send({"kind": "hello", "pid": os.getpid(), "versions": versions()})

    while True:
        try:
            request = channel.recv()
        except wire.WireError:
            os._exit(3)  # the judge went away
        if request.get("op") == "exit":
            break
        try:
            response = role.handle(request)
        except BaseException as exc:  # everything, SystemExit included, is reported as a failure
            response = failure_message(exc, phases)
        response["seq"] = request.get("seq")
        try:
            channel.send(response)
        except wire.WireError as exc:  # e.g. a result that cannot travel
            channel.send({**failure_message(exc, phases), "seq": request.get("seq")})
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
