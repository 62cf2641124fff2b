"""``kernelswarm export``: the winner as a module with a torch.library custom op that
torch.compile traces through, a drop-in ModelNew, and a self-test that can fail."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import EXAMPLES, PROBLEMS


def ks(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kernelswarm", *args], capture_output=True, text=True,
        timeout=300, cwd=cwd,
    )  # fmt: skip


def python(code_or_file: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    args = [code_or_file] if code_or_file.endswith(".py") else ["-c", code_or_file]
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def test_an_exported_winner_is_a_custom_op_compile_traces_through(tmp_path):
    proc = ks("export", "--winner", str(EXAMPLES / "good" / "matmul_tiled.py"),
              "--problem", str(PROBLEMS / "matmul.py"), "--out", str(tmp_path / "matmul_op.py"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "torch.ops.kernelswarm.matmul" in proc.stdout
    selftest = python("matmul_op.py", tmp_path)
    assert selftest.returncode == 0, selftest.stderr
    assert "matches the problem's model on cpu, eager and compiled" in selftest.stdout
    # dropped into a user's own model: the op is in the graph torch.compile captured
    use = python(
        "import torch, matmul_op\n"
        "seen = []\n"
        "def backend(gm, example_inputs):\n"
        "    seen.extend(str(n.target) for n in gm.graph.nodes)\n"
        "    return gm.forward\n"
        "class Mine(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.mm = matmul_op.ModelNew()\n"
        "    def forward(self, a, b):\n"
        "        return torch.relu(self.mm(a, b)) + 1\n"
        "a, b = torch.rand(64, 64), torch.rand(64, 64)\n"
        "out = torch.compile(Mine(), backend=backend, fullgraph=True)(a, b)\n"
        "torch.testing.assert_close(out, torch.relu(a @ b) + 1, rtol=1e-4, atol=1e-4)\n"
        "assert any('kernelswarm.matmul' in t for t in seen), seen\n"
        "print('in the graph')\n",
        tmp_path,
    )
    assert use.returncode == 0 and "in the graph" in use.stdout, use.stderr


def test_the_self_test_fails_on_a_wrong_winner(tmp_path):
    # the winner's header says where it came from; a wrong one must not pass its own test
    zeros = tmp_path / "zeros.py"
    zeros.write_text(
        '"""A wrong winner."""\nfrom __future__ import annotations\nimport torch, torch.nn as nn\n'
        "class ModelNew(nn.Module):\n    def forward(self, A, B):\n"
        "        return torch.zeros(A.shape[0], B.shape[1])\n"
    )
    proc = ks("export", "--winner", str(zeros), "--problem", str(PROBLEMS / "matmul.py"),
              "--out", str(tmp_path / "wrong_op.py"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr  # a docstring and a __future__ import: still a module
    selftest = python("wrong_op.py", tmp_path)
    assert selftest.returncode != 0 and "Mismatched elements" in selftest.stderr


def test_export_says_what_it_cannot_do(tmp_path):
    alone = ks("export", "--winner", str(EXAMPLES / "good" / "matmul_tiled.py"))
    assert alone.returncode == 2 and "--winner and --problem go together" in alone.stderr
    (tmp_path / "nomodel.py").write_text("x = 1\n")
    bad = ks("export", "--winner", str(tmp_path / "nomodel.py"), "--problem",
             str(PROBLEMS / "matmul.py"), "--out", str(tmp_path / "o.py"))  # fmt: skip
    assert bad.returncode == 2 and "defines no class ModelNew" in bad.stderr
    nodb = ks("export", "--db", str(tmp_path / "none.db"))
    assert nodb.returncode == 2 and "does not exist" in nodb.stderr
