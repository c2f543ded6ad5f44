"""Super-resolution data: (HR, LR) patch pairs cut from any folder of HR images.

Registered datasets (all x4 unless ``data.scale`` says otherwise):

- ``t91``: the 91 images of Yang et al. (2010), SRCNN's training set, ``<root>/t91/*.bmp``
  (checked against ``t91/SHA256SUMS``); split ``train``;
- ``set5``: ``<root>/set5/HR/*.png`` (Bevilacqua et al. 2012), the test set of the tables; split
  ``test`` (its shipped ``LR_bicubic/X<s>/`` files are used by ``gan-bench sr-eval --lr``);
- ``div2k``: DIV2K as published, ``<root>/DIV2K/DIV2K_train_HR/*.png`` (split ``train``) and
  ``DIV2K_valid_HR/*.png`` (split ``test``), for users who have it;
- ``sr-folder``: any folder of HR images, ``data.path`` (split sub-folders honoured as ``folder``).

How pairs are made, as the benchmarks make them: each HR image is cropped to a multiple of the
scale (``modcrop``) and its LR image made once with MATLAB's bicubic ``imresize`` (antialiased,
:mod:`gan_bench.sr.imresize`, rounded to uint8 as MATLAB does); a patch is an HR crop of
``data.patch_size`` at a multiple of the scale with the LR crop at the matching place, then one of
the eight flips/rotations (``data.augment``). The ``data.num_patches`` patches are drawn once, from
``data.seed``, with the image chosen in proportion to its number of patch positions: a fixed bank
of random patches, so that batches are plain index lookups and a resumed run sees the same data.

A batch is ``{"x": HR, "cond": LR}``, both float NCHW in [-1, 1]; ``spec.shape`` is the HR
patch's shape and ``meta["scale"]`` the factor. :func:`load_sr_images` gives the whole images of a
dataset (for evaluation on Set5 at full size).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gan_bench.config import Range
from gan_bench.data.base import ArrayDataset, DataError
from gan_bench.data.download import read_checksum_list, verify_file
from gan_bench.data.folder import resolve_path
from gan_bench.data.idx import check_split
from gan_bench.data.images import image_dataset, list_images, open_image
from gan_bench.registry import DATASETS
from gan_bench.sr.imresize import imresize, modcrop

# sha256 of Set5's HR images (../shared/data/README.md)
SET5_SHA256 = {
    "baby.png": "158417bf319058274bbea8b7d4995a12cb70dc7ff1cdf6351bde7e3d4e22d06a",
    "bird.png": "1b20dfba6635f99d501144a949e1568363a91cc08231dc92d9537f883c23c9a8",
    "butterfly.png": "58be740fd17ead6029eb8344c46720c392eaf120907dc623475aa768260e6548",
    "head.png": "ec18fffd17f8a54ff04a19d03697988e9ba8ad4092ac4c792d19dbf7c967d59d",
    "woman.png": "b15112110e3e7d91b840d6131a00f0f5c22d54f4ac93a81e3ed0f6ab62d08106",
}
T91_COUNT = 91
DIV2K_FOLDERS = {"train": "DIV2K_train_HR", "test": "DIV2K_valid_HR"}


@dataclass
class SROptions:
    """Options of the SR datasets (``data.*``)."""

    scale: int = field(default=4, metadata=Range(2, 8))
    patch_size: int = field(default=96, metadata=Range(8, 1024))  # HR side; a multiple of scale (SRGAN: 96)
    num_patches: int = field(default=4096, metadata=Range(1, 1_000_000))
    augment: bool = True  # the eight flips / 90-degree rotations
    seed: int = field(default=0, metadata=Range(0, 2**31 - 1))  # draws the patch bank
    verify: bool = True  # check files against the published checksums where there are some
    path: str = ""  # sr-folder only: the HR folder


class SRDataset(ArrayDataset):
    """HR patches (``x``, uint8 NCHW) with their LR patches (``lr``); batches carry both."""

    def __init__(self, name: str, hr: torch.Tensor, lr: torch.Tensor, scale: int, meta: dict) -> None:
        base = image_dataset(name, hr, meta={**meta, "scale": scale})
        super().__init__(name=name, x=base.x, spec=base.spec, y=None, meta=base.meta)
        self.lr = lr

    def to(self, device: torch.device | str) -> SRDataset:
        super().to(device)
        self.lr = self.lr.to(device)
        return self

    def batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """``x`` the HR patches and ``cond`` their LR patches at ``index``, float in [-1, 1]."""
        out = super().batch(index)
        out["cond"] = self.lr[index.to(self.lr.device)].float().div_(127.5).sub_(1.0)
        return out


def make_lr(hr: np.ndarray, scale: int) -> np.ndarray:
    """The benchmark LR image of uint8 HWC ``hr`` (already modcropped): MATLAB bicubic 1/scale."""
    return imresize(hr, 1.0 / scale)  # type: ignore[return-value]


def _dihedral(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Each NCHW image i rotated by 90 * (k_i mod 4) degrees, then flipped when k_i >= 4."""
    out = x.clone()
    for t in range(8):
        sel = (k == t).nonzero().flatten()
        if sel.numel():
            y = torch.rot90(x[sel], t % 4, dims=(2, 3))
            out[sel] = y.flip(3) if t >= 4 else y
    return out


