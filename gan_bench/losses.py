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


def began_k_step(
    k: torch.Tensor, real_loss: torch.Tensor, fake_loss: torch.Tensor, gamma: float, lambda_k: float
) -> torch.Tensor:
    """:func:`began_k_update` on device tensors (no host sync): clamp(k_t + lambda_k (gamma L(x) -
    L(G(z))), 0, 1), detached, in ``k``'s dtype. Berthelot et al. 2017, eq. 4."""
    balance = gamma * real_loss.detach() - fake_loss.detach()
    return (k + lambda_k * balance).clamp(0.0, 1.0).to(k.dtype)


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


def aggregate_soft_mean(losses: torch.Tensor, lam: float, detach_weights: bool = False) -> torch.Tensor:
    """GMAN's soft-mean of K discriminators' generator losses, as the authors' code computes it:
    sum_i w_i V_i / sum_i w_i with w_i = exp(lam * V_i), i.e. softmax(lam * V) . V, the gradient
    flowing through the weights too (``mix_prediction`` in iDurugkar/GMAN's helper.py applies no
    stop-gradient). ``detach_weights`` treats the weights as constants (:func:`aggregate_soft`).
    lam = 0 is the mean (GMAN-0); lam -> inf the max (GMAN-max). Durugkar et al. 2017, section 3.2.
    """
    logits = lam * (losses.detach() if detach_weights else losses)
    return (torch.softmax(logits, dim=0) * losses).sum()


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


# --------------------------------------------------------------------------- semi-supervised GANs


def ssl_d_supervised(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """-E[log p(y | x, y < K+1)] on labelled data: cross-entropy over the K real-class logits of a
    (K+1)-class discriminator (Salimans et al. 2016, section 5, L_supervised)."""
    return F.cross_entropy(logits, labels)


def ssl_d_unsupervised(real_logits: torch.Tensor, fake_logits: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))] with the fake-class logit fixed at 0, so
    D(x) = Z(x) / (Z(x) + 1), Z = sum_k exp(l_k) (Salimans et al. 2016, section 5, L_unsupervised).

    log D = lse - softplus(lse) and log(1 - D) = -softplus(lse), lse = logsumexp(l). ``smoothing``
    is one-sided label smoothing (section 3.4): real examples target 1 - smoothing."""
    lse_real, lse_fake = torch.logsumexp(real_logits, 1), torch.logsumexp(fake_logits, 1)
    real_term = -(1.0 - smoothing) * lse_real + F.softplus(lse_real)  # -(1-s) log D - s log(1-D)
    return real_term.mean() + F.softplus(lse_fake).mean()


def ssl_g_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """-E[log D(G(z))] for the (K+1)-class discriminator: softplus(-logsumexp(l))."""
    return F.softplus(-torch.logsumexp(fake_logits, 1)).mean()


def feature_matching(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """||E f(x) - E f(G(z))||^2 over an intermediate layer f of D (Salimans et al. 2016, section
    3.1), averaged rather than summed over features as in the authors' code."""
    return (real_features.flatten(1).mean(0) - fake_features.flatten(1).mean(0)).pow(2).mean()


def historical_average(params: list[torch.Tensor], averages: list[torch.Tensor]) -> torch.Tensor:
    """||theta - (1/t) sum_i theta[i]||^2 summed over parameters (Salimans et al. 2016, section 3.3)."""
    return sum(((p - a) ** 2).sum() for p, a in zip(params, averages))


def triple_d(real_logits: torch.Tensor, cls_logits: torch.Tensor, fake_logits: torch.Tensor, alpha: float) -> torch.Tensor:
    """Triple-GAN discriminator loss (Li et al. 2017, Algorithm 1): -E[log D(x, y)] on labelled
    pairs - alpha E[log(1 - D(x_c, y_c))] on the classifier's pairs - (1 - alpha) E[log(1 - D(x_g,
    y_g))] on the generator's pairs, D = sigmoid(logits)."""
    return (F.softplus(-real_logits).mean() + alpha * F.softplus(cls_logits).mean()
            + (1.0 - alpha) * F.softplus(fake_logits).mean())


