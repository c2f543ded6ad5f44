"""RGB to YCbCr as MATLAB's ``rgb2ycbcr`` (ITU-R BT.601, studio swing), the Y the SR tables score.

For RGB in [0, 1]: Y = 16 + 65.481 R + 128.553 G + 24.966 B, in [16, 235] on the [0, 255] scale.
The result is kept as float64 (not rounded to uint8), as BasicSR scores it.
"""

from __future__ import annotations

import numpy as np

Y_COEFFS = np.array([65.481, 128.553, 24.966])
Y_OFFSET = 16.0


def rgb_to_y(image: np.ndarray) -> np.ndarray:
    """The float64 Y channel in [16, 235] of an RGB image HWC: uint8, or float on [0, 255].

    A one-channel image (HW or HW1) is returned as float64 unchanged (already grey)."""
    x = np.asarray(image, dtype=np.float64)
    if x.ndim == 2 or x.shape[-1] == 1:
        return x.reshape(x.shape[:2])
    if x.shape[-1] != 3:
        raise ValueError(f"expected an RGB image HWC, got shape {x.shape}")
    return x @ (Y_COEFFS / 255.0) + Y_OFFSET
