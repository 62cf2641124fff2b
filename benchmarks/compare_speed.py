"""How fast the judge compares an output with its float64 answers (``Tolerance.check``).

``python benchmarks/compare_speed.py [ELEMENTS] [DEVICE]`` (default 50,000,000 on the CPU): a
float32 output of that many elements against its float64 answer under the strict policy, once
passing, once with one element off (a failure, with its words), and the strength probes' question
(``Tolerance.passes``) for zeros, which a strong test settles at its first piece. On a GPU,
also with the answers held on the host (as the judge holds tests where the GPU is full): the
output compared on the GPU, the answers brought there piece by piece.
"""

from __future__ import annotations

import sys
import time

import torch

from kernelswarm.judge.compare import Tolerance
from kernelswarm.precision import POLICIES

n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000_000
device = sys.argv[2] if len(sys.argv) > 2 else "cpu"
torch.manual_seed(0)
e = torch.randn(n, dtype=torch.float64, device=device)
w = e.float()
tol = Tolerance(e, w, None, POLICIES["strict"], None, None, 2.0)
off = w.clone()
off[n // 3] += 1e-3


def timed(what: str, work) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = work()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    print(f"{what:40s} {time.perf_counter() - start:7.3f} s  {result}")


print(f"{n} elements on {device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
timed("a passing output", lambda: tol.check(w).passed)
timed("one element off", lambda: tol.check(off).passed)
timed(
    "probe: zeros, in pieces",
    lambda: tol.passes(
        lambda: torch.zeros_like(w),
        lambda a, b: torch.zeros(b - a, dtype=w.dtype, device=device),
    ),
)
if device.startswith("cuda"):
    tol.to_host()
    timed("answers on the host, a passing output", lambda: tol.check(w).passed)
    timed("answers on the host, one element off", lambda: tol.check(off).passed)
