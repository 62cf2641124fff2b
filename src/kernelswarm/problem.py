"""Loading KernelBench-format problem and candidate files.

A problem file defines ``class Model(nn.Module)``, ``get_inputs()`` and ``get_init_inputs()``;
a candidate file defines ``class ModelNew(nn.Module)`` with the same constructor and forward.
Files are loaded unchanged. Size overrides (``--set batch_size=4096``) are applied by rewriting
the top-level assignment in the syntax tree before the file runs, so that globals derived from
the overridden one (``input_shape = (dim,)``) follow it.

Optional kernelswarm additions a problem file may carry (plain KernelBench files need none):
  KERNELSWARM_VARIANTS = ("base", "scaled")   # restrict the input variants the judge uses

This module runs inside the sandboxed worker: standard library only.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import threading
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PARSE_LOCK = threading.Lock()


def parse_python(source: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse``, one thread at a time: CPython 3.11 can fail parses made concurrently
    ("SystemError: AST constructor recursion depth mismatch"), as `lint --jobs 2` and the
    swarm's threads did."""
    with _PARSE_LOCK:
        return ast.parse(source, filename=filename)


class ProblemFileError(Exception):
    """The file cannot be used as a problem or candidate (the message says why)."""


@dataclass(frozen=True)
class Override:
    """One ``NAME=VALUE`` size override."""

    name: str
    value: Any

    @classmethod
    def parse(cls, text: str) -> Override:
        name, sep, raw = text.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ValueError(f"expected NAME=VALUE, got {text!r}")
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError) as exc:
            raise ValueError(f"value of {name} is not a Python literal: {raw!r}") from exc
        return cls(name, value)


def _apply_overrides(tree: ast.Module, overrides: list[Override]) -> set[str]:
    """Replace the value of top-level ``NAME = ...`` assignments; return the names replaced."""
    wanted = {o.name: o.value for o in overrides}
    done: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in wanted:
                node.value = ast.copy_location(ast.Constant(wanted[target.id]), node.value)
                done.add(target.id)
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id in wanted
            and node.value is not None
        ):
            node.value = ast.copy_location(ast.Constant(wanted[node.target.id]), node.value)
            done.add(node.target.id)
    return done


def load_module(
    path: str | Path, module_name: str, overrides: list[Override] | None = None
) -> tuple[types.ModuleType, set[str]]:
    """Execute a Python file as a fresh module; return it and the override names it had.

    The module is registered in ``sys.modules`` under ``module_name`` because Triton,
    torch.compile and pickling look modules up there.
    """
    path = Path(path).resolve()
    try:
        source = path.read_text()
    except OSError as exc:
        raise ProblemFileError(f"cannot read {path}: {exc.strerror}") from exc
    tree = parse_python(source, filename=str(path))  # SyntaxError propagates with its location
    applied = _apply_overrides(tree, overrides or [])
    code = compile(tree, str(path), "exec")
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None:
        raise ProblemFileError(f"cannot create a module for {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    exec(code, module.__dict__)
    return module, applied


@dataclass(frozen=True)
class ProblemModule:
    """The three things a problem file must provide, validated."""

    module: types.ModuleType
    model_class: type
    get_inputs: Any
    get_init_inputs: Any
    variants: tuple[str, ...] | None


def load_problem(path: str | Path, overrides: list[Override] | None = None) -> ProblemModule:
    """Load a KernelBench problem file and check it has Model, get_inputs, get_init_inputs."""
    module, applied = load_module(path, "kernelswarm_problem", overrides)
    missing_overrides = {o.name for o in overrides or []} - applied
    if missing_overrides:
        names = ", ".join(sorted(missing_overrides))
        raise ProblemFileError(f"--set names no top-level assignment in the problem file: {names}")
    missing = [n for n in ("Model", "get_inputs", "get_init_inputs") if not hasattr(module, n)]
    if missing:
        raise ProblemFileError(f"problem file defines no {', '.join(missing)}")
    if not isinstance(module.Model, type):
        raise ProblemFileError("Model in the problem file is not a class")
    variants = getattr(module, "KERNELSWARM_VARIANTS", None)
    if variants is not None:
        variants = tuple(str(v) for v in variants)
    return ProblemModule(module, module.Model, module.get_inputs, module.get_init_inputs, variants)


def load_candidate_class(path: str | Path, overrides: list[Override] | None = None) -> type:
    """Load a candidate file and return its ModelNew class."""
    module, _ = load_module(path, "kernelswarm_candidate", overrides)
    cls = getattr(module, "ModelNew", None)
    if cls is None:
        raise ProblemFileError("candidate file defines no class ModelNew")
    if not isinstance(cls, type):
        raise ProblemFileError("ModelNew in the candidate file is not a class")
    return cls


def _tree(path: str | Path) -> ast.Module | None:
    """A file's syntax tree, not run; None where it cannot be read or parsed."""
    try:
        return parse_python(Path(path).read_text())
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None


def settable_globals(path: str | Path) -> set[str] | None:
    """The names ``--set`` can change in a problem file (its top-level ``NAME = ...``), or None
    where the file cannot be read or parsed (its own failure is reported elsewhere)."""
    tree = _tree(path)
    if tree is None:
        return None
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            if isinstance(node.targets[0], ast.Name):
                names.add(node.targets[0].id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            names.add(node.target.id)
    return names


def size_globals(path: str | Path) -> dict[str, int | None]:
    """Top-level integer assignments of a problem file, the sizes a user can scale with --set:
    each name with its value, or None where it is an expression (``n = 2**20``)."""
    tree = _tree(path)
    if tree is None:
        return {}
    found: dict[str, int | None] = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant | ast.BinOp)
        ):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                value = None
            if value is None or (isinstance(value, int) and not isinstance(value, bool)):
                found[node.targets[0].id] = value
    return found


def declared_cpu_sizes(path: str | Path) -> list[Override]:
    """The problem's optional ``KERNELSWARM_CPU_SIZES`` dict, read without running the file."""
    tree = _tree(path)
    if tree is None:
        return []
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "KERNELSWARM_CPU_SIZES"
        ):
            try:
                sizes = ast.literal_eval(node.value)
            except ValueError:
                return []
            if isinstance(sizes, dict):
                return [Override(str(k), v) for k, v in sizes.items()]
    return []


def may_be_problem(path: str | Path) -> bool:
    """Whether a suite keeps a file: it defines Model, get_inputs and get_init_inputs at top
    level (read, not run), or it does not even parse (a broken problem is judged, and says why,
    rather than skipped in silence)."""
    tree = _tree(path)
    if tree is None:
        return True
    names = {n.name for n in tree.body if isinstance(n, ast.ClassDef | ast.FunctionDef)}
    return {"Model", "get_inputs", "get_init_inputs"} <= names