def patch_bank(images: list[np.ndarray], opts: SROptions, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(HR, LR) uint8 NCHW patch tensors drawn from ``images`` (uint8 HWC) as the module says."""
    s, p = opts.scale, opts.patch_size
    if p % s:
        raise DataError(f"{name}: data.patch_size {p} is not a multiple of data.scale {s}")
    q = p // s
    pairs, counts = [], []
    for img in images:
        hr = modcrop(img, s)
        if hr.shape[0] < p or hr.shape[1] < p:
            continue  # too small for a patch (T91 has images of 78 px)
        pairs.append((hr, make_lr(hr, s)))
        counts.append((hr.shape[0] // s - q + 1) * (hr.shape[1] // s - q + 1))
    if not pairs:
        raise DataError(f"{name}: no image is at least {p} x {p} px; lower data.patch_size")
    gen = torch.Generator().manual_seed(opts.seed)
    n = opts.num_patches
    which = torch.multinomial(torch.tensor(counts, dtype=torch.float64), n, replacement=True, generator=gen)
    u = torch.rand(n, 2, generator=gen, dtype=torch.float64)
    k = torch.randint(0, 8, (n,), generator=gen) if opts.augment else torch.zeros(n, dtype=torch.long)
    channels = pairs[0][0].shape[2]
    hr_out = torch.empty(n, channels, p, p, dtype=torch.uint8)
    lr_out = torch.empty(n, channels, q, q, dtype=torch.uint8)
    for i in range(n):
        hr, lr = pairs[int(which[i])]
        top = int(u[i, 0] * (lr.shape[0] - q + 1))
        left = int(u[i, 1] * (lr.shape[1] - q + 1))
        lr_out[i] = torch.from_numpy(np.ascontiguousarray(lr[top : top + q, left : left + q])).permute(2, 0, 1)
        hr_out[i] = torch.from_numpy(np.ascontiguousarray(hr[top * s : top * s + p, left * s : left * s + p])).permute(2, 0, 1)
    return _dihedral(hr_out, k), _dihedral(lr_out, k)


def read_rgb(path: Path) -> np.ndarray:
    """One image file as uint8 HWC RGB, whole (no crop, no resize)."""
    from PIL import UnidentifiedImageError

    try:
        with open_image(path) as img:
            return np.array(img.convert("RGB"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DataError(f"cannot decode image {path}: {exc}") from None


def _read_all(paths: list[Path]) -> list[np.ndarray]:
    return [read_rgb(path) for path in paths]


def _files(dataset: str, folder: Path, pattern: str, how: str) -> list[Path]:
    if not folder.is_dir():
        raise DataError(f"{dataset}: missing folder {folder.name}/; put it in {folder.parent} ({how})")
    paths = sorted(folder.glob(pattern)) if pattern else list_images(folder)
    if not paths:
        raise DataError(f"{dataset}: no images in {folder} ({how})")
    return paths


def sr_image_paths(name: str, root: Path, split: str, opts: SROptions | None = None) -> list[Path]:
    """The HR image files of SR dataset ``name`` (checked where checksums are published)."""
    opts = opts or SROptions()
    if name == "t91":
        check_split("t91", split, ("train",))
        base = root / "t91"
        sums_path = base / "SHA256SUMS"
        if not sums_path.is_file():
            raise DataError(f"t91: missing SHA256SUMS; put the T91 folder (91 .bmp files and SHA256SUMS) at {base}")
        sums = read_checksum_list(sums_path)
        paths = [base / n for n in sorted(sums)]
        for path in paths:
            if not path.is_file():
                raise DataError(f"t91: missing {path.name}; put it in {base}")
            if opts.verify:
                verify_file(path, sha256=sums[path.name])
        if len(paths) != T91_COUNT:
            raise DataError(f"t91: {sums_path} lists {len(paths)} files, not the {T91_COUNT} images of T91")
        return paths
    if name == "set5":
        check_split("set5", split, ("test",))
        base = root / "set5" / "HR"
        paths = [base / n for n in sorted(SET5_SHA256)]
        for path in paths:
            if not path.is_file():
                raise DataError(f"set5: missing {path.name}; put it in {base}")
            if opts.verify:
                verify_file(path, sha256=SET5_SHA256[path.name])
        return paths
    if name == "div2k":
        check_split("div2k", split, tuple(DIV2K_FOLDERS))
        folder = root / "DIV2K" / DIV2K_FOLDERS[split]
        return _files("div2k", folder, "*.png", "unpack DIV2K_train_HR.zip / DIV2K_valid_HR.zip from data.vision.ee.ethz.ch/cvl/DIV2K there")
    if name == "sr-folder":
        folder = resolve_path(opts.path, root)
        if (folder / split).is_dir():
            folder = folder / split
        return _files("sr-folder", folder, "", "point data.path at a folder of HR images")
    raise DataError(f"{name} is not a super-resolution dataset")


def load_sr_images(name: str, root: Path, split: str, opts: SROptions | None = None) -> list[tuple[str, np.ndarray]]:
    """(file stem, uint8 HWC RGB image) of every HR image of SR dataset ``name``."""
    paths = sr_image_paths(name, root, split, opts)
    return [(p.stem, img) for p, img in zip(paths, _read_all(paths))]


def _load(name: str, root: Path, split: str, opts: SROptions | None) -> SRDataset:
    opts = opts or SROptions()
    paths = sr_image_paths(name, root, split, opts)
    hr, lr = patch_bank(_read_all(paths), opts, name)
    digest = hashlib.sha256("\n".join(p.name for p in paths).encode()).hexdigest()[:16]
    meta = {"source": str(paths[0].parent), "split": split, "images": len(paths), "files": digest,
            "patch_size": opts.patch_size}
    return SRDataset(name, hr, lr, opts.scale, meta)


@DATASETS.register("t91", options=SROptions, kind="image", needs_files=True, splits=("train",))
def load_t91(root: Path, split: str, opts: SROptions | None = None) -> SRDataset:
    """(HR, LR) patches of T91, SRCNN's 91 training images."""
    return _load("t91", root, split, opts)


@DATASETS.register("set5", options=SROptions, kind="image", needs_files=True, splits=("test",))
def load_set5(root: Path, split: str, opts: SROptions | None = None) -> SRDataset:
    """(HR, LR) patches of Set5's five HR images (a test set: do not train on it)."""
    return _load("set5", root, split, opts)


@DATASETS.register("div2k", options=SROptions, kind="image", needs_files=True, splits=("train", "test"))
def load_div2k(root: Path, split: str, opts: SROptions | None = None) -> SRDataset:
    """(HR, LR) patches of DIV2K's 800 training (``train``) or 100 validation (``test``) images."""
    return _load("div2k", root, split, opts)


@DATASETS.register("sr-folder", options=SROptions, kind="image", needs_files=True, splits=None)
def load_sr_folder(root: Path, split: str, opts: SROptions | None = None) -> SRDataset:
    """(HR, LR) patches of any folder of HR images (``data.path``)."""
    return _load("sr-folder", root, split, opts)
