"""Which Landlock rule keeps CUDA from starting in a confined worker (a diagnosis, run on a GPU
machine: PYTHONPATH=src python3 tools/diag_gpu_confine.py)."""

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, "src")
from kernelswarm.judge.protections import spec_for
from kernelswarm.protocol import Role

scratch = Path("/tmp/diag-scratch")
scratch.mkdir(exist_ok=True)
base = spec_for(Role.CANDIDATE, scratch, None, 1 << 30, 4096)
CHILD = """
import sys
from kernelswarm.confinement import Confinement
from kernelswarm.worker import confine
abi = int(sys.argv[2])
if abi:
    confine.landlock_abi = lambda: abi
confine.restrict_with_landlock(Confinement.from_json(sys.argv[1]))
import torch
print('cuda', torch.cuda.is_available(), float(torch.ones(3, device='cuda').sum()))
"""
variants = [
    ("write also /proc", replace(base, write=[*base.write, "/proc"]), 0),
    ("write also /sys", replace(base, write=[*base.write, "/sys"]), 0),
    ("write also /proc/self", replace(base, write=[*base.write, "/proc/self"]), 0),
    ("write also /dev", replace(base, write=[*base.write, "/dev"]), 0),
    (
        "read everything, write everything but /proc /sys",
        replace(
            base,
            read=["/"],
            write=[str(p) for p in Path("/").iterdir() if p.name not in ("proc", "sys")],
        ),
        0,
    ),
]
env = dict(os.environ, PYTHONPATH=str(Path("src").resolve()))
for label, spec, abi in variants:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, spec.to_json(), str(abi)],
        capture_output=True,
        text=True,
        env=env,
        cwd=scratch,
        timeout=120,
    )
    print(
        f"{label}: exit {out.returncode} {out.stdout.strip()[-80:]} {out.stderr.strip()[-160:]}",
        flush=True,
    )
