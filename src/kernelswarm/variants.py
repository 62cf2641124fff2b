"""Input variants: the problem's own distribution, then shifted, scaled and heavy-tailed copies.

The base variant is the problem's ``get_inputs()`` under a fresh seed. The others transform
each floating-point input tensor so that a kernel which only works on the base distribution
(identity passing for ReLU on non-negative inputs, a fast path taken after peeking at a few
values, saturation never reached) shows it. Two of them cannot be recognised from a sample's
moments (sparse outliers at random positions, and a mixture of distributions by rows), so a
kernel cannot be exact only on "the test that looks unusual". Structure the problem guarantees is kept:

* exact zeros stay zero (they encode triangles, diagonals, masks and padding);
* a symmetric matrix stays symmetric;
* a tensor holding only a few distinct values (labels, ±1 targets, masks) is left alone;
* integer, boolean and Python-scalar inputs are left alone.

Runs inside the worker: standard library, torch and numpy only.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

#: variants every check runs, in order
DEFAULT_VARIANTS = ("base", "shifted", "scaled", "heavy", "outliers", "rows")
#: variants used to strengthen a check when the default ones give weak tests
EXTRA_VARIANTS = ("scaled16", "shifted2", "heavy2")

_CATEGORICAL_MAX_DISTINCT = 16
_CATEGORICAL_MIN_NUMEL = 64


def seed_everything(seed: int) -> None:
    """Seed every generator a problem file might draw from."""
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    torch.manual_seed(seed)


def _is_categorical(x: torch.Tensor) -> bool:
    if x.numel() < _CATEGORICAL_MIN_NUMEL:
        return False
    return int(torch.unique(x.flatten()[:65536]).numel()) <= _CATEGORICAL_MAX_DISTINCT


def _is_symmetric(x: torch.Tensor) -> bool:
    return x.dim() >= 2 and x.shape[-1] == x.shape[-2] and bool(torch.equal(x, x.mT))


_CHUNK = 1 << 24  # elements per piece when drawing noise: bounds the temporary memory


def _shift(quantile: float) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    def shift(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        # Subtract a quantile of the values: a fixed share of them turns negative whatever the
        # base distribution was (rand, randn, all-positive, already centred), never all of them.
        sample = x.flatten()[:1_000_000].double()
        y = x - float(torch.quantile(sample, quantile))
        return y.masked_fill_(x == 0, 0)  # zeros encode structure: they stay

    return shift


def _scale(factor: float) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    def scale(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return x * factor  # a power of two: exact in every floating format; zeros stay

    return scale


def _heavy(sigma: float) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    def heavy(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        # A log-normal factor per element: same signs, tails many times the typical size,
        # at positions nobody can predict; zeros stay zero. Drawn piecewise to bound memory.
        y = x.contiguous().clone()
        for piece in y.view(-1).split(_CHUNK):
            noise = torch.randn(piece.shape, generator=gen, dtype=torch.float32, device=y.device)
            piece.mul_(noise.mul_(sigma).exp_().to(piece.dtype))
        return y

    return heavy


def _outliers(share: float) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    def outliers(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        # Ordinary values, with a few (one in 1/share, at least one per row) multiplied by 2^3 to
        # 2^7 at random positions: a sample of a few values looks ordinary, its moments too,
        # so a kernel cannot tell this test from the problem's own distribution before it is
        # too late. Powers of two: exact in every format; signs and zeros stay.
        y = x.contiguous().clone()
        rows = y.view(-1, y.shape[-1]) if y.dim() > 1 else y.view(1, -1)
        for piece in rows.split(max(1, _CHUNK // max(rows.shape[1], 1))):
            dev = piece.device
            pick = torch.rand(piece.shape, generator=gen, device=dev) < share
            pick[
                torch.arange(piece.shape[0], device=dev),
                torch.randint(0, piece.shape[1], (piece.shape[0],), generator=gen, device=dev),
            ] = True
            power = torch.randint(3, 8, piece.shape, generator=gen, device=dev).to(torch.float32)
            piece.mul_(torch.where(pick, power.exp2(), torch.ones_like(power)).to(piece.dtype))
        return y

    return outliers


def _rows(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    # A mixture by rows: each row (along the last dimension) stays as drawn, is scaled by a power
    # of two from 2^-6 to 2^6, or gets heavy tails: every row looks like one distribution, the
    # tensor is several. A kernel that takes its statistics from a sample of rows is wrong on the
    # others.
    y = x.contiguous().clone()
    rows = y.view(-1, y.shape[-1]) if y.dim() > 1 else y.view(1, -1)
    for piece in rows.split(max(1, _CHUNK // max(rows.shape[1], 1))):
        dev = piece.device
        kind = torch.randint(0, 3, (piece.shape[0], 1), generator=gen, device=dev)
        scale = (
            torch.randint(-6, 7, (piece.shape[0], 1), generator=gen, device=dev)
            .to(torch.float32)
            .exp2()
        )
        tails = torch.randn(piece.shape, generator=gen, device=dev).exp_()
        factor = torch.where(
            kind == 1, scale, torch.where(kind == 2, tails, torch.ones_like(tails))
        )
        piece.mul_(factor.to(piece.dtype))
    return y


_TRANSFORMS: dict[str, Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = {
    "shifted": _shift(0.25),
    "shifted2": _shift(0.75),
    "scaled": _scale(4.0),
    "scaled16": _scale(16.0),
    "heavy": _heavy(1.0),
    "heavy2": _heavy(2.0),
    "outliers": _outliers(1 / 256),
    "rows": _rows,
}

KNOWN_VARIANTS = ("base", *_TRANSFORMS)


def describe(variant: str) -> str:
    """One line for reports."""
    return {
        "base": "the problem's get_inputs() under a fresh seed",
        "shifted": "floating inputs minus their 25th percentile (a quarter negative)",
        "shifted2": "floating inputs minus their 75th percentile (three quarters negative)",
        "scaled": "floating inputs times 4",
        "scaled16": "floating inputs times 16",
        "heavy": "floating inputs times a log-normal factor (sigma 1)",
        "heavy2": "floating inputs times a log-normal factor (sigma 2)",
        "outliers": "a few floating inputs per row times 2^3 to 2^7, at random positions",
        "rows": "rows of floating inputs as drawn, scaled by 2^-6 to 2^6, or heavy-tailed, at random",
    }[variant]


def transform_inputs(inputs: Sequence[Any], variant: str, seed: int) -> list[Any]:
    """Apply one variant to the problem's inputs (see the module docstring for what is kept)."""
    if variant == "base":
        return list(inputs)
    try:
        fn = _TRANSFORMS[variant]
    except KeyError:
        raise ValueError(f"unknown input variant {variant!r}; known: {KNOWN_VARIANTS}") from None
    generators: dict[torch.device, torch.Generator] = {}
    out: list[Any] = []
    for x in inputs:
        if not (isinstance(x, torch.Tensor) and x.is_floating_point() and x.numel() > 1):
            out.append(x)
            continue
        if _is_categorical(x):
            out.append(x)
            continue
        x = x.detach()
        if x.device not in generators:  # drawn where the tensor lives: a GPU draws in ms
            generators[x.device] = torch.Generator(device=x.device).manual_seed(seed ^ 0x5EED)
        y = fn(x, generators[x.device])
        if _is_symmetric(x):  # a symmetric input stays symmetric (x*m and x*m^T average)
            y = (y + y.mT) / 2
        out.append(y)
    return out


