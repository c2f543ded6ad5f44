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

How the bank is built, so that a dataset larger than memory (DIV2K: 800 images of 2040 x ~1400)
costs only the bank (``data.num_patches`` x the patch bytes: 113 MB at the defaults): the draws
need only each image's size, read from its header (:func:`draw_patches`); then every image that
owns at least one patch is decoded once, its LR image made, its patches cut and transformed, and
the image dropped (:func:`cut_patches`), in ``data.workers`` processes (default 2, 0 = in this
process; fork on Linux as :mod:`gan_bench.data.streaming` reads, the task itself spawn-safe), which
send back only their image's patches. The bank is bitwise the one all images at once would give,
whatever the number of workers; ``data.workers`` is never part of a run's config hash. An image
that owns no patch is not decoded, so a corrupt one is only reported when a patch is drawn from it.

A batch is ``{"x": HR, "cond": LR}``, both float NCHW in [-1, 1]; ``spec.shape`` is the HR
patch's shape and ``meta["scale"]`` the factor. :func:`load_sr_images` gives the whole images of a
dataset (for evaluation on Set5 at full size).
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
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
from gan_bench.data.streaming import pool_context
from gan_bench.registry import DATASETS
from gan_bench.sr.imresize import imresize, modcrop

log = logging.getLogger("gan_bench.data")

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
    workers: int = field(default=2, metadata=Range(0, 64))  # processes building the patch bank (0 = in-process)


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


@dataclass
class PatchDraws:
    """The random part of a patch bank, drawn before any image is decoded.

    Patch ``i`` comes from image ``which[i]`` (an index into the full image list, skipped images
    included), at relative position ``u[i]`` (float64 in [0, 1), rows then columns) under
    transform ``k[i]`` (:func:`_dihedral`).
    """

    which: np.ndarray
    u: np.ndarray
    k: np.ndarray

    def by_image(self) -> list[tuple[int, np.ndarray]]:
        """(image index, the bank rows it fills) of every image that owns at least one patch."""
        order = np.argsort(self.which, kind="stable")
        images, starts = np.unique(self.which[order], return_index=True)
        return [(int(j), rows) for j, rows in zip(images, np.split(order, starts[1:]))]


