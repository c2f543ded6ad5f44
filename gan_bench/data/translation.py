"""Image-to-image translation data: paired (pix2pix) and unpaired (CycleGAN) sets of two domains.

A batch is ``{"x": B, "cond": A}``, both float NCHW in [-1, 1]: ``x`` the target domain (what the
generator must produce, what FID compares against), ``cond`` the input domain. Paired data gives
the ground truth of each input; unpaired data an independently drawn A image. Batches stay plain
index lookups (no randomness outside the trainer's sampler), so a resumed run sees the same data.

Layouts, as the authors publish them:

- ``paired-folder`` (``data.path``): the pix2pix format, A and B side by side in one image
  (``<path>/<split>/*.jpg``, A on the left unless ``data.direction=BtoA``); or two folders of
  matching file names, ``<path>/A/<split>/`` and ``<path>/B/<split>/`` (pix2pix's
  ``combine_A_and_B.py`` input);
- ``unpaired-folder`` (``data.path``): ``<path>/trainA/``, ``trainB/`` (``testA/``, ``testB/``);
- ``facades``: ``<root>/facades/{train,val,test}/*.jpg`` side by side (photo | labels; as the
  paper, labels -> photo, i.e. ``BtoA``, unless ``data.direction`` says otherwise);
- ``horse2zebra``: ``<root>/horse2zebra/{trainA,trainB,testA,testB}/*.jpg`` (horse -> zebra).

Tasks made deterministically from real UTKFace photos (``<root>/utkface``, :mod:`gan_bench.data.utkface`),
64 px by default, with a held-out ``test`` split of the faces whose sha256(file name) falls in the
lowest ``data.test_fraction`` (10%) of its range (so it never depends on the listing's order):

- ``utkface-edges2faces`` (paired): A = a Canny-style edge map of the face (BT.601 grey, 5x5
  Gaussian blur with sigma 1, Sobel gradients, non-maximum suppression in four directions,
  hysteresis between the 70th and 90th percentiles of the image's gradient magnitudes), black
  edges on white as pix2pix's edges2* sets; B = the face;
- ``utkface-grey2colour`` (paired): A = the BT.601 luma (0.299 R + 0.587 G + 0.114 B, rounded) in
  three equal channels; B = the face;
- ``utkface-young2old`` (unpaired): A = faces of age < 30, B = faces of age >= 50.

Unpaired rows: with n_A and n_B images, each B image is repeated R = ceil(n_A / n_B) times (R = 1
when n_B >= n_A) and row i gets the A image at a fixed permutation (seeded by ``data.seed``) of
A's indices cycled to the rows' length, so one pass over the rows uses every image of both domains
(CycleGAN's unaligned loader draws B at random for each A instead); the pairing is independent
of content and carries no information. ``meta["domain_b"]`` holds B without repeats.

The utkface tasks are named ``utkface`` (their ``ArrayDataset.name``) so that the trainer's domain
FID uses the harness's UTKFace classifier on them; ``meta["task"]`` keeps the task's own name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gan_bench.config import Choice, Range
from gan_bench.data.base import ArrayDataset, DataError
from gan_bench.data.folder import resolve_path
from gan_bench.data.idx import check_split
from gan_bench.data.images import decode_images, image_dataset, list_images, nhwc_to_nchw, subset_indices
from gan_bench.data.utkface import (
    MAX_AGE,
    UTKFaceOptions,
    age_to_bin,
    in_test_split,
    load_utkface,
)
from gan_bench.registry import DATASETS

YOUNG_MAX_AGE = 30  # young: age < 30
OLD_MIN_AGE = 50  # old: age >= 50 (Age-cGAN's groups 50-59 and 60+)
BT601 = (0.299, 0.587, 0.114)
EDGE_LOW_QUANTILE, EDGE_HIGH_QUANTILE = 0.7, 0.9


@dataclass
class TranslationOptions:
    """Options of the translation datasets (``data.*``)."""

    image_size: int = field(default=64, metadata=Range(4, 1024))
    num_examples: int = field(default=0, metadata=Range(0, None))  # 0 = all; else a fixed subset (per domain)
    direction: str = field(default="auto", metadata=Choice("auto", "AtoB", "BtoA"))  # auto: the set's published one
    test_fraction: float = field(default=0.1, metadata=Range(0.01, 0.5))  # utkface tasks: held-out share
    seed: int = field(default=0, metadata=Range(0, 2**31 - 1))  # unpaired sets: the fixed A pairing
    path: str = ""  # paired-folder / unpaired-folder: the folder
    verify: bool = True  # utkface tasks: check the photos against SHA256SUMS when decoding them
    cache: bool = True  # utkface tasks: reuse the decoded faces


class PairedDataset(ArrayDataset):
    """Targets B (``x``, uint8 NCHW) with their inputs A (``a``, same rows); batches carry both."""

    def __init__(self, name: str, a: torch.Tensor, b: torch.Tensor, meta: dict) -> None:
        if a.shape != b.shape:
            raise DataError(f"{name}: A images are {tuple(a.shape[1:])} but B images {tuple(b.shape[1:])}")
        base = image_dataset(name, b, meta={**meta, "translation": "paired"})
        super().__init__(name=name, x=base.x, spec=base.spec, y=None, meta=base.meta)
        self.a = a

    def to(self, device: torch.device | str) -> PairedDataset:
        super().to(device)
        self.a = self.a.to(device)
        return self

    def batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x`` the B images and ``cond`` their A images at ``index``, float in [-1, 1]."""
        out = super().batch(index)
        out["cond"] = self.a[index.to(self.a.device)].float().div_(127.5).sub_(1.0)
        return out

    def inputs(self, index: torch.Tensor) -> torch.Tensor:
        """The A images at ``index`` as float in [-1, 1] (evaluation inputs)."""
        return self.a[index.to(self.a.device)].float().div(127.5).sub(1.0)


