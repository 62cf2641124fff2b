"""The command-line contract: exit statuses 0/1/2 and the JSON verdict's keys."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from conftest import EXAMPLES, PROBLEMS, REPO


def run_check(*args, tmp_path):
    out = tmp_path / "verdict.json"
    proc = subprocess.run(
        [sys.executable, "-m", "kernelswarm", "check", *map(str, args), "--json", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    return proc, (json.loads(out.read_text()) if out.exists() else None)


@pytest.mark.slow
def test_accepted_exit_zero_with_evidence(tmp_path):
    proc, v = run_check(PROBLEMS / "matmul.py", EXAMPLES / "good" / "matmul_tiled.py", "--device", "cpu",
                        "--seed", "1234", "--no-timing", tmp_path=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert v["verdict"] == "accepted" and v["reasons"] == []
    assert v["seeds"]["master"] == 1234 and len(v["seeds"]["tests"]) >= 6
    assert {t["variant"] for t in v["tests"]} >= {"base", "shifted", "scaled", "heavy"}
    assert v["strong_tests"] >= 3
    call = v["calls"][0]["outputs"][0]
    assert call["normwise_error"] <= call["allowed_normwise"]
    assert "ACCEPTED" in proc.stdout


@pytest.mark.slow
def test_same_seed_reproduces_the_same_tests(tmp_path):
    a = run_check(PROBLEMS / "sum_rows.py", EXAMPLES / "good" / "sum_rows_tree.py", "--seed", "7", "--device",
                  "cpu", "--no-timing", tmp_path=tmp_path)[1]  # fmt: skip
    b = run_check(PROBLEMS / "sum_rows.py", EXAMPLES / "good" / "sum_rows_tree.py", "--seed", "7", "--device",
                  "cpu", "--no-timing", tmp_path=tmp_path)[1]  # fmt: skip
    assert a["seeds"] == b["seeds"]
    assert [c["outputs"][0]["normwise_error"] for c in a["calls"]] == [
        c["outputs"][0]["normwise_error"] for c in b["calls"]
    ]


def test_rejected_exit_one_with_reasons(tmp_path):
    proc, v = run_check(
        PROBLEMS / "matmul.py",
        EXAMPLES / "cheats" / "zeros.py",
        "--device",
        "cpu",
        tmp_path=tmp_path,
    )
    assert proc.returncode == 1
    assert v["verdict"] == "rejected"
    assert all(set(r) >= {"check", "detail"} for r in v["reasons"])
    assert v["reasons"][0]["check"] == "values"


@pytest.mark.parametrize(
    "args",
    [
        (PROBLEMS / "broken_syntax.py", EXAMPLES / "good" / "matmul_tiled.py"),
        (PROBLEMS / "missing_get_inputs.py", EXAMPLES / "good" / "matmul_tiled.py"),
        (PROBLEMS / "nope.py", EXAMPLES / "good" / "matmul_tiled.py"),
        (PROBLEMS / "matmul.py", EXAMPLES / "good" / "matmul_tiled.py", "--set", "N"),
        (PROBLEMS / "matmul.py", EXAMPLES / "good" / "matmul_tiled.py", "--set", "batch=3"),
    ],
    ids=[
        "syntax-error-problem",
        "missing-get_inputs",
        "missing-file",
        "bad-set",
        "unknown-set-name",
    ],
)
def test_could_not_judge_exit_two(args, tmp_path):
    proc, v = run_check(*args, "--device", "cpu", tmp_path=tmp_path)
    assert proc.returncode == 2, proc.stdout
    assert v["verdict"] == "error" and v["reasons"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu_is_exit_two(tmp_path):
    proc, v = run_check(PROBLEMS / "matmul.py", EXAMPLES / "good" / "matmul_tiled.py", "--device", "cuda",
                        tmp_path=tmp_path)  # fmt: skip
    assert proc.returncode == 2 and v["reasons"][0]["check"] == "arguments"
    assert "CUDA" in v["reasons"][0]["detail"]


def test_unknown_precision_is_a_usage_error(tmp_path):
    proc, _ = run_check(PROBLEMS / "matmul.py", EXAMPLES / "good" / "matmul_tiled.py", "--precision", "fp8",
                        tmp_path=tmp_path)  # fmt: skip
    assert proc.returncode == 2


@pytest.mark.slow
def test_set_scales_the_problem(tmp_path):
    proc, _v = run_check(PROBLEMS / "matmul.py", EXAMPLES / "good" / "matmul_tiled.py", "--set", "N=64",
                        "--device", "cpu", "--no-timing", tmp_path=tmp_path)  # fmt: skip
    assert proc.returncode == 0


def test_checks_command_lists_checks():
    proc = subprocess.run(
        [sys.executable, "-m", "kernelswarm", "checks"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "completion" in proc.stdout


LAYERNORM = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ln = nn.LayerNorm(d)

    def forward(self, x):
        return self.ln(x)


d = 64


def get_inputs():
    return [torch.randn(32, d)]


def get_init_inputs():
    return [d]
"""

