"""Shared fixtures: the repository's paths, and the `gpu` marker's skip rule."""

from __future__ import annotations

import os
from pathlib import Path

# Tests run side by side (pytest -n 2 on CI's two cores), each with worker processes: torch's
# intra-op pools of one thread per core in every one of them oversubscribe the cores, and each
# parallel op of a process then waits for a pool thread the scheduler has put off. On this 2-core
# machine beside a loop of tests/test_problem_suite.py, an honest in-process Python-loop matmul
# (17 ops a call) took ~100 ms a call for seconds at a time against 0.3 ms, and was rejected for
# memoisation (tests/test_prepare_timing.py, CI's flake); with one thread a process, eight checks
# of eight were accepted, lone calls within 10% of calls in blocks, 3-4 s each instead of 15-110
# s. Workers inherit the setting (the sandbox passes OMP_NUM_THREADS through). Not where tests
# run one at a time (the GPU machine's `pytest -m gpu`).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER") and os.environ["OMP_NUM_THREADS"] == "1":
    torch.set_num_threads(1)  # in case torch was loaded before the variable was set

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
PROBLEMS = EXAMPLES / "problems"


@pytest.hookimpl(trylast=True)  # after pytest-xdist's own, whose suffix it mends
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _keep_xdist_groups(config, items)
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (run on the GPU machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def _keep_xdist_groups(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--dist loadgroup`` sends a group to one worker by an ``@group`` suffix that pytest-xdist
    (3.8) writes into each test's old ``_nodeid`` field; pytest 9.2 keeps node ids in ``_id``, so
    the suffix was lost and grouped tests spread over both workers (pytest-xdist issue 1386):
    module fixtures built twice, Ray clusters side by side. Written where pytest 9.2 reads it,
    as pytest-xdist's pull request 1388 does; tests/test_xdist_groups.py shows it holds."""
    if not getattr(config.option, "loadgroup", False) or not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    for item in items:
        names = sorted(
            {str(m.args[0] if m.args else m.kwargs.get("name", "default"))
             for m in item.iter_markers("xdist_group")}
        )  # fmt: skip
        if names and "@" not in item.nodeid.rsplit("]", 1)[-1]:
            from _pytest.nodeid import NodeId  # pytest >= 9.2: the only case that gets here

            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(names)}")
