"""The swarm file's typed schema (pydantic, strict), and its errors in the file's own words.

Imported only when a swarm file is read or the schema printed: the judge and its workers never
need pydantic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kernelswarm.search.registry import API_KINDS, registered_kinds

_STRICT = ConfigDict(extra="forbid", strict=True)


class GeneratorTable(BaseModel):
    """One ``[[generator]]`` table."""

    model_config = _STRICT

    name: str = Field(min_length=1, description="unique within the file; names the attempts")
    kind: str = Field(description="builtin, openai, anthropic, or a kind another package registers")
    model: str = Field("", description="the model's name at its API (needed by API kinds)")
    base_url: str | None = Field(None, description="an OpenAI- or Anthropic-compatible endpoint")
    api_key_env: str | None = Field(
        None, min_length=1, description="the environment variable holding the key"
    )
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(8192, ge=1, le=1_000_000)
    price_per_input_token: float = Field(0.0, ge=0.0, description="dollars")
    price_per_output_token: float = Field(0.0, ge=0.0, description="dollars")
    backend: Literal["auto", "cuda", "triton", "cpp"] = "auto"
    proposals_per_round: int = Field(1, ge=1, le=64)
    timeout_seconds: float = Field(300.0, gt=0.0, le=86400.0)
    max_retries: int = Field(4, ge=0, le=20)
    options: dict[str, Any] = Field(default_factory=dict, description="passed to the generator")

    @model_validator(mode="before")
    @classmethod
    def _no_keys_here(cls, data: Any) -> Any:
        if isinstance(data, dict) and "api_key" in data:
            raise ValueError(
                "keys never live in the swarm file; name the variable with api_key_env"
            )
        return data

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in registered_kinds():
            raise ValueError(f"unknown kind {kind!r}; known: {', '.join(registered_kinds())}")
        return kind

    @field_validator("base_url")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https:// (got {url!r})")
        return url

    @model_validator(mode="after")
    def _api_needs_model(self) -> GeneratorTable:
        if self.kind in API_KINDS and not self.model:
            raise ValueError(f"kind {self.kind!r} needs a model")
        return self


class BudgetTable(BaseModel):
    """The ``[budget]`` table: the run stops at the first limit reached."""

    model_config = _STRICT

    rounds: int = Field(3, ge=1, le=1000)
    wall_seconds: float = Field(3600.0, gt=0.0)
    tokens: int = Field(2_000_000, ge=0)
    dollars: float = Field(20.0, ge=0.0)
    near_speed_of_light: float = Field(0.9, gt=0.0, le=1.0)
    min_gain: float = Field(1.02, ge=1.0, le=100.0)


class SwarmTable(BaseModel):
    """A whole swarm file."""

    model_config = ConfigDict(extra="forbid", strict=True, title="kernelswarm swarm file")

    generator: list[GeneratorTable] = Field(min_length=1)
    budget: BudgetTable = Field(default_factory=BudgetTable)

    @model_validator(mode="after")
    def _unique_names(self) -> SwarmTable:
        names = [g.name for g in self.generator]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"generator names must be unique ({', '.join(doubled)} repeated)")
        return self


def json_schema() -> str:
    """The swarm file's JSON Schema (``kernelswarm schema``; ``docs/swarm.schema.json``)."""
    return json.dumps(SwarmTable.model_json_schema(), indent=2, sort_keys=True) + "\n"


def _where(path: Path, data: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """An error's place in the file's own words: ``generator 2 (gpt): backend``."""
    words: list[str] = []
    if loc[:1] == ("generator",) and len(loc) > 1 and isinstance(loc[1], int):
        tables = data.get("generator") or []
        name = tables[loc[1]].get("name") if loc[1] < len(tables) else None
        words.append(f"generator {loc[1] + 1}" + (f" ({name})" if isinstance(name, str) else ""))
        loc = loc[2:]
    elif loc[:1] == ("budget",):
        words.append("[budget]")
        loc = loc[1:]
    words += [str(part) for part in loc]
    return f"{path}: " + (": ".join(words) if words else "the file")


def explain(path: Path, data: dict[str, Any], exc: ValidationError) -> str:
    """Every error of a swarm file, one line each, with its place."""
    lines = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "missing":
            message = "missing"
        elif "input" in error and error["type"] not in ("value_error",):
            message += f" (got {error['input']!r})"
        lines.append(f"{_where(path, data, tuple(error['loc']))}: {message}")
    return "\n".join(lines)
