"""Mode coverage of 2-D Gaussian mixtures (PacGAN / VEEGAN protocol).

Given generated samples, the mixture's mode centres and its std:

- each sample is assigned to its nearest mode (Euclidean distance);
- a sample is *high quality* when that distance is at most ``3 * std``;
- a mode is *captured* when at least one high-quality sample is assigned to it;
- ``modes`` = number of captured modes, ``high_quality_pct`` = 100 * fraction of high-quality samples;
- ``reverse_kl`` = KL(p_gen || uniform) = sum_k p_k log(K p_k), where p_k is the fraction of ALL
  samples whose nearest mode is k (0 log 0 = 0). It is 0 for a perfectly balanced generator and
  log K when every sample lands on one mode. Using all samples (not only high-quality ones) keeps it
  defined when no sample is high quality, as in PacGAN's evaluation code.

The standard protocol draws 2,500 samples from a fixed z (``eval.num_samples``, ``eval.seed``).
"""

from __future__ import annotations

import math

import torch

from gan_bench.data.base import ArrayDataset
from gan_bench.registry import METRICS


def mode_coverage(samples: torch.Tensor, means: torch.Tensor, std: float, threshold: float = 3.0) -> dict[str, float]:
    """Modes captured, high-quality percentage and reverse KL of ``samples`` (N, 2)."""
    if samples.dim() != 2 or samples.shape[1] != means.shape[1]:
        raise ValueError(f"samples must be (N, {means.shape[1]}), got {tuple(samples.shape)}")
    samples = samples.detach().double().cpu()
    means = means.double().cpu()
    num_modes = means.shape[0]
    finite = torch.isfinite(samples).all(dim=1)
    dist = torch.cdist(samples[finite], means)
    nearest_dist, nearest = dist.min(dim=1)
    high_quality = nearest_dist <= threshold * std
    captured = torch.unique(nearest[high_quality]).numel()
    counts = torch.bincount(nearest, minlength=num_modes).double()
    n = samples.shape[0]
    if counts.sum() == 0:
        reverse_kl = math.log(num_modes)  # nothing usable: as bad as collapse onto one mode
    else:
        p = counts / counts.sum()
        nz = p > 0
        reverse_kl = float((p[nz] * torch.log(p[nz] * num_modes)).sum())
    return {
        "modes": float(captured),
        "high_quality_pct": 100.0 * float(high_quality.sum()) / n,
        "reverse_kl": reverse_kl,
    }


@METRICS.register("mode-coverage", kinds=("points",), default=True, keys=("modes", "high_quality_pct", "reverse_kl"),
                  description="2-D mixtures: modes captured, high-quality %, reverse KL (PacGAN/VEEGAN protocol)")
def evaluate_mode_coverage(samples: torch.Tensor, dataset: ArrayDataset) -> dict[str, float]:
    """The registered evaluator: reads the mode centres and std from the mixture dataset's meta."""
    if "means" not in dataset.meta:
        raise ValueError(f"dataset {dataset.name!r} has no mode centres; mode-coverage needs a mixture")
    return mode_coverage(samples, dataset.meta["means"], float(dataset.meta["std"]))
