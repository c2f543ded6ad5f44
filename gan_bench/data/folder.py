"""Any folder of images, or any .npz of uint8 images, given by ``data.path``.

Folders: every image under the folder (recursively) is used. When the folder has a sub-folder
named like the split (``train/``, ``test/``) that one is read instead. When every image sits in a
first-level sub-folder, as in torchvision's ImageFolder, ``y`` is the index of that sub-folder in
sorted order (``meta["classes"]`` names them). Decoded folders are cached like UTKFace.

npz files: ``x`` (or ``images``) uint8 of shape (N,H,W,C) or (N,H,W); optional ``y`` (or
``labels``) integer class ids and ``classes`` (their names). The split is ignored for npz files.
A ``.npy`` file holds the images alone.

Data larger than memory streams (:mod:`gan_bench.data.streaming`): with ``data.stream=auto`` (the
default) when the decoded images exceed ``data.max_memory_gb``, always with ``true``. Folders are
then decoded per batch by ``data.workers`` processes; npz/npy files are memory-mapped (an .npz
written by ``np.savez``: a compressed one cannot be mapped).

A relative ``data.path`` is looked up from the working directory, then under the data root.
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gan_bench.config import Range
from gan_bench.data.base import ArrayDataset, DataError, DataSpec
from gan_bench.data.download import cached_arrays
from gan_bench.data.images import (
    decode_images,
    image_dataset,
    list_images,
    nhwc_to_nchw,
    read_image,
    resize_images,
    subset_indices,
)
from gan_bench.data.streaming import (
    ImageFiles,
    MemmapImages,
    check_stream_option,
    npy_member,
    stream_images,
    stream_reason,
)
from gan_bench.registry import DATASETS

_CACHE_VERSION = 1
log = logging.getLogger("gan_bench.data")


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
    stream: bool | str = "auto"  # read batches from disk: auto (when over max_memory_gb), true, false
    max_memory_gb: float = field(default=4.0, metadata=Range(0.0, None))  # data.stream=auto's limit
    workers: int = field(default=2, metadata=Range(0, 64))  # streaming: reader processes (0 = in-process)

    def __post_init__(self) -> None:
        check_stream_option(self.stream)


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


def _read_npz(path: Path, images: bool = True) -> tuple[np.ndarray | str | None, np.ndarray | None, list[str] | None]:
    """(images, labels, class names) as stored in an .npz, or (None, None, None) for a .npy;
    ``images=False`` gives the images' key instead of reading them."""
    if path.suffix.lower() == ".npy":
        return (np.load(path, allow_pickle=False) if images else None), None, None
    with np.load(path, allow_pickle=False) as data:
        files = list(data.files)
        x_key = _first_key(files, "x", "images") or (files[0] if len(files) == 1 else None)
        if x_key is None:
            raise DataError(f"{path} has arrays {', '.join(files)}; name the images 'x'")
        y_key = _first_key(files, "y", "labels")
        y = data[y_key] if y_key else None
        classes = [str(c) for c in data["classes"]] if "classes" in files else None
        return (data[x_key] if images else x_key), y, classes


def _check_npz(path: Path, dtype: np.dtype, shape: tuple[int, ...], y: np.ndarray | None) -> np.ndarray | None:
    """DataError unless the images are uint8 (N,H,W[,C]) with C in 1, 3, 4 and the labels N
    non-negative integers; the labels as int64."""
    if dtype != np.uint8:
        raise DataError(f"{path}: images must be uint8 (N,H,W,C), got {dtype}")
    if len(shape) == 3:
        shape = (*shape, 1)
    if len(shape) != 4 or shape[-1] not in (1, 3, 4):
        raise DataError(f"{path}: images must be uint8 (N,H,W,C) with C in 1, 3, 4; got shape {shape}")
    if y is not None:
        if y.shape != (shape[0],) or not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
            raise DataError(f"{path}: labels must be N non-negative integers, got {y.dtype} {y.shape}")
        y = y.astype(np.int64)
    return y


def read_image_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """(uint8 NHWC images, int64 labels or None, class names or None) from an .npz (or .npy) file."""
    try:
        x, y, classes = _read_npz(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path} is not a readable .npz ({exc})") from None
    assert isinstance(x, np.ndarray)
    y = _check_npz(path, x.dtype, x.shape, y)
    return (x[..., None] if x.ndim == 3 else x), y, classes


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


