"""The speed-of-light floor: what a problem must compute and move, over what the device can do.

The reference worker counts flops and must-move bytes and measures the device's peaks
(``worker/counting.py``); here the judge turns them into a floor: the larger of flops over the
policy's matrix rate and bytes over bandwidth. Measured peaks are cached per device, in the
user's cache folder. Only the bytes that must move bound a time from below for certain: counted
flops do not (an honest kernel may skip work the reference repeats).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from kernelswarm.plain import PlainError, from_plain, to_plain
from kernelswarm.protocol import Counts, Peaks

#: a measured time under this fraction of the floor is impossible (measured peaks sit a little
#: under the hardware's true ones)
IMPOSSIBLE_MARGIN = 0.8

#: a reference H100 SXM, for sizing problems without one (``lint``): round figures, measured
#: ones are in docs/benchmarks.md
H100_PEAKS = Peaks(
    device="H100 (reference figures)",
    bandwidth=3.0e12,
    matmul={"fp32": 5.0e13, "tf32": 4.0e14, "bf16": 7.0e14, "fp16": 7.0e14, "fp64": 5.0e13},
    launch_overhead_seconds=5e-6,
    torch="",
    measured_at="",
)


@dataclass(frozen=True)
class Floor:
    """The speed-of-light floor of one problem on one device, with its arithmetic."""

    flops: int
    other_flops: int
    bytes: int
    rate_name: str
    rate: float
    bandwidth: float
    compute_seconds: float
    memory_seconds: float
    seconds: float
    bound: str  # "compute" or "memory"
    impossible_below: float

    def explain(self) -> str:
        return (
            f"{self.flops / 1e9:.3g} GFLOP at the measured {self.rate_name} rate of "
            f"{self.rate / 1e12:.3g} TFLOP/s take {self.compute_seconds * 1e6:.3g} µs; "
            f"{self.bytes / 2**20:.4g} MiB moved at the measured {self.bandwidth / 1e9:.4g} GB/s take "
            f"{self.memory_seconds * 1e6:.3g} µs; the floor is {self.seconds * 1e6:.3g} µs ({self.bound}-bound)"
        )


def rate_for(policy_name: str, dtype: torch.dtype) -> str:
    """Which measured matrix rate bounds a problem of this dtype under this policy.

    ``fp32-accurate`` is the fastest route to fp32 accuracy, whichever is faster on the device:
    fp32 itself, fp64, or three TF32 products per product (3xTF32, as CUTLASS does it).
    """
    if dtype == torch.bfloat16 or policy_name == "bf16":
        return "bf16"
    if dtype == torch.float16 or policy_name == "fp16":
        return "fp16"
    if dtype == torch.float64:
        return "fp64"
    return "tf32" if policy_name == "tf32" else "fp32-accurate"


def counts_dtype(counts: Counts) -> torch.dtype:
    value = getattr(torch, counts.dtype, None)
    return value if isinstance(value, torch.dtype) else torch.float32


def _rate(peaks: Peaks, name: str) -> float:
    rates = peaks.matmul
    if name == "fp32-accurate":
        return max(rates["fp32"], rates.get("fp64", 0.0), rates.get("tf32", 0.0) / 3)
    return float(rates.get(name) or rates["fp32"])


def floor_for(counts: Counts, peaks: Peaks, rate_name: str) -> Floor:
    rate = _rate(peaks, rate_name)
    moved = counts.moved_bytes
    compute = (counts.flops + counts.other_flops) / rate
    memory = moved / peaks.bandwidth
    seconds = max(compute, memory)
    # Only the bytes that must move bound a time from below for certain: counted flops do not
    # (an honest kernel may skip work the reference repeats, or use a cheaper algorithm).
    impossible = IMPOSSIBLE_MARGIN * memory
    return Floor(
        flops=counts.flops,
        other_flops=counts.other_flops,
        bytes=moved,
        rate_name=rate_name,
        rate=rate,
        bandwidth=peaks.bandwidth,
        compute_seconds=compute,
        memory_seconds=memory,
        seconds=seconds,
        bound="compute" if compute >= memory else "memory",
        impossible_below=impossible,
    )


def implausible(cached: Peaks, probe: Peaks) -> str | None:
    """Why a cached measurement cannot be this device's (a short probe ran faster than the cache
    says the device can, or far slower), or None."""
    if probe.bandwidth > 1.5 * cached.bandwidth:
        return f"a short copy moved {probe.bandwidth / 1e9:.4g} GB/s, the cache says {cached.bandwidth / 1e9:.4g}"
    if probe.bandwidth < 0.25 * cached.bandwidth:
        return f"a short copy moved {probe.bandwidth / 1e9:.4g} GB/s, a quarter of the cached {cached.bandwidth / 1e9:.4g}"
    fp32 = probe.matmul.get("fp32", 0.0)
    if fp32 > 1.5 * cached.matmul.get("fp32", fp32):
        return f"a short fp32 product ran at {fp32 / 1e12:.3g} TFLOP/s, over the cached {cached.matmul['fp32'] / 1e12:.3g}"
    return None


def cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kernelswarm" / "peaks.json"


def cached_peaks(key: str) -> Peaks | None:
    """The peaks cached for this device, or None (absent, or not a well-formed record)."""
    try:
        data = json.loads(cache_path().read_text())
        return from_plain(Peaks, data[key])
    except (OSError, ValueError, KeyError, TypeError, PlainError):
        return None


def store_peaks(key: str, peaks: Peaks) -> None:
    path = cache_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    data[key] = to_plain(peaks)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
