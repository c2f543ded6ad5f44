"""Each loss against a value computed by hand."""

import math

import pytest
import torch

from gan_bench import losses

r = torch.tensor([2.0, -1.0])  # real outputs
f = torch.tensor([0.5, -3.0])  # fake outputs


def sp(x: float) -> float:
    return math.log1p(math.exp(x))


def test_d_minimax_is_binary_cross_entropy():
    expected = (sp(-2.0) + sp(1.0)) / 2 + (sp(0.5) + sp(-3.0)) / 2
    assert losses.d_minimax(r, f).item() == pytest.approx(expected, rel=1e-6)


def test_g_minimax_is_log_one_minus_d():
    d = torch.sigmoid(f)
    expected = torch.log(1 - d).mean().item()
    assert losses.g_minimax(f).item() == pytest.approx(expected, rel=1e-6)


def test_g_nonsaturating_is_minus_log_d():
    expected = -(math.log(1 / (1 + math.exp(-0.5))) + math.log(1 / (1 + math.exp(3.0)))) / 2
    assert losses.g_nonsaturating(f).item() == pytest.approx(expected, rel=1e-6)


def test_least_squares():
    # 0.5 * mean((r-1)^2) + 0.5 * mean(f^2) = 0.5*(1+4)/2 + 0.5*(0.25+9)/2
    assert losses.d_least_squares(r, f).item() == pytest.approx(0.5 * 2.5 + 0.5 * 4.625)
    # 0.5 * mean((f-1)^2) = 0.5 * (0.25 + 16) / 2
    assert losses.g_least_squares(f).item() == pytest.approx(4.0625)


def test_wasserstein():
    assert losses.d_wasserstein(r, f).item() == pytest.approx(-1.25 - 0.5)
    assert losses.g_wasserstein(f).item() == pytest.approx(1.25)


def test_hinge():
    # relu(1-2)=0, relu(1+1)=2 -> 1; relu(1.5)=1.5, relu(-2)=0 -> 0.75
    assert losses.d_hinge(r, f).item() == pytest.approx(1.75)
    assert losses.g_hinge(f).item() == pytest.approx(1.25)


def test_ebgan_margin_and_energy():
    x = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    recon = torch.tensor([[0.0, 2.0], [1.0, 1.0]])
    energy = losses.reconstruction_energy(x, recon)  # mean squared error per example
    assert energy.tolist() == pytest.approx([0.5, 1.0])
    real_e, fake_e = torch.tensor([0.2, 0.4]), torch.tensor([0.5, 2.0])
    # 0.3 + mean(relu(1 - 0.5), relu(1 - 2)) = 0.3 + 0.25
    assert losses.d_ebgan(real_e, fake_e, margin=1.0).item() == pytest.approx(0.55)
    assert losses.g_ebgan(fake_e).item() == pytest.approx(1.25)


def test_began_terms():
    assert losses.d_began(torch.tensor(0.4), torch.tensor(0.3), k=0.5).item() == pytest.approx(0.25)
    # k + 0.01 * (0.5 * 0.4 - 0.3) = 0.2 - 0.001
    assert losses.began_k_update(0.2, 0.4, 0.3, gamma=0.5, lambda_k=0.01) == pytest.approx(0.199)
    assert losses.began_k_update(0.0, 0.0, 1.0, gamma=0.5, lambda_k=1.0) == 0.0  # clipped at 0
    assert losses.began_convergence(0.4, 0.3, gamma=0.5) == pytest.approx(0.5)


def test_multiclass_losses():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    targets = torch.tensor([0, 2])
    lse0 = math.log(math.exp(2) + 2)
    lse1 = math.log(2 + math.exp(1))
    assert losses.d_multiclass(logits, targets).item() == pytest.approx(((lse0 - 2) + (lse1 - 1)) / 2, rel=1e-6)
    assert losses.g_multiclass_real(logits, real_class=2).item() == pytest.approx((lse0 + (lse1 - 1)) / 2, rel=1e-6)


def test_gman_soft_aggregation_interpolates_mean_and_max():
    v = torch.tensor([1.0, 3.0])
    assert losses.aggregate_soft(v, 0.0).item() == pytest.approx(2.0)
    w = math.exp(3) / (math.exp(1) + math.exp(3))
    assert losses.aggregate_soft(v, 1.0).item() == pytest.approx((1 - w) * 1 + w * 3, rel=1e-6)
    assert losses.aggregate_soft(v, 100.0).item() == pytest.approx(3.0, rel=1e-6)


def test_vae_terms():
    mu = torch.tensor([[1.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)]])
    # 0.5 * (1 + 1 - 1 - 0) + 0.5 * (0 + 2 - 1 - log 2)
    assert losses.gaussian_kl(mu, logvar).item() == pytest.approx(0.5 + 0.5 * (1 - math.log(2)), rel=1e-6)
    x, recon = torch.tensor([[1.0, 3.0]]), torch.tensor([[0.0, 1.0]])
    # sigma = e: sum((d^2) / (2 e^2) + 1)
    assert losses.gaussian_nll(x, recon, 1.0).item() == pytest.approx(5 / (2 * math.e**2) + 2, rel=1e-6)
