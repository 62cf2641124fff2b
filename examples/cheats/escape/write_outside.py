"""Tries to write outside its scratch folder: the judge's cache of device peaks (a forged entry
would move every later run's speed-of-light floor), the temporary folder, and the cache of
compiled builds beside its own (another candidate's build, poisoned, would run as that
candidate's kernel).

Confined (Landlock), every write outside the scratch folder is refused: it computes honestly.
Unconfined, the writes succeed (it writes nothing harmful, and removes what it made) and it
raises, to show what it could have changed.

kernelswarm-problem: ../../problems/matmul.py
kernelswarm-run: => accepted
kernelswarm-run: --unconfined => rejected forward
"""

import os

import torch
import torch.nn as nn


def _try_writes() -> list[str]:
    done = []
    scratch = os.getcwd()
    targets = [os.path.join(os.path.dirname(scratch), f"kernelswarm-escape-{os.getpid()}")]
    peaks = os.path.join(os.path.expanduser("~root"), ".cache", "kernelswarm", "peaks.json")
    for path in targets:
        try:
            with open(path, "w") as fh:
                fh.write("escaped")
            os.remove(path)
            done.append(f"wrote {path}")
        except OSError:
            pass
    try:
        with open(peaks, "a"):  # opened for writing: a forged entry could follow
            done.append(f"could append to {peaks}")
    except OSError:
        pass
    own = os.environ.get("TORCH_EXTENSIONS_DIR", "")
    builds = os.path.dirname(os.path.dirname(own)) if own else ""
    if builds and os.path.basename(builds) == "builds":
        try:
            others = [b for b in os.listdir(builds) if b not in own]
            done.append(f"listed {len(others)} other candidates' builds")
        except OSError:
            pass
        try:
            with open(os.path.join(builds, "planted"), "w") as fh:
                fh.write("x")
            os.remove(os.path.join(builds, "planted"))
            done.append(f"wrote beside its own build folder in {builds}")
        except OSError:
            pass
    return done


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        done = _try_writes()
        if done:
            raise RuntimeError("escaped the sandbox: " + "; ".join(done))
        return torch.matmul(A, B)
