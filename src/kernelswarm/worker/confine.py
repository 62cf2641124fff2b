"""Confinement of a worker: its own namespaces, Landlock, resource limits (Linux).

``python -m kernelswarm.worker.confine SPEC -- COMMAND...`` runs COMMAND confined, where SPEC is
a ``Confinement`` as JSON. This launcher process:

1. enters new user, mount, IPC, network and PID namespaces (the worker sees no other process,
   has no network but a loopback that is down, and no System V IPC shared with anyone);
2. forks: the child is process 1 of the new PID namespace. It asks for SIGKILL when the launcher
   dies, mounts a private ``/proc`` (which then shows only its own namespace), sets the resource
   limits, restricts itself with Landlock (read-only access to what Python, torch, the compilers
   and the GPU driver need; writes only to its scratch directory and a few devices), and becomes
   COMMAND. When process 1 ends, the kernel kills every process left in its namespace: a
   candidate's ``setsid``, fork or daemon cannot outlive its worker;
3. waits, and leaves the way its child left (same exit status, same signal), so that the judge
   sees the worker's own end; if the judge dies first, it kills the worker (and so its whole
   namespace) within half a second.

A worker run unconfined (``--unconfined``) is started through it too, with none of 1 and 2's
protections (``Confinement.watch_only``): only so that it ends with its judge.

Standard library only (it runs before the worker imports torch), and Linux only.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys

from kernelswarm.confinement import JUDGE_PID_VARIABLE, Confinement

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x4000, 1 << 18, 2, 4, 8
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE = 1, 38, 4
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
#: how often the launcher looks whether its judge still lives (seconds)
JUDGE_POLL_SECONDS = 0.5
#: the user id the worker has inside its user namespace: not 0, so it holds no capability there
INNER_ID = 1000

# Landlock's filesystem rights, by the ABI that introduced them.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR, MAKE_REG, MAKE_SOCK = (1 << n for n in range(4, 10))
MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3, 5
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1}
_READ = EXECUTE | READ_FILE | READ_DIR
_WRITE = (
    WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_SOCK | MAKE_FIFO | MAKE_SYM
)
_FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
# ABI 4: TCP bind and connect (there is no network anyway); ABI 6: signals and abstract UNIX
# sockets stay within the domain
LANDLOCK_ACCESS_NET_BIND_TCP, LANDLOCK_ACCESS_NET_CONNECT_TCP = 1, 2
LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET, LANDLOCK_SCOPE_SIGNAL = 1, 2


class ConfinementError(OSError):
    """A protection could not be put in place (the message says which, and why)."""


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise ConfinementError(errno, f"{what}: {os.strerror(errno)}")
    return result


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when it has none (or it is disabled)."""
    result = _libc.syscall(
        SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), LANDLOCK_CREATE_RULESET_VERSION
    )
    return max(int(result), 0)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def restrict_with_landlock(spec: Confinement) -> int:
    """Apply Landlock to this thread and everything it starts; returns the ABI used."""
    abi = landlock_abi()
    if abi < 1:
        raise ConfinementError(0, "Landlock is not available in this kernel")
    handled = _FS_BY_ABI.get(abi, (1 << 16) - 1)
    attr = _RulesetAttr(handled, 0, 0)
    size = 8
    if abi >= 4:
        attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL
        size = 24
    ruleset = _check(
        _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0),
        "landlock_create_ruleset",
    )
    try:
        rules = [(p, _READ) for p in spec.read] + [
            (p, _READ | _WRITE | REFER | TRUNCATE) for p in spec.write
        ]
        rules += [(p, READ_FILE | WRITE_FILE | IOCTL_DEV) for p in spec.devices]
        for path, rights in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # absent here (a device this machine lacks, a folder not installed)
            try:
                if not os.path.isdir(path):
                    rights &= _FILE_ONLY
                beneath = _PathBeneath(rights & handled, fd)
                _check(
                    _libc.syscall(
                        SYS_LANDLOCK_ADD_RULE,
                        ruleset,
                        LANDLOCK_RULE_PATH_BENEATH,
                        ctypes.byref(beneath),
                        0,
                    ),
                    f"landlock_add_rule {path}",
                )
            finally:
                os.close(fd)
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        _check(_libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return abi


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def enter_namespaces() -> None:
    """New user, mount, IPC, network and PID namespaces (the PID one takes the next child)."""
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID
    _check(_libc.unshare(flags), "unshare")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{INNER_ID} {uid} 1")
    _write("/proc/self/gid_map", f"{INNER_ID} {gid} 1")


def _private_mounts() -> None:
    """A /proc of this PID namespace only, and a /dev/shm of this worker only."""
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    _check(
        _libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
        "mount /proc",
    )
    if os.path.isdir("/dev/shm"):
        _check(
            _libc.mount(b"tmpfs", b"/dev/shm", b"tmpfs", MS_NOSUID | MS_NODEV, b"mode=1777"),
            "mount /dev/shm",
        )


def _limit(spec: Confinement) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (spec.file_bytes, spec.file_bytes))
    resource.setrlimit(resource.RLIMIT_NPROC, (spec.processes, spec.processes))
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = min(spec.open_files, hard) if hard != resource.RLIM_INFINITY else spec.open_files
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))


