"""Calibrated comparison of an output against the float64 answer, and test strength.

For one output of one test the judge holds: ``e``, the float64 answer; ``r``, the problem's own
reference in the policy's precision; ``s``, how far the float64 answer moves when every input
moves one ulp of its working precision (the answer's own sensitivity: a backward-error view);
and the candidate's ``c``. The candidate passes when, on every position where ``e`` is finite,

    normwise:    ||c - e|| / ||e||  <=  max(Kn (||r - e|| + ||s||) / ||e||,  F u)
    elementwise: |c_i - e_i|        <=  Ke (|r_i - e_i| + rms(r - e) + s_i + rms(s))
                                        + N (|e_i| + rms(e))

where N is the normwise allowance on the right of the first line (at least F u)

and NaN/Inf sit exactly where they sit in ``e``. ``u`` is the unit roundoff of the policy's
format, and ``F u`` a few units of it (exactly computed references have no error of their own),
or of float32's roundoff times the largest input magnitude where that is larger (rounding an
intermediate as large as the inputs costs its last bit in whatever is computed from it).
So an honest rewrite whose rounding error grows where the answer is sensitive (softmax as
``exp(x - logsumexp(x))`` on heavy tails) passes, and dropped work does not. For small outputs
(a loss, a few statistics) the reference's own error is one noisy draw: ``|r - e|`` is then the
RMS over the given inputs and a few inputs one ulp away. The same test, applied to zeros, a
constant, or another input's answer, decides whether a test is *strong*: if any of those would
pass, the test proves nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from kernelswarm.judge.reasons import Check
from kernelswarm.precision import UNIT_ROUNDOFF, Policy
from kernelswarm.protocol import Answers
from kernelswarm.tensors import host_tensor, pieces, row_pieces


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing one output, with the numbers a person needs to believe it."""

    passed: bool
    detail: str
    check: Check = Check.VALUES  # or NONFINITE when NaN/Inf sit in the wrong places
    normwise_error: float | None = None
    allowed_normwise: float | None = None
    worst_ratio: float | None = None  # max over elements of error / allowed (<= 1 passes)
    worst_index: tuple[int, ...] | None = None


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _index(flat: int, shape: torch.Size) -> tuple[int, ...]:
    out = []
    for size in reversed(shape):
        out.append(flat % size)
        flat //= size
    return tuple(reversed(out))