IGNORES_AFFINE = """
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, d):
        super().__init__()

    def forward(self, x):
        return torch.nn.functional.layer_norm(x, x.shape[-1:])
"""


def test_parameters_initialised_to_one_value_are_named_in_the_verdict(tmp_path):
    # A known limit, stated rather than hidden: the judge uses the problem's weights as they
    # are, and a LayerNorm's are ones and zeros, so a kernel that ignores them passes. The
    # verdict says so (and `kernelswarm lint` reports such problems as constant-weights).
    (tmp_path / "problem.py").write_text(LAYERNORM)
    (tmp_path / "cand.py").write_text(IGNORES_AFFINE)
    _, v = run_check(tmp_path / "problem.py", tmp_path / "cand.py", "--device", "cpu",
                        "--no-timing", tmp_path=tmp_path)  # fmt: skip
    assert v["verdict"] == "accepted"
    assert any("ln.weight, ln.bias" in n and "cannot be told apart" in n for n in v["notes"])


CLOSURE_AND_FRESH_TENSORS = """
import torch
import torch.nn as nn


class Model(nn.Module):
    # Two habits of KernelBench's level 3: a lambda over a submodule (MiniGPT's mlpf) and a
    # tensor created inside forward with the default dtype (the LSTMs' h0).
    def __init__(self, d):
        super().__init__()
        self.fc = nn.Linear(d, d)
        fc = self.fc
        self.mlpf = lambda x: torch.relu(fc(x))

    def forward(self, x):
        mix = torch.eye(x.shape[-1], device=x.device) * 2.0
        return self.mlpf(x) @ mix


d = 48


def get_inputs():
    return [torch.randn(16, d)]


def get_init_inputs():
    return [d]
"""


def test_reference_in_float64_handles_closures_and_tensors_made_in_forward(tmp_path):
    (tmp_path / "problem.py").write_text(CLOSURE_AND_FRESH_TENSORS)
    (tmp_path / "cand.py").write_text(
        CLOSURE_AND_FRESH_TENSORS.replace("class Model(", "class ModelNew(")
    )
    proc, v = run_check(tmp_path / "problem.py", tmp_path / "cand.py", "--device", "cpu",
                        "--no-timing", tmp_path=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert v["verdict"] == "accepted"


def _usage_options() -> dict[str, set[str]]:
    """The options the README's usage lines promise, per command."""
    import re

    text = (REPO / "README.md").read_text()
    promised: dict[str, set[str]] = {}
    command = None
    for line in text.splitlines():
        start = re.match(r"kernelswarm (\w+) .*\[--", line)
        if start:
            command = start.group(1)
        elif not line.startswith(" " * 18):
            command = None
        if command:
            promised.setdefault(command, set()).update(re.findall(r"\[(--[\w-]+)", line))
    return promised


def test_every_option_the_readme_promises_exists():
    from typer.testing import CliRunner

    from kernelswarm.cli.app import app

    promised = _usage_options()
    assert set(promised) >= {"optimize", "check", "bench", "suite", "lint"}
    for command, options in promised.items():
        result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        missing = [o for o in options if o not in result.output]
        assert not missing, f"kernelswarm {command} lacks {missing}"
