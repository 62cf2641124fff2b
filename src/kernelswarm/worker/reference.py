"""The reference role: runs only the problem's own code, never a candidate.

For each test it draws the inputs, computes the expected output in float64 (module and inputs
upcast), the output in the problem's working precision, and, when the policy asks, the output
in the policy's precision. Those numbers go to the judge; the candidate's process never sees them.
It also times the baselines (eager, torch.compile), counts flops and bytes, and measures the
device's peaks.

Standard library and torch only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from importlib import import_module
from typing import Any, TypeVar

import torch

from kernelswarm import precision, problem, variants
from kernelswarm.poison import release_poisoned
from kernelswarm.protocol import (
    Answers,
    AnswerTimingSet,
    CountWork,
    DrawnTest,
    DrawTest,
    DrawTimingSets,
    Estimate,
    Estimated,
    LoadReference,
    MeasurePeaks,
    PeaksMeasured,
    Phase,
    PrepareTiming,
    ReferenceLoaded,
    Sensitivity,
    SensitivityMeasured,
    TimingPrepared,
    TimingSetAnswered,
    TimingSetsDrawn,
    WorkCounted,
)
from kernelswarm.tensors import (
    flatten,
    host_tensor,
    pieces,
    same_bits,
    state_fingerprint,
    storage_ptr,
    tensor_bytes,
    to_device,
)
from kernelswarm.worker import counting, timing
from kernelswarm.worker.guard import Phases, Trusted

T = TypeVar("T")


def _cast_inputs(inputs: list[Any], dtype: torch.dtype) -> list[Any]:
    """Copies of the inputs, floating ones in ``dtype`` (never the caller's own tensors)."""
    return [
        x.to(dtype, copy=True)
        if isinstance(x, torch.Tensor) and x.is_floating_point()
        else (x.clone() if isinstance(x, torch.Tensor) else x)
        for x in inputs
    ]


def _roomy(make: Callable[[], T]) -> T:
    """``make()``, tried once more after the GPU's cached memory is given back if it ran out of
    memory: the float64 copies of KernelBench-sized inputs are a GPU's largest blocks, and the
    allocator's cache, split by earlier runs, can hold the room they need in pieces (L1/45 on an
    H100: 32 GiB asked for, 14 free and 31.6 cached but unusable). A second failure is raised."""
    try:
        return make()
    except torch.OutOfMemoryError:
        release_poisoned()  # filled first: it may hold earlier tests' answers
        return make()


def _moved_wide(inputs: list[Any], seed: int) -> list[Any]:
    """The inputs one ulp away (``one_ulp_away``, drawn by a generator of ``seed`` on the
    inputs' device), floating ones in float64; copies all."""
    devices = {x.device for x in inputs if isinstance(x, torch.Tensor)}
    gen = torch.Generator(device=devices.pop() if devices else "cpu").manual_seed(seed)
    return [
        one_ulp_away(x, gen, torch.float64)
        if isinstance(x, torch.Tensor) and x.is_floating_point()
        else _fresh(x)
        for x in inputs
    ]


def _fresh(x: Any) -> Any:
    """A copy of a tensor in its own memory, where it lies; other values unchanged."""
    return x.clone() if isinstance(x, torch.Tensor) else x


def _device_leaves(out: Any, what: str, copy: bool = False) -> list[torch.Tensor]:
    """An output's tensors where they lie (Python numbers as tensors), detached; ``copy``: in
    memory of their own (an output may be a parameter's or an input's memory, changed later)."""
    leaves = []
    for leaf in flatten(out)[1]:
        if isinstance(leaf, torch.Tensor):
            leaves.append(leaf.detach().clone() if copy else leaf.detach())
        elif isinstance(leaf, bool | int | float):
            leaves.append(torch.tensor(leaf))
        else:
            raise TypeError(f"the {what} returned a {type(leaf).__qualname__}; expected tensors")
    return leaves


class ReferenceRole:
    def __init__(self, phases: Phases, device: torch.device, trusted: Trusted) -> None:
        self.phases = phases
        self.device = device
        self.timing = timing.TimingOps(
            timing.TimingSession(device, trusted, phases=phases), self._implementation
        )
        self.compiled: Any = None
        self.problem: problem.ProblemModule | None = None
        self.models: dict[str, torch.nn.Module] = {}
        self.policy_dtype: torch.dtype | None = None
        self.policy_tf32 = False
        self.tests_run = 0
        #: why the float64 reference runs on the host (its GPU run ran out of memory), or None
        self.float64_on_host: str | None = None
        self._init: tuple[int, list[Any]] = (0, [])
        self.handlers: dict[type, Callable[[Any], Any]] = {
            LoadReference: self.load,
            DrawTest: self.test,
            DrawTimingSets: self.timing_sets,
            AnswerTimingSet: self.answer_timing_set,
            PrepareTiming: self.prepare_timing,
            CountWork: self.count,
            Estimate: self.estimate,
            Sensitivity: self.sensitivity,
            MeasurePeaks: self.peaks,
        }

    def handle(self, request: Any) -> Any:
        return self.timing.dispatch(
            request, self.handlers, self.phases, Phase.TIME_BASELINE, "reference"
        )

    def _loaded(self) -> problem.ProblemModule:
        if self.problem is None:
            raise RuntimeError("the reference worker was asked for work before LoadReference")
        return self.problem

    def load(self, req: LoadReference) -> ReferenceLoaded:
        self.phases.enter(Phase.LOAD_PROBLEM)
        self.problem = prob = problem.load_problem(req.problem, req.overrides)
        self.phases.enter(Phase.CONSTRUCT_REFERENCE)
        variants.seed_everything(req.init_seed)
        init_args = list(prob.get_init_inputs())
        self._init = (req.init_seed, init_args)
        model = prob.model_class(*init_args)
        fingerprint = state_fingerprint(model)
        if self.device.type == "cuda":
            precision.set_strict_matmul_flags()
        self.models["float64"] = self._replica(model, req.init_seed, init_args, torch.float64)
        if req.policy_dtype:
            self.policy_dtype = precision_dtype(req.policy_dtype)
            self.models["policy"] = self._replica(
                model, req.init_seed, init_args, self.policy_dtype
            )
        self.policy_tf32 = req.policy_tf32
        self.models["working"] = model.to(self.device)
        # Floating parameters holding one value throughout (a norm's weight of 1, a bias of 0):
        # a kernel that ignores them computes the same thing on every test.
        constant = [
            name
            for name, param in model.named_parameters()
            if param.is_floating_point()
            and param.numel() > 1
            and bool((param == param.detach().flatten()[0]).all())
        ]
        return ReferenceLoaded(
            fingerprint=fingerprint,
            parameters=sum(p.numel() for p in model.parameters()),
            constant_parameters=constant,
            init_inputs=repr(init_args)[:500],
            variants=list(prob.variants) if prob.variants else None,
        )

    def _replica(
        self,
        model: torch.nn.Module,
        seed: int,
        init_args: list[Any],
        dtype: torch.dtype,
        device: torch.device | None = None,
    ) -> torch.nn.Module:
        """The reference model again, in another precision: constructed anew (with the same
        seed and the same weights), not deep-copied, since a deep copy shares what closures
        captured (KernelBench's MiniGPT block keeps ``lambda x: m.c_proj(...)`` over its own
        float32 submodule)."""
        variants.seed_everything(seed)
        replica = self._loaded().model_class(*init_args)
        replica.load_state_dict(model.state_dict())
        return replica.to(device or self.device, dtype)

    def _run(self, name: str, inputs: list[Any]) -> Any:
        with torch.no_grad():
            if not name.startswith("float64"):
                return self.models[name](*inputs)
            # Tensors the forward creates itself (torch.randn(..., device=x.device)) follow the
            # default dtype: float64 too, in the float64 reference.
            previous = torch.get_default_dtype()
            torch.set_default_dtype(torch.float64)
            try:
                return self.models[name](*inputs)
            finally:
                torch.set_default_dtype(previous)

    def _float64(
        self, inputs: list[Any], widen: Callable[[list[Any]], list[Any]], what: str
    ) -> list[torch.Tensor]:
        """The float64 reference's outputs on ``widen(inputs)`` (float64 copies made where the
        inputs lie), on this worker's device. Where the GPU runs out of memory for it, it runs on
        the host from then on, and its outputs are brought to the GPU: KernelBench's MSELoss and
        HuberLoss at their own sizes (two 4 GiB inputs, 16 GiB in float64 with the loss's
        temporaries beside the judge's tests) could not be judged on an H100 otherwise."""
        if self.float64_on_host is None:
            try:
                return _device_leaves(
                    self._run("float64", _roomy(lambda: widen(inputs))), "reference"
                )
            except torch.OutOfMemoryError as exc:
                if self.device.type != "cuda":
                    raise
                self.float64_on_host = str(exc).splitlines()[0][:300]
            # out of the handler: the failed run's tensors went with its frames
            self._release()
        self.phases.enter(
            Phase.FLOAT64_REFERENCE,
            f"for {what}, on the host (on the GPU: {self.float64_on_host})",
        )
        if "float64_host" not in self.models:
            seed, init_args = self._init
            self.models["float64_host"] = self._replica(
                self.models["working"], seed, init_args, torch.float64, torch.device("cpu")
            )
        on_host = [host_tensor(x) if isinstance(x, torch.Tensor) else x for x in inputs]
        out = _device_leaves(self._run("float64_host", widen(on_host)), "reference")
        del on_host
        return [leaf.to(self.device) for leaf in out]

    def _draw(self, seed: int, variant: str) -> list[Any]:
        """One set of the problem's inputs, on this worker's device (drawn there on a GPU)."""
        inputs = variants.make_inputs(self._loaded().get_inputs, seed, variant, self.device)
        for x in inputs:
            if not (x is None or isinstance(x, torch.Tensor | bool | int | float | str)):
                raise TypeError(f"get_inputs() returned a {type(x).__qualname__}")
        return [to_device(x, self.device) if isinstance(x, torch.Tensor) else x for x in inputs]

    def test(self, req: DrawTest) -> DrawnTest:
        self.phases.enter(Phase.DRAW_INPUTS, f"for test {req.name}")
        inputs = self._draw(req.seed, req.variant)
        answers, working = self._answers(inputs, f"test {req.name}", req.seed)
        again = None
        if self.tests_run == 0:
            # Run once more on the same values: dropout in training mode, or any other
            # randomness, makes a problem impossible to judge by comparison. Bit for bit the
            # same (the usual case): nothing more crosses to the judge.
            rerun = [_fresh(x) for x in inputs]
            second = _device_leaves(self._run("working", rerun), "reference")
            if not all(same_bits(a, b) for a, b in zip(working, second, strict=True)):
                again = second
            del rerun, second
        self.tests_run += 1
        del working
        self._release()
        # Everything stays where it was computed: the channel copies a GPU tensor straight
        # into the shared area, and the judge's side straight onto its own GPU.
        return DrawnTest(inputs=inputs, again=again, answers=answers)

    def _release(self) -> None:
        """Give the device memory of a test back (the judge and the candidate need it too),
        filled first: it held the test's answers (``release_poisoned``)."""
        if self.device.type == "cuda":
            release_poisoned()

    def _answers(
        self, inputs: list[Any], name: str, seed: int
    ) -> tuple[Answers, list[torch.Tensor]]:
        """float64, working-precision and policy-precision outputs, and what the reference does
        (and the working-precision outputs as they lie on the device). ``inputs`` (on the
        device) are never handed to a model: each run gets its own copies."""
        self.phases.enter(Phase.FLOAT64_REFERENCE, f"for {name}")
        expected = self._float64(inputs, partial(_cast_inputs, dtype=torch.float64), name)

        self.phases.enter(Phase.WORKING_REFERENCE, f"for {name}")
        run_inputs = [_fresh(x) for x in inputs]
        out = self._run("working", run_inputs)
        structure = flatten(out)[0]
        working = _device_leaves(out, "reference")
        mutated = [
            i
            for i, (x, p) in enumerate(zip(inputs, run_inputs, strict=True))
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
        del out, run_inputs
        policy_out = None
        if self.policy_dtype is not None:
            self.phases.enter(Phase.POLICY_REFERENCE, f"({self.policy_dtype}) for {name}")
            cast = _cast_inputs(inputs, self.policy_dtype)
            policy_out = _device_leaves(self._run("policy", cast), "reference")
        elif self.policy_tf32:
            self.phases.enter(Phase.POLICY_REFERENCE, f"(tf32) for {name}")
            with precision.tf32_compute(self.device.type):
                fresh = [_fresh(x) for x in inputs]
                policy_out = _device_leaves(self._run("working", fresh), "reference")
        sensitivity, rounding = self._perturbed(inputs, expected, working, name, seed)

        answers = Answers(
            expected=expected,
            working=working,
            policy=policy_out,
            structure=structure,
            mutated_inputs=mutated,
            aliased_inputs=aliased,
            sensitivity=sensitivity,
            rounding=rounding,
            input_scale=_input_scale(inputs),
        )
        return answers, working

    def _perturbed(
        self,
        inputs: list[Any],
        expected: list[torch.Tensor],
        working: list[torch.Tensor],
        name: str,
        seed: int,
    ) -> tuple[list[torch.Tensor | None], list[torch.Tensor | None] | None]:
        """The answer's own sensitivity to its inputs' last bit, and for small outputs a steadier
        measure of the working precision's rounding error (a backward-error view of tolerance).

        Everything here stays on the device."""
        small = sum(w.numel() for w in working) <= SMALL_OUTPUT
        gen = torch.Generator(device=self.device).manual_seed(seed ^ 0x0B0E)
        sensitivity: list[torch.Tensor | None] = []
        squares: list[torch.Tensor | None] = [None] * len(expected)
        if small:
            squares = [_square(_float_diff(w, e)) for w, e in zip(working, expected, strict=True)]
        for k in range(ROUNDING_SAMPLES if small else 1):
            # entered before the inputs are moved and widened: their memory is this phase's
            what = f"{name}, inputs one ulp away"
            self.phases.enter(Phase.FLOAT64_REFERENCE, f"for {what}")
            if small:  # the working-precision run of small outputs needs them again
                shifted = [one_ulp_away(x, gen) for x in inputs]
                moved = self._float64(shifted, partial(_cast_inputs, dtype=torch.float64), what)
            else:
                shifted = []
                # the same draws wherever the inputs lie (a generator of their own device)
                moved_seed = int(torch.randint(0, 2**62, (1,), generator=gen, device=gen.device))
                moved = self._float64(inputs, partial(_moved_wide, seed=moved_seed), what)
            if k == 0:
                sensitivity = [_float_diff(m, e) for m, e in zip(moved, expected, strict=True)]
            if small:
                # bf16 and fp16 inputs moved one float32 ulp: the working run cannot see that
                shifted = [_like(m, x) for m, x in zip(shifted, inputs, strict=True)]
                self.phases.enter(Phase.WORKING_REFERENCE, f"for {name}, inputs one ulp away")
                again = _device_leaves(self._run("working", shifted), "reference")
                for i, (a, m) in enumerate(zip(again, moved, strict=True)):
                    d, prev = _square(_float_diff(a, m)), squares[i]
                    squares[i] = None if d is None or prev is None else prev + d
            del moved, shifted
        rounding = None
        if small:
            count = ROUNDING_SAMPLES + 1
            rounding = [None if q is None else (q / count).sqrt() for q in squares]
        return sensitivity, rounding

    # -- timing, counting, sizing -------------------------------------------------------------
    def _implementation(self, name: str) -> Any:
        if name == "eager":
            return self.models["working"]
        if name == "compile":
            if self.compiled is None:
                self.compiled = torch.compile(self.models["working"])
            return self.compiled
        raise ValueError(f"no baseline called {name!r}")

    def timing_sets(self, req: DrawTimingSets) -> TimingSetsDrawn:
        """Draw fresh input sets for timing (never seen by any implementation before)."""
        self.phases.enter(Phase.DRAW_TIMING_SETS)
        # Drawn where they are timed (the GPU) and kept there: no copy through host memory
        # (fresh host pages are slow); sent to the judge as they lie (by CUDA IPC on a GPU).
        self.timing.session.store({}, [])  # the previous sets go first
        self._release()
        sets = [self._draw(seed, "base") for seed in req.seeds]
        warmup = [self._draw(seed, "base") for seed in req.warmup_seeds]
        self.timing.session.store(dict(enumerate(sets)), warmup, own=True)
        set_bytes = tensor_bytes(sets[0])
        if not req.return_sets:  # nobody else needs them (bench without a candidate)
            sets, warmup = [], []
        return TimingSetsDrawn(sets=sets, warmup=warmup, set_bytes=set_bytes)

    def answer_timing_set(self, req: AnswerTimingSet) -> TimingSetAnswered:
        sets = self.timing.session.sets
        if req.index not in sets:
            raise IndexError(f"no timing set {req.index} (there are {len(sets)})")
        # Asked once every block is timed: the baselines' kept outputs and the warm-up sets
        # give their memory to the float64 answer (at L1/19's size they ran it out of memory).
        self.timing.session.timed()
        self._release()
        inputs = [to_device(x, self.device) for x in sets[req.index]]
        answers = self._answers(inputs, f"timing set {req.index}", req.index)[0]
        del inputs
        self._release()
        return TimingSetAnswered(answers)

    def prepare_timing(self, req: PrepareTiming) -> TimingPrepared:
        """Import the flop counter's torch._dynamo (and torch.compile's Inductor) now, while the
        judge runs the candidate's calls: on the H100, 5.0 s of L1/12's 16.8 s timing phase was
        the first flop count importing torch._dynamo. What fails to import is said, not raised:
        the flop count and the compile baseline say it again where it matters."""
        self.phases.enter(Phase.PREPARE_TIMING)
        modules = ["torch._dynamo"] + (["torch._inductor.compile_fx"] if req.compile else [])
        missing = []
        for name in modules:
            try:
                import_module(name)
            except Exception as exc:  # said in the reply (and again where it is used)
                missing.append(f"{name}: {type(exc).__name__}: {exc}"[:300])
        return TimingPrepared("; ".join(missing))

    def count(self, req: CountWork) -> WorkCounted:
        self.phases.enter(Phase.COUNT)
        sets = self.timing.session.sets
        return WorkCounted(counting.count(self.models["working"], sets[min(sets)]))

    def estimate(self, req: Estimate) -> Estimated:
        """Flops and sizes at the given overrides, on the meta device: nothing is allocated."""
        self.phases.enter(Phase.ESTIMATE)
        prob = problem.load_problem(req.problem, req.overrides)
        with torch.device("meta"):
            variants.seed_everything(0)
            model = prob.model_class(*prob.get_init_inputs())
            inputs = list(prob.get_inputs())
        return Estimated(counting.count(model, inputs))

    def peaks(self, req: MeasurePeaks) -> PeaksMeasured:
        self.phases.enter(Phase.PEAKS)
        return PeaksMeasured(counting.measure_peaks(self.device, quick=req.quick))

    def sensitivity(self, req: Sensitivity) -> SensitivityMeasured:
        """How much the output moves when one input, or one parameter, is drawn again."""
        prob = self._loaded()
        self.phases.enter(Phase.SENSITIVITY)
        model = self.models["working"]
        base = self._draw(req.seeds[0], "base")
        other = self._draw(req.seeds[1], "base")
        y0 = _device_leaves(self._run("working", base), "reference", copy=True)

        def change(inputs: list[Any]) -> float:
            y = _device_leaves(self._run("working", inputs), "reference")
            return max(_relative_change(a, b) for a, b in zip(y0, y, strict=True))

        inputs = {}
        for i, x in enumerate(base):
            if (
                isinstance(x, torch.Tensor)
                and isinstance(other[i], torch.Tensor)
                and other[i].shape == x.shape
            ):
                inputs[str(i)] = change([other[i] if j == i else v for j, v in enumerate(base)])
        variants.seed_everything(req.seeds[2])
        fresh = prob.model_class(*prob.get_init_inputs()).to(self.device).state_dict()
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
        return SensitivityMeasured(inputs=inputs, weights=weights, constant_init=constant)


#: outputs of at most this many elements have their rounding error measured on several inputs
SMALL_OUTPUT = 4096
#: inputs one ulp away on which a small output's rounding error is measured again
ROUNDING_SAMPLES = 3


def one_ulp_away(x: Any, gen: torch.Generator, into: torch.dtype | None = None) -> Any:
    """A floating tensor with every nonzero element moved one ulp of its compute precision up or
    down, at random (zeros stay: they encode structure); anything else unchanged. bf16 and fp16
    values are moved in float32, the precision kernels compute them in: the inputs themselves
    are given exactly, and no honest kernel rounds them further.

    ``into``: the moved values written straight into a tensor of that dtype (float64 for the
    float64 reference: no moved copy in the input's own precision beside it, which at
    KernelBench's sizes was a GPU's last 16 GiB, L1/45 on an H100)."""
    if not (isinstance(x, torch.Tensor) and x.is_floating_point()):
        return x
    if not x.numel():
        return x if into is None else x.to(into, copy=True)
    up = torch.randint(0, 2, x.shape, generator=gen, dtype=torch.bool, device=x.device)
    wide = torch.float32 if x.dtype in (torch.bfloat16, torch.float16) else x.dtype
    out = torch.empty(x.shape, dtype=into or wide, device=x.device)
    # piece by piece: a 6 GiB input would otherwise take four temporaries of its size
    flat, up_flat, out_flat = x.reshape(-1), up.reshape(-1), out.view(-1)
    inf = torch.tensor(float("inf"), dtype=wide, device=x.device)
    for a, b in pieces(flat.numel()):
        piece = flat[a:b].to(wide)
        moved = torch.nextafter(piece, torch.where(up_flat[a:b], inf, -inf))
        out_flat[a:b] = torch.where(piece == 0, piece, moved)
    return out


def _like(moved: Any, original: Any) -> Any:
    """``moved`` in the dtype of ``original`` (what the working-precision reference takes)."""
    if isinstance(moved, torch.Tensor) and isinstance(original, torch.Tensor):
        return moved.to(original.dtype)
    return moved


def _float_diff(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor | None:
    """|a - b| in float32 where both are floating and finite, 0 elsewhere; None for exact outputs."""
    if not (a.is_floating_point() and b.is_floating_point()):
        return None
    out = torch.empty(a.shape, dtype=torch.float32, device=a.device)
    fa, fb, fo = a.reshape(-1), b.reshape(-1), out.view(-1)
    for i, j in pieces(fa.numel()):  # float64 temporaries of one piece, not of the output
        d = (fa[i:j].double() - fb[i:j].double()).abs_()
        fo[i:j] = torch.nan_to_num_(d, nan=0.0, posinf=0.0)
    return out


def _input_scale(inputs: list[Any]) -> float:
    scale = 0.0
    for x in inputs:
        if isinstance(x, torch.Tensor) and x.is_floating_point() and x.numel():
            top = float(x.detach().abs().max())
            if math.isfinite(top):
                scale = max(scale, top)
    return scale


def _square(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t * t


def _relative_change(a: torch.Tensor, b: torch.Tensor) -> float:
    if not a.is_floating_point():
        return float((a != b).double().mean()) if a.numel() else 0.0
    a64, b64 = a.double(), b.double()
    scale = float(a64.norm()) or 1.0
    return float((a64 - b64).nan_to_num(nan=1e30).norm()) / scale


def precision_dtype(name: str) -> torch.dtype:
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"{name!r} is not a torch dtype")
    return dtype
