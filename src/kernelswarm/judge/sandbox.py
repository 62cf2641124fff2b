"""Starting, talking to, and stopping worker processes — and explaining how they failed.

Each worker is a fresh Python process in its own session and process group, with an
allow-listed environment (no variable that looks like a key or token survives), a private
scratch directory as working directory and as the home of every compiler cache (torch
extensions, Triton, Inductor), a wall-clock limit after which the whole group is killed, and a
memory limit watched from here. Its standard output and error go to a log file; the facts it
reports travel on a pipe in a format that cannot execute code when read (see ``wire``), as the
typed messages of ``protocol``.

Whose fault a failure is follows from the phase the worker last reported, until candidate code
has run in a worker: from then on every failure of that worker is the candidate's, whatever the
worker (or a candidate writing to its channel) claims.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import torch

from kernelswarm import cuda_ipc, protocol, wire
from kernelswarm.confinement import JUDGE_PID_VARIABLE, Confinement
from kernelswarm.judge import gpu_memory, gpus
from kernelswarm.judge.builds import FOLDERS
from kernelswarm.judge.processes import ProcessTree
from kernelswarm.judge.protections import spec_for
from kernelswarm.protocol import Failed, FailureKind, Hello, Owner, Phase, PhaseEntered, Role

R = TypeVar("R")

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
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding kernelswarm/


def reference_limits(limits: Limits) -> Limits:
    """The reference runs only the problem's own code: at least the default time, and most of
    this machine's memory (a KernelBench problem's tests take tens of GiB at its own size), so
    that limits meant for a candidate cannot make a large problem unjudgeable."""
    return replace(
        limits,
        wall_seconds=max(limits.wall_seconds, Limits().wall_seconds),
        memory_bytes=max(limits.memory_bytes, int(physical_memory_bytes() * 0.75)),
    )


@functools.cache
def cuda_arch_list() -> str:
    """The GPU architectures extensions are built for, as torch derives them from the devices
    ("9.0+PTX" on an H100 or H200); an explicit TORCH_CUDA_ARCH_LIST wins; "" without a GPU."""
    if os.environ.get("TORCH_CUDA_ARCH_LIST"):
        return os.environ["TORCH_CUDA_ARCH_LIST"]
    if not torch.cuda.is_available():
        return ""
    found = sorted(
        {
            "{}.{}".format(*torch.cuda.get_device_capability(i))
            for i in range(torch.cuda.device_count())
        }
    )
    return ";".join([*found[:-1], found[-1] + "+PTX"]) if found else ""


def judge_device(device: str) -> torch.device | None:
    """Where this process puts the GPU tensors its workers send (answers, inputs, outputs):
    the same GPU when the check runs on one this process can use; None keeps them on the host.
    Choosing a GPU also sets this process's allocator to keep what it frees returnable
    (``gpu_memory.keep_returnable``): every path that holds tensors there asks here first."""
    if device.startswith("cuda") and torch.cuda.is_available():
        gpu_memory.keep_returnable()
        gpu = gpus.current()
        if gpu is not None:
            return torch.device("cuda", gpu.index)
        named = torch.device(device)  # plain "cuda": the current one, by its index (tensors'
        # devices carry one, and a device without it equals none of them)
        return (
            named if named.index is not None else torch.device("cuda", torch.cuda.current_device())
        )
    return None


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
    #: tasks (processes and threads) of the worker together
    processes: int = 4096


@dataclass(frozen=True)
class Failure:
    """Why a worker did not answer as asked, in a form a person can act on."""

    kind: FailureKind
    phase: Phase
    owner: Owner  # whose code was running, as the judge attributes it
    detail: str
    traceback: str = ""
    log_tail: str = ""


class WorkerError(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.detail)
        self.failure = failure


#: torch's host allocations of 2 MiB or more on transparent huge pages (where the kernel allows
#: them on request): a KernelBench-sized test's temporaries are GiB of fresh memory, and fresh
#: 4 KiB pages faulted one by one cost more than the work (L1/38 at a sixteenth of its size on this
#: 2-core machine: 49 M page faults, 160 s of system time, a verdict in 153.5 s; with huge pages
#: 1.6 M faults, 99.7 s). Set for the judge too (``kernelswarm.cli``), before torch is imported.
THP = "1"


def worker_env(scratch: Path, builds: Path | None = None) -> dict[str, str]:
    """The environment a worker gets: allow-listed, secrets dropped, caches inside scratch (the
    compilers' in ``builds`` when the candidate has a build folder of its own)."""
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
    if builds is not None:
        for var, sub in FOLDERS.items():
            env[var] = str(builds / sub)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH")) if p)
    # Idle OpenMP threads must sleep, not spin: a worker waiting for its next request would
    # otherwise keep the CPU's cores busy while the other worker is being timed (10-100x
    # slowdowns measured on a 2-core machine).
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONSAFEPATH"] = "1"  # the working directory is not on sys.path (Python 3.11+)
    env["PYTHONUNBUFFERED"] = "1"
    env["THP_MEM_ALLOC_ENABLE"] = THP
    return env


def reference_caches(env: dict[str, str]) -> Path:
    """The reference worker's compiler caches, shared between checks (set in ``env``; returned,
    the one folder it may write besides its scratch).

    Only the problem's own code and ours run there, so its caches can be kept from one check to
    the next: torch.compile's baseline then compiles once per problem, not per check. Triton's
    kernels are kept inside Inductor's folder: with Triton's cache in the worker's scratch, an
    Inductor graph found cached still had its Triton kernels compiled again in every check.
    """
    shared = (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        / "kernelswarm"
        / "inductor"
    )
    (shared / "triton").mkdir(parents=True, exist_ok=True)
    env["TORCHINDUCTOR_CACHE_DIR"] = str(shared)
    env["TRITON_CACHE_DIR"] = str(shared / "triton")
    return shared


class Endpoint:
    """The judge's end of one worker: typed requests out, typed replies in, failures attributed.

    ``Worker`` is a real, sandboxed process; ``judge.twin.InProcessWorker`` runs the same worker
    code in this process (for debugging and fast tests, never for untrusted code).
    """

    def __init__(self, role: Role) -> None:
        self.role = role
        self.phase = Phase.START
        self.phase_detail = ""
        self.candidate_ran = False  # latched: once candidate code ran here, failures are its own
        self.hello: Hello | None = None

    @property
    def owner(self) -> Owner:
        return Owner.CANDIDATE if self.candidate_ran else self.phase.owner

    @property
    def doing(self) -> str:
        """The phase, in words, with its detail (``forward call 3``)."""
        return f"{self.phase.value} {self.phase_detail}".strip()

    def send(self, request: Any) -> int:
        """Send a request without waiting for its answer; returns its sequence number."""
        raise NotImplementedError

    def wait(self, seq: int, expect: type[R]) -> R:
        """The answer to request ``seq``, which must be an ``expect``."""
        raise NotImplementedError

    def request(self, request: Any, expect: type[R]) -> R:
        return self.wait(self.send(request), expect)

    def extend(self, seconds: float) -> None:
        """Push the wall-clock deadline back (a phase with its own budget, such as timing)."""

    def hold_for_judge(self, nbytes: int) -> None:
        """The worker holds up to ``nbytes`` of host memory for the judge from now on (the tests'
        inputs it is handed, their copies, the outputs it keeps for the final look): they are
        not counted against its own memory limit. Replaces what was said before."""

    def stage(self, path: str) -> str:
        """Where the worker finds this file (a confined worker reads only its scratch folder)."""
        return path

    def freeze(self) -> None:
        """Stop the worker's processes while the other side is timed."""

    def run_queue_ns(self) -> int | None:
        """Nanoseconds the worker's threads have waited for a core so far (None: not known)."""
        return None

    def thaw(self) -> None:
        """Let them run again."""

    def spawn(self) -> None:
        """Start the worker without waiting for it (so that two can start side by side)."""

    def handshake(self) -> Hello:
        """Wait until the worker is ready."""
        return self.start()

    def start(self) -> Hello:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Endpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(
        self, seq: int | None, message: Any, expect_seq: int | None, expect: type[R]
    ) -> R | None:
        """The reply, or None for a phase report (recorded); failures raised as WorkerError."""
        forged = (
            isinstance(message, PhaseEntered | Failed)
            and self.candidate_ran
            and message.phase.owner is Owner.PROBLEM
        )
        if forged:
            # A worker never returns to the problem's code once candidate code has run in it:
            # the report is forged (the candidate can write to the channel).
            raise self._fail_protocol(
                f"a report of {type(message).__name__} in '{message.phase.value}' (the problem's "
                "own code) arrived after candidate code had run"
            )
        if isinstance(message, PhaseEntered):
            self._enter(message.phase, message.detail)
            return None
        if seq != expect_seq:
            raise self._fail_protocol(
                f"a {type(message).__name__} message answered no request (sequence "
                f"{seq!r}, expected {expect_seq!r})"
            )
        if isinstance(message, Failed):
            self._enter(message.phase, message.detail)
            raise WorkerError(self._failure_from(message))
        if not isinstance(message, expect):
            raise self._fail_protocol(
                f"a {type(message).__name__} message came where a {expect.__name__} was due"
            )
        return message

    def _check_hello(self, hello: Hello) -> Hello:
        if hello.protocol != protocol.PROTOCOL_VERSION or hello.role is not self.role:
            raise self._fail_protocol(
                f"the worker speaks protocol {hello.protocol} as {hello.role.value}; this judge "
                f"speaks {protocol.PROTOCOL_VERSION} and started a {self.role.value} worker"
            )
        self.hello = hello
        return hello

    def _enter(self, phase: Phase, detail: str) -> None:
        self.phase, self.phase_detail = phase, detail
        if phase.owner is Owner.CANDIDATE:
            self.candidate_ran = True

    def log_tail(self, limit: int = 4000) -> str:
        return ""

    def _failure(self, kind: FailureKind, detail: str) -> WorkerError:
        return WorkerError(Failure(kind, self.phase, self.owner, detail, log_tail=self.log_tail()))

    def _failure_from(self, message: Failed) -> Failure:
        exc = f"{message.exception}: {message.message}"
        return Failure(
            message.failure,
            self.phase,
            self.owner,
            f"{FAILURE_WORDS[message.failure]} during {self.doing}: {exc}",
            traceback=message.traceback,
            log_tail=self.log_tail(),
        )

    def _fail_protocol(self, why: str) -> WorkerError:
        return self._failure(
            FailureKind.PROTOCOL,
            f"{why} during {self.doing}: something other than the harness wrote to it",
        )


class Worker(Endpoint):
    """One sandboxed worker process and the channel to it."""

    def __init__(
        self,
        role: Role,
        device: str,
        limits: Limits,
        keep_scratch: bool = False,
        confined: bool = True,
        builds: Path | None = None,
        gpu: bool = True,
    ) -> None:
        super().__init__(role)
        self.builds = builds
        self.gpu = gpu  # False: no GPU in reach (a build step; see judge.prebuild)
        self.device = device
        self.limits = limits
        self.keep_scratch = keep_scratch
        self.confined = confined and sys.platform.startswith("linux")
        self.tree: ProcessTree | None = None
        self._staged = 0
        self._processes_exceeded: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.channel: wire.Channel | None = None
        self.scratch = Path(tempfile.mkdtemp(prefix=f"kernelswarm-{role.value}-"))
        self.log_path = self.scratch / "worker.log"
        self.deadline = 0.0
        self._seq = 0
        self._answered = 0  # the last request whose reply arrived
        self._memory_exceeded: int | None = None
        self._held_for_judge = 0
        self._stop_monitor = threading.Event()

    # -- life cycle ---------------------------------------------------------------------------
    def spawn(self) -> None:
        """Start the process; ``handshake`` then waits for it to be ready."""
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        for fd in (to_child_w, from_child_w):
            wire.widen_pipe(fd)
        cmd = [
            sys.executable, "-m", "kernelswarm.worker", "--role", self.role.value,
            "--in-fd", str(to_child_r), "--out-fd", str(from_child_w),
            "--device", self.device, "--file-limit", str(self.limits.file_bytes),
        ]  # fmt: skip
        # Large bodies (a test's inputs, answers, outputs) travel in shared areas, not the pipes
        capacity = wire.DEFAULT_MAX_BODY_BYTES
        bulk_to = wire.Bulk.create(capacity, f"kernelswarm-to-{self.role.value}")
        bulk_from = wire.Bulk.create(capacity, f"kernelswarm-from-{self.role.value}")
        bulk_fds: tuple[int, ...] = ()
        if bulk_to is not None and bulk_from is not None:
            bulk_fds = (bulk_to.fd, bulk_from.fd)
            cmd += ["--bulk-in-fd", str(bulk_to.fd), "--bulk-out-fd", str(bulk_from.fd)]
            cmd += ["--bulk-bytes", str(capacity)]
        else:
            for bulk in (bulk_to, bulk_from):
                if bulk is not None:
                    bulk.close()
            bulk_to = bulk_from = None
        # Large GPU tensors come back by CUDA IPC (copied on receipt), never go out that way
        on_judge_gpu = judge_device(self.device)
        ipc = self.gpu and on_judge_gpu is not None and cuda_ipc.enabled()
        if ipc:
            cmd.append("--wire-ipc")
        env = worker_env(self.scratch, self.builds)
        arch = cuda_arch_list() if self.device.startswith("cuda") or not self.gpu else ""
        if arch:  # the same compiler flags in a build step (no GPU to ask) and in the check
            env["TORCH_CUDA_ARCH_LIST"] = arch
        if not self.gpu:
            env["CUDA_VISIBLE_DEVICES"] = ""
        elif (pinned := gpus.current()) is not None:
            env["CUDA_VISIBLE_DEVICES"] = pinned.visible  # the check's own GPU, and only it
        shared = reference_caches(env) if self.role is Role.REFERENCE else None
        if sys.platform.startswith("linux"):
            # every worker starts through the launcher: confined, or (--unconfined) only watched
            spec = Confinement.watch_only()
            if self.confined:
                own = self.builds if self.builds is not None else shared
                spec = spec_for(
                    self.role, self.scratch, own, self.limits.file_bytes, self.limits.processes,
                    gpu=self.gpu,
                )  # fmt: skip
            cmd = [sys.executable, "-m", "kernelswarm.worker.confine", spec.to_json(), "--", *cmd]
            env[JUDGE_PID_VARIABLE] = str(os.getpid())  # the launcher ends the worker if we die
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                pass_fds=(to_child_r, from_child_w, *bulk_fds),
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
        self.channel = wire.Channel(
            from_child_r, to_child_w, bulk_out=bulk_to, bulk_in=bulk_from,
            device=on_judge_gpu,
            ipc_from=f"the {self.role.value} worker (pid {self.proc.pid})" if ipc else None,
        )  # fmt: skip
        self.deadline = time.monotonic() + self.limits.wall_seconds
        if sys.platform.startswith("linux"):
            self.tree = ProcessTree(self.proc.pid, self.confined)
            threading.Thread(
                target=self._watch, daemon=True, name=f"watch-{self.role.value}"
            ).start()

    def handshake(self) -> Hello:
        return self._check_hello(self._receive(expect_seq=None, expect=Hello))

    def extend(self, seconds: float) -> None:
        self.deadline = max(self.deadline, time.monotonic() + seconds)

    def stage(self, path: str) -> str:
        """A copy of the file in the worker's scratch folder, under its own name."""
        if not self.confined:
            return path
        self._staged += 1
        folder = self.scratch / f"ks-files-{self._staged}"
        folder.mkdir()
        return str(shutil.copy(path, str(folder / Path(path).name)))

    def freeze(self) -> None:
        if self.tree is not None:
            self.tree.freeze()

    def run_queue_ns(self) -> int | None:
        return self.tree.run_queue_ns() if self.tree is not None else None

    def thaw(self) -> None:
        if self.tree is not None:
            self.tree.thaw()

    def start(self) -> Hello:
        self.spawn()
        return self.handshake()

    def close(self) -> None:
        """Ask the worker to exit, then kill its whole process group whatever it did. A worker
        still at a request (a reference preparing for timing the check did not reach) is killed
        at once: it would read the goodbye only when done, and the check would wait for it."""
        self._stop_monitor.set()
        self.thaw()
        if self.proc is not None:
            idle = self._answered >= self._seq
            if idle and self.proc.poll() is None and self.channel is not None:
                with contextlib.suppress(wire.WireError, OSError):
                    self.channel.send(
                        protocol.encode(protocol.Exit(), None), deadline=time.monotonic() + 2
                    )
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=3)
            self._kill_group()
            self.proc.wait()
        if self.channel is not None:
            for fd in (self.channel.read_fd, self.channel.write_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)
            for bulk in (self.channel.bulk_out, self.channel.bulk_in):
                if bulk is not None:
                    bulk.close()
            self.channel = None
        if not self.keep_scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)

    # -- requests -----------------------------------------------------------------------------
    def send(self, request: Any) -> int:
        assert self.channel is not None, "spawn first"
        self._seq += 1
        try:
            self.channel.send(protocol.encode(request, self._seq), deadline=self.deadline)
        except wire.ChannelTimeout:
            raise self._fail_timeout() from None
        except wire.ChannelClosed:
            raise self._fail_died() from None
        return self._seq

    def wait(self, seq: int, expect: type[R]) -> R:
        """The answer to request ``seq``; phase reports on the way are recorded."""
        return self._receive(expect_seq=seq, expect=expect)

    def _receive(self, expect_seq: int | None, expect: type[R]) -> R:
        assert self.channel is not None, "spawn first"
        while True:
            try:
                seq, message = protocol.decode(self.channel.recv(deadline=self.deadline))
            except wire.ChannelTimeout:
                raise self._fail_timeout() from None
            except wire.ChannelClosed:
                raise self._fail_died() from None
            except (wire.WireError, protocol.ProtocolError) as exc:
                raise self._fail_protocol(f"the channel carried malformed data ({exc})") from None
            reply = self._accept(seq, message, expect_seq, expect)
            if reply is not None:
                self._answered = max(self._answered, expect_seq or 0)
                return reply

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

    def _failure(self, kind: FailureKind, detail: str) -> WorkerError:
        self._kill_group()
        return super()._failure(kind, detail)

    def hold_for_judge(self, nbytes: int) -> None:
        self._held_for_judge = max(0, nbytes)

    @property
    def memory_limit(self) -> int:
        """Its own limit, plus what it holds for the judge: a test's inputs arrive in host memory
        where the GPU is full (KernelBench's L1/45 on an H100: 16 GiB of inputs, and a correct
        candidate was killed at 32.5 GiB of the default 32 GiB). Never past the reference's
        share of this machine, unless its own limit is higher."""
        ceiling = reference_limits(self.limits).memory_bytes  # never below its own limit
        return min(ceiling, self.limits.memory_bytes + self._held_for_judge)

    def _fail_timeout(self) -> WorkerError:
        return self._failure(
            FailureKind.TIMEOUT,
            f"no answer within the {self.limits.wall_seconds:g} s wall-clock limit during "
            f"{self.doing}; the whole process group was killed",
        )

    def _fail_died(self) -> WorkerError:
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return self._failure(
                FailureKind.PROTOCOL,
                f"the worker closed its channel during {self.doing} but kept running",
            )
        if self._memory_exceeded is not None:
            limit = self.memory_limit
            held = limit - self.limits.memory_bytes
            handed = f"{held / 2**30:.1f} GiB" if held >= 1 << 30 else f"{held >> 20} MiB"
            whose = (
                f" ({self.limits.memory_bytes / 2**30:.1f} GiB of its own, {handed} for the "
                "tests the judge handed it)"
                if held > 0
                else ""
            )
            return self._failure(
                FailureKind.MEMORY_LIMIT,
                f"used {self._memory_exceeded / 2**30:.1f} GiB during {self.doing}, over the "
                f"{limit / 2**30:.1f} GiB limit{whose}; killed",
            )
        if self._processes_exceeded is not None:
            return self._failure(
                FailureKind.PROCESS_LIMIT,
                f"ran {self._processes_exceeded} processes and threads during {self.doing}, over "
                f"the limit of {self.limits.processes}; killed",
            )
        if code < 0:
            name = signal.Signals(-code).name
            hint = " (the system's out-of-memory killer sends this)" if name == "SIGKILL" else ""
            return self._failure(FailureKind.CRASH, f"killed by {name}{hint} during {self.doing}")
        return self._failure(
            FailureKind.EARLY_EXIT,
            f"the process exited with status {code} during {self.doing} without reporting "
            "(os._exit or an exit at import time)",
        )

    def _kill_group(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def _watch(self) -> None:
        """Memory and tasks of every process of the worker, ten times a second."""
        assert self.proc is not None and self.tree is not None
        while not self._stop_monitor.wait(0.1):
            if self.proc.poll() is not None:
                return
            rss, tasks = self.tree.usage()
            channel = self.channel
            if channel is not None and channel.bulk_in is not None:
                rss += channel.bulk_in.allocated()  # what it wrote to the judge, it holds
            if rss > self.memory_limit:
                self._memory_exceeded = rss
            elif tasks > self.limits.processes:
                self._processes_exceeded = tasks
            else:
                continue
            self._kill_group()
            return


#: a worker-reported failure kind, in words
FAILURE_WORDS = {
    FailureKind.SYNTAX: "syntax error", FailureKind.IMPORT: "import failed",
    FailureKind.INTERFACE: "the file does not define what it must",
    FailureKind.COMPILE: "compilation failed", FailureKind.OUT_OF_MEMORY: "ran out of memory",
    FailureKind.CUDA_ERROR: "CUDA error", FailureKind.EXIT: "called exit",
    FailureKind.INTERRUPTED: "was interrupted", FailureKind.EXCEPTION: "raised",
    FailureKind.CRASH: "crashed", FailureKind.TIMEOUT: "timed out",
    FailureKind.MEMORY_LIMIT: "exceeded its memory limit",
    FailureKind.PROCESS_LIMIT: "exceeded its process limit",
    FailureKind.EARLY_EXIT: "exited early", FailureKind.PROTOCOL: "broke the protocol",
}  # fmt: skip
