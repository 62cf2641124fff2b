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
from typing import Any

import torch

from kernelswarm import poison, precision, problem, timing, variants
from kernelswarm.worker.common import (
    Phases,
    Trusted,
    changed_elements,
    flatten,
    same_bits,
    state_fingerprint,
    storage_ptr,
    to_device,
)

LATE_WAIT_S = 0.05


def _share_weights(
    reference: dict[str, torch.Tensor], candidate: torch.nn.Module
) -> dict[str, Any]:
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
    only_ref = sorted(set(reference) - set(own))
    only_cand = sorted(set(own) - set(reference))
    return {"shared": shared, "shape_mismatch": mismatched, "reference_only": only_ref,
            "candidate_only": only_cand}  # fmt: skip


class CandidateRole:
    def __init__(self, phases: Phases, device: torch.device, trusted: Trusted) -> None:
        self.phases = phases
        self.device = device
        self.trusted = trusted
        self.model: torch.nn.Module | None = None
        self.inputs: dict[str, list[Any]] = {}
        self.retained: list[
            tuple[int, torch.Tensor, torch.Tensor]
        ] = []  # (call, output, first copy)
        self.threads_before: set[threading.Thread] = set()
        self.calls = 0
        self.timing = timing.TimingOps(timing.TimingSession(device, trusted), self._implementation)

    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req["op"]
        if op == "load":
            return self.load(req)
        if op == "call":
            return self.call(req)
        if op == "finish":
            return self.finish()
        if op == "timing_sets":
            self.timing.session.store(req["sets"], req["warmup"])
            return {"kind": "stored"}
        self.phases.enter(f"{op} of the candidate", "candidate")
        answer = self.timing.handle(req)
        if answer is None:
            raise ValueError(f"unknown request {op!r}")
        return answer

    def _implementation(self, name: str) -> Any:
        if name != "candidate" or self.model is None:
            raise ValueError(f"no implementation called {name!r} here")
        return self.model

    def load(self, req: dict[str, Any]) -> dict[str, Any]:
        overrides = [problem.Override(n, v) for n, v in req["overrides"]]
        self.phases.enter("load problem", "problem")
        prob = problem.load_problem(req["problem"], overrides)
        self.phases.enter("construct reference model", "problem")
        variants.seed_everything(req["init_seed"])
        init_args = list(prob.get_init_inputs())
        reference = prob.model_class(*init_args)
        fingerprint = state_fingerprint(reference)
        ref_state = {k: v.detach().clone() for k, v in reference.state_dict().items()}
        del reference
        if self.device.type == "cuda":
            precision.set_strict_matmul_flags()

        self.phases.enter("import candidate", "candidate")
        cls = problem.load_candidate_class(req["candidate"], overrides)
        self.phases.enter("construct candidate", "candidate")
        variants.seed_everything(req["init_seed"])
        model = cls(*init_args)
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"ModelNew(...) built a {type(model).__qualname__}, not an nn.Module")
        weights: dict[str, Any] = {"mode": req["weights"]}
        if req["weights"] == "share":
            self.phases.enter("share reference weights", "candidate")
            weights.update(_share_weights(ref_state, model))
        del ref_state
        self.phases.enter("move candidate to device", "candidate")
        self.model = model.to(self.device)
        self.threads_before = set(threading.enumerate())
        return {"kind": "loaded", "fingerprint": fingerprint, "weights": weights,
                "tampered": self.trusted.tampered()}  # fmt: skip

    def _place_inputs(self, req: dict[str, Any]) -> list[Any]:
        mode, key = req["mode"], req["key"]
        if mode == "fresh":
            self.inputs[key] = [to_device(x, self.device) for x in req["inputs"]]
        elif mode == "reuse":
            self.inputs[key] = self.inputs[req["source"]]
        elif mode == "clone":
            self.inputs[key] = [to_device(x, self.device) for x in self.inputs[req["source"]]]
        elif mode == "overwrite":
            old = self.inputs[req["source"]]
            for slot, new in zip(old, req["inputs"], strict=True):
                if isinstance(slot, torch.Tensor):
                    slot.copy_(new)
            self.inputs[key] = [
                slot if isinstance(slot, torch.Tensor) else new
                for slot, new in zip(old, req["inputs"], strict=True)
            ]
        else:
            raise ValueError(f"unknown input mode {mode!r}")
        return self.inputs[key]

    def call(self, req: dict[str, Any]) -> dict[str, Any]:
        assert self.model is not None, "load first"
        self.calls += 1
        call = self.calls
        self.phases.enter(f"prepare call {call}", "harness")
        inputs = self._place_inputs(req)
        pristine = [x.clone() if isinstance(x, torch.Tensor) else x for x in inputs]
        input_ptrs = {
            storage_ptr(x): i for i, x in enumerate(inputs) if isinstance(x, torch.Tensor)
        }
        report = poison.poison_free_memory(self.device, req["output_nbytes"])

        self.phases.enter(f"forward call {call}", "candidate")
        start = self.trusted.perf_counter()
        with torch.no_grad():
            out = self.model(*inputs)
        host_seconds = self.trusted.perf_counter() - start

        self.phases.enter(f"inspect output of call {call}", "candidate")
        structure, leaves = flatten(out)
        facts: list[dict[str, Any]] = []
        firsts: list[torch.Tensor | None] = []
        for leaf in leaves:
            fact, first = self._inspect_leaf(leaf, input_ptrs)
            facts.append(fact)
            firsts.append(first)
        # Wait for everything the device and any thread could still be doing, then look again.
        if self.device.type == "cuda":
            self.trusted.synchronize()
        self.trusted.sleep(LATE_WAIT_S)
        for leaf, fact, first in zip(leaves, facts, firsts, strict=True):
            if first is None:
                continue
            late = leaf.detach().to("cpu", copy=True)
            if not same_bits(first, late):
                n, worst = changed_elements(first, late)
                fact["changed_after_return"] = {"elements": n, "max_abs_change": worst}
            if fact.get("aliases_input") is None:
                # An output that is an input's memory changes whenever that input is rewritten
                # for a later call; it is judged by the aliasing rule, not re-checked here.
                self.retained.append((call, leaf, first))

        mutated = []
        for i, (x, p) in enumerate(zip(inputs, pristine, strict=True)):
            if isinstance(x, torch.Tensor) and not same_bits(x, p):
                n, worst = changed_elements(p, x)
                mutated.append({"input": i, "elements": n, "max_abs_change": worst})
                x.copy_(p)  # restore, so that a later call on these tensors means what it says
        return {
            "kind": "called",
            "call": call,
            "structure": structure,
            "outputs": firsts,
            "facts": facts,
            "mutated_inputs": mutated,
            "host_seconds": host_seconds,
            "poison": {"free_bytes": report.free_bytes, "poisoned_bytes": report.poisoned_bytes},
            "threads_alive": self._new_threads(),
            "tampered": self.trusted.tampered(),
        }

    def _inspect_leaf(
        self, leaf: Any, input_ptrs: dict[int, int]
    ) -> tuple[dict[str, Any], torch.Tensor | None]:
        kind = type(leaf)
        fact: dict[str, Any] = {"type": f"{kind.__module__}.{kind.__qualname__}"}
        if kind in (bool, int, float):
            fact["scalar"] = True
            return fact, torch.tensor(leaf)
        if kind is not torch.Tensor:
            # A subclass (a lazy or lying tensor) is not touched further: any attribute read
            # could run its code. It is rejected on its type alone.
            fact["exact_tensor"] = False
            return fact, None
        fact.update(
            exact_tensor=True,
            dtype=str(leaf.dtype).removeprefix("torch."),
            shape=list(leaf.shape),
            device=leaf.device.type,
            layout=str(leaf.layout),
        )
        if leaf.layout != torch.strided or leaf.device.type == "meta":
            return fact, None
        if leaf.numel() and leaf.data_ptr() == 0:
            fact["null_data"] = True
            return fact, None
        ptr = storage_ptr(leaf)
        fact["aliases_input"] = input_ptrs.get(ptr) if ptr else None
        earlier = [c for c, kept, _ in self.retained if ptr and storage_ptr(kept) == ptr]
        fact["reuses_output_of_call"] = earlier[0] if earlier else None
        return fact, leaf.detach().to("cpu", copy=True)

    def _new_threads(self) -> list[str]:
        return sorted(
            t.name for t in threading.enumerate() if t not in self.threads_before and t.is_alive()
        )

    def finish(self) -> dict[str, Any]:
        self.phases.enter("final re-check of returned outputs", "candidate")
        if self.device.type == "cuda":
            self.trusted.synchronize()
        self.trusted.sleep(4 * LATE_WAIT_S)
        changed = []
        for call, leaf, first in self.retained:
            now = leaf.detach().to("cpu", copy=True)
            if not same_bits(first, now):
                n, worst = changed_elements(first, now)
                changed.append({"call": call, "elements": n, "max_abs_change": worst})
        return {
            "kind": "finished",
            "outputs_changed_later": changed,
            "threads_alive": self._new_threads(),
            "tampered": self.trusted.tampered(),
        }
