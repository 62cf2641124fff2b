"""Compiled builds kept between checks: one folder per candidate source and toolchain.

A ``load_inline`` extension (nvcc, a C++ compiler) takes a minute to build; Triton kernels and
Inductor graphs a few seconds each. A candidate judged again (the same file in another round,
another run, a suite rerun) finds its own builds where it left them: the folder's path is the
same every time, so torch's and ninja's own up-to-date checks hold and nothing is rebuilt.

Each folder belongs to exactly one candidate source (its key hashes the source, the toolchain
and the device): the candidate that fills it is the only one that ever runs with it, so no
candidate can poison another's build. Only that candidate's confined worker may write it
(Landlock); no worker can read or list the others.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
import platform
import shutil
import subprocess
from pathlib import Path

from kernelswarm.judge.floor import cache_path

#: the build folders a worker's compilers write to, by environment variable
FOLDERS = {
    "TORCH_EXTENSIONS_DIR": "torch-extensions",
    "TRITON_CACHE_DIR": "triton",
    "TORCHINDUCTOR_CACHE_DIR": "inductor",
}


def _first_line(cmd: list[str]) -> str:
    if shutil.which(cmd[0]) is None:
        return f"{cmd[0]}: absent"
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{cmd[0]}: {exc}"
    lines = [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]
    return lines[-1] if cmd[0] == "nvcc" and lines else (lines[0] if lines else "")


@functools.cache
def toolchain() -> str:
    """Everything a build depends on besides its source: Python, torch, CUDA, the compilers and
    the GPU model (read from the driver, without starting CUDA in the judge)."""
    import torch

    gpus = []
    for info in sorted(glob.glob("/proc/driver/nvidia/gpus/*/information")):
        try:
            with open(info) as fh:
                gpus += [line.split(":", 1)[1].strip() for line in fh if line.startswith("Model:")]
        except OSError:
            continue
    parts = [
        platform.python_version(), platform.machine(), torch.__version__, str(torch.version.cuda),
        _first_line(["c++", "--version"]), _first_line(["nvcc", "--version"]), ",".join(gpus),
        os.environ.get("TORCH_CUDA_ARCH_LIST", ""),
    ]  # fmt: skip
    return "|".join(parts)


def root() -> Path:
    return cache_path().parent / "builds"


def folder_for(candidate: Path, device: str) -> tuple[Path, bool]:
    """The build folder of this candidate here, and whether it already holds builds."""
    key = hashlib.sha256(
        candidate.read_bytes() + f"\0{device}\0{toolchain()}".encode()
    ).hexdigest()[:32]
    folder = root() / key
    reused = any(
        any((folder / sub).iterdir()) for sub in FOLDERS.values() if (folder / sub).is_dir()
    )
    for sub in FOLDERS.values():
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return folder, reused
