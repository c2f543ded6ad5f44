"""Super-resolution scores at training-time evaluation: Y-PSNR and SSIM of SR(LR) against HR.

A variant conditioned on an LR image (``srgan``, ``esrgan``) samples with ``cond`` = the LR
inputs and ``target`` = their HR ground truth (see :class:`gan_bench.variants.base.Sample`); this
metric scores ``x`` against ``target`` with the tables' protocol (:mod:`gan_bench.sr.quality`:
Y channel, border crop = scale, Gaussian SSIM) and reports the mean over the images as
``psnr[y-crop4]`` and ``ssim[y-crop4]``. The scale is read off the shapes (HR side / LR side).
Full benchmark images (Set5, ...) of varying sizes are scored by the variant's ``own_metrics`` and
by ``gan-bench sr-eval`` with the same functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from gan_bench.data.base import ArrayDataset
from gan_bench.metrics.harness import leaderboard_column
from gan_bench.registry import METRICS
from gan_bench.sr.quality import protocol_name, sr_scores

if TYPE_CHECKING:  # the variants package imports the metrics; no cycle at run time
    from gan_bench.variants.base import Sample


def to_uint8_hwc(images: torch.Tensor) -> np.ndarray:
    """Float NCHW images in [-1, 1] as uint8 NHWC, rounded as an image file would store them."""
    x = images.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def scale_of(sample: Sample) -> int:
    """The SR factor of a sample: HR side over LR side."""
    assert sample.cond is not None and sample.target is not None
    return int(sample.target.shape[-1]) // int(sample.cond.shape[-1])


def mean_scores(sr: np.ndarray, hr: np.ndarray, scale: int, channel: str = "y") -> dict[str, float]:
    """Mean PSNR and SSIM of uint8 NHWC ``sr`` against ``hr`` (one image at a time)."""
    rows = [sr_scores(h, s, scale, channel) for s, h in zip(sr, hr)]  # type: ignore[arg-type]
    return {k: float(np.mean([r[k] for r in rows])) for k in ("psnr", "ssim")}


def describe_protocol(dataset: ArrayDataset, num_samples: int) -> str:
    """One line for SR datasets (empty for others)."""
    scale = dataset.meta.get("scale")
    if not scale:
        return ""
    return (f"SR x{scale}: PSNR/SSIM on Y (BT.601, MATLAB coefficients), border crop {scale}, 11x11 Gaussian "
            f"SSIM (sigma 1.5) on [0,255], {num_samples} evaluation patches of {dataset.name} vs their HR; "
            "LR by MATLAB-bicubic imresize; <set>_* columns: full-size benchmark images, same protocol")


@METRICS.register("sr-quality", kinds=("image",), default=True, needs=("cond", "target"), requires=("scale",),
                  protocol=describe_protocol,
                  description="Y-PSNR and SSIM (border crop = scale) of SR outputs against their HR ground truth")
def evaluate_sr(sample: Sample, dataset: ArrayDataset) -> dict[str, float]:
    """``psnr[y-cropS]`` and ``ssim[y-cropS]`` of ``sample.x`` against ``sample.target``."""
    assert sample.target is not None
    scale = scale_of(sample)
    scores = mean_scores(to_uint8_hwc(sample.x), to_uint8_hwc(sample.target), scale)
    p = protocol_name(scale)
    return {leaderboard_column(k, p): v for k, v in scores.items()}
