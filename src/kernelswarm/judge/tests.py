"""The judge's tests: drawn under fresh seeds, held within a memory budget, kept only if strong.

A test is one set of inputs with its answers (float64, working precision, policy precision) and
the tolerance of each output. Tests are drawn from the reference worker: base tests under fresh
seeds, then the adversarial variants. A variant the float64 reference turns into NaN/Inf is
outside the problem's domain and skipped; the first test is also run twice, since a reference
that differs from itself (dropout in training mode) cannot be judged by comparison.

A test is *strong* when zeros, a constant, another test's answer and the input itself would all
fail it; weak tests are reported and more are drawn, and with fewer than ``min_strong`` strong
tests the answer is "could not judge". ``lint`` draws tests the same way, with no candidate.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import torch

from kernelswarm import variants
from kernelswarm.judge import memlog
from kernelswarm.judge.compare import Tolerance, all_finite, placed, tolerances
from kernelswarm.judge.gpu_memory import give_back
from kernelswarm.judge.reasons import Check, Reasons
from kernelswarm.judge.sandbox import judge_device, physical_memory_bytes
from kernelswarm.judge.verdict import TestRecord
from kernelswarm.precision import UNIT_ROUNDOFF, Policy
from kernelswarm.protocol import Answers, DrawnTest
from kernelswarm.tensors import host, host_tensor, nbytes, same_bits

#: tests drawn beyond the default ones when too few are strong
MAX_EXTRA_TESTS = 8
#: tests kept however large a test is (two base tests for the call plan, one variant)
MIN_TESTS = 3
#: the share of physical memory one judge's tests may take by default
TEST_MEMORY_SHARE = 0.35
#: the share of the GPU's memory the answers of one judge's tests may always take there (the
#: reference and the candidate need the rest)
DEVICE_TEST_SHARE = 0.3
#: the most they may take when the GPU is otherwise free enough (KernelBench's 6 GiB problems:
#: three tests' float64 answers, allowances and inputs are about half an H200)
DEVICE_TEST_MAX_SHARE = 0.6
#: what the candidate is assumed to need beside them, in multiples of one test's inputs and
#: working-precision outputs (its own copies of both, and as much again for its workspace)
WORKER_ROOM = 2.0

Progress = Callable[[str], None]


class TestSource(Protocol):
    """Where tests come from: the reference worker's client (or recorded replies)."""

    def draw_test(self, name: str, seed: int, variant: str) -> DrawnTest: ...


@dataclass(frozen=True)
class TestPlan:
    """How many tests, of which strength, within how much memory."""

    __test__ = False  # not a pytest class

    policy: Policy
    base_tests: int = 3
    min_strong: int = 3
    #: host memory the tests may fill; None: a share of this machine's memory
    memory_bytes: int | None = None
    #: where the answers are held and outputs compared: "cuda" keeps them on the GPU (where
    #: they fit), so that only the inputs the candidate needs stay on the host
    device: str = "cpu"
    #: the largest share of the GPU the tests may take; tests held through other checks'
    #: timing (a round's, shared) take no more than DEVICE_TEST_SHARE
    gpu_share_max: float = DEVICE_TEST_MAX_SHARE


@dataclass
class TestCase:
    """One test as the judge holds it: inputs, answers and tolerances (never sent to a candidate)."""

    __test__ = False  # not a pytest class

    record: TestRecord
    inputs: list[Any]
    expected: list[torch.Tensor]
    working: list[torch.Tensor]
    structure: str
    mutated_inputs: list[int]
    aliased_inputs: list[int]
    tolerances: list[Tolerance] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def usable(self) -> bool:
        return self.record.skipped is None

    @property
    def input_nbytes(self) -> int:
        return sum(nbytes(x) for x in self.inputs if isinstance(x, torch.Tensor))

    @property
    def output_nbytes(self) -> list[int]:
        return [nbytes(w) for w in self.working]

    def _held(self) -> list[torch.Tensor]:
        tensors = [x for x in self.inputs if isinstance(x, torch.Tensor)]
        tensors += self.expected + [w for w in self.working if w.device.type != "meta"]
        for t in self.tolerances:
            tensors += [
                x for x in (getattr(t, "allowed", None), t.w) if isinstance(x, torch.Tensor)
            ]
        return tensors

    @property
    def host_bytes(self) -> int:
        """What the judge holds for this test in host memory (the inputs, at least)."""
        return sum(nbytes(t) for t in self._held() if t.device.type == "cpu")

    @property
    def device_bytes(self) -> int:
        """What the judge holds for this test on the GPU (answers and tolerances, if there)."""
        return sum(nbytes(t) for t in self._held() if t.device.type not in ("cpu", "meta"))


