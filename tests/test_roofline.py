"""Flop and byte counts, and the floor's arithmetic."""

from __future__ import annotations

import pytest
import torch

from kernelswarm.judge.floor import IMPOSSIBLE_MARGIN, floor_for, implausible, rate_for
from kernelswarm.protocol import Counts, Peaks
from kernelswarm.worker.counting import count


def peaks(bandwidth: float, **matmul: float) -> Peaks:
    return Peaks("test", bandwidth, matmul, 5e-6, "", "")


def counts(flops: int, in_bytes: int, out_bytes: int, convolution: bool = False) -> Counts:
    return Counts("float32", flops, 0, convolution, in_bytes, 0, out_bytes)


PEAKS = peaks(1e12, fp32=1e13, tf32=1e14, bf16=2e14, fp16=2e14)


def test_linear_flops_and_bytes():
    model = torch.nn.Linear(64, 32)
    x = torch.randn(8, 64)
    c = count(model, [x])
    assert c.flops == 2 * 8 * 64 * 32
    assert c.input_bytes == 8 * 64 * 4
    assert c.parameter_bytes == (64 * 32 + 32) * 4
    assert c.output_bytes == 8 * 32 * 4
    assert c.dtype == "float32"


def test_elementwise_work_is_counted_separately():
    c = count(torch.nn.ReLU(), [torch.randn(1000)])
    assert c.flops == 0 and c.other_flops == 1000


def test_views_are_not_work():
    class Reshape(torch.nn.Module):
        def forward(self, x):
            return x.view(10, 100).t()

    assert count(Reshape(), [torch.randn(1000)]).other_flops == 0


def test_floor_is_the_larger_bound():
    floor = floor_for(counts(10**12, 10**9, 10**9), PEAKS, "fp32")
    assert floor.compute_seconds == pytest.approx(0.1) and floor.memory_seconds == pytest.approx(
        2e-3
    )
    assert floor.bound == "compute" and floor.seconds == pytest.approx(0.1)
    assert "GFLOP" in floor.explain() and "MiB" in floor.explain()


def test_only_the_bytes_that_must_move_make_a_time_impossible():
    # Counted flops are the reference's work, not a lower bound: an honest kernel may skip work
    # the reference repeats (or use Winograd for a convolution). Only moved bytes bound a time.
    floor = floor_for(counts(10**12, 10**9, 10**9), PEAKS, "fp32")
    assert floor.impossible_below == pytest.approx(IMPOSSIBLE_MARGIN * 2e-3)
    conv = floor_for(counts(10**12, 1, 1, convolution=True), PEAKS, "fp32")
    assert conv.impossible_below == pytest.approx(IMPOSSIBLE_MARGIN * 2 / 1e12)


def test_cached_peaks_far_from_a_probe_are_measured_again():
    cached = peaks(1e12, fp32=1e13)
    assert implausible(cached, peaks(0.9e12, fp32=0.5e13)) is None  # a short probe runs slower
    assert "short copy" in implausible(cached, peaks(3e12, fp32=1e13))  # forged low
    assert "quarter" in implausible(cached, peaks(1e11, fp32=1e13))  # forged high
    assert "fp32 product" in implausible(cached, peaks(1e12, fp32=5e13))


def test_convolution_is_detected():
    c = count(torch.nn.Conv2d(3, 8, 3), [torch.randn(1, 3, 16, 16)])
    assert c.convolution and c.flops > 0


@pytest.mark.parametrize(
    ("policy", "dtype", "rate"),
    [
        ("strict", torch.float32, "fp32-accurate"),
        ("tf32", torch.float32, "tf32"),
        ("strict", torch.bfloat16, "bf16"),
        ("bf16", torch.float32, "bf16"),
        ("fp16", torch.float32, "fp16"),
    ],
)
def test_rate_follows_policy_and_dtype(policy, dtype, rate):
    assert rate_for(policy, dtype) == rate


def test_fp32_accuracy_may_come_from_faster_units():
    floor = floor_for(
        counts(10**12, 1, 1), peaks(1e12, fp32=5e13, fp64=6.4e13, tf32=4.1e14), "fp32-accurate"
    )
    assert floor.rate == pytest.approx(4.1e14 / 3)  # 3xTF32 beats fp32 and fp64 here


def test_causal_attention_is_charged_half():
    class Attention(torch.nn.Module):
        def __init__(self, causal):
            super().__init__()
            self.causal = causal

        def forward(self, q, k, v):
            return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=self.causal)

    q = k = v = torch.randn(2, 4, 64, 16)
    full = count(Attention(False), [q, k, v]).flops
    causal = count(Attention(True), [q, k, v]).flops
    assert full == 4 * 2 * 4 * 64 * 64 * 16 and causal == full // 2
