"""PSNR and SSIM of a restored image against its ground truth, as the SR tables compute them.

The protocol (Ledig et al. 2017, Lim et al. 2017, Wang et al. 2018, BasicSR): both images uint8
RGB; ``scale`` pixels cropped from every border; PSNR and SSIM on the Y channel of YCbCr
(:func:`gan_bench.sr.color.rgb_to_y`, float, not rounded) on the [0, 255] scale; SSIM (Wang et
al. 2004) with an 11 x 11 Gaussian window of std 1.5, K1 = 0.01, K2 = 0.03, population
(co)variances, averaged over the window positions inside the image ("valid"). ``channel="rgb"``
scores the three channels instead (PSNR of the joint MSE, SSIM averaged over channels), the
BasicSR ModelZoo convention.

These equal scikit-image's ``peak_signal_noise_ratio(data_range=255)`` and
``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=255)`` on the same arrays (tests/metrics/test_sr.py).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from gan_bench.sr.color import rgb_to_y

Channel = Literal["y", "rgb"]
DATA_RANGE = 255.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
K1, K2 = 0.01, 0.03


def psnr(reference: np.ndarray, test: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """Peak signal-to-noise ratio in dB of float arrays of one shape (inf when they are equal)."""
    a, b = np.asarray(reference, dtype=np.float64), np.asarray(test, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """The normalised 1-D Gaussian of ``size`` taps (the SSIM window is its outer product)."""
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(r**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(reference: np.ndarray, test: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """Mean SSIM of two 2-D float arrays over every position of the Gaussian window inside them."""
    a, b = np.asarray(reference, dtype=np.float64), np.asarray(test, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"expected two 2-D arrays of one shape, got {a.shape} and {b.shape}")
    if min(a.shape) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW} px a side, got {a.shape}")
    g = torch.from_numpy(gaussian_window())
    kh, kw = g.view(1, 1, -1, 1), g.view(1, 1, 1, -1)

    def blur(x: np.ndarray | torch.Tensor) -> torch.Tensor:  # separable, "valid"
        t = torch.as_tensor(x, dtype=torch.float64)[None, None]
        return F.conv2d(F.conv2d(t, kh), kw)[0, 0]

    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    mu_a, mu_b = blur(ta), blur(tb)
    var_a = blur(ta * ta) - mu_a * mu_a
    var_b = blur(tb * tb) - mu_b * mu_b
    cov = blur(ta * tb) - mu_a * mu_b
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(s.mean())


def shave(image: np.ndarray, border: int) -> np.ndarray:
    """``image`` (HW or HWC) without ``border`` pixels on every side."""
    return image[border:-border, border:-border] if border > 0 else image


def sr_scores(hr: np.ndarray, sr: np.ndarray, scale: int, channel: Channel = "y") -> dict[str, float]:
    """``{"psnr", "ssim"}`` of uint8 HWC ``sr`` against ``hr`` (see the module docstring)."""
    if hr.shape != sr.shape:
        raise ValueError(f"the SR image is {sr.shape} but the HR image is {hr.shape}")
    if channel == "y":
        a, b = shave(rgb_to_y(hr), scale), shave(rgb_to_y(sr), scale)
        return {"psnr": psnr(a, b), "ssim": ssim(a, b)}
    a = shave(np.asarray(hr, dtype=np.float64), scale)
    b = shave(np.asarray(sr, dtype=np.float64), scale)
    if a.ndim == 2:
        return {"psnr": psnr(a, b), "ssim": ssim(a, b)}
    return {"psnr": psnr(a, b), "ssim": float(np.mean([ssim(a[..., c], b[..., c]) for c in range(a.shape[-1])]))}


def protocol_name(scale: int, channel: Channel = "y") -> str:
    """The column protocol of these numbers: ``y-crop4`` (Y channel, border crop 4), ``rgb-crop4``."""
    return f"{channel}-crop{scale}"
