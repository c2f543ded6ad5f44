"""The relativistic average GAN losses (ESRGAN eq. 1-2) against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from gan_bench.losses import d_relativistic_average, g_relativistic_average


def sigmoid(a: float) -> float:
    return 1.0 / (1.0 + math.exp(-a))


def by_hand(real: list[float], fake: list[float]) -> tuple[float, float]:
    """L_D^Ra and L_G^Ra written out term by term from D_Ra(a, b) = sigmoid(C(a) - E[C(b)])."""
    mr, mf = sum(real) / len(real), sum(fake) / len(fake)
    d = (-sum(math.log(sigmoid(c - mf)) for c in real) / len(real)
         - sum(math.log(1 - sigmoid(c - mr)) for c in fake) / len(fake))
    g = (-sum(math.log(1 - sigmoid(c - mf)) for c in real) / len(real)
         - sum(math.log(sigmoid(c - mr)) for c in fake) / len(fake))
    return d, g


def test_one_pair_matches_the_closed_form():
    # C(x_r) = 1, C(x_f) = 0: L_D = 2 log(1 + e^-1) = 0.62652..., L_G = 2 log(1 + e) = 2.62652...
    real, fake = torch.tensor([1.0]), torch.tensor([0.0])
    assert d_relativistic_average(real, fake).item() == pytest.approx(0.6265233750364457, abs=1e-6)
    assert g_relativistic_average(real, fake).item() == pytest.approx(2.6265233750364456, abs=1e-6)


def test_batches_of_different_sizes_use_the_other_sides_mean():
    real, fake = [2.0, 0.0, 1.0], [0.0, -3.0]
    d, g = by_hand(real, fake)
    assert d == pytest.approx(0.2690569512339904, abs=1e-12)  # the formula above, by hand
    rt, ft = torch.tensor(real, dtype=torch.float64), torch.tensor(fake, dtype=torch.float64)
    assert d_relativistic_average(rt, ft).item() == pytest.approx(d, abs=1e-10)
    assert g_relativistic_average(rt, ft).item() == pytest.approx(g, abs=1e-10)
    # softplus(a) - softplus(-a) = a: L_G - L_D = 2 (E[C(x_r)] - E[C(x_f)]) = 5
    assert (g_relativistic_average(rt, ft) - d_relativistic_average(rt, ft)).item() == pytest.approx(5.0, abs=1e-10)


def test_the_generator_loss_is_the_discriminator_loss_with_roles_swapped():
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(7, 1, generator=gen), torch.randn(5, 1, generator=gen)
    assert torch.allclose(g_relativistic_average(real, fake), d_relativistic_average(fake, real))


def test_a_constant_shift_of_every_logit_changes_nothing():
    """Only differences of C reach D_Ra: a bias added to all logits is invisible."""
    gen = torch.Generator().manual_seed(1)
    real, fake = torch.randn(6, generator=gen), torch.randn(6, generator=gen)
    for loss in (d_relativistic_average, g_relativistic_average):
        assert torch.allclose(loss(real + 3.0, fake + 3.0), loss(real, fake), atol=1e-6)


def test_the_generator_gains_by_raising_fake_logits_and_lowering_real_ones():
    real = torch.tensor([0.5, 1.5], requires_grad=True)
    fake = torch.tensor([-1.0, 0.0], requires_grad=True)
    g_relativistic_average(real, fake).backward()
    assert (fake.grad < 0).all() and (real.grad > 0).all()