def draw_patches(sizes: list[tuple[int, int]], opts: SROptions, name: str) -> PatchDraws:
    """The patch draws for images of ``sizes`` (height, width), as :func:`patch_bank` makes them.

    Only the sizes are needed (read from the files' headers), so that nothing is decoded before
    it is known which images own a patch. An image smaller than the patch once modcropped is
    skipped; the rest are chosen in proportion to their number of patch positions.
    """
    s, p = opts.scale, opts.patch_size
    if p % s:
        raise DataError(f"{name}: data.patch_size {p} is not a multiple of data.scale {s}")
    q = p // s
    kept, counts = [], []
    for j, (h, w) in enumerate(sizes):
        h, w = h - h % s, w - w % s  # modcrop
        if h < p or w < p:
            continue  # too small for a patch (T91 has images of 78 px)
        kept.append(j)
        counts.append((h // s - q + 1) * (w // s - q + 1))
    if not kept:
        raise DataError(f"{name}: no image is at least {p} x {p} px; lower data.patch_size")
    # the generator, the draws and their order are those of every bank built so far: do not reorder
    gen = torch.Generator().manual_seed(opts.seed)
    n = opts.num_patches
    which = torch.multinomial(torch.tensor(counts, dtype=torch.float64), n, replacement=True, generator=gen)
    u = torch.rand(n, 2, generator=gen, dtype=torch.float64)
    k = torch.randint(0, 8, (n,), generator=gen) if opts.augment else torch.zeros(n, dtype=torch.long)
    return PatchDraws(np.asarray(kept, dtype=np.int64)[which.numpy()], u.numpy(), k.numpy())


def cut_patches(image: np.ndarray, u: np.ndarray, k: np.ndarray, scale: int, patch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(HR, LR) uint8 NCHW patches of one uint8 HWC ``image`` at relative positions ``u`` under
    transforms ``k``: the image is modcropped and its LR image made once, here."""
    s, p, q = scale, patch_size, patch_size // scale
    hr = modcrop(image, s)
    lr = make_lr(hr, s)
    tops = (u[:, 0] * (lr.shape[0] - q + 1)).astype(np.int64)  # float64 product truncated, as int() did
    lefts = (u[:, 1] * (lr.shape[1] - q + 1)).astype(np.int64)
    hr_out = np.empty((len(u), hr.shape[2], p, p), dtype=np.uint8)
    lr_out = np.empty((len(u), hr.shape[2], q, q), dtype=np.uint8)
    for i, (top, left) in enumerate(zip(tops, lefts)):
        lr_out[i] = lr[top : top + q, left : left + q].transpose(2, 0, 1)
        hr_out[i] = hr[top * s : top * s + p, left * s : left * s + p].transpose(2, 0, 1)
    return _dihedral_np(hr_out, k), _dihedral_np(lr_out, k)


def _dihedral_np(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """:func:`_dihedral` in numpy, bitwise the same: per image it is a few ops on small arrays,
    where torch's thread pool costs more than the work (20x on two busy cores)."""
    out = np.empty_like(x)
    for t in np.unique(k):
        sel = k == t
        y = np.rot90(x[sel], t % 4, axes=(2, 3))
        out[sel] = y[..., ::-1] if t >= 4 else y
    return out


def patch_bank(images: list[np.ndarray], opts: SROptions, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(HR, LR) uint8 NCHW patch tensors drawn from ``images`` (uint8 HWC) as the module says."""
    draws = draw_patches([img.shape[:2] for img in images], opts, name)
    jobs = draws.by_image()
    hr_out, lr_out = _empty_bank(opts, images[jobs[0][0]].shape[2])
    for j, rows in jobs:
        hr_out[rows], lr_out[rows] = cut_patches(images[j], draws.u[rows], draws.k[rows], opts.scale, opts.patch_size)
    return torch.from_numpy(hr_out), torch.from_numpy(lr_out)


def _empty_bank(opts: SROptions, channels: int) -> tuple[np.ndarray, np.ndarray]:
    # numpy, filled by numpy copies: no torch thread pool per image (see _dihedral_np)
    n, p, q = opts.num_patches, opts.patch_size, opts.patch_size // opts.scale
    return np.empty((n, channels, p, p), dtype=np.uint8), np.empty((n, channels, q, q), dtype=np.uint8)


def image_size(path: Path) -> tuple[int, int]:
    """(height, width) of an image file, read from its header (nothing is decoded)."""
    with open_image(path) as img:
        width, height = img.size
    return height, width


def _file_patches(path: str, size: tuple[int, int], u: np.ndarray, k: np.ndarray, scale: int,
                  patch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`cut_patches` of one image file (run in a worker process: only the patches go back)."""
    image = read_rgb(Path(path))
    if image.shape[:2] != tuple(size):
        raise DataError(f"{path}: decoded as {image.shape[1]}x{image.shape[0]} but its header says "
                        f"{size[1]}x{size[0]}")
    return cut_patches(image, u, k, scale, patch_size)


def _init_bank_worker() -> None:
    # one torch thread per worker (imresize runs in torch): the workers are the parallelism, and
    # the parent's thread pool does not survive a fork (torch's DataLoader workers do the same)
    torch.set_num_threads(1)


def patch_bank_from_files(paths: list[Path], opts: SROptions, name: str, workers: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`patch_bank` of the image files ``paths``, bitwise the same, built image by image.

    The draws need only the sizes, read from the headers; then each image that owns a patch is
    decoded once, in one of ``workers`` processes (0 = in this process), its LR image made and its
    patches cut and sent back, and it is dropped. Peak memory is the bank plus one image and its LR
    per worker, whatever the size of the dataset (DIV2K: 800 images of 2040 x ~1400). An image
    that owns no patch is never decoded.
    """
    sizes = [image_size(path) for path in paths]
    draws = draw_patches(sizes, opts, name)
    jobs = draws.by_image()
    hr_out, lr_out = _empty_bank(opts, 3)  # read_rgb: always RGB
    workers = min(workers, len(jobs))
    log.info("%s: reading %d of %d images for %d patches (%s)", name, len(jobs), len(paths), opts.num_patches,
             f"{workers} worker processes" if workers > 0 else "in this process")
    tasks = ((rows, (str(paths[j]), sizes[j], draws.u[rows], draws.k[rows], opts.scale, opts.patch_size))
             for j, rows in jobs)
    if workers <= 0:
        for rows, args in tasks:
            hr_out[rows], lr_out[rows] = _file_patches(*args)
        return torch.from_numpy(hr_out), torch.from_numpy(lr_out)
    pool = ProcessPoolExecutor(workers, mp_context=pool_context(), initializer=_init_bank_worker)
    pending: dict[Future[tuple[np.ndarray, np.ndarray]], np.ndarray] = {}
    try:
        while True:
            # a few images in flight per worker: busy workers, and patches waiting to be copied stay few
            for rows, args in tasks:
                pending[pool.submit(_file_patches, *args)] = rows
                if len(pending) >= 2 * workers:
                    break
            if not pending:
                return torch.from_numpy(hr_out), torch.from_numpy(lr_out)
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                rows = pending.pop(future)
                hr_out[rows], lr_out[rows] = future.result()
    except DataError as exc:
        raise DataError(str(exc)) from None  # the worker's one line, without the pool's traceback
    except BrokenProcessPool as exc:
        raise DataError(f"{name}: a patch-bank worker process died ({exc}); data.workers=0 builds the bank "
                        "in this process") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


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
    hr, lr = patch_bank_from_files(paths, opts, name, opts.workers)
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
