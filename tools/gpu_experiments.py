"""Measurements on a CUDA machine that back statements in docs/validation.md.

1. The freed-memory cheat against a naive harness (reference and candidate in one process,
   KernelBench's tolerance): it passes there. kernelswarm never runs the reference in the
   candidate's process and poisons freed memory; the selftest shows it rejected.
2. Which conversion the GPU's TF32 matrix products use (round or truncate), to calibrate the
   CPU emulation of the tf32 policy.
3. How long `check` takes on a KernelBench-size problem.

Run on the GPU machine: PYTHONPATH=src python3 tools/gpu_experiments.py
"""

from __future__ import annotations

import subprocess
import sys
import time

import torch

from kernelswarm.precision import round_to_tf32


def naive_harness_freed_memory() -> None:
    torch.manual_seed(0)
    a = torch.rand(4096, 4096, device="cuda")
    b = torch.rand(4096, 4096, device="cuda")
    ref = torch.matmul(a, b)
    expected = ref.clone()
    del ref  # the reference's output goes back to the caching allocator
    cand = torch.empty(4096, 4096, device="cuda")  # the cheat: never written
    ok = torch.allclose(cand, expected, atol=1e-2, rtol=1e-2)
    print(f"[freed memory] naive same-process harness, atol=rtol=1e-2: cheat passes = {ok}")


def tf32_conversion() -> None:
    torch.manual_seed(0)
    for dist in (torch.rand, torch.randn):
        a = dist(4096, 4096, device="cuda")
        b = dist(4096, 4096, device="cuda")
        e = a.double() @ b.double()

        def rel(c: torch.Tensor, e: torch.Tensor = e) -> float:
            return float((c.double() - e).norm() / e.norm())

        torch.backends.cuda.matmul.allow_tf32 = False
        fp32 = rel(a @ b)
        torch.backends.cuda.matmul.allow_tf32 = True
        hw = rel(a @ b)
        torch.backends.cuda.matmul.allow_tf32 = False
        rounded = rel(round_to_tf32(a) @ round_to_tf32(b))
        truncated = rel(round_to_tf32(a, truncate=True) @ round_to_tf32(b, truncate=True))
        print(
            f"[tf32] {dist.__name__}: fp32 {fp32:.2e}  hardware tf32 {hw:.2e}  "
            f"emulated round {rounded:.2e}  emulated truncate {truncated:.2e}"
        )


def check_duration() -> None:
    cmd = [sys.executable, "-m", "kernelswarm", "check", "examples/problems/matmul.py",
           "examples/good/matmul_tiled.py", "--device", "cuda", "--set", "N=4096", "-q"]  # fmt: skip
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    print(f"[duration] check matmul N=4096 on cuda: {time.monotonic() - start:.1f} s, "
          f"exit {proc.returncode}: {proc.stdout.strip()[:300]}")  # fmt: skip


if __name__ == "__main__":
    print(torch.__version__, torch.cuda.get_device_name())
    naive_harness_freed_memory()
    tf32_conversion()
    check_duration()
