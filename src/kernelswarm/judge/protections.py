"""Which protections this machine can give a worker, and what each worker may touch.

The protections (``worker/confine.py`` puts them in place, in the child):

* namespaces: user, PID (with a private ``/proc``: the worker sees only itself), mount, IPC and
  network (no network at all). Process 1 of the PID namespace is the worker: when it ends, the
  kernel kills whatever the candidate started, ``setsid`` or not;
* Landlock: reads only what Python, torch, the compilers and the GPU driver need, writes only to
  the worker's scratch directory (the reference worker also to the shared Inductor cache), a
  private ``/dev/shm`` and the devices it needs; signals and abstract sockets stay inside;
* resource limits: core dumps off, file size, open files, processes (as root the kernel does not
  enforce RLIMIT_NPROC: the judge then counts the namespace's tasks from outside, as it watches
  their memory);
* the judge itself is made non-dumpable, so no process of the same user can read its memory or
  its environment through ``/proc``.

``available()`` probes what works here, once per process, by starting a confined child that
reports what it can see and do. ``check`` refuses to run an untrusted candidate without all of
them, unless ``--unconfined`` is given (and then says so in the verdict).
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from kernelswarm.confinement import Confinement
from kernelswarm.protocol import Role

PR_SET_DUMPABLE = 4

#: what every worker may read: the system's programs and libraries, and a few files of /etc
SYSTEM_READ = (
    "/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin", "/opt", "/proc", "/sys", "/dev",
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/localtime",
    "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/hosts", "/etc/host.conf",
    "/etc/resolv.conf", "/etc/ssl", "/etc/ca-certificates", "/etc/os-release", "/etc/debian_version",
    "/etc/lsb-release", "/etc/gai.conf", "/etc/mime.types", "/etc/OpenCL", "/etc/vulkan",
    "/etc/nvidia", "/run/nvidia-persistenced",
)  # fmt: skip
#: devices a worker opens for writing and ioctl: the standard ones and NVIDIA's
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")


@dataclass(frozen=True)
class Protections:
    """What this machine gives a worker, as probed."""

    namespaces: bool
    private_proc: bool
    no_network: bool
    landlock_abi: int
    landlock_enforced: bool
    process_limit: bool  # RLIMIT_NPROC binds (not as root: the judge counts tasks instead)
    judge_non_dumpable: bool
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.problems

    def lines(self) -> list[tuple[str, bool, str]]:
        """(protection, active, detail) for ``doctor`` and the verdict."""
        return [
            ("user, PID, mount, IPC and network namespaces", self.namespaces, ""),
            ("private /proc (the worker sees only its own processes)", self.private_proc, ""),
            ("no network", self.no_network, ""),
            (
                "Landlock",
                self.landlock_enforced,
                f"ABI {self.landlock_abi}" if self.landlock_abi else "not in this kernel",
            ),
            (
                "process limit",
                True,
                "RLIMIT_NPROC"
                if self.process_limit
                else "counted by the judge (RLIMIT_NPROC does not bind root)",
            ),
            ("core dumps off, file size and open-file limits", True, ""),
            ("judge non-dumpable", self.judge_non_dumpable, ""),
        ]


def harden_judge() -> bool:
    """Make this process non-dumpable: no process of the same user can read its memory, its
    environment or its open files through /proc, nor attach a debugger."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) == 0