def _piece_errors(
    c: torch.Tensor, e: torch.Tensor, allowed: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A piece of a flat output against the same piece of its answers and allowances: the sum
    of squared differences, the worst ratio of difference to allowance (0/0, where both are
    zero, counts 0) and its index in the piece; as tensors, so that a GPU is not waited for
    piece by piece. Three passes over one float64 copy (the whole-tensor expressions made
    eight, over three copies); ``c`` itself is never written."""
    d = c.to(torch.float64, copy=True).sub_(e).abs_()
    sq = torch.dot(d, d)
    worst, index = d.div_(allowed).nan_to_num_(nan=0.0, posinf=math.inf).max(0)
    return sq, worst, index


def all_finite(t: torch.Tensor) -> bool:
    """Whether every element is finite; one reading pass, no mask, when they all are.

    A sum is finite only if every term is (an Inf or NaN term makes it Inf or NaN); a finite
    tensor whose sum overflows takes the elementwise path. Summed in pieces: PyTorch sums a
    float32 tensor in float64 by copying it whole first (12 GiB at L1/19's size, which ran the
    judge out of memory re-checking a timed output on the H200).
    """
    if not t.is_floating_point() or t.numel() == 0:
        return True
    total = torch.stack([p.sum(dtype=torch.float64) for p in row_pieces(t)]).sum()
    if math.isfinite(float(total)):
        return True
    return bool(torch.isfinite(t).all())


class Tolerance:
    """The allowed error for one output of one test, computed once from ``e`` and ``r``."""

    def __init__(
        self,
        expected: torch.Tensor,
        working: torch.Tensor,
        policy_output: torch.Tensor | None,
        policy: Policy,
        sensitivity: torch.Tensor | None = None,
        rounding: torch.Tensor | None = None,
        input_scale: float = 1.0,
    ) -> None:
        self.policy = policy
        self.shape = expected.shape
        self.out_dtype = working.dtype
        self.exact = not expected.is_floating_point()
        # Held for every test, so kept lean (the judge holds all of them at once, on the GPU
        # where there is one): the float64 answer, the finite mask only where something is not
        # finite, the allowed error in float32 where the output is no wider, and the working
        # output only where a comparison reads it (exact outputs, plain allclose).
        self.e = expected if self.exact else expected.double()
        self.w: torch.Tensor | None = working
        if self.exact or not policy.calibrated:
            return
        self.w = None
        self.all_finite = all_finite(self.e)
        self.finite: torch.Tensor | None = None
        self.unit = max(policy.unit_roundoff or 0.0, UNIT_ROUNDOFF.get(working.dtype, 2.0**-24))
        normwise_factor, elementwise_factor = policy.factors(working.dtype)
        # Rounding an intermediate as large as the largest input M costs u M in float32 (or
        # float64) arithmetic: an output of order one (probabilities, normalised values) may
        # carry that much, whatever the reference's own algorithm happened to avoid (softmax as
        # exp(x - logsumexp(x)) on rows one element dominates). In bf16 and fp16 the format's
        # own roundoff is far larger.
        self.input_scale = max(1.0, input_scale)
        compute_unit = 2.0**-53 if working.dtype == torch.float64 else 2.0**-24
        self.floor = policy.floor_ulps * max(self.unit, compute_unit * self.input_scale)
        self.factors = (normwise_factor, elementwise_factor)
        if self.all_finite and (policy_output is None or all_finite(policy_output)):
            # GiB-sized outputs: every pass runs over pieces, so that the float64 temporaries
            # stay a few hundred MiB wherever the answers are held (a GPU shared by three
            # processes, often); only the allowance itself is full size.
            flat = [None if t is None else t.flatten() for t in (sensitivity, rounding)]
            r = (policy_output if policy_output is not None else working).flatten()
            self.allowed = self._allowance(self.e.flatten(), r, *flat).view(self.shape)
            return
        # Some answers are NaN/Inf: the same allowance over the finite positions only.
        w = working.double()
        r = policy_output.double() if policy_output is not None else w
        if policy_output is not None and not all_finite(r):
            r = torch.where(torch.isfinite(r), r, w)  # the policy format overflowed: fall back
        del w
        finite = None if self.all_finite else torch.isfinite(self.e)
        self.finite = finite

        def at_finite(t: torch.Tensor | None) -> torch.Tensor | None:
            if t is None:
                return None
            return t.flatten() if finite is None else t[finite]

        e = at_finite(self.e)
        assert e is not None
        self.allowed = self._allowance(e, at_finite(r), at_finite(sensitivity), at_finite(rounding))

    def _allowance(
        self,
        e: torch.Tensor,
        r: torch.Tensor | None,
        s: torch.Tensor | None,
        q: torch.Tensor | None,
    ) -> torch.Tensor:
        """The allowed error of each element of ``e`` (flat), in pieces: ``r`` the reference in
        the policy's precision, ``s`` the answer's sensitivity, ``q`` a steadier measure of the
        reference's rounding (small outputs). Sets the normwise numbers on the way."""
        assert r is not None
        n = max(e.numel(), 1)

        def ref_diff(a: int, b: int) -> torch.Tensor:
            d = (r[a:b].double() - e[a:b]).abs_()
            if q is not None:  # a steadier measure of the same error, for small outputs
                d = torch.maximum(d, q[a:b].double())
            return d

        sq_ref = e.new_zeros((), dtype=torch.float64)
        sq_sens = e.new_zeros((), dtype=torch.float64)
        for a, b in pieces(e.numel()):
            sq_ref += ref_diff(a, b).square_().sum()
            if s is not None:
                sq_sens += s[a:b].double().square().sum()
        self.norm_e = float(torch.linalg.vector_norm(e))
        norm_ref, norm_sens = math.sqrt(float(sq_ref)), math.sqrt(float(sq_sens))
        self.reference_normwise = norm_ref / self.norm_e if self.norm_e else math.inf
        self.sensitivity_normwise = norm_sens / self.norm_e if self.norm_e else math.inf
        self.allowed_normwise = max(
            self.factors[0] * (self.reference_normwise + self.sensitivity_normwise), self.floor
        )
        rms_e = self.norm_e / math.sqrt(n)
        spread = (norm_ref + norm_sens) / math.sqrt(n)
        relative = max(self.floor, self.allowed_normwise)
        narrow = self.out_dtype in (torch.float32, torch.float16, torch.bfloat16)
        allowed = torch.empty(
            e.shape, dtype=torch.float32 if narrow else torch.float64, device=e.device
        )
        for a, b in pieces(e.numel()):
            piece = ref_diff(a, b)
            if s is not None:
                piece.add_(s[a:b].double())
            piece.add_(spread).mul_(self.factors[1])
            # An element may be off, relative to its size, by as much as the whole output is
            # allowed: rewrites whose rounding falls where the answer itself is insensitive
            # (softmax as exp(x - logsumexp(x)) at a row's dominant element) stay honest.
            piece.add_(e[a:b].abs().add_(rms_e).mul_(relative))
            if narrow:  # rounding a bound by 2^-24 changes no verdict; clamped, never infinite
                piece.clamp_(max=torch.finfo(torch.float32).max)
            allowed[a:b] = piece
        return allowed

    def to_host(self) -> None:
        """Hold everything in host memory (the GPU is full): comparisons then run there."""
        self.e = host_tensor(self.e)
        if self.w is not None:
            self.w = host_tensor(self.w)
        for name in ("allowed", "finite"):
            value = getattr(self, name, None)
            if isinstance(value, torch.Tensor):
                setattr(self, name, host_tensor(value))

    @property
    def _in_pieces(self) -> bool:
        """Whether finite outputs are compared piece by piece (``check``, ``passes``): inexact,
        calibrated answers, every one finite. Other comparisons are made whole."""
        return not self.exact and self.policy.calibrated and self.all_finite

    def check(self, candidate: torch.Tensor, quick: bool = False) -> Comparison:
        """Compare a candidate output (already known to have the right shape).

        ``quick`` answers pass/fail only and stops at the first failed criterion (strength probes).
        """
        held_on_host = self.e.device.type == "cpu"
        if self._in_pieces and all_finite(candidate):
            # On the answers' GPU, or else on the output's: answers held on the host (the GPU
            # was full) are brought to a GPU output a piece at a time. Bringing a 4 GiB output
            # to the host and comparing there took 7-8 s per correctness call on the H100.
            at = candidate.device if held_on_host else self.e.device
            return self._check_in_pieces(candidate.to(at).flatten(), quick)
        # whole, where the answers are held (a GPU, often; the host as tests are held there)
        candidate = host_tensor(candidate) if held_on_host else candidate.to(self.e.device)
        if self.exact:
            return self._check_exact(candidate)
        if not self.policy.calibrated:
            return self._check_allclose(candidate.double())
        c = candidate.double()
        bad_nonfinite = self._nonfinite_mismatch(c)
        if bad_nonfinite:
            return Comparison(False, bad_nonfinite, Check.NONFINITE)
        e = self.e.flatten() if self.all_finite else self.e[self.finite]
        cf = c.flatten() if self.all_finite else c[self.finite]
        diff = (cf - e).abs()
        normwise = (
            float(diff.norm()) / self.norm_e
            if self.norm_e
            else (0.0 if not diff.any() else math.inf)
        )
        if quick and normwise > self.allowed_normwise:
            return Comparison(False, "", Check.VALUES, normwise, self.allowed_normwise)
        ratio = (diff / self.allowed).masked_fill_(diff == 0, 0.0)  # 0/0 where both are zero
        worst = int(ratio.argmax()) if ratio.numel() else 0
        worst_ratio = float(ratio[worst]) if ratio.numel() else 0.0
        passed = normwise <= self.allowed_normwise and worst_ratio <= 1.0
        if quick:
            return Comparison(
                passed, "", Check.VALUES, normwise, self.allowed_normwise, worst_ratio
            )
        worst_index = self._position(worst) if ratio.numel() else None
        detail = ""
        if not passed:
            detail = self._explain(cf, e, diff, normwise, worst, worst_index, worst_ratio)
        return Comparison(
            passed, detail, Check.VALUES, normwise, self.allowed_normwise, worst_ratio, worst_index
        )

    def passes(
        self,
        whole: Callable[[], torch.Tensor],
        piece: Callable[[int, int], torch.Tensor] | None = None,
    ) -> bool:
        """Whether an output passes, pass or fail only (the strength probes): given piece by
        piece (``piece(a, b)``: its flat elements [a, b), in its own dtype), it is never held
        whole, and the answer comes at the first piece that settles it: a trivial output on a
        strong test fails on the first piece, where a whole comparison read every element of
        every GiB-sized test (on the host, L1/19's probes took minutes). Without ``piece``, or
        where the comparison is not made in pieces, ``whole()`` is compared. Same outcome as
        ``check(whole(), quick=True).passed``."""
        if piece is None or not self._in_pieces:
            return self.check(whole(), quick=True).passed
        e, allowed = self.e.flatten(), self.allowed.flatten()
        sq = 0.0
        for a, b in pieces(e.numel()):
            c = piece(a, b).to(e.device)
            if not all_finite(c):
                return False  # every answer is finite here: a non-finite element is wrong
            piece_sq, worst, _ = _piece_errors(c, e[a:b], allowed[a:b])
            sq += float(piece_sq)
            if self._normwise(sq) > self.allowed_normwise or float(worst) > 1.0:
                return False
        return True

    def _normwise(self, sum_of_squares: float) -> float:
        """The normwise error of an output whose differences' squares sum to this."""
        if not self.norm_e:
            return 0.0 if sum_of_squares == 0 else math.inf
        return math.sqrt(sum_of_squares) / self.norm_e

    def _check_in_pieces(self, cf: torch.Tensor, quick: bool) -> Comparison:
        """The comparison with every answer and every output finite, piece by piece: the same
        numbers as whole tensors give, with temporaries of a few hundred MiB. Made where the
        output is: answers held elsewhere (the host) are brought there a piece at a time."""
        e, allowed = self.e.flatten(), self.allowed.flatten()
        at = cf.device
        sq = cf.new_zeros((), dtype=torch.float64)
        worst_ratio_t = cf.new_zeros((), dtype=torch.float64)
        worst_t = torch.zeros((), dtype=torch.int64, device=at)
        for a, b in pieces(e.numel()):
            piece_sq, value, index = _piece_errors(cf[a:b], e[a:b].to(at), allowed[a:b].to(at))
            sq += piece_sq
            better = value > worst_ratio_t
            worst_t = torch.where(better, index + a, worst_t)
            worst_ratio_t = torch.where(better, value.double(), worst_ratio_t)
        normwise = self._normwise(float(sq))
        worst_ratio = float(worst_ratio_t)
        passed = normwise <= self.allowed_normwise and worst_ratio <= 1.0
        if quick:
            return Comparison(
                passed, "", Check.VALUES, normwise, self.allowed_normwise, worst_ratio
            )
        worst = int(worst_t)
        worst_index = _index(worst, self.shape) if e.numel() else None
        detail = ""
        if not passed:
            lo_e, hi_e = torch.aminmax(e) if e.numel() else (e.new_zeros(()), e.new_zeros(()))
            max_e = max(abs(float(lo_e)), abs(float(hi_e)))
            lo_c, hi_c = torch.aminmax(cf) if cf.numel() else (cf.new_zeros(()), cf.new_zeros(()))
            if not bool(cf.any()) and max_e > 0:
                lead = f"output is all zeros where the expected output is not (max |expected| = {_fmt(max_e)}); "
            elif cf.numel() > 1 and float(lo_c) == float(hi_c) and float(lo_e) != float(hi_e):
                lead = f"output is the constant {_fmt(float(lo_c))} everywhere; "
            else:
                wrong = sum(
                    int(((cf[a:b].double() - e[a:b].to(at)).abs_() > allowed[a:b].to(at)).sum())
                    for a, b in pieces(e.numel())
                )
                lead = f"{wrong} of {cf.numel()} elements outside tolerance; "
            got, want = float(cf[worst]), float(e[worst])
            detail = self._words(lead, normwise, worst_index, got, want, worst, worst_ratio)
        return Comparison(
            passed, detail, Check.VALUES, normwise, self.allowed_normwise, worst_ratio, worst_index
        )

    def _words(
        self,
        lead: str,
        normwise: float,
        worst_index: tuple[int, ...] | None,
        got: float,
        want: float,
        worst: int,
        worst_ratio: float,
    ) -> str:
        return (
            f"{lead}normwise error {_fmt(normwise)} vs allowed {_fmt(self.allowed_normwise)} "
            f"(max({_fmt(self.factors[0])} x (the reference's own {_fmt(self.reference_normwise)} + the answer's "
            f"sensitivity {_fmt(self.sensitivity_normwise)}), the floor {_fmt(self.floor)} (largest input "
            f"{_fmt(self.input_scale)}))); worst element "
            f"{list(worst_index or ())}: got {_fmt(got)}, "
            f"expected {_fmt(want)} (error {_fmt(abs(got - want))}, "
            f"allowed {_fmt(float(self.allowed.flatten()[worst]))}, {_fmt(worst_ratio)}x over)"
        )

    def _position(self, k: int) -> tuple[int, ...]:
        """The index in the output of the k-th finite element."""
        if self.all_finite:
            return _index(k, self.shape)
        assert self.finite is not None
        return _index(int(self.finite.flatten().nonzero()[k]), self.shape)

    def _explain(
        self,
        cf: torch.Tensor,
        e: torch.Tensor,
        diff: torch.Tensor,
        normwise: float,
        worst: int,
        worst_index: tuple[int, ...] | None,
        worst_ratio: float,
    ) -> str:
        max_e = float(e.abs().max()) if e.numel() else 0.0
        if not cf.any() and max_e > 0:
            lead = f"output is all zeros where the expected output is not (max |expected| = {_fmt(max_e)}); "
        elif cf.numel() > 1 and bool((cf == cf[0]).all()) and float(e.std()) > 0:
            lead = f"output is the constant {_fmt(float(cf[0]))} everywhere; "
        else:
            wrong = int((diff > self.allowed).sum())
            lead = f"{wrong} of {diff.numel()} elements outside tolerance; "
        return self._words(
            lead, normwise, worst_index, float(cf[worst]), float(e[worst]), worst, worst_ratio
        )

    def _nonfinite_mismatch(self, c: torch.Tensor) -> str:
        e = self.e
        wrong = (
            (e.isnan() != c.isnan())
            | (e.isposinf() != c.isposinf())
            | (e.isneginf() != c.isneginf())
        )
        count = int(wrong.sum())
        if not count:
            return ""
        first = _index(int(wrong.flatten().nonzero()[0]), self.shape)
        got = float(c[first])
        want = float(e[first])
        return (
            f"NaN/Inf in the wrong places: {count} of {e.numel()} positions (first at {list(first)}: "
            f"got {got}, expected {_fmt(want)})"
        )

    def _check_exact(self, c: torch.Tensor) -> Comparison:
        # Integer and boolean outputs (argmax, top-k indices, masks) must be exact; where the
        # working-precision reference itself disagrees with float64 (a near tie), either is right.
        assert self.w is not None
        ok = (c == self.e) | (c == self.w)
        wrong = int((~ok).sum())
        if not wrong:
            return Comparison(True, "", Check.VALUES, 0.0, 0.0, 0.0)
        first = _index(int((~ok).flatten().nonzero()[0]), self.shape)
        return Comparison(
            False,
            f"{wrong} of {c.numel()} exact values differ (first at {list(first)}: got "
            f"{c[first].item()}, expected {self.e[first].item()})",
            worst_index=first,
        )

    def _check_allclose(self, c: torch.Tensor) -> Comparison:
        atol, rtol = self.policy.atol or 0.0, self.policy.rtol or 0.0
        assert self.w is not None
        w = self.w.double()
        both_nan = c.isnan() & w.isnan()
        slack = atol + rtol * w.abs()
        over = torch.where(both_nan, torch.zeros_like(w), (c - w).abs() - slack)
        over = torch.nan_to_num(over, nan=math.inf)
        worst = int(over.flatten().argmax())
        worst_over = float(over.flatten()[worst])
        index = _index(worst, self.shape)
        if worst_over <= 0:
            return Comparison(True, "", worst_ratio=0.0, worst_index=index)
        wrong = int((over > 0).sum())
        return Comparison(
            False,
            f"{wrong} of {c.numel()} elements outside atol={atol:g}, rtol={rtol:g} (worst at "
            f"{list(index)}: got {_fmt(float(c[index]))}, reference {_fmt(float(w[index]))})",
            worst_index=index,
        )


def placed(answers: Answers, device: torch.device) -> Answers:
    """The same answers with every tensor on ``device`` (where the judge compares; the host
    included: answers that arrived on the GPU and do not fit there are brought back)."""

    def move(values: list[torch.Tensor | None] | list[torch.Tensor] | None) -> list | None:
        if values is None:
            return None
        return [None if v is None else v.to(device) for v in values]

    return replace(
        answers,
        expected=move(answers.expected) or [],
        working=move(answers.working) or [],
        policy=move(answers.policy),
        sensitivity=move(answers.sensitivity),
        rounding=move(answers.rounding),
    )


def tolerances(answers: Answers, policy: Policy) -> list[Tolerance]:
    """The tolerance of each output of one set of answers."""
    n = len(answers.expected)

    def each(
        values: list[torch.Tensor | None] | list[torch.Tensor] | None,
    ) -> list[torch.Tensor | None]:
        return list(values) if values is not None else [None] * n

    return [
        Tolerance(e, w, p, policy, s, r, answers.input_scale)
        for e, w, p, s, r in zip(
            answers.expected, answers.working, each(answers.policy), each(answers.sensitivity),
            each(answers.rounding), strict=True,
        )
    ]  # fmt: skip
