"""Shared pieces of the image loaders: subsets, resizing, listing and decoding image files.

:func:`list_images` is the one definition of "the images of a folder", used by training
(``data.dataset=folder``) and by ``gan-bench metrics`` alike; :func:`open_image` is the one way
both open a file, refusing images too large to be real data (decompression bombs).

Images are handled as uint8 throughout (NHWC while decoding, NCHW once in an ArrayDataset) so that
even 128k Stacked MNIST images or all of CelebA at 64 px stay a few hundred MB.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from gan_bench.data.base import ArrayDataset, DataError, DataSpec

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".ppm", ".pgm")
# 64 megapixels: 8K photos fit, GAN data is far smaller; a 200-megapixel PNG of a few kB is a
# decompression bomb (Pillow itself only refuses 179 megapixels and up, and only warns below that).
MAX_IMAGE_PIXELS = 64 * 2**20
_RESIZE_CHUNK = 4096


def subset_indices(n: int, num_examples: int, seed: int = 0) -> np.ndarray | None:
    """Sorted indices of a fixed random subset of ``num_examples`` out of ``n``; None = keep all.

    A random subset rather than the first ``num_examples``, because several sources are ordered
    (the CIFAR-10 npz by class, UTKFace by age), so a prefix would drop whole classes.
    """
    if num_examples <= 0 or num_examples >= n:
        return None
    gen = torch.Generator().manual_seed(seed)
    return np.sort(torch.randperm(n, generator=gen)[:num_examples].numpy())


def resize_images(x: torch.Tensor, size: int, mode: str = "bilinear") -> torch.Tensor:
    """uint8 NCHW images resized to ``size`` x ``size``.

    ``bilinear`` interpolates (antialiased when shrinking); ``pad`` centres the image on a zero
    canvas (or centre-crops it when larger), the way some MNIST-at-32-px setups do.
    """
    if x.dtype != torch.uint8 or x.dim() != 4:
        raise ValueError(f"expected uint8 NCHW images, got {x.dtype} of shape {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if (h, w) == (size, size):
        return x
    if mode == "pad":
        top, left = (size - h) // 2, (size - w) // 2
        # negative padding crops, so one call covers both directions
        return F.pad(x, (left, size - w - left, top, size - h - top))
    if mode != "bilinear":
        raise ValueError(f"unknown resize mode {mode!r}; use bilinear or pad")
    out = torch.empty(x.shape[0], x.shape[1], size, size, dtype=torch.uint8)
    for start in range(0, x.shape[0], _RESIZE_CHUNK):  # bounded float memory for 128k images
        chunk = x[start : start + _RESIZE_CHUNK].float()
        chunk = F.interpolate(chunk, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        out[start : start + _RESIZE_CHUNK] = chunk.round_().clamp_(0, 255).to(torch.uint8)
    return out


def nhwc_to_nchw(x: np.ndarray) -> torch.Tensor:
    """A uint8 (N,H,W,C) or (N,H,W) array as a contiguous uint8 NCHW tensor."""
    t = torch.from_numpy(np.ascontiguousarray(x))
    if t.dim() == 3:
        t = t.unsqueeze(-1)
    return t.permute(0, 3, 1, 2).contiguous()


def image_dataset(
    name: str,
    x: torch.Tensor,
    y: torch.Tensor | None = None,
    num_classes: int = 0,
    meta: dict[str, Any] | None = None,
) -> ArrayDataset:
    """An ArrayDataset of uint8 NCHW images, its spec read off ``x``."""
    return ArrayDataset(
        name=name,
        x=x,
        y=y,
        spec=DataSpec(shape=tuple(int(s) for s in x.shape[1:]), kind="image", num_classes=num_classes),
        meta=meta or {},
    )


def list_images(folder: Path) -> list[Path]:
    """Every image file under ``folder``, recursively (class sub-folders included), sorted by path.

    An image file is one whose suffix, in any case, is in :data:`IMAGE_SUFFIXES`. Training and
    ``gan-bench metrics`` both read folders through this function, so they see the same images in
    the same order.
    """
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def open_image(path: Path) -> Any:
    """``PIL.Image.open(path)`` (use it in a ``with``), refusing an image over
    :data:`MAX_IMAGE_PIXELS` before anything is decoded; a DataError for any unreadable file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # Pillow's own bomb warning: we refuse those images below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except Image.DecompressionBombError:
        raise DataError(f"{path} is too large to be an image of a data set (over "
                        f"{MAX_IMAGE_PIXELS // 2**20} megapixels; a decompression bomb?)") from None
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DataError(f"cannot decode image {path}: {exc}") from None
    width, height = img.size
    if width * height > MAX_IMAGE_PIXELS:
        img.close()
        raise DataError(f"{path} is {width}x{height} ({width * height / 2**20:.0f} megapixels), over the "
                        f"limit of {MAX_IMAGE_PIXELS // 2**20} megapixels (a decompression bomb?)")
    return img


