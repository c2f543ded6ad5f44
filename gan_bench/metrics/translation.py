"""Image-to-image translation scores at training-time evaluation, against what each task knows.

Translation variants (``pix2pix``, ``cyclegan``) sample with ``cond`` = the held-out input
images and, on paired data, ``target`` = their ground truth (see
:class:`gan_bench.variants.base.Sample`). Both metrics run on translation datasets only (their
``meta["translation"]``):

- ``translation-paired`` (needs ``cond`` and ``target``): mean L1 distance, PSNR and SSIM of the
  outputs against the ground truth, all on RGB on the [0, 255] scale of uint8 images (rounded as
  files store them), no border crop; PSNR of the joint MSE of the three channels and SSIM (11 x 11
  Gaussian window, sigma 1.5) averaged over them, per image (:mod:`gan_bench.sr.quality`), then
  averaged over the images; an exact output counts as 100 dB, so one cannot make the mean infinite. Columns ``l1[rgb]``, ``psnr[rgb]``, ``ssim[rgb]``.
- ``translation-age`` (needs ``cond``; UTKFace young -> old, whose data name the target age groups
  in ``meta["target_groups"]``): the fraction of translated faces that the harness's UTKFace age
  classifier puts in a target group (50-59 or 60+), ``old_frac[utkface-classifier]``, beside the
  same fraction for the untranslated inputs, ``old_frac_input[utkface-classifier]`` (what
  translation has to raise), and the mean absolute change of the pixels, ``l1_to_input[rgb]``
  (on [0, 255]; an untrained generator's noise is "old" to the classifier too, so the fraction
  alone does not show that a face was kept). The Age-cGAN variant's ``age_acc`` asks the same classifier the same
  question of faces aged by a conditional generator. Returns nothing when the classifier's weights
  are not available.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import torch

from gan_bench.data.base import ArrayDataset, DataError
from gan_bench.metrics.errors import MetricsInputError
from gan_bench.metrics.harness import leaderboard_column
from gan_bench.metrics.sr import to_uint8_hwc
from gan_bench.registry import METRICS
from gan_bench.sr.quality import sr_scores

if TYPE_CHECKING:  # the variants package imports the metrics; no cycle at run time
    from gan_bench.variants.base import Sample

log = logging.getLogger(__name__)
PROTOCOL = "rgb"
AGE_CLASSIFIER = "utkface"
PSNR_CAP = 100.0  # dB for an exact output (UTKFace holds grey photos: grey -> colour is then the identity)


def paired_scores(output: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Mean ``l1``, ``psnr`` and ``ssim`` of uint8 NHWC ``output`` against ``target`` (RGB, [0, 255])."""
    if output.shape != target.shape:
        raise ValueError(f"outputs are {output.shape} but targets {target.shape}")
    rows = [sr_scores(t, o, 0, "rgb") for o, t in zip(output, target)]
    l1 = np.abs(output.astype(np.float64) - target.astype(np.float64)).mean(axis=(1, 2, 3))
    return {"l1": float(l1.mean()), "psnr": float(np.mean([min(r["psnr"], PSNR_CAP) for r in rows])),
            "ssim": float(np.mean([r["ssim"] for r in rows]))}


def describe_paired(dataset: ArrayDataset, num_samples: int) -> str:
    if dataset.meta.get("translation") != "paired":
        return ""
    return (f"paired translation ({dataset.meta.get('task', dataset.name)}): L1, PSNR and SSIM (11x11 Gaussian, "
            f"sigma 1.5) on RGB [0,255], no crop, {num_samples} outputs for held-out inputs vs their ground truth")


@METRICS.register("translation-paired", kinds=("image",), default=True, needs=("cond", "target"),
                  requires=("translation",), protocol=describe_paired,
                  description="L1, PSNR and SSIM (RGB, [0, 255]) of translations against their ground truth")
def evaluate_paired(sample: Sample, dataset: ArrayDataset) -> dict[str, float]:
    """``l1[rgb]``, ``psnr[rgb]`` and ``ssim[rgb]`` of ``sample.x`` against ``sample.target``."""
    if dataset.meta.get("translation") != "paired":
        return {}
    assert sample.target is not None
    scores = paired_scores(to_uint8_hwc(sample.x), to_uint8_hwc(sample.target))
    return {leaderboard_column(k, PROTOCOL): v for k, v in scores.items()}


def describe_age(dataset: ArrayDataset, num_samples: int) -> str:
    if "target_groups" not in dataset.meta:
        return ""
    return (f"young->old: old_frac = fraction of {num_samples} translated held-out young faces that "
            "utkface-classifier puts in the 50-59 or 60+ group (old_frac_input: the same for the inputs; "
            "l1_to_input: mean |output - input| on RGB [0,255])")


def old_fraction(images: torch.Tensor, groups: tuple[int, ...]) -> float | None:
    """The fraction of float NCHW ``images`` in [-1, 1] that the UTKFace classifier puts in
    ``groups``; None when its weights are not available."""
    from gan_bench.metrics.conditional import classify

    try:
        _, logits = classify(AGE_CLASSIFIER, images)
    except (MetricsInputError, DataError) as exc:  # weights missing: no score, said once
        log.warning("translation-age skipped: %s", str(exc).splitlines()[0])
        return None
    return float(torch.isin(logits.argmax(1), torch.tensor(groups)).float().mean())


@METRICS.register("translation-age", kinds=("image",), default=True, needs=("cond",), requires=("target_groups",),
                  protocol=describe_age,
                  description="UTKFace young->old: fraction of translations the age classifier puts at 50+")
def evaluate_age(sample: Sample, dataset: ArrayDataset) -> dict[str, float]:
    """``old_frac[utkface-classifier]`` and ``old_frac_input[utkface-classifier]`` (module docstring)."""
    from gan_bench.metrics.classifiers import classifier_spec

    groups = tuple(int(g) for g in dataset.meta["target_groups"])
    out = old_fraction(sample.x, groups)
    if out is None:
        return {}
    assert sample.cond is not None
    before = old_fraction(sample.cond, groups)
    p = classifier_spec(AGE_CLASSIFIER).protocol
    result = {leaderboard_column("old_frac", p): out}
    if before is not None:
        result[leaderboard_column("old_frac_input", p)] = before
    # how far the output moved from its input: noise is "old" to the classifier too
    diff = to_uint8_hwc(sample.x).astype(np.float64) - to_uint8_hwc(sample.cond).astype(np.float64)
    result[leaderboard_column("l1_to_input", PROTOCOL)] = float(np.abs(diff).mean())
    return result
