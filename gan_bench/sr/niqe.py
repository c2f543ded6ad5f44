"""NIQE, the Natural Image Quality Evaluator (Mittal, Soundararajan and Bovik 2013): a no-reference
score, lower is better, the "perceptual" axis of the perception-distortion trade-off (Blau and
Michaeli 2018; the PIRM 2018 challenge scores 0.5 * ((10 - Ma) + NIQE)).

As BasicSR's ``calculate_niqe`` (which follows the authors' MATLAB code): the Y channel (BT.601,
MATLAB coefficients) rounded to integers, ``crop_border`` pixels cropped, the image cut to whole
96 x 96 blocks; at two scales (the image, then its MATLAB-bicubic half) the MSCN coefficients
(local mean and std under the 7 x 7 Gaussian window of std 7/6, ``nearest`` borders, +1 in the
denominator) give, per block, 18 features: an asymmetric generalised Gaussian fit (shape, mean
scale) of the coefficients and four AGGD fits (shape, mean, left and right scale) of their
products with the (0,1), (1,0), (1,1), (1,-1) neighbours (wrapped at the block's edge, as BasicSR
does). The score is the Mahalanobis-like distance between the multivariate Gaussian of the
blocks' features and the pristine model's, under the mean of the two covariances (pseudo-inverse).

The pristine model (``mu_pris_param``, ``cov_pris_param``, and the ``gaussian_window``) are the
published parameters, fitted by the authors on 125 pristine images; BasicSR ships them as
``basicsr/metrics/niqe_pris_params.npz``. gan_bench does not ship that file: it is read from an
installed basicsr, or from ``$GAN_BENCH_NIQE_PARAMS`` / a path given by the caller.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import convolve
from scipy.special import gamma

from gan_bench.data.base import DataError
from gan_bench.sr.color import rgb_to_y
from gan_bench.sr.imresize import imresize

PARAMS_FILE = "niqe_pris_params.npz"
PARAMS_ENV = "GAN_BENCH_NIQE_PARAMS"
BLOCK = 96
_GAM = np.arange(0.2, 10.001, 0.001)  # the grid of AGGD shapes searched (BasicSR's)
_TORCH = {np.float32: torch.float32, np.float64: torch.float64}
_R_GAM = gamma(2 / _GAM) ** 2 / (gamma(1 / _GAM) * gamma(3 / _GAM))


def params_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Where the pristine-model file is: ``explicit``, else ``$GAN_BENCH_NIQE_PARAMS``, else the
    installed basicsr's; a DataError naming the file and where to put it when none exists."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit).expanduser())
    elif os.environ.get(PARAMS_ENV):
        candidates.append(Path(os.environ[PARAMS_ENV]).expanduser())
    else:
        candidates.extend(_basicsr_files())
    for path in candidates:
        if path.is_file():
            return path
    where = str(candidates[0]) if candidates else "nowhere (basicsr is not installed)"
    raise DataError(f"NIQE needs the pristine-model parameters {PARAMS_FILE} (looked in {where}); "
                    f"`pip install basicsr` ships them, or put the file anywhere and set ${PARAMS_ENV} to it")


def _basicsr_files() -> list[Path]:
    """The pristine-model file of an installed basicsr, found without importing basicsr (whose
    package import pulls in most of its dependencies)."""
    from importlib import metadata

    try:
        dist = metadata.distribution("basicsr")
    except metadata.PackageNotFoundError:
        return []
    return [Path(str(dist.locate_file(f"basicsr/metrics/{PARAMS_FILE}")))]


@lru_cache(maxsize=4)
def load_params(path: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mu_pris_param, cov_pris_param, gaussian_window) of the pristine model."""
    p = params_path(path)
    try:
        with np.load(p, allow_pickle=False) as data:
            return (np.asarray(data["mu_pris_param"], dtype=np.float64).ravel(),
                    np.asarray(data["cov_pris_param"], dtype=np.float64),
                    np.asarray(data["gaussian_window"]))
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{p} is not the NIQE pristine-model file ({exc})") from None


