"""Loading problem and candidate files unchanged, with size overrides."""

from __future__ import annotations

import pytest
import torch
from conftest import PROBLEMS

from kernelswarm.problem import Override, ProblemFileError, load_candidate_class, load_problem
from kernelswarm.variants import make_inputs


def test_loads_a_kernelbench_style_problem():
    prob = load_problem(PROBLEMS / "matmul.py")
    assert prob.model_class.__name__ == "Model"
    inputs = make_inputs(prob.get_inputs, 1, "base")
    assert [tuple(x.shape) for x in inputs] == [(256, 256), (256, 256)]


def test_override_changes_derived_globals(tmp_path):
    src = tmp_path / "p.py"
    src.write_text(
        "import torch\nimport torch.nn as nn\nclass Model(nn.Module):\n    def forward(self, x): return x\n"
        "dim = 8\ninput_shape = (dim,)\ndef get_inputs(): return [torch.rand(2, *input_shape)]\n"
        "def get_init_inputs(): return []\n"
    )
    prob = load_problem(src, [Override.parse("dim=3")])
    assert prob.module.input_shape == (3,)
    assert make_inputs(prob.get_inputs, 0, "base")[0].shape == (2, 3)


def test_override_of_unknown_name_is_refused():
    with pytest.raises(ProblemFileError, match="no top-level assignment"):
        load_problem(PROBLEMS / "matmul.py", [Override.parse("batch=4")])


@pytest.mark.parametrize("text", ["N", "N=", "1x=3", "N=torch.rand(3)"])
def test_malformed_override(text):
    with pytest.raises(ValueError):
        Override.parse(text)


def test_missing_functions_are_named():
    with pytest.raises(ProblemFileError, match="get_inputs"):
        load_problem(PROBLEMS / "missing_get_inputs.py")


def test_integer_inputs_keep_their_dtype():
    prob = load_problem(PROBLEMS / "cross_entropy.py")
    preds, targets = make_inputs(prob.get_inputs, 3, "heavy")
    assert preds.dtype == torch.float32 and targets.dtype == torch.int64


def test_candidate_without_modelnew(tmp_path):
    f = tmp_path / "c.py"
    f.write_text("x = 1\n")
    with pytest.raises(ProblemFileError, match="ModelNew"):
        load_candidate_class(f)