def triple_c_adversarial(pseudo_prob: torch.Tensor, d_logits: torch.Tensor, alpha: float) -> torch.Tensor:
    """Triple-GAN classifier's adversarial term (Li et al. 2017, Algorithm 1):
    alpha E[p_c(y_c | x_c) log(1 - D(x_c, y_c))] for pseudo-labels y_c ~ p_c(y | x_c); the gradient
    reaches C through ``pseudo_prob`` only (``d_logits`` should be detached)."""
    return alpha * (pseudo_prob.flatten() * -F.softplus(d_logits.flatten())).mean()


# --------------------------------------------------------------------------- matching-aware D (Reed et al. 2016)


def d_matching_aware(real_logits: torch.Tensor, fake_logits: torch.Tensor, wrong_logits: torch.Tensor) -> torch.Tensor:
    """GAN-CLS: -log D(x, phi) - 1/2 [log(1 - D(G(z), phi)) + log(1 - D(x, phi_wrong))], the
    discriminator loss of StackGAN (the 1/2 weights are the authors' code's)."""
    return F.softplus(-real_logits).mean() + 0.5 * (F.softplus(fake_logits).mean() + F.softplus(wrong_logits).mean())


# --------------------------------------------------------------------------- f-GAN (Nowozin et al. 2016)
#
# The critic V(x) is unbounded; an output activation g_f maps it into the domain of the conjugate
# f*, and the variational bound E_P[T(x)] - E_Q[f*(T(x))] with T = g_f(V) is maximised by the
# critic (Nowozin et al. 2016, eq. 6 and Table 2; f, f'(1) and dom f* in Table 6).

F_DIVERGENCES = ("kl", "reverse-kl", "js", "pearson", "hellinger", "total-variation")
_LOG2 = 0.6931471805599453


def _check_divergence(divergence: str) -> None:
    if divergence not in F_DIVERGENCES:
        raise ValueError(f"unknown f-divergence {divergence!r}; choose one of: {', '.join(F_DIVERGENCES)}")


def f_activation(divergence: str, v: torch.Tensor) -> torch.Tensor:
    """The output activation g_f(v) of Nowozin et al. 2016, Table 2 (values in dom f*)."""
    _check_divergence(divergence)
    if divergence in ("kl", "pearson"):
        return v
    if divergence == "reverse-kl":
        return -torch.exp(-v)
    if divergence == "js":
        return _LOG2 - F.softplus(-v)  # log 2 - log(1 + exp(-v))
    if divergence == "hellinger":
        return 1.0 - torch.exp(-v)
    return 0.5 * torch.tanh(v)  # total variation


def f_conjugate(divergence: str, t: torch.Tensor) -> torch.Tensor:
    """The Fenchel conjugate f*(t) of Nowozin et al. 2016, Table 2 (t in dom f*, Table 6)."""
    _check_divergence(divergence)
    if divergence == "kl":
        return torch.exp(t - 1.0)
    if divergence == "reverse-kl":
        return -1.0 - torch.log(-t)
    if divergence == "js":
        return -torch.log(2.0 - torch.exp(t))
    if divergence == "pearson":
        return 0.25 * t * t + t
    if divergence == "hellinger":
        return t / (1.0 - t)
    return t  # total variation, |t| <= 1/2


def f_conjugate_activation(divergence: str, v: torch.Tensor) -> torch.Tensor:
    """f*(g_f(v)) in closed form: the same value as ``f_conjugate(f_activation(v))``, without its
    overflow (JS: log 2 - softplus(-v) rounds to log 2 for large v, where -log(2 - e^t) is inf)."""
    _check_divergence(divergence)
    if divergence == "kl":
        return torch.exp(v - 1.0)
    if divergence == "reverse-kl":
        return v - 1.0  # -1 - log(exp(-v))
    if divergence == "js":
        return F.softplus(v) - _LOG2  # -log(2 - 2 sigmoid(v))
    if divergence == "pearson":
        return 0.25 * v * v + v
    if divergence == "hellinger":
        return torch.expm1(v)  # (1 - e^-v) / e^-v
    return 0.5 * torch.tanh(v)