def _python_paths() -> list[str]:
    """Python's own folders, its packages, this package, PYTHONPATH and CUDA: not the script's
    folder or the working directory (where a results database or a key file may sit)."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths = set(prefixes)
    paths |= {
        p for p in sys.path if p and os.path.isdir(p) and any(p.startswith(pre) for pre in prefixes)
    }
    paths.add(str(Path(__file__).resolve().parents[2]))  # the folder holding kernelswarm/
    paths |= {
        os.path.abspath(p)
        for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
        if p and os.path.isdir(p)
    }
    cuda = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    if cuda:
        paths.add(cuda)
    return sorted(paths)


def _nvidia_devices() -> list[str]:
    try:
        return [f"/dev/{name}" for name in sorted(os.listdir("/dev")) if name.startswith("nvidia")]
    except OSError:
        return []


def spec_for(
    role: Role,
    scratch: Path,
    own_cache: Path | None,
    file_bytes: int,
    processes: int,
    gpu: bool = True,
) -> Confinement:
    """What one worker may touch: its scratch folder, and its own cache folder where it has one
    (the reference worker: the shared Inductor cache of problems' code; a candidate worker: the
    build folder of its own source). ``gpu=False``: no GPU device at all (a build step, which
    runs while another candidate may be timed on the GPU)."""
    # /proc/self: the worker's own entries in its own /proc (the CUDA driver writes there, on
    # an H200, and cannot start without it); nothing else of /proc, where root-owned files such
    # as sysrq-trigger would otherwise be within reach of a process whose outer user is root.
    write = [str(scratch), "/dev/shm", "/proc/self"]
    if own_cache is not None:
        write.append(str(own_cache))
    return Confinement(
        read=[*SYSTEM_READ, *_python_paths()],
        write=write,
        devices=[*DEVICES, *(_nvidia_devices() if gpu else [])],
        file_bytes=file_bytes,
        processes=processes,
    )


_PROBE = r"""
import json, os, socket, sys
from kernelswarm.worker.confine import landlock_abi
report = {"pid": os.getpid(), "visible": len([p for p in os.listdir("/proc") if p.isdigit()]),
          "landlock_abi": landlock_abi()}
try:
    socket.create_connection(("127.0.0.1", 9), timeout=1).close()
    report["network"] = True
except OSError:
    report["network"] = False
secret = sys.argv[1]
try:
    open(secret).read()
    report["read_outside"] = True
except OSError:
    report["read_outside"] = False
try:
    open(os.path.join(os.path.dirname(secret), "written"), "w").write("x")
    report["write_outside"] = True
except OSError:
    report["write_outside"] = False
print(json.dumps(report))
"""


@functools.cache
def available() -> Protections:
    """Probe, once per process, which protections a worker gets on this machine."""
    problems: list[str] = []
    dumpable = harden_judge()
    report: dict[str, object] = {}
    if not sys.platform.startswith("linux"):
        problems.append("not Linux: no namespaces, no Landlock")
    else:
        with tempfile.TemporaryDirectory(prefix="kernelswarm-probe-") as tmp:
            scratch, outside = Path(tmp) / "scratch", Path(tmp) / "outside"
            scratch.mkdir()
            outside.mkdir()
            (outside / "secret").write_text("judge's")
            spec = spec_for(Role.CANDIDATE, scratch, None, 1 << 20, 256)
            cmd = [sys.executable, "-m", "kernelswarm.worker.confine", spec.to_json(), "--",
                   sys.executable, "-c", _PROBE, str(outside / "secret")]  # fmt: skip
            env = {
                "PATH": os.environ.get("PATH", ""),
                "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            }
            try:
                done = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=60, env=env, cwd=scratch
                )
                report = (
                    json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}
                )
                if not report:
                    problems.append(
                        f"a confined worker could not start: {done.stderr.strip()[-300:]}"
                    )
            except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as exc:
                problems.append(f"a confined worker could not start: {exc}")
    namespaces = report.get("pid") == 1
    private_proc = namespaces and report.get("visible") == 1
    no_network = report.get("network") is False
    enforced = report.get("read_outside") is False and report.get("write_outside") is False
    for ok, what in ((namespaces, "namespaces"), (private_proc, "a private /proc"),
                     (no_network, "no network"), (enforced, "Landlock")):  # fmt: skip
        if report and not ok:
            problems.append(f"{what} not in force")
    abi = report.get("landlock_abi")
    return Protections(
        namespaces=namespaces,
        private_proc=private_proc,
        no_network=no_network,
        landlock_abi=abi if isinstance(abi, int) else 0,
        landlock_enforced=enforced,
        process_limit=os.getuid() != 0,
        judge_non_dumpable=dumpable,
        problems=problems,
    )
