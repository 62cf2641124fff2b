"""Starting, talking to, and stopping worker processes — and explaining how they failed.

Each worker is a fresh Python process in its own session and process group, with an
allow-listed environment (no variable that looks like a key or token survives), a private
scratch directory as working directory and as the home of every compiler cache (torch
extensions, Triton, Inductor), a wall-clock limit after which the whole group is killed, and a
memory limit watched from here. Its standard output and error go to a log file; the facts it
reports travel on a pipe in a format that cannot execute code when read (see ``wire``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernelswarm import wire

#: environment variables a worker may inherit (anything naming a secret is dropped regardless)
ALLOWED_ENV = frozenset(
    {
        "PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TERM", "TZ", "USER", "LOGNAME",
        "PYTHONPATH", "VIRTUAL_ENV", "LD_LIBRARY_PATH", "CC", "CXX", "CUDA_HOME", "CUDA_PATH",
        "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "TORCH_CUDA_ARCH_LIST", "NVCC_PREPEND_FLAGS",
        "NVCC_APPEND_FLAGS", "TRITON_INTERPRET", "TRITON_PTXAS_PATH", "OMP_NUM_THREADS",
        "MKL_NUM_THREADS", "NCCL_NVLS_ENABLE", "TORCH_SYMM_MEM_DISABLE_MULTICAST",
        "NVSHMEM_DISABLE_NVLS",
    }
)  # fmt: skip
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION", re.IGNORECASE)
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def physical_memory_bytes() -> int:
    """This machine's memory (16 GiB where the system will not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 16 << 30


def _default_memory_bytes() -> int:
    return min(32 << 30, int(physical_memory_bytes() * 0.6))


@dataclass(frozen=True)
class Limits:
    """Resource limits for one worker process."""

    wall_seconds: float = 300.0
    memory_bytes: int = field(default_factory=_default_memory_bytes)
    file_bytes: int = 8 << 30


@dataclass(frozen=True)
class Failure:
    """Why a worker did not answer as asked, in a form a person can act on."""

    kind: str  # syntax, import, compile, exception, out_of_memory, cuda_error, exit, crash, timeout, memory_limit, early_exit, protocol
    phase: str
    owner: str  # whose code was running: problem, candidate or harness
    detail: str
    traceback: str = ""
    log_tail: str = ""


class WorkerError(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.detail)
        self.failure = failure


def worker_env(scratch: Path) -> dict[str, str]:
    """The environment a worker gets: allow-listed, secrets dropped, caches inside scratch."""
    env = {k: v for k, v in os.environ.items() if k in ALLOWED_ENV and not SECRET_NAME.search(k)}
    # Named so that none can pass for a module: the scratch folder is the worker's working
    # directory, and an empty "triton" folder there was imported as Triton where Triton is not
    # installed (torch then took Triton for available and failed).
    caches = {
        "HOME": "ks-home", "TMPDIR": "ks-tmp", "TORCH_EXTENSIONS_DIR": "ks-torch-extensions",
        "TRITON_CACHE_DIR": "ks-triton-cache", "TORCHINDUCTOR_CACHE_DIR": "ks-inductor-cache",
        "XDG_CACHE_HOME": "ks-cache",
    }  # fmt: skip
    for var, sub in caches.items():
        path = scratch / sub
        path.mkdir(exist_ok=True)
        env[var] = str(path)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH")) if p)
    # Idle OpenMP threads must sleep, not spin: a worker waiting for its next request would
    # otherwise keep the CPU's cores busy while the other worker is being timed (10-100x
    # slowdowns measured on a 2-core machine).
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONSAFEPATH"] = "1"  # the working directory is not on sys.path (Python 3.11+)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _session_rss_bytes(sid: int) -> int:
    """Resident memory of every process in a session (Linux /proc)."""
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:
            total += int(fields[21]) * page
    return total


