"""Why does a 3x3 conv run 3x faster in a plain process than in kernelswarm's worker?

Times the same convolution (problems/level1/9_conv2d.py's shape) with default flags, with
kernelswarm's strict flags, and inside a subprocess with the worker's scrubbed environment, and
prints the environment variables that can change cuDNN's precision.
Run on the GPU machine: PYTHONPATH=src python3 tools/conv_diagnose.py
"""

from __future__ import annotations

import os
import subprocess
import sys

import torch

CODE = r"""
import statistics, torch
torch.backends.cudnn.allow_tf32 = {tf32}
torch.backends.cuda.matmul.allow_tf32 = False
conv = torch.nn.Conv2d(64, 128, 3, padding=1).cuda()
x = torch.randn(64, 64, 128, 128, device="cuda")
with torch.no_grad():
    for _ in range(5): conv(x)
    times = []
    for _ in range(20):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record(); conv(x); e.record(); torch.cuda.synchronize(); times.append(s.elapsed_time(e))
print(f"{label}: {{statistics.median(times):.3f}} ms (cudnn.allow_tf32={{torch.backends.cudnn.allow_tf32}})")
"""


def run(label: str, tf32: bool, env: dict[str, str]) -> None:
    code = CODE.format(tf32=tf32, label=label)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    print(out.stdout.strip() or out.stderr[-500:])


if __name__ == "__main__":
    keys = [
        k for k in os.environ if any(w in k for w in ("TF32", "CUDNN", "NVIDIA", "TORCH", "CUBLAS"))
    ]
    print("environment:", {k: os.environ[k] for k in keys})
    print("torch", torch.__version__, "cudnn", torch.backends.cudnn.version())
    run("default flags, full environment", True, dict(os.environ))
    run("strict flags, full environment", False, dict(os.environ))
    import tempfile
    from pathlib import Path

    from kernelswarm.judge.sandbox import worker_env

    scrubbed = worker_env(Path(tempfile.mkdtemp()))
    run("default flags, worker environment", True, scrubbed)
    run("strict flags, worker environment", False, scrubbed)
