"""The reference role: runs only the problem's own code, never a candidate.

For each test it draws the inputs, computes the expected output in float64 (module and inputs
upcast), the output in the problem's working precision, and, when the policy asks, the output
in the policy's precision. Those numbers go to the judge; the candidate's process never sees them.

Standard library and torch only.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from kernelswarm import precision, problem, variants
from kernelswarm.worker.common import (
    Phases,
    flatten,
    same_bits,
    state_fingerprint,
    storage_ptr,
    to_device,
)


def _cast_inputs(inputs: list[Any], dtype: torch.dtype) -> list[Any]:
    return [
        x.to(dtype) if isinstance(x, torch.Tensor) and x.is_floating_point() else x for x in inputs
    ]


def _host_leaves(out: Any, what: str) -> tuple[str, list[torch.Tensor]]:
    structure, leaves = flatten(out)
    host = []
    for leaf in leaves:
        if isinstance(leaf, torch.Tensor):
            host.append(leaf.detach().to("cpu", copy=True))
        elif isinstance(leaf, bool | int | float):
            host.append(torch.tensor(leaf))
        else:
            raise TypeError(f"the {what} returned a {type(leaf).__qualname__}; expected tensors")
    return structure, host


class ReferenceRole:
    def __init__(self, phases: Phases, device: torch.device) -> None:
        self.phases = phases
        self.device = device
        self.problem: problem.ProblemModule | None = None
        self.models: dict[str, torch.nn.Module] = {}
        self.policy_dtype: torch.dtype | None = None
        self.policy_tf32 = False
        self.tests_run = 0

    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        if req["op"] == "load":
            return self.load(req)
        if req["op"] == "test":
            return self.test(req)
        raise ValueError(f"unknown request {req['op']!r}")

    def load(self, req: dict[str, Any]) -> dict[str, Any]:
        self.phases.enter("load problem", "problem")
        overrides = [problem.Override(n, v) for n, v in req["overrides"]]
        self.problem = problem.load_problem(req["problem"], overrides)
        self.phases.enter("construct reference model", "problem")
        variants.seed_everything(req["init_seed"])
        init_args = list(self.problem.get_init_inputs())
        model = self.problem.model_class(*init_args)
        fingerprint = state_fingerprint(model)
        if self.device.type == "cuda":
            precision.set_strict_matmul_flags()
        self.models["float64"] = copy.deepcopy(model).to(self.device, torch.float64)
        if req["policy_dtype"]:
            self.policy_dtype = precision_dtype(req["policy_dtype"])
            self.models["policy"] = copy.deepcopy(model).to(self.device, self.policy_dtype)
        self.policy_tf32 = bool(req["policy_tf32"])
        self.models["working"] = model.to(self.device)
        n_params = sum(p.numel() for p in model.parameters())
        return {
            "kind": "loaded",
            "fingerprint": fingerprint,
            "parameters": n_params,
            "init_inputs": repr(init_args)[:500],
            "variants": list(self.problem.variants) if self.problem.variants else None,
        }

    def _run(self, name: str, inputs: list[Any]) -> Any:
        with torch.no_grad():
            return self.models[name](*inputs)

    def test(self, req: dict[str, Any]) -> dict[str, Any]:
        assert self.problem is not None, "load first"
        self.phases.enter(f"draw inputs for test {req['name']}", "problem")
        inputs = variants.make_inputs(self.problem.get_inputs, req["seed"], req["variant"])
        host_inputs = [x.detach().cpu() if isinstance(x, torch.Tensor) else x for x in inputs]
        for x in host_inputs:
            if not (x is None or isinstance(x, torch.Tensor | bool | int | float | str)):
                raise TypeError(f"get_inputs() returned a {type(x).__qualname__}")
        dev = [to_device(x, self.device) for x in host_inputs]

        self.phases.enter(f"float64 reference for test {req['name']}", "problem")
        _, expected = _host_leaves(
            self._run("float64", _cast_inputs(dev, torch.float64)), "reference"
        )

        self.phases.enter(f"working-precision reference for test {req['name']}", "problem")
        run_inputs = [to_device(x, self.device) for x in host_inputs]
        out = self._run("working", run_inputs)
        structure, working = _host_leaves(out, "reference")
        mutated = [
            i
            for i, (x, p) in enumerate(zip(dev, run_inputs, strict=True))
            if isinstance(x, torch.Tensor) and not same_bits(x, p)
        ]
        input_ptrs = {
            storage_ptr(p): i for i, p in enumerate(run_inputs) if isinstance(p, torch.Tensor)
        }
        aliased = sorted(
            {input_ptrs[storage_ptr(leaf)] for leaf in flatten(out)[1]
             if isinstance(leaf, torch.Tensor) and storage_ptr(leaf) in input_ptrs}
        )  # fmt: skip

        again = None
        if self.tests_run == 0:
            # Run once more on the same values: dropout in training mode, or any other
            # randomness, makes a problem impossible to judge by comparison.
            rerun = [to_device(x, self.device) for x in host_inputs]
            again = _host_leaves(self._run("working", rerun), "reference")[1]

        policy_out = None
        if self.policy_dtype is not None:
            self.phases.enter(f"{self.policy_dtype} reference for test {req['name']}", "problem")
            cast = _cast_inputs([to_device(x, self.device) for x in host_inputs], self.policy_dtype)
            policy_out = _host_leaves(self._run("policy", cast), "reference")[1]
        elif self.policy_tf32:
            self.phases.enter(f"tf32 reference for test {req['name']}", "problem")
            with precision.tf32_compute(self.device.type):
                policy_out = _host_leaves(
                    self._run("working", [to_device(x, self.device) for x in host_inputs]),
                    "reference",
                )[1]
        self.tests_run += 1
        return {
            "kind": "test",
            "inputs": host_inputs,
            "expected": expected,
            "working": working,
            "policy": policy_out,
            "structure": structure,
            "mutated_inputs": mutated,
            "aliased_inputs": aliased,
            "again": again,
        }


def precision_dtype(name: str) -> torch.dtype:
    dtype = getattr(torch, name)
    assert isinstance(dtype, torch.dtype)
    return dtype
