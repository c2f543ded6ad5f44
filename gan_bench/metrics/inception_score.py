"""Inception Score (Salimans et al. 2016), as torch-fidelity computes it.

The samples are shuffled with ``numpy.random.RandomState(seed).permutation`` (seed 2020), cut into
``splits`` (10) contiguous parts at ``i * N // splits``, and for each part
IS = exp(mean_x KL(p(y|x) || p(y))) with p(y) the part's mean prediction; ``is_mean`` and
``is_std`` (population) are taken over the parts. Predictions are the softmax, in float64, of the
Inception's 1008 *unbiased* logits (pool features times the fc weights, no bias), torch-fidelity's
TF-compatible choice.
"""

from __future__ import annotations

import numpy as np
import torch

from gan_bench.metrics.errors import MetricsInputError
from gan_bench.metrics.family import MetricContext
from gan_bench.metrics.features import LOGITS
from gan_bench.registry import METRICS


def inception_score(logits: torch.Tensor, splits: int = 10, seed: int = 2020, shuffle: bool = True) -> tuple[float, float]:
    """(mean, std) of the Inception Score of ``logits`` (N, classes) over ``splits`` parts."""
    n = logits.shape[0]
    if splits < 1 or n < splits:
        raise MetricsInputError(f"Inception Score needs at least {splits} samples for {splits} splits, got {n}")
    if shuffle:
        logits = logits[torch.from_numpy(np.random.RandomState(seed).permutation(n))]
    logits = logits.double()
    log_p = logits.log_softmax(dim=1)
    p = logits.softmax(dim=1)
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        part_p, part_log_p = p[lo:hi], log_p[lo:hi]
        log_q = part_p.mean(dim=0, keepdim=True).log()
        kl = (part_p * (part_log_p - log_q)).sum(dim=1).mean()
        scores.append(float(kl.exp()))
    return float(np.mean(scores)), float(np.std(scores))


@METRICS.register(
    "is",
    harness="image",
    kinds=(),  # not a training-time evaluator (those take (samples, dataset))
    default=False,
    keys=("is_mean", "is_std"),
    arity=1,
    features=(LOGITS,),
    protocols=("legacy-tf",),
    description="Inception Score of INPUT1, 1008 unbiased logits, 10 splits",
)
def compute_is(ctx: MetricContext) -> dict[str, float]:
    """IS of input 1."""
    o = ctx.options
    mean, std = inception_score(ctx.features(1, LOGITS), o.is_splits, o.seed)
    ctx.details["is"] = {"splits": o.is_splits, "shuffle_seed": o.seed, "logits": "1008 unbiased (no fc bias)"}
    return {"is_mean": mean, "is_std": std}
