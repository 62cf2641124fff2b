"""How long a process's threads have waited for a core, as the Linux kernel counts it.

Read by the judge around each call timed alone (of every process of a worker), and by the worker
around the call itself: a call during which the threads waited long was stalled by the machine
(``judge.timing_checks.stalled``). Standard library only.
"""

from __future__ import annotations

import os


def run_queue_ns(pid: int | str = "self") -> int | None:
    """Nanoseconds the threads of process ``pid`` have spent runnable but waiting for a core
    (the second field of each thread's ``/proc/PID/task/TID/schedstat``); None where the kernel
    does not say (no such process, or no schedstat)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    total = 0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as fh:
                total += int(fh.read().split()[1])
        except FileNotFoundError:
            continue  # a thread that ended meanwhile
        except (OSError, ValueError, IndexError):
            return None
    return total
