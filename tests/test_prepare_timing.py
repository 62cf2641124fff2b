"""The reference worker imports what timing needs (torch._dynamo for the flop counter, Inductor
for the compile baseline) while the candidate runs its correctness calls, not at the start of
the timing phase (5.0 s of L1/12's 16.8 s timing phase on an H100); a check that ends before
timing does not wait for it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import torch
from conftest import EXAMPLES, PROBLEMS

from kernelswarm.judge import check as check_module
from kernelswarm.judge.check import CheckConfig, check
from kernelswarm.judge.client import ReferenceClient, open_endpoint
from kernelswarm.judge.results import TimingOptions
from kernelswarm.judge.sandbox import Limits
from kernelswarm.protocol import Role
from kernelswarm.worker import reference


def test_the_reference_prepares_while_the_candidate_runs_and_what_fails_is_said(monkeypatch):
    events: list[str] = []
    real_import = reference.import_module

    def import_module(name: str, *args, **kwargs):  # the twin runs the worker's code here
        if name.startswith("torch._"):
            events.append(f"import {name}")
        if name == "torch._dynamo":
            raise ImportError("no dynamo on this machine")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(reference, "import_module", import_module)
    real_call = check_module.CandidateClient.call

    def call(self, *args, **kwargs):
        events.append("candidate call")
        return real_call(self, *args, **kwargs)

    monkeypatch.setattr(check_module.CandidateClient, "call", call)
    verdict = check(
        CheckConfig(
            problem=PROBLEMS / "matmul.py", candidate=EXAMPLES / "good" / "matmul_tiled.py",
            seed=3, in_process=True,
            timing=TimingOptions(budget_seconds=0.5, max_rounds=3, compile_baseline=False),
        )
    )  # fmt: skip
    assert verdict.verdict.value == "accepted", (
        [r.line() for r in verdict.reasons],
        verdict.timing and {  # what each side's calls took, alone and in blocks
            n: (t.median, t.first_visits, t.first_visit_median, t.repeat_median, t.samples)
            for n, t in verdict.timing.implementations.items()
        },
        verdict.timing and verdict.timing.warnings,
        [t.name for t in threading.enumerate()], torch.get_num_threads(),
    )  # fmt: skip
    assert events.index("import torch._dynamo") < events.index("candidate call")
    assert "import torch._inductor.compile_fx" not in events  # no compile baseline asked for
    # said, and the work still counted (the flop counter imports torch._dynamo itself)
    assert any("could not import torch._dynamo" in n for n in verdict.notes)
    assert verdict.timing is not None and verdict.timing.counts.flops > 0


def test_a_worker_still_at_a_request_is_killed_at_once_when_closed(tmp_path: Path):
    # A check rejected before timing closes a reference still importing: no 3 s of grace for a
    # goodbye it would read only when done.
    slow = tmp_path / "slow_problem.py"
    slow.write_text("import time\ntime.sleep(60)\n")
    ref = ReferenceClient(open_endpoint(Role.REFERENCE, "cpu", Limits(wall_seconds=120)))
    ref.start()
    ref.begin_load(str(slow), (), 0, None)
    time.sleep(0.5)
    started = time.monotonic()
    ref.endpoint.close()
    assert time.monotonic() - started < 2.0