class UnpairedDataset(ArrayDataset):
    """Rows of B images (``x``, repeated as the module says) with a fixed A partner each
    (``a[partner[i]]``); ``a`` holds every A image once."""

    def __init__(self, name: str, a: torch.Tensor, b: torch.Tensor, seed: int, meta: dict) -> None:
        if a.shape[1:] != b.shape[1:]:
            raise DataError(f"{name}: A images are {tuple(a.shape[1:])} but B images {tuple(b.shape[1:])}")
        n_a, n_b = int(a.shape[0]), int(b.shape[0])
        repeats = max(1, math.ceil(n_a / n_b))
        rows = n_b * repeats
        gen = torch.Generator().manual_seed(seed)
        cycles = math.ceil(rows / n_a)
        partner = torch.cat([torch.randperm(n_a, generator=gen) for _ in range(cycles)])[:rows]
        base = image_dataset(name, b.repeat(repeats, 1, 1, 1), meta={
            **meta, "translation": "unpaired", "domain_a": n_a, "domain_b_size": n_b, "b_repeats": repeats})
        super().__init__(name=name, x=base.x, spec=base.spec, y=None, meta=base.meta)
        self.meta["domain_b"] = b
        self.a, self.partner = a, partner

    def to(self, device: torch.device | str) -> UnpairedDataset:
        super().to(device)
        self.a, self.partner = self.a.to(device), self.partner.to(device)
        return self

    def batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x`` the B images at ``index`` and ``cond`` their (independent) A partners, in [-1, 1]."""
        out = super().batch(index)
        out["cond"] = self.a[self.partner[index.to(self.partner.device)]].float().div_(127.5).sub_(1.0)
        return out

    def inputs(self, index: torch.Tensor) -> torch.Tensor:
        """A images by their own index (modulo their count) as float in [-1, 1] (evaluation inputs)."""
        return self.a[index.to(self.a.device) % self.a.shape[0]].float().div(127.5).sub(1.0)


# --------------------------------------------------------------------------- deterministic tasks


def luma(images: torch.Tensor) -> torch.Tensor:
    """BT.601 luma of uint8 RGB NCHW images as float (N, 1, H, W) on [0, 255], not rounded."""
    w = torch.tensor(BT601, dtype=torch.float64).view(1, 3, 1, 1)
    return (images.double() * w).sum(1, keepdim=True)


def grey_input(images: torch.Tensor) -> torch.Tensor:
    """The rounded BT.601 luma of uint8 RGB NCHW images in three equal channels (uint8)."""
    return luma(images).round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()


def _taps(x: torch.Tensor, weights: list[float], dim: int) -> torch.Tensor:
    """Correlation of (N, 1, H, W) ``x`` with 1-D ``weights`` along ``dim`` (-1 or -2), edges
    replicated (shifted slices: much faster than a one-channel conv2d on the CPU)."""
    r = len(weights) // 2
    pad = (r, r, 0, 0) if dim == -1 else (0, 0, r, r)
    p = F.pad(x, pad, mode="replicate")
    n = x.shape[dim]
    return sum(w * p.narrow(dim, k, n) for k, w in enumerate(weights) if w)  # type: ignore[return-value]


def _gaussian_blur(x: torch.Tensor, sigma: float = 1.0, size: int = 5) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    g = (g / g.sum()).tolist()
    return _taps(_taps(x, g, -1), g, -2)


def edge_input(images: torch.Tensor, batch: int = 512) -> torch.Tensor:
    """Canny-style edge maps of uint8 RGB NCHW images (the module docstring's recipe): uint8 NCHW,
    three equal channels, 0 on edges and 255 elsewhere. Deterministic: no random draws."""
    return torch.cat([_edges(images[i : i + batch]) for i in range(0, images.shape[0], batch)])


def _dilate(mask: torch.Tensor) -> torch.Tensor:
    """A boolean (N, 1, H, W) mask grown by one pixel in all eight directions."""
    h, w = mask.shape[-2:]
    p = F.pad(mask, (1, 1, 1, 1))
    out = mask.clone()
    for dy in range(3):
        for dx in range(3):
            out |= p[..., dy : dy + h, dx : dx + w]
    return out


def _edges(images: torch.Tensor) -> torch.Tensor:
    y = _gaussian_blur(luma(images).float())
    gx = _taps(_taps(y, [-1.0, 0.0, 1.0], -1), [1.0, 2.0, 1.0], -2)  # Sobel, separable
    gy = _taps(_taps(y, [-1.0, 0.0, 1.0], -2), [1.0, 2.0, 1.0], -1)
    mag = torch.hypot(gx, gy)
    # non-maximum suppression: keep a pixel that is no smaller than both neighbours along its
    # gradient, with the direction quantised to 0, 45, 90 and 135 degrees
    angle = torch.rad2deg(torch.atan2(gy, gx)) % 180
    sector = (((angle + 22.5) // 45) % 4).long()
    m = F.pad(mag, (1, 1, 1, 1))
    h, w = mag.shape[-2:]

    def shifted(dy: int, dx: int) -> torch.Tensor:
        return m[..., 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]

    # image rows grow downwards: a gradient at +45 degrees points to (dy=+1, dx=+1)
    pairs = [((0, 1), (0, -1)), ((1, 1), (-1, -1)), ((1, 0), (-1, 0)), ((1, -1), (-1, 1))]
    keep = torch.zeros_like(mag, dtype=torch.bool)
    for k, (p, q) in enumerate(pairs):
        keep |= (sector == k) & (mag >= shifted(*p)) & (mag >= shifted(*q))
    thin = torch.where(keep, mag, torch.zeros_like(mag))
    flat = mag.flatten(1)
    low = torch.quantile(flat, EDGE_LOW_QUANTILE, dim=1).view(-1, 1, 1, 1)
    high = torch.quantile(flat, EDGE_HIGH_QUANTILE, dim=1).view(-1, 1, 1, 1)
    weak = (thin >= low) & (thin > 0)
    edges = weak & (thin >= high)
    for _ in range(h * w):  # hysteresis: grow strong edges along weak ones until nothing changes
        grown = weak & _dilate(edges)
        if torch.equal(grown, edges):
            break
        edges = grown
    out = torch.where(edges, 0, 255).to(torch.uint8)
    return out.expand(-1, 3, -1, -1).contiguous()




def _utkface(root: Path, task: str, split: str, opts: TranslationOptions) -> tuple[torch.Tensor, np.ndarray, dict]:
    """UTKFace faces (uint8 NCHW) of ``split``, their ages and meta."""
    check_split(task, split, ("train", "test"))
    faces = load_utkface(root, "train", UTKFaceOptions(image_size=opts.image_size, verify=opts.verify,
                                                       cache=opts.cache))
    names = faces.meta["filenames"]
    held_out = np.array([in_test_split(n, opts.test_fraction) for n in names])
    keep = np.flatnonzero(held_out if split == "test" else ~held_out)
    meta = {"task": task, "source": faces.meta["source"], "split": split,
            "filenames": [names[i] for i in keep], "test_fraction": opts.test_fraction}
    return faces.x[torch.from_numpy(keep)], faces.meta["age"].numpy()[keep], meta


def _subset(x: torch.Tensor, num_examples: int) -> torch.Tensor:
    keep = subset_indices(int(x.shape[0]), num_examples)
    return x if keep is None else x[torch.from_numpy(keep)]


def _paired_task(root: Path, task: str, split: str, opts: TranslationOptions | None, make_input) -> PairedDataset:
    opts = opts or TranslationOptions()
    faces, _, meta = _utkface(root, task, split, opts)
    keep = subset_indices(int(faces.shape[0]), opts.num_examples)
    if keep is not None:
        faces, meta["filenames"] = faces[torch.from_numpy(keep)], [meta["filenames"][i] for i in keep]
    return PairedDataset("utkface", make_input(faces), faces, meta)


@DATASETS.register("utkface-edges2faces", options=TranslationOptions, kind="image", needs_files=True,
                   splits=("train", "test"))
def load_edges2faces(root: Path, split: str, opts: TranslationOptions | None = None) -> PairedDataset:
    """UTKFace faces (B) with their Canny-style edge maps (A), paired."""
    return _paired_task(root, "utkface-edges2faces", split, opts, edge_input)


@DATASETS.register("utkface-grey2colour", options=TranslationOptions, kind="image", needs_files=True,
                   splits=("train", "test"))
def load_grey2colour(root: Path, split: str, opts: TranslationOptions | None = None) -> PairedDataset:
    """UTKFace faces (B) with their BT.601 grey images (A), paired."""
    return _paired_task(root, "utkface-grey2colour", split, opts, grey_input)


@DATASETS.register("utkface-young2old", options=TranslationOptions, kind="image", needs_files=True,
                   splits=("train", "test"))
def load_young2old(root: Path, split: str, opts: TranslationOptions | None = None) -> UnpairedDataset:
    """UTKFace faces of age < 30 (A) and of age >= 50 (B), unpaired."""
    opts = opts or TranslationOptions()
    faces, age, meta = _utkface(root, "utkface-young2old", split, opts)
    a = _subset(faces[torch.from_numpy(np.flatnonzero(age < YOUNG_MAX_AGE))], opts.num_examples)
    b = _subset(faces[torch.from_numpy(np.flatnonzero(age >= OLD_MIN_AGE))], opts.num_examples)
    meta.pop("filenames")
    meta.update(domains=f"A: age < {YOUNG_MAX_AGE}, B: age >= {OLD_MIN_AGE}",
                target_groups=tuple(int(g) for g in np.unique(age_to_bin(np.arange(OLD_MIN_AGE, MAX_AGE + 1)))))
    return UnpairedDataset("utkface", a, b, opts.seed, meta)


# --------------------------------------------------------------------------- folders as published


def _folder(dataset: str, folder: Path, how: str) -> list[Path]:
    """The image files of ``folder``, or a one-line DataError naming it and where to put it."""
    if not folder.is_dir():
        raise DataError(f"{dataset}: missing folder {folder.parent.name}/{folder.name}/; put it in "
                        f"{folder.parent.parent} ({how})")
    paths = list_images(folder)
    if not paths:
        raise DataError(f"{dataset}: no images in {folder} ({how})")
    return paths


def split_side_by_side(images: np.ndarray, direction: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, B) uint8 NCHW halves of uint8 NHWC images holding A | B side by side (B | A for BtoA)."""
    if images.shape[2] % 2:
        raise DataError(f"side-by-side images must have an even width, not {images.shape[2]}")
    half = images.shape[2] // 2
    left, right = nhwc_to_nchw(images[:, :, :half]), nhwc_to_nchw(images[:, :, half:])
    return (left, right) if direction == "AtoB" else (right, left)


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    from gan_bench.data.images import resize_images

    return resize_images(x, size)


def _decode_whole(paths: list[Path]) -> np.ndarray:
    """Image files as they are (no centre crop to a square, no resize)."""
    return decode_images(paths, 0, crop=2**30)  # a crop larger than the image keeps all of it


def load_side_by_side(dataset: str, folder: Path, opts: TranslationOptions, published: str, how: str) -> PairedDataset:
    """A paired set of side-by-side images in ``folder`` (pix2pix's format)."""
    paths = _folder(dataset, folder, how)
    keep = subset_indices(len(paths), opts.num_examples)
    if keep is not None:
        paths = [paths[i] for i in keep]
    images = _decode_whole(paths)  # every file of a pix2pix set has one size (facades: 512 x 256)
    a, b = split_side_by_side(images, published if opts.direction == "auto" else opts.direction)
    meta = {"task": dataset, "source": str(folder), "split": folder.name, "filenames": [p.name for p in paths]}
    return PairedDataset(dataset, _resize(a, opts.image_size), _resize(b, opts.image_size), meta)


def load_two_folders(dataset: str, folder_a: Path, folder_b: Path, opts: TranslationOptions, how: str) -> PairedDataset:
    """A paired set of two folders whose files of one name belong together."""
    pa, pb = _folder(dataset, folder_a, how), _folder(dataset, folder_b, how)
    names_b = {p.name for p in pb}
    common = [p.name for p in pa if p.name in names_b]
    if not common:
        raise DataError(f"{dataset}: no file name of {folder_a} is also in {folder_b}; pairs need matching names")
    keep = subset_indices(len(common), opts.num_examples)
    if keep is not None:
        common = [common[i] for i in keep]
    a = nhwc_to_nchw(decode_images([folder_a / n for n in common], opts.image_size))
    b = nhwc_to_nchw(decode_images([folder_b / n for n in common], opts.image_size))
    if opts.direction == "BtoA":
        a, b = b, a
    meta = {"task": dataset, "source": str(folder_a.parent.parent), "filenames": common}
    return PairedDataset(dataset, a, b, meta)


def load_unpaired_folders(dataset: str, base: Path, split: str, opts: TranslationOptions, how: str) -> UnpairedDataset:
    """An unpaired set ``<base>/<split>A/`` and ``<base>/<split>B/`` (CycleGAN's layout)."""
    check_split(dataset, split, ("train", "test"))
    pa = _folder(dataset, base / f"{split}A", how)
    pb = _folder(dataset, base / f"{split}B", how)
    ka, kb = subset_indices(len(pa), opts.num_examples), subset_indices(len(pb), opts.num_examples)
    pa = pa if ka is None else [pa[i] for i in ka]
    pb = pb if kb is None else [pb[i] for i in kb]
    a = nhwc_to_nchw(decode_images(pa, opts.image_size))
    b = nhwc_to_nchw(decode_images(pb, opts.image_size))
    if opts.direction == "BtoA":
        a, b = b, a
    meta = {"task": dataset, "source": str(base), "split": split}
    return UnpairedDataset(dataset, a, b, opts.seed, meta)


@DATASETS.register("paired-folder", options=TranslationOptions, kind="image", needs_files=True, splits=None)
def load_paired_folder(root: Path, split: str, opts: TranslationOptions | None = None) -> PairedDataset:
    """A paired set at ``data.path``: ``A/<split>/`` + ``B/<split>/``, or side-by-side ``<split>/``."""
    opts = opts or TranslationOptions()
    base = resolve_path(opts.path, root)
    if (base / "A").is_dir() or (base / "B").is_dir():
        how = "two folders A/<split>/ and B/<split>/ of matching file names"
        return load_two_folders("paired-folder", base / "A" / split, base / "B" / split, opts, how)
    return load_side_by_side("paired-folder", base / split, opts, "AtoB",
                             "point data.path at a folder of <split>/ side-by-side A|B images, or of A/ and B/")


@DATASETS.register("unpaired-folder", options=TranslationOptions, kind="image", needs_files=True,
                   splits=("train", "test"))
def load_unpaired_folder(root: Path, split: str, opts: TranslationOptions | None = None) -> UnpairedDataset:
    """An unpaired set at ``data.path``: ``trainA/``, ``trainB/`` (``testA/``, ``testB/``)."""
    opts = opts or TranslationOptions()
    return load_unpaired_folders("unpaired-folder", resolve_path(opts.path, root), split, opts,
                                 "point data.path at a folder with trainA/, trainB/, testA/, testB/")


@DATASETS.register("facades", options=TranslationOptions, kind="image", needs_files=True,
                   splits=("train", "val", "test"))
def load_facades(root: Path, split: str, opts: TranslationOptions | None = None) -> PairedDataset:
    """CMP Facades in pix2pix's format (photo | labels, 256 x 256 each); labels -> photo by default."""
    opts = opts or TranslationOptions()
    check_split("facades", split, ("train", "val", "test"))
    how = "unpack facades.tar.gz of the pix2pix datasets (efrosgans.eecs.berkeley.edu/pix2pix/datasets/) there"
    return load_side_by_side("facades", root / "facades" / split, opts, "BtoA", how)


@DATASETS.register("horse2zebra", options=TranslationOptions, kind="image", needs_files=True,
                   splits=("train", "test"))
def load_horse2zebra(root: Path, split: str, opts: TranslationOptions | None = None) -> UnpairedDataset:
    """CycleGAN's horse2zebra (A horses, B zebras, 256 px), unpaired."""
    opts = opts or TranslationOptions()
    how = "unpack horse2zebra.zip of the CycleGAN datasets (efrosgans.eecs.berkeley.edu/cyclegan/datasets/) there"
    return load_unpaired_folders("horse2zebra", root / "horse2zebra", split, opts, how)
