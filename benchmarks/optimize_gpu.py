"""`kernelswarm optimize` on five built-in problems on a CUDA GPU (issue 5).

Each problem gets the built-in generator (the torch.compile configuration search) and, for four
of them, an OpenAI-compatible "model" served from loopback (tests/fake_llm.py) whose scripted
reply holds a real kernel from benchmarks/replies/: a 3xTF32 Triton matmul, a Triton softmax, a
fused Triton RMSNorm, a float4 CUDA GELU. One round each; every candidate is judged and timed
against eager and torch.compile. Writes one JSON per problem and a summary under --out.

Run on the GPU machine:  PYTHONPATH=src python3 benchmarks/optimize_gpu.py --out $OUT
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fake_llm import FakeModelServer  # noqa: E402

from kernelswarm.problem import declared_cpu_sizes  # noqa: E402

#: problem, scripted reply, sizes: the four largest run at an eighth of their default size
#: (inputs of 256 MiB, eager 0.2-0.7 ms on an H100): at full size each test is ~10 GiB on the
#: host and the judge's CPU-side comparisons take minutes per candidate (docs/benchmarks.md)
CASES = [
    ("level1/2_matmul_square", "matmul_tf32x3.py", ()),
    ("level1/5_softmax", "softmax_triton.py", ("rows=2048",)),
    ("level1/7_rmsnorm", "rmsnorm_triton.py", ("rows=8192",)),
    ("level1/8_gelu", "gelu_cuda.py", ("rows=4096",)),
    ("level2/6_layernorm_gelu_residual", None, ("rows=8192",)),
]


def run_case(
    problem: str,
    reply: str | None,
    sizes: tuple[str, ...],
    out: Path,
    work: Path,
    timeout: float,
    device: str,
) -> dict:
    name = problem.replace("/", "_")
    script = []
    if reply:
        code = (ROOT / "benchmarks" / "replies" / reply).read_text()
        script = [f"Here is a faster kernel.\n\n```python\n{code}```\n"]
    with FakeModelServer(script or ["no reply"]) as server:
        swarm = (
            '[[generator]]\nname = "compile-search"\nkind = "builtin"\nproposals_per_round = 3\n'
        )
        if reply:
            swarm += (f'\n[[generator]]\nname = "scripted-model"\nkind = "openai"\nmodel = "scripted"\n'
                      f'base_url = "{server.url}/v1"\napi_key_env = "SCRIPTED_KEY"\n')  # fmt: skip
        swarm_path = work / f"{name}.toml"
        swarm_path.write_text(swarm)
        cmd = [sys.executable, "-m", "kernelswarm", "optimize", str(ROOT / "problems" / f"{problem}.py"),
               "--swarm", str(swarm_path), "--device", device, "--rounds", "1", "--time-budget", "3",
               "--jobs", "2", "--out", str(work / name), "--db", str(work / "kernelswarm.db"),
               "--json", str(out / f"{name}.json")]  # fmt: skip
        if device == "cpu":  # a dry run of this script: the problems' small CPU sizes
            sizes = tuple(
                f"{o.name}={o.value}"
                for o in declared_cpu_sizes(ROOT / "problems" / f"{problem}.py")
            )
        for size in sizes:
            cmd += ["--set", size]
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout,
                env={**os.environ, "SCRIPTED_KEY": "local"},
            )  # fmt: skip
            stdout, stderr, failed = proc.stdout, proc.stderr, proc.returncode != 0
        except subprocess.TimeoutExpired as exc:
            partial = [b.decode(errors="replace") if isinstance(b, bytes) else (b or "")
                       for b in (exc.stdout, exc.stderr)]  # fmt: skip
            stdout, stderr, failed = partial[0], partial[1] + f"\ntimed out after {timeout} s", True
    (out / f"{name}.log").write_text(stdout + "\n--- stderr\n" + stderr)
    print(stdout[-3000:], stderr[-1500:] if failed else "", flush=True)
    path = out / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {"error": stderr[-2000:]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="out")
    parser.add_argument("--only", default="", help="comma-separated parts of problem names")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--timeout", type=float, default=480, help="seconds per problem")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = []
    with tempfile.TemporaryDirectory() as tmp:
        for problem, reply, sizes in CASES:
            if args.only and not any(part in problem for part in args.only.split(",")):
                continue
            result = run_case(problem, reply, sizes, out, Path(tmp), args.timeout, args.device)
            for winner_file in Path(tmp).glob(f"{problem.replace('/', '_')}/*.py"):
                (out / "winners").mkdir(exist_ok=True)
                shutil.copy(
                    winner_file,
                    out / "winners" / f"{problem.replace('/', '_')}__{winner_file.name}",
                )
            winner = result.get("winner") or {}
            summary.append({
                "problem": problem, "reply": reply, "sizes": sizes, "baselines": result.get("baselines"),
                "winner": winner.get("label") or winner.get("generator"),
                "speedup_over_faster_baseline": winner and min(winner["speedup_eager"]["median"],
                                                               winner["speedup_compile"]["median"]),
                "attempts": [(a["generator"], a["label"], a["verdict"], a["speedup_eager"], a["speedup_compile"])
                             for a in result.get("attempts", [])],
            })  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    for row in summary:
        print(json.dumps(row, default=str)[:600])


if __name__ == "__main__":
    main()
