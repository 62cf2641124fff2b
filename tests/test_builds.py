"""The cache of compiled builds: a candidate judged again is not rebuilt, and no candidate can
reach another's build."""

from __future__ import annotations

import pytest
from conftest import EXAMPLES, PROBLEMS

from kernelswarm.judge import builds
from kernelswarm.judge.check import CheckConfig, check

#: A candidate whose "build" is a file it writes into its extensions folder at import, after
#: the few seconds a compiler would take: the build cache's scheduling without a minute of g++
#: (test_a_load_inline_build_is_reused keeps a real load_inline build).
QUICK_BUILD = """
import os, time
from pathlib import Path
import torch
import torch.nn as nn

_built = Path(os.environ["TORCH_EXTENSIONS_DIR"]) / "quick" / "quick.so"
if not _built.exists():
    time.sleep(3)
    _built.parent.mkdir(parents=True, exist_ok=True)
    _built.write_bytes(b"built")


class ModelNew(nn.Module):
    def forward(self, A, B):
        return A @ B
"""


@pytest.fixture
def quick_build(tmp_path):
    path = tmp_path / "quick_build.py"
    path.write_text(QUICK_BUILD)
    return path


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


def test_a_build_step_has_no_gpu_in_reach(monkeypatch, tmp_path):
    from kernelswarm.judge import protections
    from kernelswarm.protocol import Role

    monkeypatch.setattr(protections, "_nvidia_devices", lambda: ["/dev/nvidia0", "/dev/nvidiactl"])
    judging = protections.spec_for(Role.CANDIDATE, tmp_path, None, 1 << 20, 64)
    building = protections.spec_for(Role.CANDIDATE, tmp_path, None, 1 << 20, 64, gpu=False)
    assert "/dev/nvidia0" in judging.devices
    assert not any("nvidia" in d for d in building.devices)
    assert set(building.devices) < set(judging.devices)


def test_a_prebuilt_candidate_is_not_built_again_when_judged(cache, quick_build):
    from kernelswarm.judge.prebuild import prebuild

    candidate = quick_build
    done = prebuild(PROBLEMS / "matmul.py", candidate, "cpu")
    assert done.outcome == "built", done
    assert prebuild(PROBLEMS / "matmul.py", candidate, "cpu").outcome == "already built"
    verdict = check(CheckConfig(PROBLEMS / "matmul.py", candidate, seed=1))
    assert verdict.accepted
    assert any("reused from the cache" in n for n in verdict.notes)
    assert verdict.phases and verdict.phases.loading_and_building < done.seconds / 3


@pytest.mark.slow
def test_a_candidate_that_does_not_build_is_left_to_its_check(cache):
    from kernelswarm.judge.prebuild import prebuild

    done = prebuild(PROBLEMS / "matmul.py", EXAMPLES / "cheats" / "syntax_error.py", "cpu")
    assert done.outcome.startswith("did not build")
    verdict = check(CheckConfig(PROBLEMS / "matmul.py", EXAMPLES / "cheats" / "syntax_error.py"))
    assert verdict.verdict.value == "rejected"


def test_a_round_is_built_ahead_only_for_a_gpu(cache, quick_build):
    from kernelswarm.judge.prebuild import ToBuild, prebuilding

    candidate = quick_build
    todo = [ToBuild(PROBLEMS / "matmul.py", candidate)]
    said: list[str] = []
    with prebuilding(todo, "cpu", progress=said.append):  # a CPU check: no build competes
        pass
    assert not builds.folder_for(candidate, "cpu")[1] and not said
    # for a GPU check, built ahead (the build step needs no GPU: this C++ extension builds here)
    with prebuilding(todo, "cuda", progress=said.append):
        pass
    assert builds.folder_for(candidate, "cuda")[1]
    assert (builds.folder_for(candidate, "cuda")[0] / "torch-extensions" / "quick").is_dir()
    assert said and "built ahead of its check" in said[0]