def aggd_fit(values: np.ndarray) -> tuple[float, float, float]:
    """(shape alpha, left scale, right scale) of an asymmetric generalised Gaussian fitted to
    ``values`` by moment matching over BasicSR's grid of shapes (in ``values``' precision)."""
    v = values.ravel()
    left_std = np.sqrt(np.mean(v[v < 0] ** 2))
    right_std = np.sqrt(np.mean(v[v > 0] ** 2))
    gammahat = left_std / right_std
    rhat = np.mean(np.abs(v)) ** 2 / np.mean(v**2)
    rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / (gammahat**2 + 1) ** 2
    alpha = float(_GAM[np.argmin((_R_GAM - rhatnorm) ** 2)])
    ratio = np.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    return alpha, float(left_std * ratio), float(right_std * ratio)


def block_features(block: np.ndarray) -> list[float]:
    """The 18 NIQE features of one block of MSCN coefficients."""
    alpha, bl, br = aggd_fit(block)
    feats = [alpha, (bl + br) / 2]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        alpha, bl, br = aggd_fit(block * np.roll(block, shift, axis=(0, 1)))
        mean = (br - bl) * gamma(2 / alpha) / gamma(1 / alpha)
        feats.extend([alpha, mean, bl, br])
    return feats


def niqe_of_y(y: np.ndarray, params: tuple[np.ndarray, np.ndarray, np.ndarray],
              dtype: type[np.floating] = np.float32) -> float:
    """NIQE of a 2-D luminance image on [0, 255] (already rounded and cropped).

    ``dtype`` is the precision of the MSCN coefficients and their fits: float32 as BasicSR computes
    them (the default, so that numbers agree with BasicSR's), or float64. It matters more than it
    should: in flat regions the coefficients are rounding noise around zero whose signs feed the
    AGGD fits, so on images with few blocks (Set5's head: four) the two precisions differ by
    several percent; MATLAB's double-precision original is a third variant."""
    mu_pris, cov_pris, window = params
    img = np.asarray(y, dtype=dtype)
    nh, nw = img.shape[0] // BLOCK, img.shape[1] // BLOCK
    if nh == 0 or nw == 0:
        raise ValueError(f"NIQE needs images of at least {BLOCK} x {BLOCK} px, got {img.shape[1]} x {img.shape[0]}")
    img = img[: nh * BLOCK, : nw * BLOCK]
    per_scale = []
    for scale in (1, 2):
        mu = convolve(img, window, mode="nearest")
        sigma = np.sqrt(np.abs(convolve(img * img, window, mode="nearest") - mu * mu))
        mscn = (img - mu) / (sigma + 1)
        b = BLOCK // scale
        feats = [block_features(mscn[i * b : (i + 1) * b, j * b : (j + 1) * b])
                 for j in range(nw) for i in range(nh)]
        per_scale.append(np.array(feats))
        if scale == 1:
            img = (imresize(img / 255.0, scale=0.5, dtype=_TORCH[dtype]) * 255.0).astype(dtype)
    dist = np.concatenate(per_scale, axis=1)
    mu_dist = np.nanmean(dist, axis=0)
    cov_dist = np.cov(dist[~np.isnan(dist).any(axis=1)], rowvar=False)
    diff = mu_pris - mu_dist
    quality = diff @ np.linalg.pinv((cov_pris + cov_dist) / 2) @ diff
    return float(np.sqrt(quality))


def niqe(image: np.ndarray, crop_border: int = 0, params_file: str | None = None) -> float:
    """NIQE of a uint8 RGB (HWC) or grey (HW) image: Y channel, rounded, ``crop_border`` cropped."""
    y = rgb_to_y(image).round()
    if crop_border > 0:
        y = y[crop_border:-crop_border, crop_border:-crop_border]
    return niqe_of_y(y, load_params(params_file))
