"""`kernelswarm lint DIR`: the problems of a suite that cannot be judged well, and why.

For each problem file:

* sizes, flops and bytes at its default size are estimated on the meta device (nothing is
  allocated), giving its floor on a reference H100 (overhead-bound when that floor is a few
  microseconds) and whether it fits in an H100's memory at all;
* at a size this machine can run (declared CPU sizes on the CPU, or the default halved until it
  fits), the judge's own tests are drawn: a near-constant output, or one on which zeros pass on
  the problem's own inputs, or a reference that is not deterministic, is reported;
* every input and every parameter is drawn again, one at a time: one whose change leaves the
  output unchanged has no effect, and a kernel could ignore it.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from kernelswarm.judge.client import ReferenceClient, open_endpoint
from kernelswarm.judge.floor import H100_PEAKS, counts_dtype, floor_for, rate_for
from kernelswarm.judge.protections import available
from kernelswarm.judge.reasons import Check, Reasons
from kernelswarm.judge.sandbox import Limits, WorkerError
from kernelswarm.judge.tests import TestDrawer, TestPlan
from kernelswarm.precision import POLICIES
from kernelswarm.problem import Override, declared_cpu_sizes, size_globals
from kernelswarm.protocol import Counts, Role

H100_MEMORY = 80 * 2**30
#: a floor under this is a launch-overhead measurement on a GPU
OVERHEAD_FLOOR_SECONDS = 20e-6
#: a relative output change under this means the input or weight has no effect
NO_EFFECT = 1e-5
#: memory (inputs, weights, outputs) problems are checked at: enough to see weakness
CHECK_BUDGET_BYTES = 64 << 20  # the judge holds ~7 tests x (inputs + 4 outputs): ~2 GiB


@dataclass
class Finding:
    kind: str  # near-constant, weak-on-own-inputs, nondeterministic, input-without-effect,
    # weight-without-effect, constant-weights, overhead-bound, too-large, broken, lint-error
    detail: str


@dataclass
class LintResult:
    problem: str
    findings: list[Finding] = field(default_factory=list)
    checked_at: list[str] = field(default_factory=list)
    default_floor_h100_seconds: float | None = None
    default_bytes: int | None = None
    notes: list[str] = field(default_factory=list)


class Linter:
    def __init__(
        self, device: str = "cpu", sizes: str = "auto", limits: Limits | None = None
    ) -> None:
        self.device = device
        self.sizes = sizes
        self.limits = limits or Limits(wall_seconds=600)

    def _estimate(
        self, ref: ReferenceClient, path: Path, overrides: list[Override]
    ) -> Counts | None:
        """Sizes at these overrides, or None where the model cannot be built on the meta device."""
        try:
            return ref.estimate(str(path), overrides)
        except WorkerError:
            return None

    def _fit(self, ref: ReferenceClient, path: Path, result: LintResult) -> list[Override] | None:
        """Overrides at which this machine can run the problem."""
        declared = declared_cpu_sizes(path) if self.device == "cpu" and self.sizes != "full" else []
        if declared:
            return declared
        current = {k: v for k, v in size_globals(path).items() if v is not None}
        overrides: dict[str, int] = {}
        frozen: set[str] = set()
        for _ in range(24):
            estimate = self._estimate(ref, path, [Override(k, v) for k, v in overrides.items()])
            if estimate is None:
                return None
            if estimate.moved_bytes <= CHECK_BUDGET_BYTES or self.sizes == "full":
                return [Override(k, v) for k, v in overrides.items()]
            names = [k for k, v in current.items() if v >= 16 and k not in frozen]
            if not names:
                result.notes.append("too large to check here, and no size global left to halve")
                return None
            name = max(names, key=lambda k: current[k])
            trial = {**overrides, name: current[name] // 2}
            if self._estimate(ref, path, [Override(k, v) for k, v in trial.items()]) is None:
                frozen.add(name)  # a shape constraint: leave this one alone
                continue
            overrides, current[name] = trial, current[name] // 2
        return [Override(k, v) for k, v in overrides.items()]

    def lint(self, path: Path) -> LintResult:
        result = LintResult(problem=str(path))
        # Only the problem's own code runs here: confined where this machine can, else not.
        confined = available().complete
        ref = ReferenceClient(
            open_endpoint(Role.REFERENCE, self.device, self.limits, confined=confined)
        )
        try:
            ref.start()
            self._sizes_at_default(ref, path, result)
            overrides = self._fit(ref, path, result)
            if overrides is None:
                # never "no findings" for a file that was not checked
                if not any("too large" in n for n in result.notes):
                    ref.begin_load(str(path), (), 0, None).result()  # a broken file says why
                why = "; ".join(result.notes) or "its sizes could not be estimated"
                result.findings.append(Finding("unchecked", f"not checked: {why}"))
                return result
            result.checked_at = [f"{o.name}={o.value}" for o in overrides]
            self._judge_tests(ref, path, overrides, result)
            if not any(f.kind == "nondeterministic" for f in result.findings):
                self._sensitivity(ref, result)
        except WorkerError as exc:
            result.findings.append(Finding("broken", exc.failure.detail.splitlines()[0][:400]))
        except Exception as exc:  # the linter's own failure on this file; the others go on
            result.findings.append(
                Finding(
                    "lint-error",
                    f"the linter failed on this file: {type(exc).__name__}: {exc}"[:400],
                )
            )
        finally:
            ref.close()
        return result

    def _sizes_at_default(self, ref: ReferenceClient, path: Path, result: LintResult) -> None:
        estimate = self._estimate(ref, path, [])
        if estimate is None:
            result.notes.append("sizes not estimated: the model cannot be built on the meta device")
            return
        moved = estimate.moved_bytes
        result.default_bytes = moved
        floor = floor_for(estimate, H100_PEAKS, rate_for("strict", counts_dtype(estimate)))
        result.default_floor_h100_seconds = floor.seconds
        if floor.seconds < OVERHEAD_FLOOR_SECONDS:
            result.findings.append(
                Finding(
                    "overhead-bound",
                    f"at its default size the work takes {floor.seconds * 1e6:.2g} µs at an H100's speed of "
                    f"light ({floor.bound}-bound): a GPU timing measures launch overhead, not kernels",
                )
            )
        if 3 * moved > H100_MEMORY:
            result.findings.append(
                Finding(
                    "too-large",
                    f"inputs, weights and output take {moved / 2**30:.1f} GiB; with eager's temporaries "
                    f"(about 3x) that exceeds an H100's {H100_MEMORY // 2**30} GiB",
                )
            )

    def _judge_tests(
        self, ref: ReferenceClient, path: Path, overrides: list[Override], result: LintResult
    ) -> None:
        """Draw the judge's own tests, as ``check`` would, and report what makes them weak."""
        rng = random.Random(secrets.randbits(40))
        loaded = ref.begin_load(str(path), tuple(overrides), rng.getrandbits(48), None).result()
        reasons = Reasons()
        drawer = TestDrawer(TestPlan(POLICIES["strict"]), rng, reasons, notes=[])
        drawer.draw(ref, loaded.variants)
        for check, kind in (
            (Check.DETERMINISM, "nondeterministic"),
            (Check.STRENGTH, "near-constant"),
        ):
            if check in reasons:
                result.findings.append(Finding(kind, reasons[check].detail[:600]))
        weak_base = [t for t in drawer.usable if t.record.variant == "base" and not t.record.strong]
        if weak_base and Check.STRENGTH not in reasons:
            why = "; ".join(f"{t.name}: {', '.join(t.record.weak_because)}" for t in weak_base[:3])
            result.findings.append(
                Finding(
                    "weak-on-own-inputs",
                    f"on the problem's own input distribution a trivial output passes ({why}); only the "
                    "judge's shifted, scaled or heavy-tailed variants make its tests strong",
                )
            )

    def _sensitivity(self, ref: ReferenceClient, result: LintResult) -> None:
        rng = random.Random(7)
        answer = ref.sensitivity([rng.getrandbits(40) for _ in range(3)])
        for index, delta in answer.inputs.items():
            if delta < NO_EFFECT:
                result.findings.append(
                    Finding(
                        "input-without-effect",
                        f"input {index} drawn again changes the output by {delta:.2g} (relative)",
                    )
                )
        constant = [n for n in answer.constant_init if answer.weights.get(n, 0.0) >= NO_EFFECT]
        if constant:
            result.findings.append(
                Finding(
                    "constant-weights",
                    f"{len(constant)} parameters are initialised to constants under every seed "
                    f"({', '.join(constant[:6])}): a kernel that ignores them (assumes weight 1, bias 0) "
                    "passes every test",
                )
            )
        dead = [name for name, delta in answer.weights.items() if delta < NO_EFFECT]
        if dead:
            result.findings.append(
                Finding(
                    "weight-without-effect",
                    f"{len(dead)} of {len(answer.weights)} parameters change the output by less than "
                    f"{NO_EFFECT:g} when drawn again: {', '.join(dead[:6])}",
                )
            )
