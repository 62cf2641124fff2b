"""Load every KernelBench problem (levels 1-3) through kernelswarm and check its input variants.

What a clean run proves: every problem file loads unchanged with ``load_problem``, its Model
constructs from ``get_init_inputs()``, ``make_inputs(..., variant="base")`` returns its inputs
with integer/bool tensors still integer/bool and floating ones floating, and the variants
"shifted", "scaled" and "heavy" keep every shape, dtype and device while leaving integer/bool
tensors and Python scalars untouched. Forward is not run unless ``--forward`` is given (then
only for inputs under 5e6 elements in all). A file whose estimated peak memory (shapes taken on
the meta device, before anything is allocated) is over ``--max-gib`` is skipped with the reason
(it has still been loaded and its Model built on meta). Exit status 1 if any file failed.

Run (KernelBench is not part of this repo):
    python tools/kernelbench_load_all.py /path/to/KernelBench [--forward] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch

from kernelswarm.problem import load_problem
from kernelswarm.variants import make_inputs, seed_everything, transform_inputs

VARIANTS = ("shifted", "scaled", "heavy")
FORWARD_MAX_NUMEL = 5e6
SCALARS = (bool, int, float, complex)


def kind(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        if x.dtype == torch.bool:
            return "bool"
        return "float" if x.is_floating_point() else "complex" if x.is_complex() else "int"
    return "scalar" if isinstance(x, SCALARS) else type(x).__name__


def describe(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"{str(x.dtype).removeprefix('torch.')}{list(x.shape)}"
    return f"{type(x).__name__}={x!r}" if isinstance(x, SCALARS) else type(x).__name__


def nbytes(x: Any) -> int:
    return x.numel() * x.element_size() if isinstance(x, torch.Tensor) else 0


def estimate(problem: Any) -> tuple[float | None, list[Any] | None, str]:
    """Peak bytes of one file, from shapes drawn on the meta device (None: cannot tell)."""
    notes, params, inputs = [], 0, None
    try:
        with torch.device("meta"):
            model = problem.model_class(*problem.get_init_inputs())
        params = sum(nbytes(t) for t in [*model.parameters(), *model.buffers()])
    except Exception as exc:
        notes.append(f"model size unknown ({type(exc).__name__})")
    try:
        with torch.device("meta"):
            inputs = list(problem.get_inputs())
    except Exception as exc:
        return None, None, f"input size unknown ({type(exc).__name__})"
    floats = [x for x in inputs if kind(x) == "float"]
    # transform_inputs works in float64 on the host: up to 4 float64 temporaries of the largest
    # input at once, plus the transformed copies of all floating inputs.
    big = max((x.numel() * (32 + 2 * x.element_size()) for x in floats), default=0)
    peak = params + sum(map(nbytes, inputs)) + sum(map(nbytes, floats)) + big
    return peak, inputs, "; ".join(notes)


def same(x: Any, y: Any) -> bool:
    if isinstance(x, torch.Tensor):
        return y is x or (isinstance(y, torch.Tensor) and torch.equal(x, y))
    if isinstance(x, float) and math.isnan(x):
        return isinstance(y, float) and math.isnan(y)
    return type(y) is type(x) and y == x if isinstance(x, SCALARS) else y is x


def check_variant(base: list[Any], out: list[Any], variant: str, notes: list[str]) -> list[str]:
    if len(out) != len(base):
        return [f"{variant}: {len(out)} inputs, base has {len(base)}"]
    bad = []
    for i, (x, y) in enumerate(zip(base, out, strict=True)):
        if kind(x) == "float" and y is x and x.numel() > 1:
            notes.append(f"{variant}: float input {i} {describe(x)} left as is (categorical)")
        elif kind(x) == "float":
            layout = (x.shape, x.dtype, x.device)
            if not (isinstance(y, torch.Tensor) and (y.shape, y.dtype, y.device) == layout):
                bad.append(f"{variant}: input {i} {describe(x)} became {describe(y)}")
        elif not same(x, y):
            bad.append(f"{variant}: input {i} {describe(x)} ({kind(x)}) was changed")
    return bad


def run_file(path: Path, args: argparse.Namespace, rec: dict[str, Any]) -> None:
    problem = load_problem(path)
    peak, meta_inputs, note = estimate(problem)
    rec["estimate_gib"] = None if peak is None else round(peak / 2**30, 2)
    if note:
        rec["notes"].append(note)
    if peak is not None and peak > args.max_gib * 2**30:
        rec["inputs_on_meta"] = [describe(x) for x in meta_inputs or []]
        rec["status"] = "skipped"
        rec["reason"] = f"estimated peak {peak / 2**30:.1f} GiB > --max-gib {args.max_gib}"
        return
    seed_everything(0)
    model = problem.model_class(*problem.get_init_inputs())
    base = make_inputs(problem.get_inputs, seed=1, variant="base")
    rec["inputs"] = [describe(x) for x in base]
    rec["kinds"] = [kind(x) for x in base]
    problems = rec["problems"]
    if meta_inputs is not None and [kind(x) for x in meta_inputs] != rec["kinds"]:
        problems.append(f"base kinds {rec['kinds']} differ from get_inputs() on meta")
    for i, x in enumerate(base):
        if isinstance(x, torch.Tensor) and kind(x) not in ("float", "int", "bool"):
            problems.append(f"input {i} is a {describe(x)} tensor")
    for variant in VARIANTS:
        out = transform_inputs(base, variant, seed=1)
        problems.extend(check_variant(base, out, variant, rec["notes"]))
        del out
        gc.collect()
    if args.forward:
        numel = sum(x.numel() for x in base if isinstance(x, torch.Tensor))
        if numel < FORWARD_MAX_NUMEL:
            with torch.no_grad():
                rec["output"] = describe(model.eval()(*base))
        else:
            rec["notes"].append(f"forward not run: {numel:.3g} input elements")
    rec["status"] = "failed" if problems else "ok"
    if problems:
        rec["reason"] = "; ".join(problems)


def sort_key(path: Path) -> tuple[str, int, str]:
    m = re.match(r"\d+", path.name)
    return (str(path.parent), int(m.group()) if m else 1 << 30, path.name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("kernelbench", type=Path, help="the KernelBench folder (holds level1..3)")
    ap.add_argument("--forward", action="store_true", help="also run forward on small inputs")
    ap.add_argument("--json", type=Path, help="write the summary and per-file records here")
    ap.add_argument("--max-gib", type=float, default=8.0, help="skip files estimated above this")
    args = ap.parse_args()
    files = [
        p
        for level in ("level1", "level2", "level3")
        for p in sorted((args.kernelbench / level).rglob("*.py"), key=sort_key)
    ]
    if not files:
        sys.exit(f"no level1-3 .py files under {args.kernelbench}")
    records = []
    for n, path in enumerate(files, 1):
        rec: dict[str, Any] = {"file": str(path.relative_to(args.kernelbench)), "notes": []}
        rec["problems"] = []
        start = time.perf_counter()
        try:
            run_file(path, args, rec)
        except Exception as exc:
            last = traceback.extract_tb(exc.__traceback__)[-1]
            where = f"{Path(last.filename).name}:{last.lineno} in {last.name}: {last.line}"
            rec.update(status="failed", error=type(exc).__name__, where=where)
            rec["reason"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        rec["seconds"] = round(time.perf_counter() - start, 2)
        records.append(rec)
        gc.collect()
        detail = rec.get("reason") or " ".join(rec.get("inputs", []))
        status = f"[{n}/{len(files)}] {rec['status']:7} {rec['seconds']:6.1f}s"
        print(f"{status} {rec['file']}: {detail}", flush=True)
    kinds = [k for r in records for k in r.get("kinds", [])]
    summary = {
        "files": len(records),
        **{s: sum(r["status"] == s for r in records) for s in ("ok", "failed", "skipped")},
        "int_inputs": kinds.count("int"),
        "bool_inputs": kinds.count("bool"),
        "scalar_inputs": kinds.count("scalar"),
        "files_with_int_bool_or_scalar": [
            f"{r['file']}: {', '.join(r['inputs'])}"
            for r in records
            if {"int", "bool", "scalar"} & set(r.get("kinds", []))
        ],
        "notes": [f"{r['file']}: {note}" for r in records for note in r["notes"]],
        "failures": [f"{r['file']}: {r['reason']}" for r in records if r["status"] == "failed"],
        "skips": [f"{r['file']}: {r['reason']}" for r in records if r["status"] == "skipped"],
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "records": records}, indent=2))
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