def _leave_like(status: int) -> None:
    """End this process the way its child ended."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def launch(spec: Confinement, command: list[str]) -> None:
    """Run ``command`` confined by ``spec``; never returns."""
    launcher = os.getpid()
    # the judge says who it is: a judge gone before this line ran is still seen gone below
    judge = int(os.environ.pop(JUDGE_PID_VARIABLE, os.getppid()))
    # SIGCHLD stays pending for the wait below (sigtimedwait), never lost between two looks
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])
    if spec.namespaces:
        enter_namespaces()
    child = os.fork()
    if child == 0:
        try:
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGCHLD])
            if not spec.namespaces and os.getppid() != launcher:
                os._exit(70)  # the launcher died before the death signal was set
            if spec.namespaces:
                _private_mounts()
            if spec.limits:
                _limit(spec)
            if spec.landlock:
                restrict_with_landlock(spec)
            os.execv(command[0], command)
        except BaseException as exc:
            print(f"kernelswarm confinement failed: {exc}", file=sys.stderr, flush=True)
            os._exit(71)
    # The launcher holds no channel: the worker's pipes must close when the worker ends.
    os.closerange(3, 1 << 16)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, f: os.kill(child, signal.SIGKILL))
    _leave_like(_wait_while_judged(child, judge, group=not spec.namespaces))


def _wait_while_judged(child: int, judge: int, group: bool = False) -> int:
    """The child's wait status; if the judge (``judge``, the parent) goes first, the child is
    killed (``group``: without a PID namespace, with every process of the launcher's process
    group, which the worker's own children share unless they left it).

    The launcher does not ask for a signal at its parent's death: Linux sends it when the parent
    *thread* that forked it ends, and a judge starts workers from pool threads that end before
    their workers do. It looks instead, every ``JUDGE_POLL_SECONDS``: a judge killed outright
    (SIGKILL, or SIGTERM before its ``close()`` ran) leaves no worker running on, which a
    candidate stuck in a loop otherwise would, for as long as it liked.
    """
    while True:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid == child:
            return status
        if os.getppid() != judge:
            if group:  # the launcher with them: nobody waits for it any more
                os.killpg(os.getpgid(0), signal.SIGKILL)
            os.kill(child, signal.SIGKILL)
            return os.waitpid(child, 0)[1]
        # woken at once when the child ends
        signal.sigtimedwait([signal.SIGCHLD], JUDGE_POLL_SECONDS)


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        print(
            "usage: python -m kernelswarm.worker.confine SPEC_JSON -- COMMAND...", file=sys.stderr
        )
        os._exit(2)
    spec = Confinement.from_json(argv[0])
    launch(spec, argv[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
