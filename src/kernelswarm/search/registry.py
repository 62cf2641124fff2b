"""The kinds of generator a swarm file may name, each loaded only when a swarm uses it.

A kind maps to ``module:Class``; the class is imported when a generator of that kind is built,
so naming the kinds costs no import (the API SDKs are heavy) and ties no module to another.
Another package can add a kind with ``register``.
"""

from __future__ import annotations

import importlib
from typing import Any

from kernelswarm.search.types import Generator, GeneratorConfig

_KINDS: dict[str, str] = {
    "builtin": "kernelswarm.search.builtin:CompileSearch",
    "openai": "kernelswarm.search.llm:OpenAIGenerator",
    "anthropic": "kernelswarm.search.llm:AnthropicGenerator",
}
#: kinds that call a model's API and so need a model name
API_KINDS = frozenset({"openai", "anthropic"})


def register(kind: str, target: str) -> None:
    """Make ``kind`` build ``target`` (``module:Class``, constructed as ``Class(config, context)``)."""
    module, sep, name = target.partition(":")
    if not sep or not module or not name.isidentifier():
        raise ValueError(f"a generator kind's target is 'module:Class', not {target!r}")
    _KINDS[kind] = target


def registered_kinds() -> list[str]:
    return sorted(_KINDS)


def build_generator(config: GeneratorConfig, context: Any = None) -> Generator:
    try:
        target = _KINDS[config.kind]
    except KeyError:
        raise ValueError(
            f"generator {config.name!r}: unknown kind {config.kind!r}; known kinds: {', '.join(registered_kinds())}"
        ) from None
    module, _, name = target.partition(":")
    factory = getattr(importlib.import_module(module), name)
    generator: Generator = factory(config, context)
    return generator
