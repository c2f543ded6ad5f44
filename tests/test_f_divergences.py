"""f-GAN's output activations and conjugates (Nowozin et al. 2016, Tables 2 and 6), checked against
the generator functions f of Table 1 by numerical Fenchel duality, against the table's f'(1), and
the stable closed form f*(g_f(v)) against the composition."""

from __future__ import annotations

import math

import pytest
import torch

from gan_bench import losses

# Table 1's generator functions f(u) (u > 0), f'(1) (Table 6) and the domain of f* (Table 2/6).
F_OF_U = {
    "kl": (lambda u: u * torch.log(u), 1.0, (-math.inf, math.inf)),
    "reverse-kl": (lambda u: -torch.log(u), -1.0, (-math.inf, 0.0)),
    "js": (lambda u: -(u + 1) * torch.log((1 + u) / 2) + u * torch.log(u), 0.0, (-math.inf, math.log(2))),
    "pearson": (lambda u: (u - 1) ** 2, 0.0, (-math.inf, math.inf)),
    "hellinger": (lambda u: (torch.sqrt(u) - 1) ** 2, 0.0, (-math.inf, 1.0)),
    "total-variation": (lambda u: 0.5 * (u - 1).abs(), 0.0, (-0.5, 0.5)),
}
# Points t inside every domain, away from its edges.
T_POINTS = torch.tensor([-0.45, -0.3, -0.1, 0.0, 0.1, 0.3, 0.45], dtype=torch.float64)


def test_the_table_covers_every_divergence():
    assert set(F_OF_U) == set(losses.F_DIVERGENCES)


@pytest.mark.parametrize("divergence", losses.F_DIVERGENCES)
def test_conjugate_is_the_fenchel_conjugate_of_f(divergence: str):
    """f*(t) = sup_u (u t - f(u)), the sup taken over a fine log-spaced grid of u > 0."""
    f, _, (lo, hi) = F_OF_U[divergence]
    u = torch.logspace(-6, 4, 400_001, dtype=torch.float64)
    for t in T_POINTS:
        if not lo < float(t) < hi:
            t = torch.tensor(-0.3 if divergence == "reverse-kl" else 0.3, dtype=torch.float64)
        numeric = float((u * t - f(u)).max())
        assert float(losses.f_conjugate(divergence, t)) == pytest.approx(numeric, abs=1e-4), (divergence, float(t))


@pytest.mark.parametrize("divergence", losses.F_DIVERGENCES)
def test_conjugate_at_f_prime_of_one_is_f_prime_of_one(divergence: str):
    """f(1) = 0 gives f*(f'(1)) = f'(1): the critic's bound is 0 when P = Q (Table 6's f'(1))."""
    _, f1, _ = F_OF_U[divergence]
    t = torch.tensor(f1, dtype=torch.float64)
    assert float(losses.f_conjugate(divergence, t)) == pytest.approx(f1, abs=1e-12)


@pytest.mark.parametrize("divergence", losses.F_DIVERGENCES)
def test_activation_maps_into_the_conjugate_domain(divergence: str):
    _, _, (lo, hi) = F_OF_U[divergence]
    v = torch.linspace(-20, 20, 2001, dtype=torch.float64)
    t = losses.f_activation(divergence, v)
    assert bool(((t >= lo) & (t <= hi)).all())
    assert bool(torch.isfinite(losses.f_conjugate(divergence, t[(t > lo) & (t < hi)])).all())


@pytest.mark.parametrize("divergence", losses.F_DIVERGENCES)
def test_closed_form_equals_the_composition_and_stays_finite(divergence: str):
    v = torch.linspace(-8, 8, 161, dtype=torch.float64)
    composed = losses.f_conjugate(divergence, losses.f_activation(divergence, v))
    assert torch.allclose(losses.f_conjugate_activation(divergence, v), composed, rtol=1e-9, atol=1e-9)
    big = torch.tensor([60.0], dtype=torch.float32)  # JS: -log(2 - exp(g(60))) is inf in float32
    if divergence == "js":
        assert float(losses.f_conjugate_activation(divergence, big)) == pytest.approx(60 - math.log(2), rel=1e-6)


@pytest.mark.parametrize("divergence", losses.F_DIVERGENCES)
def test_losses_at_equal_outputs_and_gradients(divergence: str):
    """With V's output at f'(1)'s preimage on both sides the bound is 0 (P = Q); the critic's loss
    rewards a higher score on real data and a lower one on fakes."""
    _, f1, _ = F_OF_U[divergence]
    v = torch.linspace(-3, 3, 61, dtype=torch.float64)
    v0 = v[(losses.f_activation(divergence, v) - f1).abs().argmin()]
    scores = torch.full((8,), float(v0), dtype=torch.float64)
    assert float(losses.d_fgan(scores, scores, divergence)) == pytest.approx(0.0, abs=1e-6)
    real = scores.clone().requires_grad_(True)
    fake = scores.clone().requires_grad_(True)
    losses.d_fgan(real, fake, divergence).backward()
    assert bool((real.grad < 0).all()) and bool((fake.grad > 0).all())
    fake_g = scores.clone().requires_grad_(True)
    losses.g_fgan(fake_g, divergence).backward()
    assert bool((fake_g.grad < 0).all())  # G pushes its samples' scores up


def test_unknown_divergence_is_refused():
    with pytest.raises(ValueError, match="unknown f-divergence"):
        losses.f_activation("wasserstein", torch.zeros(1))
