"""Kernel Inception Distance (Binkowski et al. 2018), as torch-fidelity computes it.

KID is the unbiased estimate of the squared MMD between the two feature distributions under the
cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over ``subsets`` (100) random
subsets of ``subset_size`` (1000) samples drawn without replacement from each input. Subsets are
drawn from ``numpy.random.RandomState(seed)`` (seed 2020), first from input 1 then from input 2,
exactly the stream torch-fidelity uses, so the same features give the same subsets. Sums are
taken in float64. ``kid_std`` is the (population) standard deviation over subsets.
"""

from __future__ import annotations

import numpy as np
import torch

from gan_bench.metrics.errors import MetricsInputError
from gan_bench.metrics.family import PROTOCOLS, MetricContext
from gan_bench.metrics.features import POOL
from gan_bench.registry import METRICS


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, gamma: float | None = None, coef0: float = 1.0) -> np.ndarray:
    """k(x, y) = (gamma x.y + coef0)^degree for all rows of x and y; gamma defaults to 1/d."""
    g = 1.0 / x.shape[1] if gamma is None else gamma
    return (x @ y.T * g + coef0) ** degree


def mmd2_unbiased(k_xx: np.ndarray, k_xy: np.ndarray, k_yy: np.ndarray) -> float:
    """Unbiased MMD^2: off-diagonal means of K_xx and K_yy minus twice the mean of K_xy."""
    m = k_xx.shape[0]
    off_xx = k_xx.sum() - np.trace(k_xx)
    off_yy = k_yy.sum() - np.trace(k_yy)
    return float((off_xx + off_yy) / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m))


def kernel_distance(
    feats1: torch.Tensor | np.ndarray,
    feats2: torch.Tensor | np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 2020,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
) -> tuple[float, float]:
    """(mean, std) of the unbiased MMD^2 over random subsets (see the module docstring)."""
    f1 = feats1.double().numpy() if isinstance(feats1, torch.Tensor) else np.asarray(feats1, np.float64)
    f2 = feats2.double().numpy() if isinstance(feats2, torch.Tensor) else np.asarray(feats2, np.float64)
    n1, n2 = f1.shape[0], f2.shape[0]
    if subset_size < 2 or subset_size > min(n1, n2):
        raise MetricsInputError(f"KID subset size {subset_size} needs 2 <= size <= the smaller input ({min(n1, n2)})")
    rng = np.random.RandomState(seed)
    values = np.empty(subsets)
    for i in range(subsets):
        x = f1[rng.choice(n1, subset_size, replace=False)]
        y = f2[rng.choice(n2, subset_size, replace=False)]
        kern = lambda a, b: polynomial_kernel(a, b, degree, gamma, coef0)  # noqa: E731
        values[i] = mmd2_unbiased(kern(x, x), kern(x, y), kern(y, y))
    return float(values.mean()), float(values.std())


@METRICS.register(
    "kid",
    harness="image",
    kinds=(),  # not a training-time evaluator (those take (samples, dataset))
    default=False,
    keys=("kid_mean", "kid_std"),
    arity=2,
    features=(POOL,),
    protocols=PROTOCOLS,
    description="unbiased MMD^2, cubic polynomial kernel, 100 subsets x 1000",
)
def compute_kid(ctx: MetricContext) -> dict[str, float]:
    """KID between the inputs; the subset size shrinks (with a warning) to the smaller input."""
    o = ctx.options
    f1, f2 = ctx.features(1, POOL), ctx.features(2, POOL)
    size = o.kid_subset_size
    smaller = min(f1.shape[0], f2.shape[0])
    if smaller < size:
        ctx.warnings.append(f"KID subset size reduced from {size} to {smaller} (the smaller input's size)")
        size = smaller
    mean, std = kernel_distance(f1, f2, o.kid_subsets, size, o.seed, o.kid_degree, o.kid_gamma, o.kid_coef0)
    ctx.details["kid"] = {
        "subsets": o.kid_subsets,
        "subset_size": size,
        "kernel": f"polynomial degree {o.kid_degree}, gamma {'1/d' if o.kid_gamma is None else o.kid_gamma}, coef0 {o.kid_coef0}",
        "estimator": "unbiased MMD^2",
        "seed": o.seed,
    }
    return {"kid_mean": mean, "kid_std": std}
