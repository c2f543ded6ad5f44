"""Mode coverage of 2-D Gaussian mixtures (PacGAN / VEEGAN protocol).

Given generated samples, the mixture's mode centres and its std:

- each sample is assigned to its nearest mode (Euclidean distance);
- a sample is *high quality* when that distance is at most ``3 * std``;
- a mode is *captured* when at least one high-quality sample is assigned to it;
- ``modes`` = number of captured modes, ``high_quality_pct`` = 100 * fraction of high-quality samples;
- ``reverse_kl`` = KL(p_hq || uniform) = sum_k p_k log(K p_k), where p_k is the fraction of the
  HIGH-QUALITY samples whose nearest mode is k (0 log 0 = 0): PacGAN's definition, the one its
  Table 1 reports. Its evaluation code (``MetricLogger`` in fjxmlzn/PacGAN,
  ``synthetic_data_experiments/PacGAN/pacgan/extensions.py``) histograms only the samples within
  3 std of their nearest mode (``detail_of_coverage``) and normalises that histogram. It is 0 for
  a generator whose good samples are balanced over all K modes and log K when they all sit on one.
  Edge case: with no high-quality sample the histogram is empty and PacGAN's normalisation is 0/0
  (NaN); here it is log K, the value of total collapse, so a run with no good sample never scores
  better than one that captures a single mode and means over seeds stay defined.
- ``reverse_kl_all`` = the same KL over ALL (finite) samples' nearest modes, good or not (what
  gan_bench reported as ``reverse_kl`` before it followed PacGAN); log K when no sample is finite.

The standard protocol draws 2,500 samples from a fixed z (``eval.num_samples``, ``eval.seed``).
"""

from __future__ import annotations

import math

import torch

from gan_bench.data.base import ArrayDataset
from gan_bench.registry import METRICS


def mode_coverage(samples: torch.Tensor, means: torch.Tensor, std: float, threshold: float = 3.0) -> dict[str, float]:
    """Modes captured, high-quality percentage and the two reverse KLs of ``samples`` (N, 2)."""
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
    n = samples.shape[0]
    return {
        "modes": float(captured),
        "high_quality_pct": 100.0 * float(high_quality.sum()) / n,
        "reverse_kl": kl_to_uniform(torch.bincount(nearest[high_quality], minlength=num_modes)),
        "reverse_kl_all": kl_to_uniform(torch.bincount(nearest, minlength=num_modes)),
    }


def kl_to_uniform(counts: torch.Tensor) -> float:
    """KL(p || uniform over K) = sum_k p_k log(K p_k) of a histogram of K bins (0 log 0 = 0).

    An empty histogram gives log K, the value of a histogram with all its mass in one bin."""
    num_modes = counts.numel()
    counts = counts.double()
    total = counts.sum()
    if total == 0:
        return math.log(num_modes)
    p = counts / total
    nz = p > 0
    return float((p[nz] * torch.log(p[nz] * num_modes)).sum())


@METRICS.register("mode-coverage", kinds=("points",), default=True, keys=("modes", "high_quality_pct", "reverse_kl", "reverse_kl_all"),
                  description="2-D mixtures: modes captured, high-quality %, reverse KL of the high-quality "
                              "samples (PacGAN) and of all samples (PacGAN/VEEGAN protocol)")
def evaluate_mode_coverage(samples: torch.Tensor, dataset: ArrayDataset) -> dict[str, float]:
    """The registered evaluator: reads the mode centres and std from the mixture dataset's meta."""
    if "means" not in dataset.meta:
        raise ValueError(f"dataset {dataset.name!r} has no mode centres; mode-coverage needs a mixture")
    return mode_coverage(samples, dataset.meta["means"], float(dataset.meta["std"]))
