"""The winner as something to use: an importable module that registers its kernel as a
``torch.library`` custom op.

``kernelswarm export RUN`` (the run's fastest accepted candidate, from the store) or
``kernelswarm export --winner FILE --problem PROBLEM`` writes one Python file holding:

- the winning candidate's source, verbatim (Triton reads its kernels' source from a real file);
- ``torch.ops.kernelswarm.<name>``: a custom op over the forward's tensors, with a fake (meta)
  implementation that takes its output shapes from the problem's own PyTorch model on the meta
  device, so ``torch.compile`` traces through the kernel without a graph break;
- ``ModelNew``: a drop-in ``nn.Module`` (same constructor and forward as the problem's
  ``Model``) whose forward calls the op;
- a self-test: ``python <file>`` checks the op against the problem's model on fresh inputs,
  then runs it under ``torch.compile(fullgraph=True)``.
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass
from pathlib import Path

from kernelswarm import __version__


class ExportError(Exception):
    """The winner cannot be exported (the message says why)."""


@dataclass(frozen=True)
class Exported:
    path: Path
    op: str  # torch.ops.kernelswarm.<op>


def op_name(problem_name: str) -> str:
    """A valid op name from a problem's file name (``19_ReLU`` -> ``p19_relu``)."""
    name = re.sub(r"\W+", "_", problem_name).strip("_").lower() or "kernel"
    if name[0].isdigit():
        name = "p" + name
    return name + "_" if keyword.iskeyword(name) else name


def _check_source(source: str, what: str, needs: str) -> None:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ExportError(f"the {what} does not parse: line {exc.lineno}: {exc.msg}") from None
    names = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    if needs not in names:
        raise ExportError(f"the {what} defines no class {needs}")


TEMPLATE = '''"""{op}: a kernel found by kernelswarm, as a torch.library custom op.

Written by kernelswarm {version} from {origin}.
Use it in place of the problem's Model:

    from {module} import ModelNew
    model = ModelNew(*init_args)           # the same constructor as the problem's Model
    y = model(*inputs)                     # runs torch.ops.kernelswarm.{op}
    torch.compile(model)(*inputs)          # traces through the op (fake implementation)

Run this file to test it: python {module}.py
"""
{future}# ---- the winning candidate, verbatim -----------------------------------------------------
{winner}
# ---- the custom op -------------------------------------------------------------------------
import itertools as _itertools

import torch as _torch

_Winner = ModelNew  # the candidate's own class (ModelNew below wraps it)
_PROBLEM_SOURCE = {problem!r}


def _problem() -> dict:
    """The problem's own definitions (Model, get_inputs, get_init_inputs), plain PyTorch."""
    namespace: dict = {{"__name__": "kernelswarm_problem_{op}"}}
    exec(compile(_PROBLEM_SOURCE, "<problem {op}>", "exec"), namespace)
    return namespace


_INSTANCES: dict = {{}}  # handle -> the winner's module (its weights live there)
_SHAPES: dict = {{}}  # handle -> the problem's model on the meta device, for output shapes
_HANDLES = _itertools.count(1)


@_torch.library.custom_op("kernelswarm::{op}", mutates_args=())
def {op}(handle: int, inputs: list[_torch.Tensor]) -> list[_torch.Tensor]:
    out = _INSTANCES[handle](*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    # a custom op's outputs never alias its inputs or each other
    return [o.clone() if any(o is x for x in inputs) else o for o in outs]


@{op}.register_fake
def _(handle: int, inputs: list[_torch.Tensor]) -> list[_torch.Tensor]:
    with _torch.no_grad():
        out = _SHAPES[handle](*[_torch.empty_like(x, device="meta") for x in inputs])
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [inputs[0].new_empty(o.shape, dtype=o.dtype) for o in outs]


class ModelNew(_torch.nn.Module):
    """The problem's Model, with its forward run by torch.ops.kernelswarm.{op}."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.impl = _Winner(*args, **kwargs)
        self.handle = next(_HANDLES)
        _INSTANCES[self.handle] = self.impl
        with _torch.device("meta"):
            _SHAPES[self.handle] = _problem()["Model"](*args, **kwargs)

    def forward(self, *inputs):
        if not all(isinstance(x, _torch.Tensor) for x in inputs):
            raise TypeError("torch.ops.kernelswarm.{op} takes tensors only")
        outs = _torch.ops.kernelswarm.{op}(self.handle, list(inputs))
        return outs[0] if len(outs) == 1 else tuple(outs)


def self_test(device: str | None = None) -> None:
    """The op against the problem's own model on fresh inputs, then under torch.compile."""
    device = device or ("cuda" if _torch.cuda.is_available() else "cpu")
    problem = _problem()
    _torch.manual_seed(0)
    reference = problem["Model"](*problem["get_init_inputs"]()).to(device).eval()
    _torch.manual_seed(0)
    model = ModelNew(*problem["get_init_inputs"]()).to(device).eval()
    shared = {{k: v for k, v in reference.state_dict().items() if k in model.impl.state_dict()}}
    model.impl.load_state_dict(shared, strict=False)
    inputs = [x.to(device) if isinstance(x, _torch.Tensor) else x for x in problem["get_inputs"]()]
    with _torch.no_grad():
        want = reference(*inputs)
        got = model(*inputs)
        _torch.testing.assert_close(got, want, rtol=2e-2, atol=2e-2)
        compiled = _torch.compile(model, fullgraph=True)(*inputs)
        _torch.testing.assert_close(compiled, want, rtol=2e-2, atol=2e-2)
    print(f"kernelswarm::{op}: matches the problem's model on {{device}}, eager and compiled")


if __name__ == "__main__":
    self_test()
'''


def export_module(
    winner_source: str, problem_source: str, problem_name: str, out: Path, origin: str
) -> Exported:
    """Write the module (see the module's docstring); ``out`` is its file."""
    _check_source(winner_source, "winner", "ModelNew")
    _check_source(problem_source, "problem", "Model")
    if not out.name.endswith(".py") or not out.stem.isidentifier():
        raise ExportError(
            f"{out.name} is not an importable module name (letters, digits, _ and .py)"
        )
    op = op_name(problem_name)
    # ``from __future__`` must open a file: the winner's move above everything else
    future = re.findall(r"^from __future__ import .*$", winner_source, flags=re.M)
    winner = re.sub(r"^from __future__ import .*$", "", winner_source, flags=re.M)
    text = TEMPLATE.format(
        op=op, version=__version__, origin=origin, module=out.stem,
        winner=winner.rstrip() + "\n", problem=problem_source,
        future="".join(f"{line}\n" for line in future),
    )  # fmt: skip
    ast.parse(text)  # the module itself parses: a template bug is said here, not at import
    out.write_text(text)
    return Exported(out, f"torch.ops.kernelswarm.{op}")
