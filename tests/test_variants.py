"""Input variants move the distribution but keep the structure a problem guarantees."""

from __future__ import annotations

import torch

from kernelswarm.variants import KNOWN_VARIANTS, transform_inputs


def test_shifted_inputs_have_both_signs_whatever_the_base():
    for base in (torch.rand(64, 64), torch.randn(64, 64), torch.rand(64, 64) + 10):
        for variant in ("shifted", "shifted2"):
            (x,) = transform_inputs([base], variant, seed=1)
            assert (x < 0).any() and (x > 0).any(), variant


def test_scaling_is_exact():
    base = torch.randn(100)
    (x,) = transform_inputs([base], "scaled", seed=1)
    assert torch.equal(x, base * 4)


def test_zeros_and_symmetry_are_kept():
    tri = torch.triu(torch.rand(32, 32))
    sym = torch.rand(32, 32)
    sym = sym + sym.T
    for variant in KNOWN_VARIANTS:
        t, s = transform_inputs([tri, sym], variant, seed=7)
        assert torch.equal(t.tril(-1), torch.zeros_like(t).tril(-1)), variant
        assert torch.equal(s, s.T), variant


def test_labels_integers_and_scalars_are_left_alone():
    labels = torch.randint(0, 2, (256,)).float() * 2 - 1
    ints = torch.randint(0, 10, (256,))
    for variant in KNOWN_VARIANTS:
        out = transform_inputs([labels, ints, 3.14, 7], variant, seed=3)
        assert torch.equal(out[0], labels) and torch.equal(out[1], ints) and out[2:] == [3.14, 7]


def test_heavy_tails_are_heavy_and_keep_signs():
    base = torch.randn(100_000)
    (x,) = transform_inputs([base], "heavy", seed=5)
    assert torch.equal(torch.sign(x), torch.sign(base))
    assert x.abs().max() > 5 * base.abs().max()