def device_share(
    total: int, free: int, own: int, working: int, most: float = DEVICE_TEST_MAX_SHARE
) -> int:
    """The bytes of one GPU a judge's tests may hold there.

    ``total``: the GPU's memory; ``free``: free on it now (the reference's memory, still
    holding the test it sent, counts as taken: its next test needs about as much, and more for a
    while; the candidate runs only once the reference has let go); ``own``: what
    this judge holds (the test just drawn, which becomes the first test held); ``working``:
    one test's inputs and working-precision outputs. Always DEVICE_TEST_SHARE (or ``most``,
    if less); up to ``most`` when, after the candidate's room (WORKER_ROOM times ``working``)
    and a margin, the GPU has that much.
    """
    margin = (2 << 30) + total // 20
    room = free + own - int(WORKER_ROOM * working) - margin
    least = int(min(DEVICE_TEST_SHARE, most) * total)
    return max(least, min(room, int(most * total)))


def inputs_beside(share: int, answers: int, inputs: int) -> bool:
    """Whether a test's ``inputs`` bytes are held on the GPU beside its ``answers`` bytes, in
    a share of ``share`` bytes: where three tests fit so (a test's inputs in host memory cost a
    few seconds of fresh pages each). Where strengthening the check needs room for more tests,
    they move to the host then (``TestDrawer._inputs_to_host``)."""
    return share // max(answers + inputs, 1) >= MIN_TESTS


def on_host(case: TestCase) -> TestCase:
    """A copy of a test with every tensor in host memory (to travel to another machine); the
    test itself is left where it is."""
    tolerances = [copy.copy(t) for t in case.tolerances]
    copied = replace(case, inputs=list(case.inputs), tolerances=tolerances)
    _to_host(copied)
    copied.working = [host_tensor(w) if w.device.type != "meta" else w for w in copied.working]
    return copied


def _empty(case: TestCase) -> None:
    """A test holding nothing any more (its record stays)."""
    case.inputs, case.expected, case.working, case.tolerances = [], [], [], []


def _to_host(case: TestCase) -> None:
    """A test's answers, tolerances and inputs, held and compared on the host from now on."""
    case.inputs = [host(x) for x in case.inputs]
    for tol in case.tolerances:
        tol.to_host()
    # a tolerance holds the very float64 answer the test holds: one copy, not two
    case.expected = (
        [tol.e for tol in case.tolerances]
        if case.tolerances
        else [host_tensor(e) for e in case.expected]
    )


