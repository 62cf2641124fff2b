"""Generators: anything that proposes candidate files for a problem.

``base`` defines the interface and the registry; ``builtin`` holds the offline generators;
``llm`` the OpenAI-compatible and Anthropic ones. Importing this package registers them all.
"""

from kernelswarm.generators import builtin, llm  # noqa: F401  (registration by import)
from kernelswarm.generators.base import (
    Feedback,
    GenerationRequest,
    Generator,
    GeneratorConfig,
    Proposal,
    build_generator,
    registered_kinds,
)

__all__ = [
    "Feedback",
    "GenerationRequest",
    "Generator",
    "GeneratorConfig",
    "Proposal",
    "build_generator",
    "registered_kinds",
]
