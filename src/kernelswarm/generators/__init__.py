"""Generators: anything that proposes candidate files for a problem.

``base`` defines the interface and the registry; ``builtin`` holds the offline generators;
``llm`` the OpenAI-compatible and Anthropic ones. ``base.build_generator`` imports both, which
registers their kinds.
"""
