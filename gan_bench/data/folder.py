"""Any folder of images, or any .npz of uint8 images, given by ``data.path``.

Folders: every image under the folder (recursively) is used. When the folder has a sub-folder
named like the split (``train/``, ``test/``) that one is read instead. When every image sits in a
first-level sub-folder, as in torchvision's ImageFolder, ``y`` is the index of that sub-folder in
sorted order (``meta["classes"]`` names them). Decoded folders are cached like UTKFace.

npz files: ``x`` (or ``images``) uint8 of shape (N,H,W,C) or (N,H,W); optional ``y`` (or
``labels``) integer class ids and ``classes`` (their names). The split is ignored for npz files.

A relative ``data.path`` is looked up from the working directory, then under the data root.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gan_bench.config import Range
from gan_bench.data.base import ArrayDataset, DataError
from gan_bench.data.download import cached_arrays
from gan_bench.data.images import decode_images, image_dataset, list_images, nhwc_to_nchw, resize_images, subset_indices
from gan_bench.registry import DATASETS

_CACHE_VERSION = 1


@dataclass
class FolderOptions:
    """Options of ``folder``."""

    path: str = ""  # a folder of images or an .npz file
    image_size: int = field(default=0, metadata=Range(0, 4096))  # 0 = keep the images' own size
    crop: int = field(default=0, metadata=Range(0, 100_000))  # folders: centred crop; 0 = largest square
    grayscale: bool = False  # folders: decode as 1-channel
    labels: bool = True  # folders: class sub-folders give y
    num_examples: int = field(default=0, metadata=Range(0, None))  # 0 = all; else a fixed random subset
    cache: bool = True  # folders: cache decoded arrays


def resolve_path(path: str, root: Path) -> Path:
    """``path`` as given if it exists, else under the data root; DataError naming both if neither."""
    if not path:
        raise DataError("folder: set data.path to a folder of images or an .npz file")
    given = Path(path).expanduser()
    if given.exists():
        return given
    if not given.is_absolute() and (root / given).exists():
        return root / given
    where = str(given) if given.is_absolute() else f"{given.resolve()} or {root / given}"
    raise DataError(f"folder: {where} does not exist; point data.path at a folder of images or an .npz")


def _first_key(files: list[str], *candidates: str) -> str | None:
    return next((k for k in candidates if k in files), None)


def read_image_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """(uint8 NHWC images, int64 labels or None, class names or None) from an .npz file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            files = list(data.files)
            x_key = _first_key(files, "x", "images") or (files[0] if len(files) == 1 else None)
            if x_key is None:
                raise DataError(f"{path} has arrays {', '.join(files)}; name the images 'x'")
            x = data[x_key]
            y_key = _first_key(files, "y", "labels")
            y = data[y_key] if y_key else None
            classes = [str(c) for c in data["classes"]] if "classes" in files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path} is not a readable .npz ({exc})") from None
    if x.dtype != np.uint8:
        raise DataError(f"{path}: images must be uint8 (N,H,W,C), got {x.dtype}")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4):
        raise DataError(f"{path}: images must be uint8 (N,H,W,C) with C in 1, 3, 4; got shape {x.shape}")
    if y is not None:
        if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
            raise DataError(f"{path}: labels must be N non-negative integers, got {y.dtype} {y.shape}")
        y = y.astype(np.int64)
    return x, y, classes


def _class_folders(folder: Path, paths: list[Path]) -> list[str] | None:
    """Class names when every image is in a first-level sub-folder (two or more), else None."""
    rel = [p.relative_to(folder).parts for p in paths]
    if any(len(parts) < 2 for parts in rel):
        return None
    classes = sorted({parts[0] for parts in rel})
    return classes if len(classes) >= 2 else None


def _fingerprint(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        st = path.stat()
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _load_folder(
    folder: Path, split: str, opts: FolderOptions
) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """(uint8 NHWC images, labels or None, class names or None) of a folder, via the cache."""
    if (folder / split).is_dir():
        folder = folder / split
    paths = list_images(folder)
    if not paths:
        raise DataError(f"folder: no images (.png, .jpg, ...) under {folder}")
    classes = _class_folders(folder, paths) if opts.labels else None
    keep = subset_indices(len(paths), opts.num_examples)
    if keep is not None:
        paths = [paths[i] for i in keep]
    y = None
    if classes is not None:
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[p.relative_to(folder).parts[0]] for p in paths], dtype=np.int64)
    key = {
        "version": _CACHE_VERSION,
        "folder": str(folder.resolve()),
        "files": _fingerprint(paths),
        "image_size": opts.image_size,
        "crop": opts.crop,
        "grayscale": opts.grayscale,
    }
    build = lambda: {"x": decode_images(paths, opts.image_size, opts.crop, opts.grayscale)}  # noqa: E731
    x = cached_arrays("folder", key, build, opts.cache)["x"]
    return x, y, classes


@DATASETS.register("folder", options=FolderOptions, kind="image", needs_files=True, splits=None)
def load_folder(root: Path, split: str, opts: FolderOptions | None = None) -> ArrayDataset:
    """Images from ``data.path`` (a folder or an .npz), labelled when the source has labels."""
    opts = opts or FolderOptions()
    path = resolve_path(opts.path, root)
    if path.is_dir():
        x, y, classes = _load_folder(path, split, opts)
        images = nhwc_to_nchw(x)
    else:
        x, y, classes = read_image_npz(path)
        keep = subset_indices(len(x), opts.num_examples)
        if keep is not None:
            x, y = x[keep], (y[keep] if y is not None else None)
        images = nhwc_to_nchw(x)
        if opts.image_size:
            images = resize_images(images, opts.image_size)
    num_classes = 0
    if y is not None:
        num_classes = max(len(classes) if classes else 0, int(y.max()) + 1 if y.size else 0)
    meta = {"source": str(path), "split": split}
    if classes:
        meta["classes"] = classes
    return image_dataset("folder", images, torch.from_numpy(y) if y is not None else None, num_classes, meta)
