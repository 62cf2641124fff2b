"""The cache of compiled builds: a candidate judged again is not rebuilt, and no candidate can
reach another's build."""

from __future__ import annotations

import pytest
from conftest import EXAMPLES, PROBLEMS

from kernelswarm.judge import builds
from kernelswarm.judge.check import CheckConfig, check


@pytest.fixture
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "kernelswarm" / "builds"


def test_the_key_follows_the_source(cache, tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n")
    b.write_text("x = 2\n")
    folder_a, reused = builds.folder_for(a, "cpu")
    assert not reused and folder_a.parent == cache
    assert builds.folder_for(a, "cuda")[0] != folder_a  # another device, another build
    assert builds.folder_for(b, "cpu")[0] != folder_a
    (folder_a / "triton" / "kernel").write_text("compiled")
    assert builds.folder_for(a, "cpu") == (folder_a, True)


@pytest.mark.slow
def test_a_load_inline_build_is_reused(cache):
    config = CheckConfig(PROBLEMS / "matmul.py", EXAMPLES / "good" / "matmul_cpp.py", seed=1)
    first = check(config)
    again = check(config)
    assert first.accepted and again.accepted
    assert first.phases and again.phases
    assert again.phases.loading_and_building < first.phases.loading_and_building / 5
    assert any("reused from the cache" in n for n in again.notes)
    assert len(list(cache.iterdir())) == 1


@pytest.mark.slow
def test_a_candidate_cannot_reach_another_s_build(cache):
    # The escape probe tries to list the builds beside its own and to write among them; it
    # raises if it can.
    probe = EXAMPLES / "cheats" / "escape" / "write_outside.py"
    check(CheckConfig(PROBLEMS / "matmul.py", EXAMPLES / "good" / "matmul_tiled.py", seed=1))
    verdict = check(CheckConfig(PROBLEMS / "matmul.py", probe, seed=1))
    assert verdict.accepted, [r.line() for r in verdict.reasons]
    assert not (cache / "planted").exists()
