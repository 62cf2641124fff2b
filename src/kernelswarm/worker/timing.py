"""The measurement engine, worker side: warm-up, timed blocks, the escape check.

A *block* runs one implementation over an order of input sets chosen by the judge (each set
visited several times; the judge knows which calls are first visits). On CUDA each call is
bracketed by events on the current stream, after an L2 flush that is not timed; on the CPU by
the worker's clock. Right after each call returns, a checksum of the output is taken on the
current stream (CUDA) or at once (CPU): work still running when forward returned (a side stream,
a thread) makes it differ from the checksum of the same set's final output, taken after a
device-wide synchronise. Every call is checked this way, so there is no secret to read. On CUDA
the allocator's free memory is poisoned (0xFF, NaN) before each block, so that an output not yet
written at return cannot hold its right values by chance of what the allocator hands back.

The *escape check* runs calls back to back with events only at the ends and a device-wide
synchronise after, and reports both spans; the judge compares them with its own clock, which
the candidate cannot reach.

Runs inside the worker: standard library and torch only.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from kernelswarm.poison import poison_cuda
from kernelswarm.protocol import (
    BlockTimed,
    Escape,
    Escaped,
    FinalOutputs,
    FinalOutputsCopied,
    Phase,
    Ping,
    Pong,
    Rewarm,
    TimeBlock,
    Warmed,
    Warmup,
)
from kernelswarm.schedstat import run_queue_ns
from kernelswarm.tensors import flatten, held_bytes, nbytes, row_pieces, tensor_bytes
from kernelswarm.worker.guard import Phases, Trusted

CU_LIMIT_PERSISTING_L2_CACHE_SIZE = 0x06
#: device cycles of sleep queued before a block's first call (about 0.1 ms)
LEAD_CYCLES = 200_000

#: free device memory, as a multiple of the bytes an arriving set took from the allocator's
#: cache, above which they are given back as one block, and below which as blocks of the
#: set's tensors' sizes (``TimingSession.arrive``)
AMPLE_ROOM = 4

#: the largest host chunk ``TimingSession.stand_in`` copies from (again and again)
STAND_IN_CHUNK = 256 << 20

#: a candidate's thread may use this much CPU time during a timed block before it counts as
#: work beside the timed calls: a share of the block, and never under a floor
BUSY_SHARE = 0.01
BUSY_FLOOR_NS = 20_000


def _libcuda() -> Any:
    try:
        return ctypes.CDLL("libcuda.so.1")
    except OSError:
        return None


def reset_persisting_l2() -> str | None:
    """Set the persisting-L2 limit to 0 and drop persisting lines; None, or why it could not."""
    lib = _libcuda()
    if lib is None:
        return "libcuda.so.1 not found"
    if lib.cuCtxSetLimit(ctypes.c_int(CU_LIMIT_PERSISTING_L2_CACHE_SIZE), ctypes.c_size_t(0)) != 0:
        return "cuCtxSetLimit failed"
    if lib.cuCtxResetPersistingL2Cache() != 0:
        return "cuCtxResetPersistingL2Cache failed"
    return None


def persisting_l2_limit() -> int | None:
    lib = _libcuda()
    if lib is None:
        return None
    value = ctypes.c_size_t(0)
    if lib.cuCtxGetLimit(ctypes.byref(value), ctypes.c_int(CU_LIMIT_PERSISTING_L2_CACHE_SIZE)) != 0:
        return None
    return int(value.value)


class L2Flusher:
    """Overwrites a buffer twice the size of the L2 cache, evicting whatever was resident."""

    def __init__(self, device: torch.device) -> None:
        l2 = int(getattr(torch.cuda.get_device_properties(device), "L2_cache_size", 0)) or (
            50 << 20
        )
        self.buffer = torch.empty(2 * l2, dtype=torch.uint8, device=device)

    def flush(self) -> None:
        self.buffer.zero_()


def checksum(out: Any, wide: bool = False) -> torch.Tensor:
    """[sum, sum of |x|] over every tensor of a result, as float64, without synchronising.

    In pieces of rows, each summed in float32 for outputs of 32 bits or fewer (float64 for
    float64, or for all with ``wide``): the sums only have to tell an output at return from the
    same set's final output within ``CHECKSUM_TOLERANCE`` (1e-3), and PyTorch sums a float32
    tensor in float64 by copying it first. At KernelBench's sizes a whole float64 copy (12 GiB for
    L1/19's output) did not fit beside the timing sets, and reading and writing it cost five
    times the timed ReLU itself. Once an implementation's float32 sums overflow, its later
    blocks are summed ``wide`` (``TimingSession.block``).
    """
    _, leaves = flatten(out)
    parts = []
    for leaf in leaves:
        if isinstance(leaf, torch.Tensor) and type(leaf) is torch.Tensor and leaf.numel():
            for piece in row_pieces(leaf.detach()):
                parts.append(_sums(piece, wide))
    if not parts:
        return torch.zeros(2, dtype=torch.float64)
    return torch.stack(parts).sum(dim=0)


def _sums(x: torch.Tensor, wide: bool = False) -> torch.Tensor:
    """[sum, sum of |x|] of one piece, as float64 (the piece itself is never written to)."""
    if x.is_floating_point():
        acc = torch.float64 if wide or x.dtype == torch.float64 else torch.float32
        return torch.stack([x.sum(dtype=acc), x.abs().sum(dtype=acc)]).double()
    y = x.double()  # integers, booleans: a piece's copy
    return torch.stack([y.sum(), y.abs().sum()])


def _finite(sums: Iterable[torch.Tensor]) -> bool:
    return all(bool(torch.isfinite(s).all()) for s in sums)


@dataclass
class Implementation:
    """How to call one implementation: ``prepare`` (untimed) then ``run`` (timed)."""

    run: Callable[[list[Any]], Any]
    prepare: Callable[[list[Any]], list[Any]] = lambda args: args
    static: bool = False  # outputs live in buffers the next call overwrites (CUDA graphs)


class GraphRunner:
    """Replays a CUDA graph of one call; inputs are copied into static buffers, untimed."""

    def __init__(self, fn: Callable[..., Any], example: list[Any]) -> None:
        self.static = [x.clone() if isinstance(x, torch.Tensor) else x for x in example]
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream), torch.no_grad():
            for _ in range(3):
                fn(*self.static)
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph), torch.no_grad():
            self.out = fn(*self.static)

    def prepare(self, args: list[Any]) -> list[Any]:
        for slot, value in zip(self.static, args, strict=True):
            if isinstance(slot, torch.Tensor):
                slot.copy_(value)
        return self.static

    def run(self, args: list[Any]) -> Any:
        self.graph.replay()
        return self.out


class TimingSession:
    """Timing sets and implementations held by one worker."""

    def __init__(
        self,
        device: torch.device,
        trusted: Trusted,
        threads: Callable[[], list[threading.Thread]] = lambda: [],
        phases: Phases | None = None,
    ) -> None:
        self.device = device
        self.trusted = trusted
        self.threads = threads  # threads the role's untrusted code left running
        self.phases = phases
        self.sets: dict[int, list[Any]] = {}
        self.warmup_sets: list[list[Any]] = []
        self.finals: dict[str, dict[int, Any]] = {}
        self.flusher: L2Flusher | None = None
        self.l2_note: str | None = None
        self.wide: set[str] = set()  # implementations whose outputs' float32 sums overflow
        self.host_chunk: torch.Tensor | None = None  # host bytes of ``stand_in``'s copies
        #: the sizes of the last warm-up call's outputs: blocks of them are poisoned before
        #: each timed block (``poison_cuda``), whether or not the cache held such blocks
        self.output_nbytes: list[int] = []

    @contextlib.contextmanager
    def own_work(self) -> Iterator[None]:
        """This process's own work while timing (checksums, copies of input sets and outputs):
        out of memory there is reported in its own phase, so that the judge does not take it
        for the timed implementation's (the GPU is shared by three processes; at L1/19's size a
        checksum's float64 copy ran out of memory and the candidate was rejected for it)."""
        try:
            yield
        except torch.OutOfMemoryError:
            self._own_work_failed()
            raise

    def _own_work_failed(self) -> None:
        if self.phases is not None:
            self.phases.enter(Phase.TIMING_COPIES)

    def _place(self, inputs: list[Any]) -> list[Any]:
        with self.own_work():
            return [
                x.to(self.device, copy=True) if isinstance(x, torch.Tensor) else x for x in inputs
            ]

    def store(self, sets: dict[int, list[Any]], warmup: list[list[Any]], own: bool = False) -> None:
        """Keep input sets for timing, each in memory of its own on this device (``own``: they
        are already, drawn here: kept as they are)."""
        place = (lambda s: s) if own else self._place
        self.sets = {j: place(s) for j, s in sets.items()}
        self.warmup_sets = [place(s) for s in warmup]

    def timed(self) -> None:
        """Every block is timed: the warm-up sets and each set's last output, kept from the
        blocks, go (GiB each at KernelBench's sizes); the timing sets stay, to be answered."""
        self.warmup_sets = []
        self.finals.clear()

    def arrive(self, sets: dict[int, list[Any]]) -> None:
        """Input sets that reach this process only now, just before the block that times them.

        On CUDA, what their copies took from the caching allocator's free blocks is given back
        to it (allocated and freed: one block of that size where the device has ample room,
        else blocks of the sets' tensors' sizes): the call timed next must find the free memory
        a repeat finds, not wait on cudaMalloc for its output (on the H100, L1/12's first visits
        took 326 µs against 50 µs for repeats until this was done; an untimed call of the
        candidate's used to do it, and could have answered the new set).

        The copies the channel made on receipt are let go before the call, here rather than
        with the request after it: on the host they had taken the pages freed last, those a
        lone repeat's temporaries are given, and the first visit's temporaries faulted in pages
        left untouched for seconds instead. On a 2-core virtual machine L1/96 at 8192x8192,
        judged against itself, took 373-535 ms on its first visits and 49 ms on its lone
        repeats (eight runs of nine rejected for memoisation) while eager's first visits, after
        no arrival, took 62-90 ms; with the copies let go, 51-135 ms (three runs of three
        accepted). On a GPU they were a second copy of the set held through the first visit.
        """
        cuda = self.device.type == "cuda"
        reserved = torch.cuda.memory_reserved(self.device) if cuda else 0
        sizes: list[int] = []
        for j, inputs in sets.items():
            self.sets[j] = self._place(inputs)
            sizes += [nbytes(x) for x in self.sets[j] if isinstance(x, torch.Tensor)]
            inputs.clear()  # the copy received goes now (the request holds this list too)
        if cuda:
            taken = sum(sizes) - (torch.cuda.memory_reserved(self.device) - reserved)
            if taken > 0:
                # Given back as one block of all the bytes where the device has ample room (as
                # validated on L1/12: a call whose temporaries are larger than any input finds
                # such a block, as its repeats do); else as blocks of the placed tensors' sizes,
                # all held at once and then freed: the copies let go just now are such blocks,
                # and the allocator reuses them. (On a full device one block of all the bytes
                # fitted none of them and took as much again from the driver: at L1/96, 8 GiB
                # more in the candidate of an 80 GB GPU.)
                free, _ = torch.cuda.mem_get_info(self.device)
                blocks = [taken] if free > AMPLE_ROOM * taken + (1 << 30) else []
                for size in sorted(sizes, reverse=True):
                    if sum(blocks) >= taken:
                        break
                    blocks.append(size)
                with self.own_work():
                    spares = [torch.empty(n, dtype=torch.uint8, device=self.device) for n in blocks]
                    del spares

    def stand_in(self, j: int) -> None:
        """Before a call timed alone on a set already held (a repeat, or any of a baseline's
        lone calls): as many bytes as set ``j`` holds copied in from pageable host memory, into
        memory given back to the caching allocator after, as a first visit's set arrives.

        Like for like: on the H100 any call right after a copy from host memory took 1.8x a
        repeat's time (L1/88's GELU: 413 against 227 µs, ``benchmarks/first_visit.py``), whatever
        set it read, and only a call of the candidate's own kernel in between undid it. A first
        visit always follows its set's copy, and the warm-up call cannot come between (it could
        answer the set): so every lone call now follows such a copy. The host side is one chunk
        (at most ``STAND_IN_CHUNK`` bytes) copied again and again; where the GPU cannot hold a
        set's bytes more, a smaller copy is made (halved until it fits).
        """
        nbytes = tensor_bytes(self.sets[j])
        if nbytes == 0:
            return
        chunk = min(nbytes, STAND_IN_CHUNK)
        if self.host_chunk is None or self.host_chunk.numel() < chunk:
            self.host_chunk = torch.zeros(chunk, dtype=torch.uint8)  # pages mapped, as a set's
        with self.own_work():
            size = nbytes
            while True:
                try:
                    scratch = torch.empty(size, dtype=torch.uint8, device=self.device)
                    break
                except torch.OutOfMemoryError:
                    if size <= chunk:
                        raise
                    size //= 2
            for start in range(0, size, chunk):
                part = scratch[start : start + chunk]
                part.copy_(self.host_chunk[: part.numel()])
            del scratch, part

    def _l2_limit(self) -> int | None:
        """The persisting-L2 limit now; one that cannot be read is noted (the judge then says
        it could not compare)."""
        limit = persisting_l2_limit()
        if limit is None:
            self.l2_note = self.l2_note or "the limit could not be read (cuCtxGetLimit)"
        return limit

    def _sync(self) -> None:
        if self.device.type == "cuda":
            self.trusted.synchronize()

    def graph(self, fn: Callable[..., Any]) -> Implementation:
        runner = GraphRunner(fn, self.sets[min(self.sets)])
        return Implementation(run=runner.run, prepare=runner.prepare, static=True)

    def warmup(self, impl: Implementation, max_seconds: float, min_calls: int = 5) -> Warmed:
        """Call until the last five times agree within 10%, or the time runs out."""
        clock = self.trusted.perf_counter
        times: list[float] = []
        start = clock()
        # sets of their own where memory allows; else the first timing set, which every side
        # holds from the start (a set of the repeat pool, never a first visit)
        warm = self.warmup_sets or [self.sets[min(self.sets)]]
        while True:
            args = impl.prepare(warm[len(times) % len(warm)])
            self._sync()
            t0 = clock()
            with torch.no_grad():
                out = impl.run(args)
            self._sync()
            times.append(clock() - t0)
            self.output_nbytes = [nbytes(x) for x in flatten(out)[1] if isinstance(x, torch.Tensor)]
            del out
            recent = sorted(times[-5:])
            stable = (
                len(times) >= min_calls
                and (recent[-1] - recent[0]) <= 0.1 * recent[len(recent) // 2]
            )
            if stable or clock() - start > max_seconds:
                break
        return Warmed(calls=len(times), times=times, stable=stable)

    def block(
        self,
        name: str,
        impl: Implementation,
        order: list[int],
        flush: bool,
        arriving: dict[int, list[Any]] | None = None,
    ) -> BlockTimed:
        """Time one pass plan; see the module docstring. ``arriving``: sets never sent before,
        placed once the candidate's threads are watched, and then timed before any other call of
        the candidate's runs (a call before them could prepare their answers untimed)."""
        clock = self.trusted.perf_counter
        cuda = self.device.type == "cuda"
        wide = name in self.wide
        if cuda:
            if flush and self.flusher is None:
                self.flusher = L2Flusher(self.device)
            starts = [torch.cuda.Event(enable_timing=True) for _ in order]
            ends = [torch.cuda.Event(enable_timing=True) for _ in order]
        host_times: list[float] = []
        sums: list[torch.Tensor] = []
        finals: dict[int, Any] = {}
        limit_before = None
        if cuda:
            # Reset here, not earlier: the driver call needs the context torch has made current.
            self.l2_note = reset_persisting_l2()
            limit_before = self._l2_limit()
        # Nothing of the candidate's may run beside the timed calls: its threads' CPU time is
        # taken before and after (an idle pool, as torch.compile leaves, uses none)
        threads = {t: self.trusted.thread_cpu_ns(t.ident) for t in self.threads()}
        # A call timed alone is warmed up by the judge's request before (Rewarm), never here:
        # a first visit's set is in this process from this request on, and an untimed call
        # could answer it.
        if arriving:
            self.arrive(arriving)
        elif cuda and len(order) == 1:
            self.stand_in(order[0])
        if cuda:
            # Free memory the timed calls may be handed is poisoned first (as before every
            # correctness call): an output not yet written when forward returns then sums to
            # NaN, whatever was left there (a warm-up's, or an earlier call's, answers for the
            # same set would have agreed with the final checksum).
            with self.own_work():
                poison_cuda(self.device, self.output_nbytes)
        self._sync()
        # As timeit does: no collection of the process's heap lands in a timed call (in a large
        # heap one takes tens of ms: a check run in the pytest process saw a lone first visit
        # take 55 ms against 0.4 ms repeats, and called it memoisation); collected after
        collecting = self.trusted.gc_isenabled()
        self.trusted.gc_disable()
        lone = len(order) == 1
        waited = run_queue_ns() if lone else None
        try:
            host_start = clock()
            cpu_start = self.trusted.process_time()
            with torch.no_grad():
                for i, j in enumerate(order):
                    args = impl.prepare(self.sets[j])
                    if cuda:
                        if flush and self.flusher is not None:
                            self.flusher.flush()
                        if i == 0:
                            # keep the device busy while the first call is launched, so that
                            # no call's events include an idle device waiting for the host (as
                            # in a full queue)
                            torch.cuda._sleep(LEAD_CYCLES)
                        starts[i].record()
                        out = impl.run(args)
                        ends[i].record()
                    else:
                        t0 = clock()
                        out = impl.run(args)
                        host_times.append(clock() - t0)
                    # own_work's effect without a context manager's cost between timed calls
                    try:
                        sums.append(checksum(out, wide))
                    except torch.OutOfMemoryError:
                        self._own_work_failed()
                        raise
                    # an output keeping a storage far larger than itself alive (L1/96's 0-dim
                    # loss: its 4 GiB elementwise buffer) is compacted now, after its checksum
                    # and outside the events, not at the block's end: else the last call's
                    # buffer for each set stays alive while the next call makes its own (4 GiB
                    # more in each worker, what an 80 GB GPU lacked at L1/96)
                    finals[j] = out if impl.static else _copy(out, oversized_only=True)
                    out = None  # not alive through the next call
            self._sync()
            host_seconds = clock() - host_start
            cpu_seconds = self.trusted.process_time() - cpu_start
            if waited is not None:
                after = run_queue_ns()
                waited = None if after is None else after - waited
        finally:
            if collecting:
                self.trusted.gc_enable()
        samples = (
            [s.elapsed_time(e) * 1e-3 for s, e in zip(starts, ends, strict=True)]
            if cuda
            else host_times
        )
        # Graph replays write into static buffers: their final outputs need copies. Other
        # outputs are fresh tensors already (copying them would double the memory held), but
        # for those that keep a storage much larger than themselves alive (a 0-dim loss holding
        # its elementwise buffer: 4 GiB a set at L1/96), copied now that the device is idle.
        with self.own_work():
            kept = {j: _copy(o, oversized_only=not impl.static) for j, o in finals.items()}
            finals.clear()
            out = None  # the last call's own output, compacted or not, goes with the rest
            self.finals.setdefault(name, {}).update(kept)
            final_sums = {j: checksum(out, wide) for j, out in kept.items()}
            # float32 sums that overflow agree with any other overflow: where float64 ones of
            # the same outputs do not, later blocks are summed in float64 and this one is not
            # counted (timed again here instead, a set's first visit would become a repeat)
            widened = (
                not wide
                and not _finite(final_sums.values())
                and _finite(checksum(o, True) for o in kept.values())
            )
            if widened:
                self.wide.add(name)
        limit_after = self._l2_limit() if cuda else None
        return BlockTimed(
            samples=samples,
            host_seconds=host_seconds,
            checksums=torch.stack(sums).cpu().tolist(),
            final_checksums={str(j): s.cpu().tolist() for j, s in final_sums.items()},
            persisting_l2_before=limit_before,
            persisting_l2_after=limit_after,
            l2_note=self.l2_note,
            tampered=self.trusted.tampered(),
            cpu_seconds=cpu_seconds,
            threads_alive=self._busy(threads, host_seconds),
            widened=widened,
            waited_s=None if waited is None else waited * 1e-9,
        )

    def _busy(self, before: dict[threading.Thread, int | None], host_seconds: float) -> list[str]:
        """The candidate's threads that ran beside a timed block: those that used CPU time during
        it (more than a sliver of the block's own), and those that started, ended or could not be
        measured during it."""
        allowed = max(BUSY_FLOOR_NS, int(BUSY_SHARE * host_seconds * 1e9))
        busy = set()
        for t in set(before) | set(self.threads()):
            # an ended thread's id may already name another: its clock is not asked
            end = self.trusted.thread_cpu_ns(t.ident) if t.is_alive() else None
            start = before.get(t)
            if start is None or end is None or end - start > allowed:
                busy.add(t.name)
        return sorted(busy)

    def escape(self, impl: Implementation, calls: int) -> Escaped:
        """Back-to-back calls: the events' span against a host clock with a final synchronise."""
        clock = self.trusted.perf_counter
        cuda = self.device.type == "cuda"
        pool = list(self.sets.values())
        self._sync()
        host_start = clock()
        if cuda:
            first, last = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            first.record()
        with torch.no_grad():
            for i in range(calls):
                impl.run(impl.prepare(pool[i % len(pool)]))
        if cuda:
            last.record()
        self._sync()
        host_seconds = clock() - host_start
        span = first.elapsed_time(last) * 1e-3 if cuda else None
        return Escaped(calls, host_seconds, span, self.trusted.tampered())

    def final_outputs(self, name: str, indices: list[int]) -> list[list[torch.Tensor]]:
        """The kept outputs of the timed calls, for the judge's re-check: sent as they are, so
        that on a GPU they cross by CUDA IPC (copied on receipt by the judge) where the channel
        allows, as the correctness calls' outputs do. A copy to the host first took 9.3 s of
        L1/19's 31 s timing phase on the H200 (one 6 GiB output to fresh host pages)."""
        result = []
        for j in indices:
            _, leaves = flatten(self.finals[name][j])
            result.append([leaf.detach() for leaf in leaves])
        return result


def _copy(out: Any, oversized_only: bool = False) -> Any:
    """``out`` with copies of its plain tensors (``oversized_only``: of those only that keep a
    storage alive over 1 MiB larger than their own bytes)."""
    if isinstance(out, torch.Tensor):
        if type(out) is not torch.Tensor:
            return out
        if oversized_only and held_bytes(out) <= nbytes(out) + (1 << 20):
            return out
        return out.detach().clone()
    if isinstance(out, tuple | list):
        return type(out)(_copy(o, oversized_only) for o in out)
    return out


class TimingOps:
    """The timing requests both worker roles answer; a role supplies ``make_impl``."""

    def __init__(
        self, session: TimingSession, make_impl: Callable[[str], Callable[..., Any]]
    ) -> None:
        self.session = session
        self.make_impl = make_impl
        self.impls: dict[str, Implementation] = {}
        self.handlers: dict[type, Callable[[Any], Any]] = {
            Ping: lambda _: Pong(),
            Warmup: self.warmup,
            Rewarm: lambda r: self.session.warmup(self.impls[r.impl], r.max_seconds, min_calls=3),
            TimeBlock: self.time_block,
            Escape: lambda r: self.session.escape(self.impls[r.impl], r.calls),
            FinalOutputs: lambda r: FinalOutputsCopied(
                self.session.final_outputs(r.impl, r.indices)
            ),
        }

    def dispatch(
        self,
        request: Any,
        handlers: dict[type, Callable[[Any], Any]],
        phases: Phases,
        phase: Phase,
        who: str,
    ) -> Any:
        """A role's own handler for ``request``; for a timing request, this one's, in ``phase``."""
        handler = handlers.get(type(request))
        if handler is not None:
            return handler(request)
        timed = self.handlers.get(type(request))
        if timed is None:
            raise ValueError(f"the {who} worker does not answer {type(request).__name__}")
        phases.enter(phase, getattr(request, "impl", ""))
        return timed(request)

    def time_block(self, request: TimeBlock) -> BlockTimed:
        arriving = {int(j): inputs for j, inputs in request.arriving.items()}
        return self.session.block(
            request.impl, self.impls[request.impl], request.order, request.flush, arriving
        )

    def warmup(self, request: Warmup) -> Warmed:
        fn = self.make_impl(request.impl)
        s = self.session
        start = s.trusted.perf_counter()
        impl = s.graph(fn) if request.graph else Implementation(run=lambda args: fn(*args))
        self.impls[request.impl] = impl
        setup = s.trusted.perf_counter() - start
        result = s.warmup(impl, request.max_seconds)
        return Warmed(result.calls, result.times, result.stable, setup_seconds=setup)
