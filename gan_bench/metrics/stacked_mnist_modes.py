"""Stacked MNIST mode coverage (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018).

Each Stacked MNIST sample holds three MNIST digits, one per channel, so there are 10^3 = 1000
modes. Every channel of every sample is classified on its own by gan_bench's MNIST classifier
(``protocol: mnist-classifier``); the mode of a sample is 100 * d_R + 10 * d_G + d_B. Reported:

- ``modes``: the number of modes with at least one sample (of 1000),
- ``kl_to_uniform``: KL(p_gen || uniform) = sum_m p(m) log(p(m) * 1000), natural log, over the
  modes' empirical frequencies p.

The published protocol draws 26,000 samples (the default for run directories when this metric is
asked for); any other count is recorded and warned about.
"""

from __future__ import annotations

import torch

from gan_bench.metrics.errors import MetricsInputError
from gan_bench.metrics.family import MetricContext
from gan_bench.metrics.features import CHANNEL_LOGITS
from gan_bench.registry import METRICS

PROTOCOL_SAMPLES = 26_000


def mode_ids(channel_logits: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(mode index per sample, number of modes) from (N, C, 10) per-channel digit logits."""
    if channel_logits.dim() != 3:
        raise MetricsInputError(f"expected (N, channels, classes) logits, got {tuple(channel_logits.shape)}")
    _, c, k = channel_logits.shape
    digits = channel_logits.argmax(dim=2).long()
    place = k ** torch.arange(c - 1, -1, -1, dtype=torch.long)
    return (digits * place).sum(dim=1), k**c


def mode_coverage(channel_logits: torch.Tensor) -> dict[str, float]:
    """``modes`` covered and ``kl_to_uniform`` (see the module docstring)."""
    ids, num_modes = mode_ids(channel_logits)
    counts = torch.bincount(ids, minlength=num_modes).double()
    p = counts / counts.sum()
    nz = p[p > 0]
    kl = float((nz * (nz * num_modes).log()).sum())
    return {"modes": int((counts > 0).sum()), "kl_to_uniform": kl, "num_modes": num_modes}


@METRICS.register(
    "modes",
    harness="image",
    kinds=(),  # not a training-time evaluator (those take (samples, dataset))
    default=False,
    keys=("modes", "kl_to_uniform"),
    arity=1,
    features=(CHANNEL_LOGITS,),
    protocols=("mnist-classifier",),
    description="Stacked MNIST: modes covered of 1000 and KL to uniform (26k samples)",
)
def compute_modes(ctx: MetricContext) -> dict[str, float]:
    """Mode coverage of input 1 (3-channel Stacked MNIST samples)."""
    logits = ctx.features(1, CHANNEL_LOGITS)
    if logits.shape[1] != 3:
        ctx.warnings.append(f"mode coverage on {logits.shape[1]}-channel images: {10 ** logits.shape[1]} modes, not Stacked MNIST's 1000")
    n = logits.shape[0]
    if n != PROTOCOL_SAMPLES:
        ctx.warnings.append(f"mode coverage on {n} samples; the VEEGAN/PacGAN protocol uses {PROTOCOL_SAMPLES}")
    out = mode_coverage(logits)
    ctx.details["modes"] = {
        "classifier": "mnist-classifier, each channel on its own",
        "num_modes": out["num_modes"],
        "samples": n,
        "protocol_samples": PROTOCOL_SAMPLES,
        "kl": "KL(p_gen || uniform), natural log",
    }
    return {"modes": out["modes"], "kl_to_uniform": out["kl_to_uniform"]}