class TestDrawer:
    """Draws the tests of one verdict and judges their strength."""

    __test__ = False  # not a pytest class

    def __init__(
        self,
        plan: TestPlan,
        rng: random.Random,
        reasons: Reasons,
        notes: list[str],
        progress: Progress | None = None,
    ) -> None:
        self.plan = plan
        self.rng = rng
        self.reasons = reasons
        self.notes = notes
        self.progress = progress or (lambda message: None)
        self.tests: list[TestCase] = []
        self._probe_cache: dict[tuple[str, int, str], bool] = {}
        self._budget_words = ""
        self.place: torch.device | None = None  # where answers are held: chosen at the first test
        self.inputs_place = torch.device("cpu")  # where inputs are held (the GPU where room)
        self.share = 0  # the bytes of the GPU the tests may hold there (set with ``place``)
        self._let_go = 0  # weak tests let go to make room (they hold nothing)
        self._sizes = (0, 0)  # one test's answers (with allowances) and inputs, in bytes

    @property
    def usable(self) -> list[TestCase]:
        return [t for t in self.tests if t.usable]

    def strong_count(self) -> int:
        return sum(1 for t in self.usable if t.record.strong)

    # -- drawing ------------------------------------------------------------------------------
    def draw(self, source: TestSource, problem_variants: list[str] | None) -> None:
        """Draw the default tests, then more until enough are strong (or the budget is spent)."""
        specs = self._specs(problem_variants)
        most = len(specs)
        while len(self.tests) < min(len(specs), most):
            name, variant = specs[len(self.tests)]
            self.tests.append(self.draw_one(source, name, variant))
            if Check.DETERMINISM in self.reasons:
                return
            if len(self.tests) == 1:
                per_test = self.tests[0].host_bytes
                if MIN_TESTS * per_test > 0.8 * physical_memory_bytes():
                    self.reasons.reject(
                        Check.PROBLEM,
                        f"too large to judge on this machine: one test holds {per_test / 2**30:.1f} GiB "
                        f"on the host (inputs, float64 answers, tolerances) and the judge needs "
                        f"{MIN_TESTS}, over 80% of its {physical_memory_bytes() / 2**30:.0f} GiB; "
                        "shrink the problem with --set NAME=VALUE",
                    )
                    return
                most = self._max_tests(per_test, self.tests[0].device_bytes)
                if most < len(specs):
                    self.notes.append(f"{self._budget_words}: {most} tests instead of {len(specs)}")
                    # two base tests for the call plan, then the adversarial variants, then
                    # the remaining base tests
                    rest = specs[2:]
                    specs = specs[:2] + [x for x in rest if x[1] != "base"]
                    specs += [x for x in rest if x[1] == "base"]
        self.strength()
        self._strengthen(source, problem_variants, most)
        give_back()  # the strength checks' temporaries: the candidate runs next

    def _specs(self, problem_variants: list[str] | None) -> list[tuple[str, str]]:
        chosen = problem_variants or list(variants.DEFAULT_VARIANTS)
        specs = [(f"base-{i}", "base") for i in range(self.plan.base_tests)]
        specs += [(v, v) for v in chosen if v != "base"]
        return specs

    def _max_tests(self, per_test: int, on_device: int = 0) -> int:
        """How many tests of ``per_test`` host bytes (and ``on_device`` GPU bytes) the judge may
        hold (at least MIN_TESTS)."""
        budget = self.plan.memory_bytes
        if budget is None:
            budget = int(physical_memory_bytes() * TEST_MEMORY_SHARE)
        held = "inputs" if on_device else "inputs, float64 answers, tolerances"
        self._budget_words = (
            f"each test holds {per_test / 2**30:.2f} GiB on the host ({held}) and the judge's "
            f"tests may take {budget / 2**30:.1f} GiB"
        )
        most = budget // max(per_test, 1)
        if on_device and self.share:
            device_budget = self.share
            by_device = device_budget // on_device
            if by_device < most:
                most = by_device
                self._budget_words = (
                    f"each test's answers and tolerances{' and inputs' if self.inputs_place.type != 'cpu' else ''} "
                    f"hold {on_device / 2**30:.2f} GiB on the "
                    f"GPU and the judge's tests may take {device_budget / 2**30:.1f} GiB there"
                )
        return max(MIN_TESTS, most)

    def _strengthen(
        self, source: TestSource, problem_variants: list[str] | None, most: int
    ) -> None:
        extra = [
            v for v in variants.EXTRA_VARIANTS if problem_variants is None or v in problem_variants
        ]
        if self.strong_count() < self.plan.min_strong and most < len(self.usable) + len(extra):
            extra = self._proven_first(extra)
        drawn = 0
        while self.strong_count() < self.plan.min_strong and drawn < MAX_EXTRA_TESTS:
            # tests let go hold nothing; tests outside the domain still hold their memory
            if len(self.tests) - self._let_go >= most:
                roomier = self._inputs_to_host()
                if roomier > most:  # room made without losing a test
                    most = roomier
                elif not self._drop_weak():
                    self.notes.append(
                        f"{self._budget_words}: no more tests drawn to strengthen the check"
                    )
                    break
            if not extra:  # more seeds of the variants that gave strong tests
                extra = list(dict.fromkeys(t.record.variant for t in self.tests if t.record.strong))
                if not extra:
                    break
            variant = extra.pop(0)
            drawn += 1
            name = f"{variant}-{sum(t.record.variant == variant for t in self.tests) + 1}"
            self.notes.append(f"weak tests found: added test {name} to strengthen the check")
            self.tests.append(self.draw_one(source, name, variant))
            self.strength()
        strong = self.strong_count()
        if strong < self.plan.min_strong:
            weak = [t.record for t in self.usable if not t.record.strong]
            why = "; ".join(f"{r.name}: {', '.join(r.weak_because)}" for r in weak[:4])
            self.reasons.reject(
                Check.STRENGTH,
                f"only {strong} strong tests (need {self.plan.min_strong}): on the others a "
                f"trivial output would pass ({why}). The problem's output is too close to constant, "
                "or insensitive to its inputs, to tell a right kernel from a wrong one.",
            )

    def release(self) -> None:
        """Let go of every test's tensors (the candidate is judged; the records stay): at
        KernelBench's sizes they are half a GPU, which timing needs."""
        for case in self.tests:
            _empty(case)
        give_back()

    def _inputs_to_host(self) -> int:
        """The tests' inputs moved from the GPU to host memory, to make room there for more
        tests: how many tests the judge may then hold (0 where the inputs were not on the GPU)."""
        if self.inputs_place.type == "cpu" or not self.share:
            return 0
        self.inputs_place = torch.device("cpu")
        for case in self.tests:
            case.inputs = [host(x) for x in case.inputs]
        give_back()
        answers, inputs = self._sizes
        most = self._max_tests(inputs, answers)
        self.notes.append(
            f"inputs moved to host memory to make room on the GPU for more tests ({most})"
        )
        return most

    def _proven_first(self, untried: list[str]) -> list[str]:
        """Memory for only a few more tests: more seeds of the variants already strong come
        first, enough to reach the check's strong tests on their own, and the untried variants
        after. An untried variant may be weak as well and be let go again, a fresh draw of GiB
        lost (L1/19 on its ``rand`` inputs: scaled16 and heavy2 stay positive, so ReLU is the
        identity on them, as on its base tests)."""
        proven = list(dict.fromkeys(t.record.variant for t in self.usable if t.record.strong))
        if not proven:
            return untried
        need = self.plan.min_strong - self.strong_count()
        self.notes.append(
            f"memory holds few more tests: more seeds of {', '.join(proven)} (strong) drawn "
            "before untried variants"
        )
        first = [proven[i % len(proven)] for i in range(need)]
        return first + [v for v in untried if v not in proven]

    def _drop_weak(self) -> bool:
        """Memory for no more tests, too few strong ones: let go of a weak test to draw another.

        A weak test is one a trivial output passes (KernelBench's ReLU on ``torch.rand``
        inputs: the identity passes every base test); where memory holds only a few tests of GiB,
        keeping it costs the strong test that would take its place. The first base test (the
        problem's own distribution) is always kept; other variants go before base tests. Returns
        whether a test was let go (its record stays in the verdict, marked as such).
        """
        usable = self.usable
        first_base = next((t for t in usable if t.record.variant == "base"), None)
        weak = [t for t in usable if not t.record.strong and t is not first_base]
        if not weak:
            return False
        weak.sort(key=lambda t: t.record.variant == "base")  # other variants first
        case = weak[0]
        case.record.skipped = (
            f"let go: weak ({', '.join(case.record.weak_because)}), and memory holds only "
            f"{len(usable)} tests of this size: its place went to a test that might be strong"
        )
        _empty(case)
        give_back()
        self._let_go += 1
        self.notes.append(f"test {case.name} let go (weak) to draw another in its memory")
        return True

    def draw_one(self, source: TestSource, name: str, variant: str) -> TestCase:
        """Draw one test under a fresh seed and hold it, with its tolerances."""
        seed = self.rng.getrandbits(48)
        self.progress(f"reference: test {name}")
        drawn = source.draw_test(name, seed, variant)
        memlog.log(f"test {name} received")
        case = self.hold(TestRecord(name=name, variant=variant, seed=seed), drawn)
        # the test as it arrived (its working-precision outputs, the answers before they were
        # placed) is let go only here, and so returned to the GPU only here
        del drawn
        give_back()
        memlog.log(f"test {name} held")
        return case

    def hold(self, record: TestRecord, drawn: DrawnTest) -> TestCase:
        """A drawn test as the judge keeps it: domain checked, tolerances calibrated.

        The answers go where outputs are compared (the GPU, when the problem runs on one and
        they fit: there the float64 arithmetic is fast and host memory is left to the inputs);
        the working-precision outputs are then kept only as shapes and dtypes.
        """
        if self.place is None:
            self.place = self._placement(drawn)
        # Tolerances are computed where the answers arrived (the GPU, fast) and then held where
        # the comparisons run (the host, when three tests' answers would not fit the GPU).
        arrived = drawn.answers.expected[0].device if drawn.answers.expected else self.place
        work_on = arrived if arrived.type == "cuda" else self.place
        try:
            case, answers = self._calibrate(record, drawn, work_on)
        except torch.OutOfMemoryError:
            self.place = self.inputs_place = torch.device("cpu")
            give_back()  # filled first: it held answers
            self.notes.append(
                "the GPU ran out of memory holding the tests' answers: held and compared on the host"
            )
            for earlier in self.tests:  # every test where the comparisons now run
                _to_host(earlier)
            case, answers = self._calibrate(record, drawn, self.place)
        if self.place.type == "cpu" and work_on.type == "cuda":
            _to_host(case)
        if drawn.again is not None:
            self._determinism(case, [a.to(self.place) for a in drawn.again])
        case.working = [torch.empty(w.shape, dtype=w.dtype, device="meta") for w in case.working]
        # the inputs travel on to the candidate (from the GPU straight into the shared area):
        # held there where the judge's share has room, in host memory otherwise
        case.inputs = [
            x.detach().to(self.inputs_place) if isinstance(x, torch.Tensor) else x
            for x in case.inputs
        ]
        del answers, drawn
        return case

    def _calibrate(
        self, record: TestRecord, drawn: DrawnTest, place: torch.device
    ) -> tuple[TestCase, Answers]:
        answers = placed(drawn.answers, place)
        case = TestCase(
            record, drawn.inputs, answers.expected, answers.working, answers.structure,
            answers.mutated_inputs, answers.aliased_inputs,
        )  # fmt: skip
        self._domain(case)
        if case.usable:
            case.tolerances = tolerances(answers, self.plan.policy)
            record.reference_normwise_error = [
                getattr(t, "reference_normwise", None) for t in case.tolerances
            ]
        return case, answers

    def _placement(self, drawn: DrawnTest) -> torch.device:
        """The GPU when the check runs on one and three tests' answers fit its share; the host
        otherwise. The inputs too stay on the GPU where that costs no test (``inputs_beside``)."""
        device = judge_device(self.plan.device)
        if device is None:
            return torch.device("cpu")
        # held per test: the float64 answer and a float32 allowance per output
        per_test = sum(e.numel() * 12 for e in drawn.answers.expected)
        inputs = sum(nbytes(x) for x in drawn.inputs if isinstance(x, torch.Tensor))
        working = inputs + sum(nbytes(w) for w in drawn.answers.working)
        free, _ = torch.cuda.mem_get_info(device)
        self.share = device_share(
            _device_memory(device), free, _bytes_on(drawn, device), working,
            self.plan.gpu_share_max,
        )  # fmt: skip
        if MIN_TESTS * per_test > self.share:
            self.notes.append(
                f"the answers of {MIN_TESTS} tests ({MIN_TESTS * per_test / 2**30:.1f} GiB) do not fit "
                f"the judge's share of the GPU ({self.share / 2**30:.1f} GiB): held and compared "
                "on the host"
            )
            self.share = 0
            return torch.device("cpu")
        self._sizes = (per_test, inputs)
        if inputs_beside(self.share, per_test, inputs):
            self.inputs_place = device
        return device

    def _domain(self, case: TestCase) -> None:
        for e, w in zip(case.expected, case.working, strict=True):
            if not e.is_floating_point() or (all_finite(e) and all_finite(w)):
                continue
            bad_e = int((~torch.isfinite(e)).sum())
            if bad_e and case.record.variant != "base":
                case.record.skipped = f"outside the problem's domain: the float64 reference gives NaN/Inf at {bad_e} positions"
                return
            bad_w = int((torch.isfinite(e) & ~torch.isfinite(w)).sum())
            if bad_w:
                case.record.skipped = (
                    f"outside the working precision's range: the {w.dtype} reference overflows at "
                    f"{bad_w} positions where the float64 answer is finite"
                )
                return

    def _determinism(self, case: TestCase, again: list[torch.Tensor]) -> None:
        """The reference run twice on the same inputs must agree up to rounding.

        Differences above the square root of the unit roundoff cannot come from a different
        summation order; they mean randomness (dropout in training mode), and no tolerance
        calibrated on such a reference would mean anything.
        """
        for k, (first, second) in enumerate(zip(case.working, again, strict=True)):
            if same_bits(first, second):
                continue
            if first.is_floating_point():
                a, b = first.double(), second.double()
                scale = float(a.norm()) or 1.0
                spread = float((a - b).nan_to_num(nan=math.inf).norm()) / scale
                limit = math.sqrt(UNIT_ROUNDOFF.get(first.dtype, 2.0**-24))
            else:
                spread = float((first != second).double().mean())
                limit = 1e-3
            if spread > limit:
                self.reasons.reject(
                    Check.DETERMINISM,
                    f"the reference gives different answers on the same inputs (relative difference "
                    f"{spread:.3g} in output {k}, far above rounding): dropout in training mode or "
                    "another random operation; such a problem cannot be judged by comparison",
                )
                return
            self.notes.append(
                f"the reference's output {k} differs between two runs on the same inputs by "
                f"{spread:.2g} (relative): non-deterministic summation order, within rounding"
            )

    # -- strength -----------------------------------------------------------------------------
    def strength(self) -> None:
        """Mark each test weak if zeros, a constant, another answer or the input would pass it.

        Probe outcomes are cached: drawing one more test adds probes, it changes none. The
        input-returned-unchanged probe counts only if it fails somewhere: where it passes on
        every test, the function *is* the identity (a copy, a reshape), returning an equal tensor
        is right, and returning the input's own memory is the aliasing check's business.
        """
        usable = self.usable
        outcomes: dict[tuple[str, int, str], bool] = {}
        for case in usable:
            for k, (tol, w) in enumerate(zip(case.tolerances, case.working, strict=True)):
                for name, probe in _probes(case, k, w, usable).items():
                    key = (case.name, k, name)
                    if key not in self._probe_cache:  # built piece by piece: tests can be GiB
                        self._probe_cache[key] = tol.passes(probe.whole, probe.piece)
                    outcomes[key] = self._probe_cache[key]
        identity = [
            passed for (_, _, name), passed in outcomes.items() if name.startswith("input ")
        ]
        identity_is_the_function = bool(identity) and all(identity)
        for case in usable:
            weak = []
            for (test, k, name), passed in outcomes.items():
                if test != case.name or not passed:
                    continue
                if identity_is_the_function and name.startswith("input "):
                    continue
                weak.append((f"output {k}: " if len(case.working) > 1 else "") + name)
            case.record.weak_because = weak
            case.record.strong = not weak
        note = "the output equals an input on every test: returning an equal tensor is right, its own memory is not"
        if identity_is_the_function and note not in self.notes:
            self.notes.append(note)


