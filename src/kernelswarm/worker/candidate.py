"""The candidate role: runs untrusted ``ModelNew`` code and reports facts, never verdicts.

The judge sends inputs one call at a time (never ahead), so nothing about a later call can be
known earlier. For each call this role:

1. places the inputs as asked: fresh storage, the same tensors again, equal values at new
   addresses, or new values written into old addresses;
2. poisons freed memory (see ``poison``) and keeps a bit-exact copy of every input;
3. calls forward, then copies the result to the host at once, on the current stream only
   (work hidden on a side stream or a thread is not waited for);
4. waits (device-wide synchronise, then a pause) and copies again: a difference means work
   was still running when forward returned;
5. reports the result's exact type, dtype, shape, device, what it aliases, which inputs were
   modified, which threads the call left running, and whether any trusted function was replaced.

Every returned output is kept alive to the end and compared again with its first copy, so an
output overwritten by a later call (a reused buffer) or by late work shows.

Standard library and torch only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch
from torch.multiprocessing.reductions import StorageWeakRef

from kernelswarm import poison, precision, problem, variants
from kernelswarm.protocol import (
    RETAIN_OUTPUT_BYTES,
    Call,
    Called,
    CandidateLoaded,
    Change,
    Finish,
    Finished,
    InputMode,
    LateChange,
    LoadCandidate,
    Mutation,
    OutputFact,
    Phase,
    Stored,
    StoreTimingSets,
    WeightsReport,
)
from kernelswarm.tensors import (
    changed_elements,
    flatten,
    held_bytes,
    lies_on,
    nbytes,
    same_bits,
    state_fingerprint,
    storage_ptr,
    to_device,
)
from kernelswarm.worker import timing
from kernelswarm.worker.guard import Phases, Trusted

LATE_WAIT_S = 0.05
#: free GPU memory an output's kept copy leaves beyond the judge's copy of it
KEEP_MARGIN_BYTES = 1 << 30


def _share_weights(reference: dict[str, torch.Tensor], candidate: torch.nn.Module) -> WeightsReport:
    """Copy reference tensors into the candidate where name and shape match."""
    own = candidate.state_dict()
    shared, mismatched = [], []
    with torch.no_grad():
        for name, value in own.items():
            ref = reference.get(name)
            if ref is None:
                continue
            if isinstance(value, torch.Tensor) and tuple(value.shape) == tuple(ref.shape):
                value.copy_(ref)
                shared.append(name)
            else:
                mismatched.append(name)
    return WeightsReport(
        mode="share",
        shared=shared,
        shape_mismatch=mismatched,
        reference_only=sorted(set(reference) - set(own)),
        candidate_only=sorted(set(own) - set(reference)),
    )


class CandidateRole:
    def __init__(self, phases: Phases, device: torch.device, trusted: Trusted) -> None:
        self.phases = phases
        self.device = device
        self.trusted = trusted
        self.model: torch.nn.Module | None = None
        self.inputs: dict[str, list[Any]] = {}
        #: (call, output, first copy) of every returned output
        self.retained: list[tuple[int, torch.Tensor, torch.Tensor]] = []
        self.changed_later: list[LateChange] = []
        # outputs let go early: their memory, watched, so that one handed back again (a cache)
        # is still seen while the candidate keeps it alive
        self.let_go: list[tuple[int, int, StorageWeakRef]] = []
        self.threads_before: set[threading.Thread] = set()
        self.calls = 0
        self.timing = timing.TimingOps(
            timing.TimingSession(device, trusted, self._threads, phases), self._implementation
        )
        self.handlers: dict[type, Callable[[Any], Any]] = {
            LoadCandidate: self.load,
            Call: self.call,
            Finish: self.finish,
            StoreTimingSets: self.store_timing_sets,
        }

    def handle(self, request: Any) -> Any:
        return self.timing.dispatch(
            request, self.handlers, self.phases, Phase.TIME_CANDIDATE, "candidate"
        )

    def _implementation(self, name: str) -> Any:
        if name != "candidate" or self.model is None:
            raise ValueError(f"no implementation called {name!r} here")
        return self.model

    def store_timing_sets(self, req: StoreTimingSets) -> Stored:
        self.timing.session.store({int(j): s for j, s in req.sets.items()}, req.warmup)
        return Stored()

    def load(self, req: LoadCandidate) -> CandidateLoaded:
        self.phases.enter(Phase.LOAD_PROBLEM)
        prob = problem.load_problem(req.problem, req.overrides)
        self.phases.enter(Phase.CONSTRUCT_REFERENCE)
        variants.seed_everything(req.init_seed)
        init_args = list(prob.get_init_inputs())
        reference = prob.model_class(*init_args)
        fingerprint = state_fingerprint(reference)
        ref_state = {k: v.detach().clone() for k, v in reference.state_dict().items()}
        del reference
        if self.device.type == "cuda":
            precision.set_strict_matmul_flags()

        self.phases.enter(Phase.IMPORT_CANDIDATE)
        cls = problem.load_candidate_class(req.candidate, req.overrides)
        self.phases.enter(Phase.CONSTRUCT_CANDIDATE)
        variants.seed_everything(req.init_seed)
        model = cls(*init_args)
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"ModelNew(...) built a {type(model).__qualname__}, not an nn.Module")
        weights = WeightsReport(mode=req.weights)
        if req.weights == "share":
            self.phases.enter(Phase.SHARE_WEIGHTS)
            weights = _share_weights(ref_state, model)
        del ref_state
        self.phases.enter(Phase.MOVE_CANDIDATE)
        self.model = model.to(self.device)
        self.threads_before = set(threading.enumerate())
        return CandidateLoaded(fingerprint, weights, self.trusted.tampered())

    def _place_inputs(self, req: Call) -> list[Any]:
        mode, key = req.mode, req.key
        for gone in req.release:
            self.inputs.pop(gone, None)
        if mode in (InputMode.FRESH, InputMode.OVERWRITE) and req.inputs is None:
            raise ValueError(f"a {mode.value} call carries no inputs")
        if mode is InputMode.FRESH:
            assert req.inputs is not None
            # tensors that arrived on this GPU are fresh memory of their own: no second copy
            self.inputs[key] = [
                x
                if isinstance(x, torch.Tensor) and lies_on(x, self.device)
                else to_device(x, self.device)
                for x in req.inputs
            ]
        elif mode is InputMode.REUSE:
            self.inputs[key] = self.inputs[str(req.source)]
        elif mode is InputMode.CLONE:
            self.inputs[key] = [to_device(x, self.device) for x in self.inputs[str(req.source)]]
        else:
            assert req.inputs is not None
            old = self.inputs[str(req.source)]
            for slot, new in zip(old, req.inputs, strict=True):
                if isinstance(slot, torch.Tensor):
                    slot.copy_(new)
            self.inputs[key] = [
                slot if isinstance(slot, torch.Tensor) else new
                for slot, new in zip(old, req.inputs, strict=True)
            ]
        return self.inputs[key]

    def call(self, req: Call) -> Called:
        if self.model is None:
            raise RuntimeError("the candidate worker was asked for a call before LoadCandidate")
        self.calls += 1
        call = self.calls
        self.phases.enter(Phase.PREPARE_CALL, str(call))
        self._look_back(keep=RETAIN_OUTPUT_BYTES)  # small problems: all
        inputs = self._place_inputs(req)
        pristine = [x.clone() if isinstance(x, torch.Tensor) else x for x in inputs]
        input_ptrs = {
            storage_ptr(x): i for i, x in enumerate(inputs) if isinstance(x, torch.Tensor)
        }
        report = poison.poison_free_memory(self.device, req.output_nbytes)

        self.phases.enter(Phase.FORWARD, str(call))
        start = self.trusted.perf_counter()
        with torch.no_grad():
            out = self.model(*inputs)
        host_seconds = self.trusted.perf_counter() - start

        self.phases.enter(Phase.INSPECT_OUTPUT, str(call))
        structure, leaves = flatten(out)
        facts: list[OutputFact] = []
        firsts: list[torch.Tensor | None] = []
        for leaf in leaves:
            fact, first = self._inspect_leaf(leaf, input_ptrs)
            facts.append(fact)
            firsts.append(first)
        # Wait for everything the device and any thread could still be doing, then look again.
        if self.device.type == "cuda":
            self.trusted.synchronize()
        self.trusted.sleep(LATE_WAIT_S)
        for k, (leaf, fact, first) in enumerate(zip(leaves, facts, firsts, strict=True)):
            if first is None:
                continue
            change = _change_since(first, leaf)
            if change is not None:
                facts[k] = replace(fact, changed_after_return=change)
            if fact.aliases_input is None:
                # An output that is an input's memory changes whenever that input is rewritten
                # for a later call; it is judged by the aliasing rule, not re-checked here.
                self.retained.append((call, leaf, first))

        mutated = []
        for i, (x, p) in enumerate(zip(inputs, pristine, strict=True)):
            if isinstance(x, torch.Tensor) and not same_bits(x, p):
                mutated.append(Mutation(i, changed_elements(p, x)))
                x.copy_(p)  # restore, so that a later call on these tensors means what it says
        return Called(
            call=call,
            structure=structure,
            outputs=firsts,
            facts=facts,
            mutated_inputs=mutated,
            host_seconds=host_seconds,
            free_bytes=report.free_bytes,
            poisoned_bytes=report.poisoned_bytes,
            threads_alive=self._new_threads(),
            tampered=self.trusted.tampered(),
        )

    def _inspect_leaf(
        self, leaf: Any, input_ptrs: dict[int, int]
    ) -> tuple[OutputFact, torch.Tensor | None]:
        kind = type(leaf)
        name = f"{kind.__module__}.{kind.__qualname__}"
        if kind in (bool, int, float):
            return OutputFact(type=name, scalar=True), torch.tensor(leaf)
        if kind is not torch.Tensor:
            # A subclass (a lazy or lying tensor) is not touched further: any attribute read
            # could run its code. It is rejected on its type alone.
            return OutputFact(type=name), None
        described = {
            "type": name,
            "exact_tensor": True,
            "dtype": str(leaf.dtype).removeprefix("torch."),
            "shape": list(leaf.shape),
            "device": leaf.device.type,
            "layout": str(leaf.layout),
        }
        if leaf.layout != torch.strided or leaf.device.type == "meta":
            return OutputFact(**described), None
        if leaf.numel() and leaf.data_ptr() == 0:
            return OutputFact(**described, null_data=True), None
        ptr = storage_ptr(leaf)
        earlier = [c for c, kept, _ in self.retained if ptr and storage_ptr(kept) == ptr]
        earlier += [c for c, p, ref in self.let_go if ptr and p == ptr and not ref.expired()]
        fact = OutputFact(
            **described,
            aliases_input=input_ptrs.get(ptr) if ptr else None,
            reuses_output_of_call=earlier[0] if earlier else None,
        )
        return fact, _kept_copy(leaf)

    def _threads(self) -> list[threading.Thread]:
        """The threads the candidate's code started that are still alive."""
        return [t for t in threading.enumerate() if t not in self.threads_before and t.is_alive()]

    def _new_threads(self) -> list[str]:
        return sorted(t.name for t in self._threads())

    def finish(self, req: Finish) -> Finished:
        self.phases.enter(Phase.FINAL_RECHECK)
        if self.device.type == "cuda":
            self.trusted.synchronize()
        self.trusted.sleep(4 * LATE_WAIT_S)
        self._look_back(keep=0)
        finished = Finished(self.changed_later, self._new_threads(), self.trusted.tampered())
        # The tests are judged: their inputs (GiB at KernelBench's sizes) and the cache of this
        # process's allocator go back to the device, which timing needs next.
        self.inputs.clear()
        self.let_go.clear()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        return finished

    def _look_back(self, keep: int) -> None:
        """Compare kept outputs with what they were on return, oldest first, and let them go
        until those still kept take at most ``keep`` bytes: what they keep alive, a storage
        larger than their elements included (L1/96 on an H200: every call's 0-dim loss kept its
        4 GiB elementwise buffer, and the candidate ran out of memory in call 12 with 72 GiB
        allocated, where its plan needs about 32)."""
        held = sum(held_bytes(leaf) + nbytes(first) for _, leaf, first in self.retained)
        while self.retained and held > keep:
            call, leaf, first = self.retained.pop(0)
            held -= held_bytes(leaf) + nbytes(first)
            self.let_go.append((call, storage_ptr(leaf), StorageWeakRef(leaf.untyped_storage())))
            change = _change_since(first, leaf)
            if change is not None:
                self.changed_later.append(LateChange(call, change))
            del leaf, first


def _kept_copy(leaf: torch.Tensor) -> torch.Tensor:
    """The output as returned, copied: what the judge compares and the re-checks look back to.

    On the GPU where it fits with room left for the judge's copy on receipt and a margin (the
    channel then sends it from the device straight to the judge's GPU), on the host otherwise.
    (It was "eight such copies free": at KernelBench's sizes, 6 GiB outputs with 36 GiB free,
    every output went through host memory twice, about 20 s a call on the H200.)
    """
    if leaf.device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(leaf.device)
        if free > 2 * nbytes(leaf) + KEEP_MARGIN_BYTES:
            return leaf.detach().clone()
    return leaf.detach().to("cpu", copy=True)


def _change_since(first: torch.Tensor, leaf: torch.Tensor) -> Change | None:
    """How an output differs now from its copy taken on return; None where not at all.

    Compared in place where the copy is on the output's device (no third copy of GiB); brought
    to the copy's device otherwise. The output is a plain tensor (checked on return), so
    reading it runs none of the candidate's code.
    """
    now = leaf.detach()
    if now.device != first.device:
        now = now.to(first.device, copy=True)
    return None if same_bits(first, now) else changed_elements(first, now)
