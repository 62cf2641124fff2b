"""The reference role: runs only the problem's own code, never a candidate.

For each test it draws the inputs, computes the expected output in float64 (module and inputs
upcast), the output in the problem's working precision, and, when the policy asks, the output
in the policy's precision. Those numbers go to the judge; the candidate's process never sees them.

Standard library and torch only.
"""

from __future__ import annotations

from typing import Any

import torch

from kernelswarm import precision, problem, roofline, timing, variants
from kernelswarm.worker.common import (
    Phases,
    Trusted,
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
    def __init__(self, phases: Phases, device: torch.device, trusted: Trusted) -> None:
        self.phases = phases
        self.device = device
        self.timing = timing.TimingOps(timing.TimingSession(device, trusted), self._implementation)
        self.compiled: Any = None
        self.problem: problem.ProblemModule | None = None
        self.models: dict[str, torch.nn.Module] = {}
        self.policy_dtype: torch.dtype | None = None
        self.policy_tf32 = False
        self.tests_run = 0

    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req["op"]
        if op == "load":
            return self.load(req)
        if op == "test":
            return self.test(req)
        if op == "timing_sets":
            return self.timing_sets(req)
        if op == "reference_for_set":
            self.phases.enter(f"float64 reference for timing set {req['index']}", "problem")
            host = [
                x.cpu() if isinstance(x, torch.Tensor) else x
                for x in self.timing.session.sets[req["index"]]
            ]
            return {"kind": "answers", **self._answers(host, req["name"])}
        if op == "counts":
            self.phases.enter("counting flops and bytes", "problem")
            return {
                "kind": "counts",
                **roofline.count(self.models["working"], self.timing.session.sets[0]),
            }
        if op == "estimate":
            return self.estimate(req)
        if op == "sensitivity":
            return self.sensitivity(req)
        if op == "peaks":
            self.phases.enter("measuring the device's peaks", "harness")
            return {"kind": "peaks", **roofline.measure_peaks(self.device)}
        self.phases.enter(f"{op} of the baselines", "problem")
        answer = self.timing.handle(req)
        if answer is None:
            raise ValueError(f"unknown request {op!r}")
        return answer

    def estimate(self, req: dict[str, Any]) -> dict[str, Any]:
        """Flops and sizes at the given overrides, on the meta device: nothing is allocated."""
        self.phases.enter("estimating sizes on the meta device", "problem")
        overrides = [problem.Override(n, v) for n, v in req["overrides"]]
        prob = problem.load_problem(req["problem"], overrides)
        with torch.device("meta"):
            variants.seed_everything(0)
            model = prob.model_class(*prob.get_init_inputs())
            inputs = list(prob.get_inputs())
        return {"kind": "estimate", **roofline.count(model, inputs)}

    def sensitivity(self, req: dict[str, Any]) -> dict[str, Any]:
        """How much the output moves when one input, or one parameter, is drawn again."""
        assert self.problem is not None, "load first"
        self.phases.enter("measuring the output's sensitivity", "problem")
        model = self.models["working"]
        draw = self.problem.get_inputs
        base = [
            to_device(_host(x), self.device)
            for x in variants.make_inputs(draw, req["seeds"][0], "base")
        ]
        other = [
            to_device(_host(x), self.device)
            for x in variants.make_inputs(draw, req["seeds"][1], "base")
        ]
        y0 = _host_leaves(self._run("working", base), "reference")[1]

        def change(inputs: list[Any]) -> float:
            y = _host_leaves(self._run("working", inputs), "reference")[1]
            return max(_relative_change(a, b) for a, b in zip(y0, y, strict=True))

        inputs = {}
        for i, x in enumerate(base):
            if (
                isinstance(x, torch.Tensor)
                and isinstance(other[i], torch.Tensor)
                and other[i].shape == x.shape
            ):
                inputs[str(i)] = change([other[i] if j == i else v for j, v in enumerate(base)])
        variants.seed_everything(req["seeds"][2])
        fresh = (
            self.problem.model_class(*self.problem.get_init_inputs()).to(self.device).state_dict()
        )
        weights, constant = {}, []
        with torch.no_grad():
            for name, param in list(model.named_parameters())[:48]:
                if name not in fresh or fresh[name].shape != param.shape:
                    continue
                saved = param.detach().clone()
                replacement = fresh[name]
                if torch.equal(replacement, saved):
                    # Initialised to a constant (a norm's weight of 1, a bias of 0): the same under
                    # every seed. Perturb it to see whether it matters at all.
                    constant.append(name)
                    replacement = saved + 0.1 * (saved.abs() + 1) * torch.randn_like(saved)
                param.copy_(replacement)
                weights[name] = change(base)
                param.copy_(saved)
        return {
            "kind": "sensitivity",
            "inputs": inputs,
            "weights": weights,
            "constant_init": constant,
        }

    def _implementation(self, name: str) -> Any:
        if name == "eager":
            return self.models["working"]
        if name == "compile":
            if self.compiled is None:
                self.compiled = torch.compile(self.models["working"])
            return self.compiled
        raise ValueError(f"no baseline called {name!r}")

    def timing_sets(self, req: dict[str, Any]) -> dict[str, Any]:
        """Draw fresh input sets for timing (never seen by any implementation before)."""
        assert self.problem is not None, "load first"
        self.phases.enter("drawing timing input sets", "problem")
        draw = self.problem.get_inputs
        sets = [
            [_host(x) for x in variants.make_inputs(draw, seed, "base")] for seed in req["seeds"]
        ]
        warmup = [
            [_host(x) for x in variants.make_inputs(draw, seed, "base")]
            for seed in req["warmup_seeds"]
        ]
        self.timing.session.store(sets, warmup)
        set_bytes = sum(
            x.numel() * x.element_size() for x in sets[0] if isinstance(x, torch.Tensor)
        )
        if not req.get("return_sets", True):  # nobody else needs them (bench without a candidate)
            sets, warmup = [], []
        return {"kind": "sets", "sets": sets, "warmup": warmup, "set_bytes": set_bytes}

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
        self.models["float64"] = self._replica(model, req["init_seed"], init_args, torch.float64)
        if req["policy_dtype"]:
            self.policy_dtype = precision_dtype(req["policy_dtype"])
            self.models["policy"] = self._replica(
                model, req["init_seed"], init_args, self.policy_dtype
            )
        self.policy_tf32 = bool(req["policy_tf32"])
        self.models["working"] = model.to(self.device)
        n_params = sum(p.numel() for p in model.parameters())
        # Floating parameters holding one value throughout (a norm's weight of 1, a bias of 0):
        # a kernel that ignores them computes the same thing on every test.
        constant = [
            name
            for name, param in model.named_parameters()
            if param.is_floating_point()
            and param.numel() > 1
            and bool((param == param.detach().flatten()[0]).all())
        ]
        return {
            "kind": "loaded",
            "fingerprint": fingerprint,
            "parameters": n_params,
            "constant_parameters": constant,
            "init_inputs": repr(init_args)[:500],
            "variants": list(self.problem.variants) if self.problem.variants else None,
        }

    def _replica(
        self, model: torch.nn.Module, seed: int, init_args: list[Any], dtype: torch.dtype
    ) -> torch.nn.Module:
        """The reference model again, in another precision: constructed anew (with the same
        seed and the same weights), not deep-copied, since a deep copy shares what closures
        captured (KernelBench's MiniGPT block keeps ``lambda x: m.c_proj(...)`` over its own
        float32 submodule)."""
        assert self.problem is not None
        variants.seed_everything(seed)
        replica = self.problem.model_class(*init_args)
        replica.load_state_dict(model.state_dict())
        return replica.to(self.device, dtype)

    def _run(self, name: str, inputs: list[Any]) -> Any:
        with torch.no_grad():
            if name != "float64":
                return self.models[name](*inputs)
            # Tensors the forward creates itself (torch.randn(..., device=x.device)) follow the
            # default dtype: float64 too, in the float64 reference.
            previous = torch.get_default_dtype()
            torch.set_default_dtype(torch.float64)
            try:
                return self.models[name](*inputs)
            finally:
                torch.set_default_dtype(previous)

    def test(self, req: dict[str, Any]) -> dict[str, Any]:
        assert self.problem is not None, "load first"
        self.phases.enter(f"draw inputs for test {req['name']}", "problem")
        inputs = variants.make_inputs(self.problem.get_inputs, req["seed"], req["variant"])
        host_inputs = [_host(x) for x in inputs]
        for x in host_inputs:
            if not (x is None or isinstance(x, torch.Tensor | bool | int | float | str)):
                raise TypeError(f"get_inputs() returned a {type(x).__qualname__}")
        answers = self._answers(host_inputs, req["name"])
        again = None
        if self.tests_run == 0:
            # Run once more on the same values: dropout in training mode, or any other
            # randomness, makes a problem impossible to judge by comparison.
            rerun = [to_device(x, self.device) for x in host_inputs]
            again = _host_leaves(self._run("working", rerun), "reference")[1]
        self.tests_run += 1
        return {"kind": "test", "inputs": host_inputs, "again": again, **answers}

    def _answers(self, host_inputs: list[Any], name: str) -> dict[str, Any]:
        """float64, working-precision and policy-precision outputs, and what the reference does."""
        dev = [to_device(x, self.device) for x in host_inputs]
        self.phases.enter(f"float64 reference for {name}", "problem")
        _, expected = _host_leaves(
            self._run("float64", _cast_inputs(dev, torch.float64)), "reference"
        )

        self.phases.enter(f"working-precision reference for {name}", "problem")
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
            {
                input_ptrs[storage_ptr(leaf)]
                for leaf in flatten(out)[1]
                if isinstance(leaf, torch.Tensor) and storage_ptr(leaf) in input_ptrs
            }
        )
        policy_out = None
        if self.policy_dtype is not None:
            self.phases.enter(f"{self.policy_dtype} reference for {name}", "problem")
            cast = _cast_inputs([to_device(x, self.device) for x in host_inputs], self.policy_dtype)
            policy_out = _host_leaves(self._run("policy", cast), "reference")[1]
        elif self.policy_tf32:
            self.phases.enter(f"tf32 reference for {name}", "problem")
            with precision.tf32_compute(self.device.type):
                fresh = [to_device(x, self.device) for x in host_inputs]
                policy_out = _host_leaves(self._run("working", fresh), "reference")[1]
        return {
            "expected": expected,
            "working": working,
            "policy": policy_out,
            "structure": structure,
            "mutated_inputs": mutated,
            "aliased_inputs": aliased,
        }


def _relative_change(a: torch.Tensor, b: torch.Tensor) -> float:
    if not a.is_floating_point():
        return float((a != b).double().mean()) if a.numel() else 0.0
    a64, b64 = a.double(), b.double()
    scale = float(a64.norm()) or 1.0
    return float((a64 - b64).nan_to_num(nan=1e30).norm()) / scale


def _host(x: Any) -> Any:
    return x.detach().cpu() if isinstance(x, torch.Tensor) else x


def precision_dtype(name: str) -> torch.dtype:
    dtype = getattr(torch, name)
    assert isinstance(dtype, torch.dtype)
    return dtype
