"""Frechet distance between Gaussians fitted to two feature sets (FID, Heusel et al. 2017).

    d^2 = ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2))

with mu the mean and S the unbiased (N-1) covariance of the features, both in float64. The trace
term is computed as sum(sqrt(eig(S1^(1/2) S2 S1^(1/2)))): that matrix is symmetric PSD and has the
eigenvalues of S1 S2, so two symmetric eigendecompositions replace the general ``sqrtm`` /
``eigvals`` of the non-symmetric product (faster, and no spurious imaginary parts). It agrees with
clean-fid's ``frechet_distance`` and torch-fidelity's ``fid_statistics_to_metric`` to rounding.
"""

from __future__ import annotations

import numpy as np
import torch

from gan_bench.metrics.family import PROTOCOLS, MetricContext
from gan_bench.metrics.features import POOL
from gan_bench.registry import METRICS


def gaussian_statistics(features: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, unbiased covariance) of (N, D) features, float64."""
    x = features.double().numpy() if isinstance(features, torch.Tensor) else np.asarray(features, np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need (N, D) features with N >= 2, got shape {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False)


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((S1 S2)^(1/2)) for symmetric PSD S1, S2."""
    r = _psd_sqrt(np.asarray(sigma1, np.float64))
    m = r @ np.asarray(sigma2, np.float64) @ r
    w = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(np.clip(w, 0.0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"statistics do not match: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2))


def frechet_distance_from_features(feats1: torch.Tensor | np.ndarray, feats2: torch.Tensor | np.ndarray) -> float:
    """FID straight from features; exact and fast when there are fewer samples than dimensions.

    With centred features A1 (n1 x d) and A2, Tr((S1 S2)^(1/2)) is the nuclear norm of
    A1 A2^T / sqrt((n1 - 1)(n2 - 1)) (the eigenvalues of S1 S2 are the squared singular values of
    that n1 x n2 matrix), so no d x d decomposition is needed when n1, n2 <= d.
    """
    x1 = feats1.double().numpy() if isinstance(feats1, torch.Tensor) else np.asarray(feats1, np.float64)
    x2 = feats2.double().numpy() if isinstance(feats2, torch.Tensor) else np.asarray(feats2, np.float64)
    (n1, d), n2 = x1.shape, x2.shape[0]
    if max(n1, n2) > d:
        s1, s2 = gaussian_statistics(x1), gaussian_statistics(x2)
        return frechet_distance(s1[0], s1[1], s2[0], s2[1])
    mu1, mu2 = x1.mean(axis=0), x2.mean(axis=0)
    a1, a2 = x1 - mu1, x2 - mu2
    diff = mu1 - mu2
    tr1 = float((a1 * a1).sum()) / (n1 - 1)
    tr2 = float((a2 * a2).sum()) / (n2 - 1)
    nuclear = float(np.linalg.svd(a1 @ a2.T, compute_uv=False).sum()) / np.sqrt((n1 - 1) * (n2 - 1))
    return float(diff @ diff + tr1 + tr2 - 2.0 * nuclear)


@METRICS.register(
    "fid",
    harness="image",
    kinds=(),  # not a training-time evaluator (those take (samples, dataset))
    default=False,
    keys=("fid",),
    arity=2,
    features=(POOL,),
    protocols=PROTOCOLS,
    description="Frechet distance of Gaussians fitted to INPUT1 and INPUT2 features",
)
def compute_fid(ctx: MetricContext) -> dict[str, float]:
    """FID between the two inputs' pool features (statistics from the context, cached by the harness)."""
    f1, f2 = ctx.features(1, POOL), ctx.features(2, POOL)
    dim = f1.shape[1]
    small = max(f1.shape[0], f2.shape[0]) <= dim
    for which, feats in ((1, f1), (2, f2)):
        if feats.shape[0] <= dim:
            ctx.warnings.append(
                f"FID on {feats.shape[0]} samples of input {which} with {dim}-d features: the covariance is singular "
                f"and the value is dominated by small-sample bias (use at least {dim + 1}; 10k-50k is standard)"
            )
    ctx.details["fid"] = {
        "statistics": "float64 mean and unbiased covariance",
        "trace_sqrt": "nuclear norm of A1 A2^T (n <= d)" if small else "eigh of S1^1/2 S2 S1^1/2",
    }
    if small:
        return {"fid": frechet_distance_from_features(f1, f2)}
    s1 = ctx.stats1 or gaussian_statistics(f1)
    s2 = ctx.stats2 or gaussian_statistics(f2)
    return {"fid": frechet_distance(s1[0], s1[1], s2[0], s2[1])}
