"""The swarm file (TOML): which generators, with which settings, under which budget."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from kernelswarm.search.registry import API_KINDS, registered_kinds
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
    """Parse and validate a swarm TOML file."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise SwarmFileError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SwarmFileError(f"{path} is not valid TOML: {exc}") from exc
    tables = data.get("generator")
    if not isinstance(tables, list) or not tables:
        raise SwarmFileError(f"{path} defines no [[generator]] table")
    allowed = {f.name for f in fields(GeneratorConfig)}
    generators = []
    for i, table in enumerate(tables, start=1):
        where = f"{path}, generator {i}"
        if "api_key" in table:
            raise SwarmFileError(
                f"{where}: keys never live in the swarm file; name the variable with api_key_env"
            )
        missing = [k for k in ("name", "kind") if k not in table]
        if missing:
            raise SwarmFileError(f"{where}: missing {', '.join(missing)}")
        unknown = set(table) - allowed
        if unknown:
            raise SwarmFileError(
                f"{where}: unknown keys {', '.join(sorted(unknown))}; known: {', '.join(sorted(allowed))}"
            )
        if table["kind"] not in registered_kinds():
            raise SwarmFileError(
                f"{where}: unknown kind {table['kind']!r}; known: {', '.join(registered_kinds())}"
            )
        if table["kind"] in API_KINDS and not table.get("model"):
            raise SwarmFileError(f"{where}: kind {table['kind']!r} needs a model")
        generators.append(GeneratorConfig(**table))
    names = [g.name for g in generators]
    if len(set(names)) != len(names):
        raise SwarmFileError(f"{path}: generator names must be unique")
    budget_table = data.get("budget", {})
    unknown = set(budget_table) - {f.name for f in fields(Budget)}
    if unknown:
        raise SwarmFileError(f"{path}: unknown [budget] keys {', '.join(sorted(unknown))}")
    return SwarmConfig(tuple(generators), Budget(**budget_table))