def _crop_box(width: int, height: int, crop: int) -> tuple[int, int, int, int]:
    """Centred crop box: ``crop`` x ``crop``, or the largest centred square when ``crop`` is 0."""
    side_w = side_h = min(width, height) if crop <= 0 else crop
    side_w, side_h = min(side_w, width), min(side_h, height)
    left, top = (width - side_w) // 2, (height - side_h) // 2
    return left, top, left + side_w, top + side_h


def read_image(path: Path, size: int, crop: int = 0, grayscale: bool = False) -> np.ndarray:
    """One image file as uint8 HWC: centre-cropped (see :func:`_crop_box`), resized to ``size``.

    ``size`` 0 keeps the crop's own size. JPEGs are decoded at a reduced scale (a DCT-domain
    downscale, several times faster) when that still leaves at least ``size`` pixels across the
    image, or ``2 * size`` across a crop.
    """
    from PIL import Image, UnidentifiedImageError

    mode = "L" if grayscale else "RGB"
    try:
        with open_image(path) as img:
            width, height = img.size
            box = _crop_box(width, height, crop)
            if size <= 0:
                img = img.convert(mode).crop(box)
            else:
                bw, bh = box[2] - box[0], box[3] - box[1]
                # a reduced-scale decode blurs the crop's edges by about one reduced pixel, so
                # when cropping it must leave two pixels per output pixel
                need = size if (bw, bh) == (width, height) else 2 * size
                img.draft(mode, (math.ceil(width * need / bw), math.ceil(height * need / bh)))
                sx, sy = img.size[0] / width, img.size[1] / height
                img = img.convert(mode)
                if img.size == (width, height) and (bw, bh) == (size, size):
                    img = img.crop(box)
                else:  # a fractional box keeps the crop exact on the reduced-scale decode
                    scaled = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
                    img = img.resize((size, size), Image.BICUBIC, box=scaled)
            arr = np.asarray(img, dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DataError(f"cannot decode image {path}: {exc}") from None
    return arr[:, :, None] if arr.ndim == 2 else arr


def decode_images(paths: Sequence[Path], size: int, crop: int = 0, grayscale: bool = False) -> np.ndarray:
    """Many image files as one uint8 NHWC array, decoded on a few threads.

    Pillow releases the GIL while decoding and resizing, so threads use every core. With ``size``
    0 every (cropped) image must already have the same size.
    """
    if not paths:
        raise DataError("no images to decode")
    first = read_image(paths[0], size, crop, grayscale)
    out = np.empty((len(paths), *first.shape), dtype=np.uint8)
    out[0] = first

    def work(i: int) -> None:
        img = read_image(paths[i], size, crop, grayscale)
        if img.shape != first.shape:
            raise DataError(
                f"{paths[i]} is {img.shape[1]}x{img.shape[0]} but {paths[0]} is "
                f"{first.shape[1]}x{first.shape[0]}; set data.image_size to resize them all"
            )
        out[i] = img

    workers = max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(work, range(1, len(paths))):
            pass
    return out
