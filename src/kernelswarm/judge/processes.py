"""The processes of one worker, seen from the judge: which they are, what they hold, and
stopping them all at once (Linux ``/proc``).

A confined worker is its launcher plus every process of the worker's own PID namespace (the
worker is process 1 there), whatever sessions the candidate made inside; an unconfined one is
its launcher's session.
"""

from __future__ import annotations

import contextlib
import os
import signal

from kernelswarm.schedstat import run_queue_ns

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _shared_memory(pid: int | str) -> int:
    """The resident shared memory (shmem, memfd) of a process, in bytes; 0 if unknown."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"RssShmem:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0
    return 0


def _stat(pid: int | str) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command name (field 3 onwards), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _pid_namespace(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


class ProcessTree:
    """Every process of one worker."""

    def __init__(self, launcher: int, confined: bool) -> None:
        self.launcher = launcher
        self.confined = confined
        self._namespace: str | None = None

    def _inner_namespace(self) -> str | None:
        """The PID namespace of the launcher's child (the worker), once it exists."""
        if self._namespace is None:
            try:
                with open(f"/proc/{self.launcher}/task/{self.launcher}/children") as fh:
                    children = fh.read().split()
            except OSError:
                return None
            namespace = _pid_namespace(children[0]) if children else None
            if namespace is not None and namespace != _pid_namespace(self.launcher):
                self._namespace = namespace
        return self._namespace

    def members(self) -> list[int]:
        namespace = self._inner_namespace() if self.confined else None
        found = [self.launcher]
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == self.launcher:
                continue
            if namespace is not None:
                if _pid_namespace(entry) == namespace:
                    found.append(int(entry))
            else:
                fields = _stat(entry)
                if fields is not None and int(fields[3]) == self.launcher:
                    found.append(int(entry))
        return found

    def usage(self) -> tuple[int, int]:
        """(resident bytes, tasks) of every member. Shared memory is left out: the channels'
        shared areas are mapped by the judge too, and are counted where they are filled."""
        rss = tasks = 0
        for pid in self.members():
            fields = _stat(pid)
            if fields is not None:
                rss += int(fields[21]) * _PAGE - _shared_memory(pid)
                tasks += int(fields[17])
        return rss, tasks

    def run_queue_ns(self) -> int | None:
        """Nanoseconds every thread of every member has waited for a core so far (the kernel's
        count, out of the worker's reach: a worker can make it grow, never shrink); None where
        the kernel keeps no such count."""
        total = 0
        for pid in self.members():
            waited = run_queue_ns(pid)
            if waited is None:
                if pid == self.launcher:
                    return None
                continue  # a process that ended meanwhile
            total += waited
        return total

    def signal(self, sig: signal.Signals) -> None:
        for pid in self.members():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def freeze(self) -> None:
        """Stop every process of the worker (it runs nothing until ``thaw``)."""
        self.signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.signal(signal.SIGCONT)