class Worker:
    """One worker process and the channel to it."""

    def __init__(self, role: str, device: str, limits: Limits, keep_scratch: bool = False) -> None:
        self.role = role
        self.device = device
        self.limits = limits
        self.keep_scratch = keep_scratch
        self.phase = "start"
        self.owner = "harness"
        self.hello: dict[str, Any] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.channel: wire.Channel | None = None
        self.scratch = Path(tempfile.mkdtemp(prefix=f"kernelswarm-{role}-"))
        self.log_path = self.scratch / "worker.log"
        self.deadline = 0.0
        self._seq = 0
        self._memory_exceeded: int | None = None
        self._stop_monitor = threading.Event()

    # -- life cycle ---------------------------------------------------------------------------
    def spawn(self) -> None:
        """Start the process; ``handshake`` then waits for it to be ready."""
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        for fd in (to_child_w, from_child_w):
            wire.widen_pipe(fd)
        cmd = [
            sys.executable, "-m", "kernelswarm.worker", "--role", self.role,
            "--in-fd", str(to_child_r), "--out-fd", str(from_child_w),
            "--device", self.device, "--file-limit", str(self.limits.file_bytes),
        ]  # fmt: skip
        env = worker_env(self.scratch)
        if self.role == "reference":
            # Only the problem's own code and ours run there: its Inductor cache can be shared
            # between runs (torch.compile baselines then compile once per problem, not per check).
            shared = (
                Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                / "kernelswarm"
                / "inductor"
            )
            shared.mkdir(parents=True, exist_ok=True)
            env["TORCHINDUCTOR_CACHE_DIR"] = str(shared)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                pass_fds=(to_child_r, from_child_w),
                cwd=self.scratch,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        os.close(to_child_r)
        os.close(from_child_w)
        os.set_blocking(to_child_w, False)
        self.channel = wire.Channel(from_child_r, to_child_w)
        self.deadline = time.monotonic() + self.limits.wall_seconds
        if sys.platform.startswith("linux"):
            threading.Thread(
                target=self._watch_memory, daemon=True, name=f"rss-{self.role}"
            ).start()

    def handshake(self) -> dict[str, Any]:
        self.phase, self.owner = "start-up (importing torch)", "harness"
        self.hello = self._receive(expect_seq=None)
        return self.hello

    def extend(self, seconds: float) -> None:
        """Push the wall-clock deadline back (a phase with its own budget, such as timing)."""
        self.deadline = max(self.deadline, time.monotonic() + seconds)

    def start(self) -> dict[str, Any]:
        self.spawn()
        return self.handshake()

    def close(self) -> None:
        """Ask the worker to exit, then kill its whole process group whatever it did."""
        self._stop_monitor.set()
        if self.proc is not None:
            if self.proc.poll() is None and self.channel is not None:
                with contextlib.suppress(wire.WireError, OSError):
                    self.channel.send({"op": "exit"}, deadline=time.monotonic() + 2)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=3)
            self._kill_group()
            self.proc.wait()
        if self.channel is not None:
            for fd in (self.channel.read_fd, self.channel.write_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self.channel = None
        if not self.keep_scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests -----------------------------------------------------------------------------
    def send(self, message: dict[str, Any]) -> int:
        """Send a request without waiting for its answer; returns its sequence number."""
        assert self.channel is not None
        self._seq += 1
        try:
            self.channel.send({**message, "seq": self._seq}, deadline=self.deadline)
        except wire.ChannelTimeout:
            raise self._fail_timeout() from None
        except wire.ChannelClosed:
            raise self._fail_died() from None
        return self._seq

    def wait(self, seq: int) -> dict[str, Any]:
        """The answer to request ``seq``; phase reports on the way are recorded."""
        return self._receive(expect_seq=seq)

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        return self.wait(self.send(message))

    def _receive(self, expect_seq: int | None) -> dict[str, Any]:
        assert self.channel is not None
        while True:
            try:
                message = self.channel.recv(deadline=self.deadline)
            except wire.ChannelTimeout:
                raise self._fail_timeout() from None
            except wire.ChannelClosed:
                raise self._fail_died() from None
            except wire.WireError as exc:
                raise self._fail_protocol(f"the channel carried malformed data ({exc})") from None
            if not isinstance(message, dict) or not isinstance(message.get("kind"), str):
                raise self._fail_protocol("a message without a kind arrived on the channel")
            if message["kind"] == "phase":
                self.phase, self.owner = str(message.get("phase")), str(message.get("owner"))
                continue
            if message.get("seq") != expect_seq:
                raise self._fail_protocol(
                    f"a {message['kind']!r} message answered no request (sequence "
                    f"{message.get('seq')!r}, expected {expect_seq!r})"
                )
            if message["kind"] == "failed":
                raise WorkerError(self._failure_from(message))
            return message

    # -- failures -----------------------------------------------------------------------------
    def log_tail(self, limit: int = 4000) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - limit))
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def _failure(self, kind: str, detail: str, **extra: str) -> WorkerError:
        self._kill_group()
        return WorkerError(
            Failure(kind, self.phase, self.owner, detail, log_tail=self.log_tail(), **extra)
        )

    def _failure_from(self, message: dict[str, Any]) -> Failure:
        kind = str(message.get("failure", "exception"))
        exc = f"{message.get('exception')}: {message.get('message')}"
        words = {
            "syntax": "syntax error", "import": "import failed", "compile": "compilation failed",
            "out_of_memory": "ran out of memory", "cuda_error": "CUDA error",
            "exit": "called exit", "interrupted": "was interrupted", "exception": "raised",
        }  # fmt: skip
        self.phase, self.owner = str(message.get("phase")), str(message.get("owner"))
        return Failure(
            kind,
            self.phase,
            self.owner,
            f"{words.get(kind, kind)} during {self.phase}: {exc}",
            traceback=str(message.get("traceback", "")),
            log_tail=self.log_tail(),
        )

    def _fail_timeout(self) -> WorkerError:
        return self._failure(
            "timeout",
            f"no answer within the {self.limits.wall_seconds:g} s wall-clock limit during "
            f"{self.phase}; the whole process group was killed",
        )

    def _fail_protocol(self, why: str) -> WorkerError:
        return self._failure(
            "protocol", f"{why} during {self.phase}: something other than the harness wrote to it"
        )

    def _fail_died(self) -> WorkerError:
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return self._failure(
                "protocol", f"the worker closed its channel during {self.phase} but kept running"
            )
        if self._memory_exceeded is not None:
            return self._failure(
                "memory_limit",
                f"used {self._memory_exceeded / 2**30:.1f} GiB during {self.phase}, over the "
                f"{self.limits.memory_bytes / 2**30:.1f} GiB limit; killed",
            )
        if code < 0:
            name = signal.Signals(-code).name
            hint = " (the system's out-of-memory killer sends this)" if name == "SIGKILL" else ""
            return self._failure("crash", f"killed by {name}{hint} during {self.phase}")
        return self._failure(
            "early_exit",
            f"the process exited with status {code} during {self.phase} without reporting "
            "(os._exit or an exit at import time)",
        )

    def _kill_group(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def _watch_memory(self) -> None:
        assert self.proc is not None
        sid = self.proc.pid
        while not self._stop_monitor.wait(0.1):
            if self.proc.poll() is not None:
                return
            rss = _session_rss_bytes(sid)
            if rss > self.limits.memory_bytes:
                self._memory_exceeded = rss
                self._kill_group()
                return
