"""`kernelswarm lint`: each finding shown on a problem built to have it."""

from __future__ import annotations

from conftest import PROBLEMS

from kernelswarm.lint import Linter

UNUSED_INPUT = """
import torch, torch.nn as nn
class Model(nn.Module):
    def forward(self, x, y):
        return torch.relu(x) * 2
n = 64
KERNELSWARM_CPU_SIZES = {"n": 64}
def get_inputs():
    return [torch.randn(n, 256), torch.randn(n, 256)]
def get_init_inputs():
    return []
"""

DEAD_BIAS = '''
import torch, torch.nn as nn
class Model(nn.Module):
    """A bias followed by a training-mode BatchNorm: the normalisation subtracts it again."""
    def __init__(self, f):
        super().__init__()
        self.linear = nn.Linear(f, f)
        self.norm = nn.BatchNorm1d(f)
    def forward(self, x):
        return self.norm(self.linear(x))
f = 128
KERNELSWARM_CPU_SIZES = {"f": 128}
def get_inputs():
    return [torch.randn(256, f)]
def get_init_inputs():
    return [f]
'''


def kinds(result):
    return {f.kind for f in result.findings}


def test_clean_problem_has_no_findings():
    result = Linter().lint(
        (PROBLEMS.parent.parent / "problems" / "level1" / "6_layernorm.py").resolve()
    )
    assert result.findings == [] and result.checked_at == ["rows=128", "features=512"]


def test_near_constant_and_overhead_bound():
    result = Linter().lint(PROBLEMS / "layernorm_mean.py")
    assert {"near-constant", "overhead-bound"} <= kinds(result)


def test_weak_on_its_own_inputs():
    assert "weak-on-own-inputs" in kinds(Linter().lint(PROBLEMS / "relu.py"))


def test_unused_input_and_dead_weight(tmp_path):
    unused = tmp_path / "unused.py"
    unused.write_text(UNUSED_INPUT)
    result = Linter().lint(unused)
    assert "input-without-effect" in kinds(result)
    assert any("input 1" in f.detail for f in result.findings)
    dead = tmp_path / "dead.py"
    dead.write_text(DEAD_BIAS)
    result = Linter().lint(dead)
    assert any(
        f.kind == "weight-without-effect" and "linear.bias" in f.detail for f in result.findings
    )


def test_nondeterministic_problem():
    assert "nondeterministic" in kinds(Linter().lint(PROBLEMS / "dropout_linear.py"))


CONSTANT_NORM = '''
import torch, torch.nn as nn
class Model(nn.Module):
    """KernelBench's LayerNorm: weight 1 and bias 0 under every seed."""
    def __init__(self, f):
        super().__init__()
        self.norm = nn.LayerNorm(f)
    def forward(self, x):
        return self.norm(x)
f = 256
KERNELSWARM_CPU_SIZES = {"f": 256}
def get_inputs():
    return [torch.randn(64, f)]
def get_init_inputs():
    return [f]
'''


def test_constant_initialised_weights(tmp_path):
    path = tmp_path / "norm.py"
    path.write_text(CONSTANT_NORM)
    result = Linter().lint(path)
    assert kinds(result) == {"constant-weights", "overhead-bound"}, result.findings
    finding = next(f for f in result.findings if f.kind == "constant-weights")
    assert "norm.weight" in finding.detail and "norm.bias" in finding.detail


def test_a_linter_failure_is_that_file_s_finding(monkeypatch):
    linter = Linter()

    def fails(*args, **kwargs):
        raise SystemError("AST constructor recursion depth mismatch (before=27, after=24)")

    monkeypatch.setattr(linter, "_fit", fails)
    result = linter.lint(PROBLEMS / "matmul.py")
    errors = [f for f in result.findings if f.kind == "lint-error"]
    assert len(errors) == 1 and "SystemError" in errors[0].detail


def test_broken_files_are_findings_in_a_folder_and_alone(tmp_path):
    import subprocess
    import sys

    (tmp_path / "1_good.py").write_text(
        (PROBLEMS.parent.parent / "problems" / "level1" / "6_layernorm.py").read_text()
    )
    (tmp_path / "2_syntax.py").write_text("import torch\nclass Model(:\n")
    (tmp_path / "3_raises.py").write_text(
        "import torch, torch.nn as nn\nclass Model(nn.Module):\n    def __init__(self):\n"
        "        raise RuntimeError('broken on purpose')\n"
        "def get_inputs():\n    return [torch.randn(4)]\ndef get_init_inputs():\n    return []\n"
    )

    def lint(target):
        return subprocess.run(
            [sys.executable, "-m", "kernelswarm", "lint", str(target), "--json", "-"],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip

    folder = lint(tmp_path)
    assert folder.returncode == 1, folder.stderr
    import json

    by_name = {r["problem"].rsplit("/", 1)[-1]: r for r in json.loads(folder.stdout)}
    assert set(by_name) == {"1_good.py", "2_syntax.py", "3_raises.py"}  # none skipped in silence
    assert not by_name["1_good.py"]["findings"]
    assert by_name["2_syntax.py"]["findings"][0]["kind"] == "broken"
    assert "broken on purpose" in by_name["3_raises.py"]["findings"][0]["detail"]
    # the table a person reads lists every problem, the clean one too, findings first
    rows = [line for line in folder.stderr.splitlines() if line.startswith("│")]
    named = [name for line in rows for name in by_name if name in line]
    assert named[-1] == "1_good.py" and set(named) == set(by_name), folder.stderr
    assert "none" in next(line for line in rows if "1_good.py" in line)
    alone = lint(tmp_path / "2_syntax.py")
    assert alone.returncode == 1 and json.loads(alone.stdout)[0]["findings"]
