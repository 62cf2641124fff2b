"""Getting a candidate file out of a model's reply.

Replies hold prose and several fenced code blocks (the kernel, a usage example, a diff). The
candidate is the block that defines ``class ModelNew``; among several, the longest (the complete
file rather than an excerpt). A reply with no fence at all is taken as code if it parses and
defines ``ModelNew``.
"""

from __future__ import annotations

import re

from kernelswarm.problem import parse_python

_FENCE = re.compile(
    r"^(`{3,}|~{3,})[ \t]*([\w+.-]*)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL
)
_MODEL_NEW = re.compile(r"^class\s+ModelNew\b", re.MULTILINE)


def code_blocks(reply: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block, in order."""
    return [(m.group(2).lower(), m.group(3)) for m in _FENCE.finditer(reply)]


def extract_candidate(reply: str) -> tuple[str | None, str]:
    """(source, note): the candidate file in a reply, or None with the reason."""
    blocks = code_blocks(reply)
    python = [body for lang, body in blocks if lang in ("", "python", "py", "python3")]
    defining = [body for body in python if _MODEL_NEW.search(body)]
    if not defining and not blocks and _MODEL_NEW.search(reply):
        defining = [reply]
    if not defining:
        if not blocks:
            return None, "the reply holds no code block"
        return None, f"none of the reply's {len(blocks)} code blocks defines class ModelNew"
    source = max(defining, key=len).strip() + "\n"
    try:
        parse_python(source)
    except SyntaxError as exc:
        # Kept: the judge reports the syntax error to the generator with its line number.
        return source, f"the extracted code does not parse (line {exc.lineno}: {exc.msg})"
    return source, ""
