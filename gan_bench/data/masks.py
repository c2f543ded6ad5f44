"""Masked images for image completion (Iizuka et al. 2017; Li et al. 2017): UTKFace faces with a
rectangular hole, registered as dataset ``utkface-masked``.

Holes (``data.mask``), on an H x W image (64 px by default):

- ``center``: a square of side ``data.center_size`` x H in the middle (half the side: a quarter of
  the image), the context-encoder / face-completion setting;
- ``random``: Iizuka et al.'s training holes scaled to the image: each side uniform in
  ``[hole_min, hole_max]`` x H (96..128 of 256 px in the paper: 0.375..0.5), placed anywhere inside.

Each example's hole is drawn once, from ``data.mask_seed``, for every image of the loaded set
(before the split), and kept as a box (top, left, height, width): a batch is a plain index lookup,
and a resumed run sees exactly the masks it saw before. (Iizuka et al. draw a new hole per
iteration; here every image keeps its hole, as the SR data keep a fixed bank of patches.)

The local discriminator sees a ``data.patch_size`` x H square around the hole (128 of 256 px in
the paper: 0.5), centred on the hole and moved inside the image; :func:`local_patch_corners`
derives it from the mask alone, so generated samples carry everything the local D needs.

Splits: UTKFace ships one set, so the faces whose sha256(file name) falls in the lowest
``data.test_fraction`` (10%) of its range form split ``test`` and the rest split ``train``: the
rule of the translation tasks (:mod:`gan_bench.data.translation`), so every UTKFace task holds
out the same faces. The variant scores completions of the held-out faces.

A batch is ``{"x": the full image (ground truth), "cond": the masked image (hole set to 0, mid-grey
on [-1, 1]), "mask": 1 inside the hole, (N, 1, H, W)}`` plus ``y`` (age) as UTKFace's. The dataset
keeps the name ``utkface`` (its pixels are UTKFace's), so training-time FID/KID use the
``utkface-classifier``; ``meta["mask"]`` says which holes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gan_bench.config import Choice, Range
from gan_bench.data.base import ArrayDataset, DataError
from gan_bench.data.idx import check_split
from gan_bench.data.utkface import (
    UTKFaceOptions,
    in_test_split,
    load_utkface,
)
from gan_bench.registry import DATASETS


@dataclass
class MaskedFaceOptions(UTKFaceOptions):
    """Options of ``utkface-masked`` (``data.*``): UTKFace's, and the holes'."""

    mask: str = field(default="random", metadata=Choice("center", "random"))
    mask_seed: int = field(default=0, metadata=Range(0, 2**31 - 1))
    center_size: float = field(default=0.5, metadata=Range(0.0, 1.0))  # centre hole side / image side
    hole_min: float = field(default=0.375, metadata=Range(0.0, 1.0))  # random hole sides (Iizuka: 96/256)
    hole_max: float = field(default=0.5, metadata=Range(0.0, 1.0))  # (Iizuka: 128/256)
    patch_size: float = field(default=0.5, metadata=Range(0.0, 1.0))  # local D patch side (Iizuka: 128/256)
    test_fraction: float = field(default=0.1, metadata=Range(0.01, 0.5))  # held-out share (split test)


def hole_sizes(opts: MaskedFaceOptions, height: int, width: int) -> dict[str, tuple[int, int]]:
    """Pixel sizes (rows, cols) of the centre hole, the random holes' min and max, and the local patch."""

    def px(frac: float, side: int) -> int:
        return max(1, min(side, round(frac * side)))

    return {
        "center": (px(opts.center_size, height), px(opts.center_size, width)),
        "min": (px(opts.hole_min, height), px(opts.hole_min, width)),
        "max": (px(opts.hole_max, height), px(opts.hole_max, width)),
        "patch": (px(opts.patch_size, height), px(opts.patch_size, width)),
    }