def d_fgan(real_v: torch.Tensor, fake_v: torch.Tensor, divergence: str) -> torch.Tensor:
    """The critic's loss -(E_P[g_f(V(x))] - E_Q[f*(g_f(V(G(z))))]): the negated variational lower
    bound of D_f(P || Q) (Nowozin et al. 2016, eq. 6)."""
    return f_conjugate_activation(divergence, fake_v).mean() - f_activation(divergence, real_v).mean()


def g_fgan(fake_v: torch.Tensor, divergence: str) -> torch.Tensor:
    """-E_Q[g_f(V(G(z)))]: the generator maximises the critic's activation on its samples, the
    paper's alternative to minimising the bound (section 3.2; the non-saturating loss for GAN)."""
    return -f_activation(divergence, fake_v).mean()


# --------------------------------------------------------------------------- Age-cGAN (Antipov et al. 2017)


def latent_l2(z_hat: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Age-cGAN's encoder loss: the squared Euclidean distance between the encoder's estimate
    E(G(z, y)) and the latent z that made the image, averaged over the batch (section 2.2,
    "latent vector approximation")."""
    return (z_hat - z).pow(2).flatten(1).sum(1).mean()


def identity_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> torch.Tensor:
    """Per-example Euclidean distance ||FR(x) - FR(x')|| between face-recognition features (rows),
    which Age-cGAN's identity-preserving optimisation minimises over z (section 2.2, eq. 3)."""
    return (features_a - features_b).flatten(1).norm(dim=1)


# --------------------------------------------------------------------------- relativistic average GAN (ESRGAN)


def d_relativistic_average(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """RaGAN discriminator loss -E[log D_Ra(x_r, x_f)] - E[log(1 - D_Ra(x_f, x_r))], with
    D_Ra(a, b) = sigmoid(C(a) - E[C(b)]) over the batch (Jolicoeur-Martineau 2019; Wang et al.
    2018, ESRGAN eq. 1-2). ``*_logits`` are the critic's raw outputs C(x)."""
    return (F.softplus(-(real_logits - fake_logits.mean())).mean()
            + F.softplus(fake_logits - real_logits.mean()).mean())


def g_relativistic_average(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """RaGAN generator loss -E[log(1 - D_Ra(x_r, x_f))] - E[log D_Ra(x_f, x_r)]: the symmetric
    form, so the generator also learns from the real data's logits (ESRGAN eq. 2)."""
    return (F.softplus(real_logits - fake_logits.mean()).mean()
            + F.softplus(-(fake_logits - real_logits.mean())).mean())


# --------------------------------------------------------------------------- Triple-GAN's classifier (Li et al. 2017, authors' code)


def triple_c_nonsaturating(pseudo_prob: torch.Tensor, d_logits: torch.Tensor, alpha: float) -> torch.Tensor:
    """The adversarial term of Triple-GAN's classifier as the authors' MNIST code trains it:
    alpha E[p_c(y_c | x_c) (-log D(x_c, y_c))] with y_c = argmax p_c (``cla_cost_p_c``, the
    non-saturating form of Algorithm 1's E[p_c log(1 - D)]); the gradient reaches C through
    ``pseudo_prob`` only (``d_logits`` should be detached)."""
    return alpha * (pseudo_prob.flatten() * F.softplus(-d_logits.flatten())).mean()


def prediction_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Mean entropy -sum_k p_k log p_k of softmax(``logits``) over the batch: entropy minimisation
    on unlabelled data (Grandvalet & Bengio 2005; Triple-GAN's code, ``alpha_unlabeled_entropy``)."""
    logp = F.log_softmax(logits, 1)
    return -(logp.exp() * logp).sum(1).mean()


def class_balance(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the batch's mean prediction against the uniform class distribution,
    -1/K sum_k log mean_i p_ik: keeps entropy minimisation from collapsing onto a few classes
    (Triple-GAN's code, ``categorical_crossentropy_of_mean``)."""
    mean = F.softmax(logits, 1).mean(0)
    return -mean.clamp_min(1e-6).log().mean()
