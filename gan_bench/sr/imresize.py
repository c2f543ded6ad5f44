"""MATLAB's ``imresize`` with the bicubic kernel, as every super-resolution benchmark made its LR images.

MATLAB (``imresize(I, 1/s, 'bicubic')``) differs from torch/PIL/OpenCV bicubic in three ways that
move PSNR by tenths of a dB, so published tables are only reproducible with this one:

- the cubic convolution kernel of Keys (1981) with a = -0.5;
- when shrinking, the kernel is stretched by 1/scale (antialiasing): ``h(x) = s * cubic(s * x)``
  with support 4/s, i.e. a low-pass filter before sampling;
- out-of-range taps are mirrored (symmetric padding, the edge pixel repeated), and each output
  row's weights are normalised to sum to one.

The output size is ``ceil(in * scale)`` and the weights use the given scale (not out/in), as in
MATLAB. Each dimension is resized by one dense (out x in) weight matrix, the dimension with the
smaller scale first (MATLAB's order; height first on ties). The arithmetic is float64 throughout;
MATLAB rounds uint8 images to uint8 between the two passes, which ``round_between=True`` replays
(the SR benchmarks' LR files were made that way).
"""

from __future__ import annotations

import math

import numpy as np
import torch


def cubic(x: torch.Tensor) -> torch.Tensor:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    inner = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return inner + outer


def resize_weights(in_len: int, out_len: int, scale: float, antialias: bool = True) -> torch.Tensor:
    """The (out_len, in_len) float64 matrix that resizes one dimension as MATLAB does.

    Output pixel i (1-based) samples the input at ``u = i / scale + 0.5 * (1 - 1 / scale)``; its
    taps are the ``ceil(width) + 2`` input pixels from ``floor(u - width / 2)``, with width 4 (4 /
    scale when shrinking with antialiasing), mirrored at the borders."""
    shrink = scale < 1 and antialias
    width = 4.0 / scale if shrink else 4.0
    i = torch.arange(1, out_len + 1, dtype=torch.float64)
    u = i / scale + 0.5 * (1.0 - 1.0 / scale)
    left = torch.floor(u - width / 2)
    taps = math.ceil(width) + 2
    idx = left[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]  # 1-based input positions
    dist = u[:, None] - idx
    w = scale * cubic(dist * scale) if shrink else cubic(dist)
    w = w / w.sum(dim=1, keepdim=True)
    # symmetric padding: 1..n, n..1, repeating
    period = 2 * in_len
    m = torch.remainder(idx.long() - 1, period)
    src = torch.where(m < in_len, m, period - 1 - m)
    out = torch.zeros(out_len, in_len, dtype=torch.float64)
    out.scatter_add_(1, src, w)
    return out


def _resize_dim(x: torch.Tensor, dim: int, weights: torch.Tensor) -> torch.Tensor:
    """``x`` (..., H, W) resized along ``dim`` (-2: height, -1: width) by ``weights`` (out, in)."""
    return torch.matmul(weights, x) if dim == -2 else torch.matmul(x, weights.T)


def imresize(
    image: np.ndarray | torch.Tensor,
    scale: float | None = None,
    size: tuple[int, int] | None = None,
    antialias: bool = True,
    round_between: bool | None = None,
    dtype: torch.dtype = torch.float64,
) -> np.ndarray | torch.Tensor:
    """Resize ``image`` by ``scale`` (or to ``size`` = (H, W)) with MATLAB's bicubic ``imresize``.

    ``image``: a numpy array HW or HWC (float or uint8), or a torch tensor (..., H, W) (NCHW
    batches). uint8 input gives uint8 output (rounded and clipped, as MATLAB does); float input
    gives float output (of ``dtype``), unclipped. ``round_between`` (default: True for uint8 input) rounds to
    uint8 between the height and width passes, as MATLAB does for uint8 images. ``dtype`` is the
    arithmetic's precision (float32 replays BasicSR's ``imresize``, which NIQE's parity needs)."""
    is_numpy = isinstance(image, np.ndarray)
    t = torch.from_numpy(np.array(image, copy=True)) if is_numpy else image
    is_uint8 = t.dtype == torch.uint8
    if round_between is None:
        round_between = is_uint8
    if is_numpy:  # HW or HWC -> (C, H, W), so both passes are plain matrix products
        t = t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1)
    hdim, wdim = -2, -1
    h, w = int(t.shape[hdim]), int(t.shape[wdim])
    if size is not None:
        out_h, out_w = int(size[0]), int(size[1])
        scales = (out_h / h, out_w / w)
    elif scale is not None:
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        scales = (float(scale), float(scale))
        out_h, out_w = math.ceil(h * scale - 1e-9), math.ceil(w * scale - 1e-9)  # 1/3 is inexact
    else:
        raise ValueError("give scale or size")
    x = t.to(dtype).contiguous()
    passes = [(hdim, h, out_h, scales[0]), (wdim, w, out_w, scales[1])]
    if scales[1] < scales[0]:  # MATLAB resizes along the dimension of the smaller scale first
        passes.reverse()
    for n, (dim, in_len, out_len, s) in enumerate(passes):
        x = _resize_dim(x, dim, resize_weights(in_len, out_len, s, antialias).to(x.device, dtype))
        if is_uint8 and (round_between or n == 1):
            x = x.round().clamp_(0, 255)
    if is_uint8:
        x = x.to(torch.uint8)
    if not is_numpy:
        return x
    out = x[0] if np.ndim(image) == 2 else x.permute(1, 2, 0)
    return out.contiguous().numpy()


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """``image`` (HW or HWC) cropped at the bottom and right to a multiple of ``scale``, as the
    benchmarks do before making LR images."""
    h, w = image.shape[0] - image.shape[0] % scale, image.shape[1] - image.shape[1] % scale
    return image[:h, :w]