@dataclass(frozen=True)
class Probe:
    """A trivial output a strong test must reject, built only when tried: whole, or a piece
    at a time (its flat elements [a, b)) where that can be done without building it whole."""

    whole: Callable[[], torch.Tensor]
    piece: Callable[[int, int], torch.Tensor] | None = None


def _probes(case: TestCase, k: int, w: torch.Tensor, usable: list[TestCase]) -> dict[str, Probe]:
    """The trivial outputs a strong test must reject (``w``: the output's shape and dtype),
    where the answers are held."""
    where = case.expected[k].device

    def full(value: float) -> Probe:
        return Probe(
            lambda: torch.full(w.shape, value, dtype=w.dtype, device=where),
            lambda a, b: torch.full((b - a,), value, dtype=w.dtype, device=where),
        )

    probes: dict[str, Probe] = {"zeros": full(0)}
    others = [t for t in usable if t is not case and t.working[k].shape == w.shape]
    same_dist = [t for t in others if t.record.variant == "base"]
    if w.is_floating_point() and same_dist:
        mean = float(torch.stack([t.expected[k].double().mean() for t in same_dist]).mean())
        probes["a constant (the mean answer of other tests)"] = full(mean)
    for t in others[:3]:  # another test's answer, in the output's own precision
        probes[f"the answer of test {t.name}"] = _given(t.expected[k], w.dtype)
    for i, x in enumerate(case.inputs):
        if isinstance(x, torch.Tensor) and x.shape == w.shape and x.dtype == w.dtype:
            probes[f"input {i} returned unchanged"] = _given(x, w.dtype)
    return probes


def _given(tensor: torch.Tensor, dtype: torch.dtype) -> Probe:
    if not tensor.is_contiguous():  # its pieces would be copies of the whole
        return Probe(lambda: tensor.to(dtype))
    flat = tensor.view(-1)
    return Probe(lambda: tensor.to(dtype), lambda a, b: flat[a:b].to(dtype))


def _bytes_on(drawn: DrawnTest, device: torch.device) -> int:
    """What a drawn test holds on ``device`` (as it arrived: the judge's own copies)."""
    a = drawn.answers
    tensors = [x for x in drawn.inputs if isinstance(x, torch.Tensor)] + a.expected + a.working
    for extra in (a.policy, a.sensitivity, a.rounding, drawn.again):
        tensors += [t for t in extra or [] if t is not None]
    return sum(nbytes(t) for t in tensors if t.device == device)


def _device_memory(device: torch.device) -> int:
    return int(torch.cuda.get_device_properties(device).total_memory)
