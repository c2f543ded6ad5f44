"""Adversarial and reconstruction losses as pure functions of network outputs.

Every function takes tensors and returns a scalar tensor to minimise; none touches a network or an
optimiser, so variants compose them freely (``d_loss = d_wasserstein(real, fake) + gp_weight * gp``).
Logits are raw discriminator scores (no sigmoid applied).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# --------------------------------------------------------------------------- GAN (Goodfellow et al. 2014)


def d_minimax(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))], with D = sigmoid(logits) (binary cross-entropy)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_minimax(fake_logits: torch.Tensor) -> torch.Tensor:
    """E[log(1 - D(G(z)))]: the original, saturating generator loss."""
    return -F.softplus(fake_logits).mean()


def g_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[log D(G(z))]: the non-saturating generator loss (the paper's practical heuristic)."""
    return F.softplus(-fake_logits).mean()


# --------------------------------------------------------------------------- LSGAN (Mao et al. 2017)


def d_least_squares(
    real_out: torch.Tensor, fake_out: torch.Tensor, real_target: float = 1.0, fake_target: float = 0.0
) -> torch.Tensor:
    """1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2] with the paper's a=0, b=1 by default."""
    return 0.5 * ((real_out - real_target) ** 2).mean() + 0.5 * ((fake_out - fake_target) ** 2).mean()


def g_least_squares(fake_out: torch.Tensor, target: float = 1.0) -> torch.Tensor:
    """1/2 E[(D(G(z)) - c)^2] with c=1."""
    return 0.5 * ((fake_out - target) ** 2).mean()


# --------------------------------------------------------------------------- WGAN (Arjovsky et al. 2017)


def d_wasserstein(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """E[D(G(z))] - E[D(x)]: the negated Wasserstein-1 estimate the critic minimises."""
    return fake_out.mean() - real_out.mean()


def g_wasserstein(fake_out: torch.Tensor) -> torch.Tensor:
    """-E[D(G(z))]."""
    return -fake_out.mean()


# --------------------------------------------------------------------------- hinge (Lim & Ye; Miyato et al.)


def d_hinge(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]."""
    return F.relu(1.0 - real_out).mean() + F.relu(1.0 + fake_out).mean()


def g_hinge(fake_out: torch.Tensor) -> torch.Tensor:
    """-E[D(G(z))]."""
    return -fake_out.mean()


# --------------------------------------------------------------------------- energy-based (EBGAN, BEGAN)


def reconstruction_energy(x: torch.Tensor, recon: torch.Tensor, p: int = 2) -> torch.Tensor:
    """Per-example energy of an autoencoder critic: mean |x - recon|^p over features (shape (N,))."""
    diff = (x - recon).flatten(1).abs()
    return (diff**p).mean(dim=1) if p != 1 else diff.mean(dim=1)


def d_ebgan(real_energy: torch.Tensor, fake_energy: torch.Tensor, margin: float) -> torch.Tensor:
    """EBGAN critic: E[D(x)] + E[max(0, m - D(G(z)))] (Zhao et al. 2017, eq. 1)."""
    return real_energy.mean() + F.relu(margin - fake_energy).mean()


def g_ebgan(fake_energy: torch.Tensor) -> torch.Tensor:
    """EBGAN generator: E[D(G(z))]."""
    return fake_energy.mean()


def d_began(real_loss: torch.Tensor, fake_loss: torch.Tensor, k: float) -> torch.Tensor:
    """BEGAN critic: L(x) - k_t L(G(z)) (Berthelot et al. 2017, eq. 4)."""
    return real_loss - k * fake_loss


def began_k_update(k: float, real_loss: float, fake_loss: float, gamma: float, lambda_k: float) -> float:
    """k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1)."""
    return min(max(k + lambda_k * (gamma * real_loss - fake_loss), 0.0), 1.0)


def began_convergence(real_loss: float, fake_loss: float, gamma: float) -> float:
    """The global convergence measure M = L(x) + |gamma L(x) - L(G(z))|."""
    return real_loss + abs(gamma * real_loss - fake_loss)


# --------------------------------------------------------------------------- multi-player (MAD-GAN, GMAN)


def d_multiclass(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of a (K+1)-way critic: class k < K for generator k's samples, K for real data."""
    return F.cross_entropy(logits, targets)


def g_multiclass_real(fake_logits: torch.Tensor, real_class: int) -> torch.Tensor:
    """MAD-GAN generator loss: -E[log D_{real}(G_k(z))], non-saturating towards the real class."""
    return -F.log_softmax(fake_logits, dim=1)[:, real_class].mean()


def aggregate_soft(losses: torch.Tensor, lam: float) -> torch.Tensor:
    """GMAN's softmax-weighted mean of K discriminators' generator losses.

    The weights are softmax(lam * V_i) over the losses themselves (detached): lam = 0 is the mean
    (GMAN-0), lam -> inf is the max (GMAN-max). Durugkar et al. 2017, section 3.2.
    """
    weights = torch.softmax(lam * losses.detach(), dim=0)
    return (weights * losses).sum()


# --------------------------------------------------------------------------- VAE (Kingma & Welling 2014)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over latent dims, averaged over the batch."""
    return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).sum(dim=1).mean()


def gaussian_nll(x: torch.Tensor, recon: torch.Tensor, log_sigma: torch.Tensor | float = 0.0) -> torch.Tensor:
    """Negative log-likelihood of x under N(recon, sigma^2 I), summed over features, averaged over
    the batch, without the constant log(2 pi)/2 term. ``log_sigma`` may be a learnable tensor."""
    log_sigma = torch.as_tensor(log_sigma, dtype=x.dtype, device=x.device)
    per_feature = (x - recon).flatten(1).pow(2) * (0.5 * torch.exp(-2.0 * log_sigma)) + log_sigma
    return per_feature.sum(dim=1).mean()
