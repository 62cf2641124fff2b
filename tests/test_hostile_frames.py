"""A worker runs the candidate: whatever it writes to its channel, the judge's decoding ends in
a message, a ``WireError`` or a ``ProtocolError`` — never another exception (which would escape
the judge's handling and turn a cheat into "could not judge", or stop the judge).

Frames of real replies, mutated at random (a fixed seed: the same frames every run): a value
replaced by a value of another type, a key dropped or added, a tensor description bent.
"""

from __future__ import annotations

import copy
import json
import random

import torch

from kernelswarm import protocol, wire
from kernelswarm.protocol import (
    BlockTimed,
    Called,
    Failed,
    FailureKind,
    FinalOutputsCopied,
    Finished,
    Hello,
    OutputFact,
    Phase,
    PhaseEntered,
    Role,
    Versions,
)

ODD_VALUES = [
    None, True, -1, 0, 2**70, -(2**70), 1.5, float("inf"), "x", "", [], {}, [1, [2, [3]]],
    {"__tensor__": 0}, {"__tensor__": 99}, {"__tensor__": "0"}, {"__tuple__": 5},
    {"__tuple__": [1]}, {"a": 1}, "float32", "bool", [2**62, 2**62], [-3],
]  # fmt: skip


def _replies() -> list[object]:
    x = torch.randn(6, 4)
    fact = OutputFact(
        "torch.Tensor", exact_tensor=True, dtype="float32", shape=[6, 4], device="cpu",
        layout="torch.strided", changed_after_return=protocol.Change(2, 0.5),
    )  # fmt: skip
    return [
        Called(1, "Tensor", [x, None], [fact], [], 0.1, 0, 0, ["t"], []),
        Finished([], [], ["time.perf_counter"]),
        BlockTimed([1e-3, 2e-3], 0.1, [[1.0, 2.0]], {"s0": [1.0, 2.0]}, None, None, None, []),
        FinalOutputsCopied([[x], [x, x]]),
        PhaseEntered(Phase.IMPORT_CANDIDATE, "candidate.py"),
        Failed(Phase.FORWARD, "in forward", FailureKind.EXCEPTION, "ValueError", "boom", "tb"),
        Hello(
            1,
            protocol.PROTOCOL_VERSION,
            Role.CANDIDATE,
            Versions("3.11", "2.13", "linux", False),
        ),
    ]


def _nodes(value: object, path: tuple = ()) -> list[tuple]:
    """Every place in a JSON value: the paths of its dict entries and list items."""
    found = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _nodes(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _nodes(v, (*path, i))
    return found


def _mutate(header: dict, rng: random.Random) -> dict:
    header = json.loads(json.dumps(header))
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _nodes(header) if p]
        if not paths:
            break
        path = rng.choice(paths)
        parent = header
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        action = rng.random()
        if action < 0.7:
            parent[last] = copy.deepcopy(rng.choice(ODD_VALUES))
        elif isinstance(parent, dict):
            del parent[last]
        else:
            parent.append(copy.deepcopy(rng.choice(ODD_VALUES)))
    return header


def test_mutated_replies_end_in_a_message_or_a_protocol_failure():
    rng = random.Random(20261202)
    decoded = refused = 0
    for message in _replies():
        head, parts, _ = wire.encode_parts(protocol.encode(message, 3))
        header = json.loads(head[wire._PREFIX.size :])
        body = bytearray(b"".join(wire._host_view(p) for p in parts))
        for _ in range(400):
            bent = json.dumps(_mutate(header, rng)).encode()
            try:
                protocol.decode(wire.decode(bent, bytearray(body)))
                decoded += 1
            except (wire.WireError, protocol.ProtocolError):
                refused += 1
    # both outcomes occur: the mutations reach past the first check
    assert decoded > 50 and refused > 500, (decoded, refused)