def _list_folder(
    folder: Path, split: str, opts: FolderOptions
) -> tuple[Path, list[Path], np.ndarray | None, list[str] | None]:
    """(the folder read, its image files, labels or None, class names or None)."""
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
    return folder, paths, y, classes


def _load_folder(folder: Path, paths: list[Path], opts: FolderOptions) -> np.ndarray:
    """The uint8 NHWC images of ``paths`` (listed from ``folder``), via the cache."""
    key = {
        "version": _CACHE_VERSION,
        "folder": str(folder.resolve()),
        "files": _fingerprint(paths),
        "image_size": opts.image_size,
        "crop": opts.crop,
        "grayscale": opts.grayscale,
    }
    build = lambda: {"x": decode_images(paths, opts.image_size, opts.crop, opts.grayscale)}  # noqa: E731
    return cached_arrays("folder", key, build, opts.cache)["x"]


def _stream_folder(paths: list[Path], opts: FolderOptions) -> tuple[ImageFiles, str] | None:
    """(the files to stream, why) when ``data.stream`` streams this folder, else None."""
    if opts.stream in (False, "false"):
        return None
    if opts.image_size:  # the loader's output size, known without decoding
        hwc = (opts.image_size, opts.image_size, 1 if opts.grayscale else 3)
    else:
        hwc = read_image(paths[0], 0, opts.crop, opts.grayscale).shape
    reason = stream_reason(opts.stream, len(paths), (hwc[2], hwc[0], hwc[1]), opts.max_memory_gb)
    return (ImageFiles(paths, opts.image_size, opts.crop, opts.grayscale, hwc), reason) if reason else None


def _stream_npz(path: Path, opts: FolderOptions) -> tuple[MemmapImages, np.ndarray | None, list[str] | None, str] | None:
    """(memory-mapped images, labels, class names, why) when ``data.stream`` streams this
    .npz/.npy, else None; the images are checked as :func:`read_image_npz` checks them."""
    if opts.stream in (False, "false"):
        return None
    try:
        key, y, classes = _read_npz(path, images=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path} is not a readable .npz ({exc})") from None
    offset, dtype, shape, fortran, compressed = npy_member(path, key if isinstance(key, str) else None)
    y = _check_npz(path, dtype, shape, y)
    keep = subset_indices(shape[0], opts.num_examples)
    source = MemmapImages(path, offset, shape, rows=keep, size=opts.image_size)
    reason = stream_reason(opts.stream, len(source), source.chw, opts.max_memory_gb)
    if reason is None:
        return None
    if compressed or fortran:
        why = f"{path}: a compressed .npz (np.savez_compressed) cannot be memory-mapped for streaming"
        if opts.stream == "auto":  # as before streaming existed: read it all
            log.warning("%s; reading it into memory (%s). Save it with np.savez or as .npy to stream it", why, reason)
            return None
        raise DataError(f"{why}; save it with np.savez or as .npy, or set data.stream=false")
    if keep is not None and y is not None:
        y = y[keep]
    return source, y, classes, reason


@DATASETS.register("folder", options=FolderOptions, kind="image", needs_files=True, splits=None)
def load_folder(root: Path, split: str, opts: FolderOptions | None = None) -> ArrayDataset:
    """Images from ``data.path`` (a folder or an .npz), labelled when the source has labels."""
    opts = opts or FolderOptions()
    path = resolve_path(opts.path, root)
    stream: tuple | None = None
    if path.is_dir():
        folder, paths, y, classes = _list_folder(path, split, opts)
        stream = _stream_folder(paths, opts)
        if stream is None:
            images = nhwc_to_nchw(_load_folder(folder, paths, opts))
    else:
        planned = _stream_npz(path, opts)
        if planned is not None:
            source, y, classes, reason = planned
            stream = (source, reason)
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
    labels = torch.from_numpy(y) if y is not None else None
    if stream is not None:
        source, reason = stream
        spec = DataSpec(shape=source.chw, kind="image", num_classes=num_classes)
        return stream_images("folder", source, spec, labels, meta, opts.workers, reason)
    return image_dataset("folder", images, labels, num_classes, meta)
