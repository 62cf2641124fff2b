"""What a confined worker may touch: the record the judge hands the worker's launcher.

Shared by both sides, and read by the launcher before anything else is imported: standard library
only. The judge builds it (``judge/protections.py``), the launcher applies it
(``worker/confine.py``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

#: where the judge gives the launcher its process id: the launcher kills its worker when that
#: process is gone (a judge killed outright runs none of its clean-up)
JUDGE_PID_VARIABLE = "KERNELSWARM_JUDGE_PID"


@dataclass(frozen=True)
class Confinement:
    """What a worker may touch. Paths are absolute; absent ones are skipped."""

    read: list[str] = field(default_factory=list)  # read and execute, recursively
    write: list[str] = field(default_factory=list)  # read, write, create, remove, recursively
    devices: list[str] = field(default_factory=list)  # character devices: read, write, ioctl
    processes: int = 4096  # RLIMIT_NPROC: tasks (threads too) of the worker's user
    open_files: int = 4096
    file_bytes: int = 8 << 30
    namespaces: bool = True
    landlock: bool = True
    #: the resource limits above set by the launcher (off for a worker run unconfined, which
    #: shares the user's process count and sets its own file limit)
    limits: bool = True

    @classmethod
    def watch_only(cls) -> Confinement:
        """No confinement at all (``--unconfined``): the launcher only ends the worker with its
        judge."""
        return cls(namespaces=False, landlock=False, limits=False)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Confinement:
        return cls(**json.loads(text))
