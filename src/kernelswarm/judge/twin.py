"""The worker's twin in this process: the same roles and the same protocol, no subprocess.

For debugging (a breakpoint in a role, a profile of one check) and for the fast tier of tests.
Every request and reply still crosses ``protocol`` and ``wire`` (encoded, then decoded: tensors
are copies, fields are checked), so the judge cannot tell the twin from a worker by what it
receives. What the twin lacks is the sandbox: no separate process, no limits, no isolation. It
must never run a candidate that is not trusted; ``check --in-process`` says so in the verdict.

This is the only module of the judge that imports the worker's code.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Any

import torch

from kernelswarm import protocol, wire
from kernelswarm.judge.sandbox import Endpoint, R
from kernelswarm.protocol import Hello, Role
from kernelswarm.schedstat import run_queue_ns
from kernelswarm.worker.guard import Phases, Trusted, failed, versions
from kernelswarm.worker.main import make_role


class InProcessWorker(Endpoint):
    """A worker role answering in this process, one request at a time."""

    def __init__(self, role: Role, device: str) -> None:
        super().__init__(role)
        self.device = device
        self._frames: deque[bytes] = deque()
        self._seq = 0
        self._answerer: Any = None
        self._phases: Phases | None = None

    def _post(self, message: Any, seq: int | None) -> None:
        self._frames.append(wire.encode(protocol.encode(message, seq)))

    def start(self) -> Hello:
        trusted = Trusted()
        self._phases = Phases(lambda entered: self._post(entered, None))
        self._answerer = make_role(self.role, self._phases, torch.device(self.device), trusted)
        self._post(Hello(0, protocol.PROTOCOL_VERSION, self.role, versions()), None)
        return self._check_hello(self._next(None, Hello))

    def send(self, request: Any) -> int:
        assert self._phases is not None, "start first"
        self._seq += 1
        _, received = protocol.decode(wire.decode_frame(wire.encode(protocol.encode(request, 0))))
        try:
            reply = self._answerer.handle(received)
        except (Exception, SystemExit) as exc:  # as the worker does: the failure is the reply
            reply = failed(exc, self._phases)
        self._post(reply, self._seq)
        return self._seq

    def wait(self, seq: int, expect: type[R]) -> R:
        return self._next(seq, expect)

    def _next(self, expect_seq: int | None, expect: type[R]) -> R:
        while self._frames:
            seq, message = protocol.decode(wire.decode_frame(self._frames.popleft()))
            reply = self._accept(seq, message, expect_seq, expect)
            if reply is not None:
                return reply
        raise self._fail_protocol(f"no reply to request {expect_seq}")

    def run_queue_ns(self) -> int | None:
        return run_queue_ns(os.getpid())  # the worker's code runs in this process

    def close(self) -> None:
        self._answerer = None
        self._frames.clear()