def draw_boxes(n: int, height: int, width: int, opts: MaskedFaceOptions) -> torch.Tensor:
    """(n, 4) long boxes (top, left, rows, cols) of every example's hole (see the module docstring)."""
    s = hole_sizes(opts, height, width)
    if opts.mask == "center":
        h, w = s["center"]
        box = torch.tensor([(height - h) // 2, (width - w) // 2, h, w])
        return box.expand(n, 4).clone()
    (h0, w0), (h1, w1) = s["min"], s["max"]
    if h0 > h1 or w0 > w1:
        raise DataError(f"utkface-masked: data.hole_min {opts.hole_min} is above data.hole_max {opts.hole_max}")
    ph, pw = s["patch"]
    if h1 > ph or w1 > pw:
        raise DataError(f"utkface-masked: holes up to {h1} x {w1} px do not fit the local patch of {ph} x {pw} px; "
                        "raise data.patch_size or lower data.hole_max")
    gen = torch.Generator().manual_seed(opts.mask_seed)
    u = torch.rand(n, 4, generator=gen, dtype=torch.float64)
    h = h0 + (u[:, 0] * (h1 - h0 + 1)).long()
    w = w0 + (u[:, 1] * (w1 - w0 + 1)).long()
    top = (u[:, 2] * (height - h + 1)).long()
    left = (u[:, 3] * (width - w + 1)).long()
    return torch.stack([top, left, h, w], dim=1)


def box_masks(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Float (N, 1, H, W) masks, 1 inside each box (top, left, rows, cols) and 0 elsewhere."""
    rows = torch.arange(height, device=boxes.device)
    cols = torch.arange(width, device=boxes.device)
    top, left, h, w = (boxes[:, i, None] for i in range(4))
    in_rows = (rows >= top) & (rows < top + h)  # (N, H)
    in_cols = (cols >= left) & (cols < left + w)  # (N, W)
    return (in_rows[:, :, None] & in_cols[:, None, :]).unsqueeze(1).float()


def mask_boxes(mask: torch.Tensor) -> torch.Tensor:
    """(N, 4) long boxes (top, left, rows, cols) bounding the hole of each (N, 1, H, W) mask."""
    m = mask[:, 0] > 0.5  # (N, H, W)
    rows, cols = m.any(dim=2), m.any(dim=1)  # (N, H), (N, W)
    if not bool(rows.any(dim=1).all()):
        raise ValueError("a mask without a hole has no local patch")
    ar_h = torch.arange(rows.shape[1], device=mask.device)
    ar_w = torch.arange(cols.shape[1], device=mask.device)
    top = torch.where(rows, ar_h, rows.shape[1]).amin(dim=1)
    bottom = torch.where(rows, ar_h, -1).amax(dim=1)
    left = torch.where(cols, ar_w, cols.shape[1]).amin(dim=1)
    right = torch.where(cols, ar_w, -1).amax(dim=1)
    return torch.stack([top, left, bottom - top + 1, right - left + 1], dim=1)


def local_patch_corners(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, 2) long top-left corners of the ``size`` patch of the local discriminator: centred on the
    bounding box of each mask's hole and moved inside the image (Iizuka et al., section 3.2)."""
    boxes = mask_boxes(mask)
    ph, pw = size
    height, width = mask.shape[-2:]
    top = boxes[:, 0] + boxes[:, 2] // 2 - ph // 2
    left = boxes[:, 1] + boxes[:, 3] // 2 - pw // 2
    return torch.stack([top.clamp(0, height - ph), left.clamp(0, width - pw)], dim=1)


def crop_patches(x: torch.Tensor, corners: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The (N, C, ph, pw) patches of NCHW ``x`` at ``corners`` (top, left), differentiable in ``x``."""
    ph, pw = size
    rows = corners[:, 0, None] + torch.arange(ph, device=x.device)  # (N, ph)
    cols = corners[:, 1, None] + torch.arange(pw, device=x.device)  # (N, pw)
    n = torch.arange(x.shape[0], device=x.device)[:, None, None]
    return x.permute(0, 2, 3, 1)[n, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


class MaskedDataset(ArrayDataset):
    """Images (``x``, uint8 NCHW) with one hole each (``boxes``); batches add ``cond`` and ``mask``."""

    boxes: torch.Tensor

    def to(self, device: torch.device | str) -> MaskedDataset:
        super().to(device)
        self.boxes = self.boxes.to(device)
        return self

    def batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x`` the images, ``mask`` their holes (1 inside) and ``cond`` the images with the hole
        set to 0, at ``index``."""
        out = super().batch(index)
        height, width = out["x"].shape[-2:]
        mask = box_masks(self.boxes[index.to(self.boxes.device)], height, width)
        out["mask"] = mask
        out["cond"] = out["x"] * (1.0 - mask)
        return out




def split_indices(names: list[str], fraction: float, split: str) -> np.ndarray:
    """Sorted indices of ``split`` (``test``: the held-out faces; ``train``: the others)."""
    held = np.array([in_test_split(n, fraction) for n in names], dtype=bool)
    keep = np.flatnonzero(held if split == "test" else ~held)
    if keep.size == 0:
        raise DataError(f"utkface-masked: split {split} is empty ({len(names)} faces, data.test_fraction {fraction})")
    return keep


@DATASETS.register("utkface-masked", options=MaskedFaceOptions, kind="image", needs_files=True,
                   splits=("train", "test"))
def load_utkface_masked(root: Path, split: str, opts: MaskedFaceOptions | None = None) -> MaskedDataset:
    """UTKFace faces with centre or random rectangular holes (see the module docstring)."""
    opts = opts or MaskedFaceOptions()
    check_split("utkface-masked", split, ("train", "test"))
    base_opts = UTKFaceOptions(**{f: getattr(opts, f) for f in UTKFaceOptions.__dataclass_fields__})
    faces = load_utkface(root, "train", base_opts)
    _, _, height, width = faces.x.shape
    boxes = draw_boxes(len(faces), height, width, opts)  # drawn for the whole set: a face keeps its hole
    keep = split_indices(faces.meta["filenames"], opts.test_fraction, split)
    index = torch.from_numpy(keep)
    meta = {k: v for k, v in faces.meta.items() if k not in ("age", "gender", "race", "filenames", "index")}
    meta.update({
        "age": faces.meta["age"][index], "gender": faces.meta["gender"][index], "race": faces.meta["race"][index],
        "filenames": [faces.meta["filenames"][i] for i in keep], "split": split, "mask": opts.mask,
        "patch_size": hole_sizes(opts, height, width)["patch"], "test_fraction": opts.test_fraction,
    })
    if "index" in faces.meta:  # positions in the whole UTKFace list (data.num_examples)
        meta["index"] = faces.meta["index"][index]
    assert faces.y is not None
    data = MaskedDataset(name="utkface", x=faces.x[index], spec=faces.spec, y=faces.y[index], meta=meta)
    data.boxes = boxes[index]
    return data
