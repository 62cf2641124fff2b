"""Getting the candidate out of a model's reply."""

from __future__ import annotations

from kernelswarm.search.extract import extract_candidate

GOOD = "import torch.nn as nn\n\nclass ModelNew(nn.Module):\n    def forward(self, x):\n        return x * 2\n"


def test_picks_the_block_that_defines_modelnew():
    reply = f"Here is a helper:\n```python\ndef f(): pass\n```\nand the kernel:\n```python\n{GOOD}```\nDone."
    source, note = extract_candidate(reply)
    assert source == GOOD and note == ""


def test_longest_of_several_definitions_and_other_fences():
    short = "class ModelNew: pass\n"
    reply = f"~~~py\n{short}~~~\n\n````python\n{GOOD}````\n```cuda\n__global__ void k() {{}}\n```"
    assert extract_candidate(reply)[0] == GOOD


def test_unfenced_reply_that_is_code():
    assert extract_candidate(GOOD)[0] == GOOD


def test_reasons_when_nothing_usable():
    assert extract_candidate("I cannot help with that.") == (None, "the reply holds no code block")
    source, note = extract_candidate("```python\nprint(1)\n```")
    assert source is None and "defines class ModelNew" in note


def test_broken_code_is_kept_with_a_note():
    source, note = extract_candidate("```python\nclass ModelNew(:\n    pass\n```")
    assert source is not None and "does not parse" in note