def make_inputs(
    get_inputs: Callable[[], Sequence[Any]],
    seed: int,
    variant: str,
    device: torch.device | None = None,
) -> list[Any]:
    """The problem's inputs for one test: ``get_inputs()`` under ``seed``, then the variant.

    With a GPU ``device``, ``get_inputs()`` runs with it as torch's default device, so that
    ``torch.rand(4096, 393216)`` is drawn on the GPU in milliseconds rather than on one CPU core
    in seconds (and every tensor it returns ends up there). A ``get_inputs()`` that cannot run
    so (it hands a tensor to numpy, say) is run again as written, under the same seed.
    """
    inputs: Sequence[Any]
    if device is not None and device.type != "cpu":
        seed_everything(seed)
        try:
            with torch.device(device):
                inputs = get_inputs()
        except Exception:  # drawn on the host instead, below: same seed, the problem as written
            inputs = _host_draw(get_inputs, seed)
        else:
            _check_list(inputs)
        inputs = [x.to(device) if isinstance(x, torch.Tensor) else x for x in inputs]
    else:
        inputs = _host_draw(get_inputs, seed)
    return transform_inputs(inputs, variant, seed)


def _host_draw(get_inputs: Callable[[], Sequence[Any]], seed: int) -> Sequence[Any]:
    seed_everything(seed)
    inputs = get_inputs()
    _check_list(inputs)
    return inputs


def _check_list(inputs: Any) -> None:
    if not isinstance(inputs, list | tuple):
        raise TypeError(f"get_inputs() returned a {type(inputs).__name__}, not a list")
