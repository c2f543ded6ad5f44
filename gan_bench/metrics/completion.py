"""Image completion scores: the completed image against its ground truth.

A variant that fills holes (``completion``) samples with ``cond`` = the masked input, ``mask`` = 1
inside the hole and ``target`` = the full image (see :class:`gan_bench.variants.base.Sample`).
Scored as inpainting papers report them, per image then averaged:

- ``psnr[rgb]`` and ``ssim[rgb]``: PSNR and SSIM of the whole completed image on RGB uint8
  [0, 255], no border crop (the columns of the paired translation scores, same protocol) (:func:`gan_bench.sr.quality.sr_scores` with ``channel="rgb"``:
  PSNR of the joint MSE over the three channels, 11x11 Gaussian SSIM (sigma 1.5) averaged over
  channels). The known pixels are copied from the input, so these measure the hole in the context
  of the face, and rise with a smaller hole;
- ``l1_hole[rgb]``: mean absolute error over the hole's pixels and channels, on [0, 255].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from gan_bench.data.base import ArrayDataset
from gan_bench.metrics.harness import leaderboard_column
from gan_bench.metrics.sr import to_uint8_hwc
from gan_bench.registry import METRICS
from gan_bench.sr.quality import sr_scores

if TYPE_CHECKING:  # the variants package imports the metrics; no cycle at run time
    from gan_bench.variants.base import Sample

PROTOCOL = "rgb"  # RGB on [0, 255], whole image, no crop


def completion_scores(completed: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> dict[str, float]:
    """Mean per-image ``psnr[rgb]``, ``ssim[rgb]`` and ``l1_hole[rgb]`` of float NCHW
    ``completed`` against ``target`` (both in [-1, 1], rounded to uint8 as stored images), ``mask``
    (N, 1, H, W) 1 inside the hole."""
    out, ref = to_uint8_hwc(completed), to_uint8_hwc(target)
    rows = [sr_scores(r, o, 0, "rgb") for o, r in zip(out, ref)]  # type: ignore[arg-type]
    hole = mask.detach().cpu().permute(0, 2, 3, 1).numpy() > 0.5  # (N, H, W, 1)
    err = np.abs(out.astype(np.float64) - ref.astype(np.float64))
    per_image = [float(e[np.broadcast_to(h, e.shape)].mean()) for e, h in zip(err, hole) if h.any()]
    return {
        leaderboard_column("psnr", PROTOCOL): float(np.mean([r["psnr"] for r in rows])),
        leaderboard_column("ssim", PROTOCOL): float(np.mean([r["ssim"] for r in rows])),
        leaderboard_column("l1_hole", PROTOCOL): float(np.mean(per_image)) if per_image else float("nan"),
    }


def describe_protocol(dataset: ArrayDataset, num_samples: int) -> str:
    """One line for masked datasets (empty for others)."""
    mask = dataset.meta.get("mask")
    if not mask:
        return ""
    return (f"completion ({mask} holes): PSNR/SSIM of the whole completed image on RGB [0,255] (11x11 Gaussian "
            "SSIM, sigma 1.5, no crop) and L1 in the hole on [0,255], of held-out faces (split test; the training "
            "faces without one) vs their ground truth")


@METRICS.register("completion-quality", kinds=("image",), default=True, needs=("target", "mask"),
                  protocol=describe_protocol,
                  description="PSNR/SSIM (RGB, whole image) and hole L1 of completed images against the ground truth")
def evaluate_completion(sample: Sample, dataset: ArrayDataset) -> dict[str, float]:
    """:func:`completion_scores` of ``sample.x`` against ``sample.target`` inside ``sample.mask``."""
    assert sample.target is not None and sample.mask is not None
    return completion_scores(sample.x, sample.target, sample.mask)
