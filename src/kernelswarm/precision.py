"""Precision policies: what numerical error a candidate is allowed, named explicitly.

Tolerances are never guessed. For every test the judge measures how far the problem's own
reference, run in the policy's precision, lands from the float64 answer; the candidate may be
off by at most a small factor more. ``strict`` (the default) means the precision the problem
is written in, with TF32 off; ``tf32``, ``bf16`` and ``fp16`` allow the candidate that much less;
``kernelbench`` reproduces KernelBench's ``atol = rtol = 1e-2`` and exists for comparison only.

Imported by the worker: standard library and torch only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

#: unit roundoff (half an ulp at 1.0) of each floating format
UNIT_ROUNDOFF = {
    torch.float64: 2.0**-53,
    torch.float32: 2.0**-24,
    torch.float16: 2.0**-11,
    torch.bfloat16: 2.0**-8,
}
TF32_UNIT_ROUNDOFF = 2.0**-11


@dataclass(frozen=True)
class Policy:
    """A named precision policy and the factors that turn a measured error into a tolerance."""

    name: str
    description: str
    #: dtype the reference is re-run in to measure the policy's own error (None: working dtype)
    reference_dtype: str | None = None
    #: matrix products in TF32 when measuring the policy's own error
    tf32: bool = False
    #: unit roundoff of the format the policy allows (None: that of the problem's dtype)
    unit_roundoff: float | None = None
    #: candidate normwise error <= max(factor * reference normwise error, floor_ulps * u)
    normwise_factor: float = 32.0
    #: per element: |c - e| <= factor * (|r - e| + rms(r - e)) + floor_ulps * u * (|e| + rms(e))
    elementwise_factor: float = 64.0
    #: a few units of roundoff are always allowed (exactly computed references have no error)
    floor_ulps: float = 4.0
    #: KernelBench's rule instead of calibration (comparison only)
    atol: float | None = None
    rtol: float | None = None

    @property
    def calibrated(self) -> bool:
        return self.atol is None

    def factors(self, working: torch.dtype) -> tuple[float, float]:
        """(normwise, elementwise) factors for outputs of this dtype. Under ``strict``, bf16 and
        fp16 outputs get the reduced formats' tight factors: their error is dominated by rounding
        the result, which every implementation shares, so a factor of 32 would leave room for
        dropped work (statistics from a fraction of each row)."""
        if self.name == "strict" and working in (torch.bfloat16, torch.float16):
            return REDUCED_FACTORS
        return self.normwise_factor, self.elementwise_factor


#: factors of the policies whose error is dominated by rounding operands and results
REDUCED_FACTORS = (4.0, 16.0)

POLICIES: dict[str, Policy] = {
    p.name: p
    for p in (
        Policy("strict", "the problem's own precision, TF32 off"),
        # In a reduced format the error is dominated by rounding the operands, which every
        # implementation shares, so the factors are small: bf16 is only 8x less precise than
        # TF32, and the tf32 policy must still reject it.
        Policy(
            "tf32",
            "matrix products may use TF32",
            tf32=True,
            unit_roundoff=TF32_UNIT_ROUNDOFF,
            normwise_factor=4.0,
            elementwise_factor=16.0,
        ),
        Policy(
            "bf16",
            "compute may use bfloat16",
            reference_dtype="bfloat16",
            unit_roundoff=2.0**-8,
            normwise_factor=4.0,
            elementwise_factor=16.0,
        ),
        Policy(
            "fp16",
            "compute may use float16",
            reference_dtype="float16",
            unit_roundoff=2.0**-11,
            normwise_factor=4.0,
            elementwise_factor=16.0,
        ),
        Policy(
            "kernelbench",
            "KernelBench's atol=rtol=1e-2 against the working-precision reference (comparison only)",
            atol=1e-2,
            rtol=1e-2,
        ),
    )
}


def get_policy(name: str) -> Policy:
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(
            f"unknown precision policy {name!r}; choose from {', '.join(POLICIES)}"
        ) from None


def set_strict_matmul_flags() -> None:
    """Full fp32 matrix products on CUDA (cuDNN's convolutions default to TF32 otherwise)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def round_to_tf32(x: torch.Tensor, truncate: bool = False) -> torch.Tensor:
    """Reduce float32 values to TF32's 10-bit mantissa, rounding half away from zero or truncating."""
    bits = x.contiguous().view(torch.int32)
    rounded = (bits if truncate else bits + 0x1000) & ~0x1FFF
    return torch.where(torch.isfinite(x), rounded.view(torch.float32), x).view_as(x)


_TF32_OPS = {
    torch.matmul, torch.mm, torch.bmm, torch.addmm, torch.baddbmm, torch.addbmm, torch.einsum,
    torch.tensordot, torch.inner, torch.nn.functional.linear, torch.nn.functional.bilinear,
    torch.conv1d, torch.conv2d, torch.conv3d, torch.conv_transpose1d, torch.conv_transpose2d,
    torch.conv_transpose3d, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.Tensor.mm,
    torch.Tensor.bmm, torch.nn.functional.scaled_dot_product_attention,
}  # fmt: skip


class EmulatedTF32(TorchFunctionMode):
    """Reduce float32 operands of matrix products and convolutions to TF32 (for CPU runs).

    Operands are rounded to nearest: on an H200, cuBLAS's TF32 matched this emulation's error on
    normal data (docs/validation.md). Fused recurrent kernels (``_VF.lstm``) are not intercepted: for them the emulated policy
    error is smaller than real TF32's, which makes the tolerance stricter, never looser.
    """

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func in _TF32_OPS:
            args = tuple(
                round_to_tf32(a) if isinstance(a, torch.Tensor) and a.dtype == torch.float32 else a
                for a in args
            )
        return func(*args, **kwargs)


@contextlib.contextmanager
def tf32_compute(device: str) -> Iterator[None]:
    """Run the enclosed code with TF32 matrix products: real on CUDA, emulated on CPU."""
    if device == "cuda":
        old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old
    else:
        with EmulatedTF32():
            yield
