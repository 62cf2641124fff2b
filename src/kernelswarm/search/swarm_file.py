"""The swarm file (TOML): which generators, with which settings, under which budget.

Validated by a typed schema (``swarm_schema``: pydantic, strict — ``rounds = "3"`` is an
error, not a string that fails a minute later) before anything is measured; ``kernelswarm
schema`` prints its JSON Schema (also in ``docs/swarm.schema.json``) for editors and tools.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from kernelswarm.search.types import GeneratorConfig


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
    """Parse and validate a swarm TOML file (every error in it, each with its place)."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise SwarmFileError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise SwarmFileError(f"{path} is not text: {exc.reason}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SwarmFileError(f"{path} is not valid TOML: {exc}") from exc
    if not isinstance(data.get("generator"), list) or not data["generator"]:
        raise SwarmFileError(f"{path} defines no [[generator]] table")
    from pydantic import ValidationError

    from kernelswarm.search.swarm_schema import SwarmTable, explain

    try:
        table = SwarmTable.model_validate(data)
    except ValidationError as exc:
        raise SwarmFileError(explain(path, data, exc)) from None
    generators = tuple(GeneratorConfig(**g.model_dump()) for g in table.generator)
    return SwarmConfig(generators, Budget(**table.budget.model_dump()))
