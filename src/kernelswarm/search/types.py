"""The generator interface and the records it exchanges with the supervisor.

A generator receives a ``GenerationRequest`` (the problem, the target backend, the device and
its peaks, the baselines and the floor, and its own history of earlier proposals with what the
judge said about them) and returns ``Proposal``s: candidate sources with what it cost to make
them. ``registry`` maps the swarm file's ``kind`` to the class that implements it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from kernelswarm.protocol import Peaks


@dataclass(frozen=True)
class GeneratorConfig:
    """One ``[[generator]]`` table of a swarm file, validated."""

    name: str
    kind: str
    model: str = ""
    base_url: str | None = None
    api_key_env: str | None = None
    temperature: float = 0.7
    max_tokens: int = 8192
    price_per_input_token: float = 0.0  # dollars
    price_per_output_token: float = 0.0
    backend: str = "auto"  # cuda, triton, cpp, auto
    proposals_per_round: int = 1
    timeout_seconds: float = 300.0
    max_retries: int = 4
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Feedback:
    """What the judge said about one earlier proposal, for the generator's next round."""

    round: int
    source: str
    verdict: str
    reasons: list[str]
    seconds: float | None = None
    speedup_eager: float | None = None
    speedup_compile: float | None = None
    sol_fraction: float | None = None


@dataclass(frozen=True)
class GenerationRequest:
    problem_source: str
    problem_name: str
    device: str
    device_name: str
    backend: str
    precision: str
    round: int
    peaks: Peaks | None = None
    baselines: dict[str, float] = field(default_factory=dict)  # eager, compile: seconds
    floor_seconds: float | None = None
    floor_explained: str = ""
    history: list[Feedback] = field(default_factory=list)


@dataclass(frozen=True)
class Proposal:
    generator: str
    source: str | None  # None: the reply held no usable code (see ``note``)
    note: str = ""
    prompt: str = ""
    reply: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    cached: bool = False
    label: str = ""  # e.g. the torch.compile configuration


class Generator(Protocol):
    config: GeneratorConfig

    def propose(self, request: GenerationRequest) -> list[Proposal]: ...
