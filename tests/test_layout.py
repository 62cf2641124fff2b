"""The house's rules, read from the code's own imports: which room may import which.

* ``worker/`` (the sandboxed child) imports only the shared vocabulary and itself, and at run
  time pulls in nothing beyond the standard library, torch and numpy;
* the shared vocabulary imports only itself; nothing imports upward or in a circle;
* ``judge/client.py`` is the only place where the judge builds a request;
* every protocol message is documented in docs/architecture.md.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import REPO

from kernelswarm import protocol

SRC = REPO / "src" / "kernelswarm"
SHARED = {
    "protocol",
    "plain",
    "wire",
    "problem",
    "precision",
    "variants",
    "tensors",
    "confinement",
    "cuda_ipc",
    "poison",
    "schedstat",
    "__init__",
}
#: each room, and the rooms it may import from (besides itself and the shared vocabulary)
MAY_IMPORT = {
    "shared": set(),
    "worker": set(),
    "judge": {"worker"},  # judge/twin.py only: checked below
    "store": {"judge"},
    "search": {"judge", "store"},
    "suite": {"judge", "store"},
    "lint": {"judge"},
    "runs": {"judge"},  # read-only over the store's file
    "export": set(),  # writes a module that needs only torch
    "catalog": set(),
    "report": {"judge", "search", "suite", "lint", "catalog", "store", "runs"},
    "cli": {"judge", "search", "suite", "lint", "catalog", "store", "report", "runs", "export"},
}


def _room(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "kernelswarm":
        return "outside"
    head = parts[1] if len(parts) > 1 else "__init__"
    if head == "__main__":
        return "cli"
    return "shared" if head in SHARED else head


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every kernelswarm module a file imports (at any depth of the file)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("kernelswarm")}
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("kernelswarm")
        ):
            # "from kernelswarm.worker import counting" imports the module kernelswarm.worker.counting
            folder = SRC.parent / node.module.replace(".", "/")
            modules = {a.name for a in node.names if (folder / f"{a.name}.py").exists()}
            found |= {f"{node.module}.{name}" for name in modules}
            if len(modules) < len(node.names):  # names defined in the module itself
                found.add(node.module)
    return found


FILES = sorted(SRC.rglob("*.py"))
GRAPH = {_module_name(p): _imports(p) for p in FILES}


def test_every_room_imports_only_what_it_may():
    wrong = []
    for module, imported in GRAPH.items():
        room = _room(module)
        for target in imported:
            other = _room(target)
            if other in (room, "shared"):
                continue
            if other not in MAY_IMPORT[room]:
                wrong.append(f"{module} -> {target}")
            elif room == "judge" and other == "worker" and module != "kernelswarm.judge.twin":
                wrong.append(f"{module} -> {target} (only judge/twin.py runs worker code)")
    assert not wrong, "imports across the house's lines:\n" + "\n".join(sorted(wrong))


def test_no_module_imports_in_a_circle():
    modules = set(GRAPH)

    def edges(m: str) -> set[str]:
        # a package import ("kernelswarm.judge") means its __init__, which imports nothing here
        return {t for t in GRAPH.get(m, set()) if t in modules and t != m}

    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(m: str, path: list[str]) -> bool:
        state[m] = 1
        for t in sorted(edges(m)):
            if state.get(t) == 1:
                cycle.extend([*path[path.index(t) :], m, t] if t in path else [m, t])
                return True
            if state.get(t) is None and visit(t, [*path, m]):
                return True
        state[m] = 2
        return False

    for m in sorted(modules):
        if state.get(m) is None and visit(m, []):
            break
    assert not cycle, "an import circle: " + " -> ".join(cycle)


def test_the_worker_runs_on_the_standard_library_torch_and_numpy():
    code = (
        "import sys\n"
        "import torch, numpy\n"
        "before = set(sys.modules)\n"
        "import kernelswarm.worker.main, kernelswarm.worker.reference, kernelswarm.worker.candidate\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "extra = sorted(m for m in new if m not in sys.stdlib_module_names and m not in "
        "('kernelswarm', 'torch', 'numpy', 'triton', '_distutils_hack') "
        "and not m.startswith('_sysconfigdata'))\n"
        "print(','.join(extra))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    # (triton is torch's own compiler: torch.utils.flop_counter imports it where installed)
    assert out.stdout.strip() == "", f"the worker imported {out.stdout.strip()}"


def _constructed(path: Path, names: set[str]) -> list[str]:
    hits = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            if name in names:
                hits.append(f"{path.relative_to(SRC)}:{node.lineno} {name}")
    return hits


REQUESTS = {
    "LoadReference", "LoadCandidate", "DrawTest", "DrawTimingSets", "AnswerTimingSet", "CountWork",
    "PrepareTiming",
    "Estimate", "Sensitivity", "MeasurePeaks", "StoreTimingSets", "Call", "Finish", "Ping",
    "Warmup", "Rewarm", "TimeBlock", "Escape", "FinalOutputs",
}  # fmt: skip


def test_requests_are_built_only_by_the_client():
    assert {cls.__name__ for cls in protocol.kinds().values()} >= REQUESTS
    built = [hit for p in FILES if p.name != "client.py" for hit in _constructed(p, REQUESTS)]
    assert not built, "requests built outside judge/client.py:\n" + "\n".join(built)
    # Exit is the endpoint's own goodbye, sent when a worker is closed (typer.Exit is not it)
    exits = [hit for p in FILES if "cli" not in p.parts for hit in _constructed(p, {"Exit"})]
    assert all(h.startswith("judge/sandbox.py") for h in exits), exits


def test_every_message_is_documented():
    doc = (REPO / "docs" / "architecture.md").read_text()
    missing = [cls.__name__ for cls in protocol.kinds().values() if f"`{cls.__name__}`" not in doc]
    assert not missing, f"docs/architecture.md does not describe {', '.join(missing)}"
