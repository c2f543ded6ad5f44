"""CelebA aligned faces, laid out as the official release under ``<root>/celeba``.

    celeba/img_align_celeba/000001.jpg ... 202599.jpg   (178x218 JPEGs)
    celeba/list_eval_partition.txt                       (needed for train/valid/test)
    celeba/list_attr_celeba.txt                          (needed only for data.label_attr)

Preprocessing follows Lucic et al. 2018 (compare_gan): a centred 160x160 crop resized to 64x64.
Decoded arrays are cached like UTKFace's (the first load of the 162,770 training faces takes
minutes). All of CelebA at 64 px is 2.5 GB of uint8; larger sizes, or a small GPU, stream it
(``data.stream``, :mod:`gan_bench.data.streaming`): the JPEGs are decoded per batch by
``data.workers`` processes instead. CelebA is not in ``../shared/data``; ``download=true``
fetches the official files from Google Drive (needs the ``gdown`` package) and checks their md5.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gan_bench.config import Range
from gan_bench.data.base import ArrayDataset, DataError, DataSpec
from gan_bench.data.download import cached_arrays, extract_archive, verify_file
from gan_bench.data.idx import check_split
from gan_bench.data.images import decode_images, image_dataset, nhwc_to_nchw, subset_indices
from gan_bench.data.streaming import ImageFiles, check_stream_option, stream_images, stream_reason
from gan_bench.registry import DATASETS

SPLITS = ("train", "valid", "test", "all")
_PARTITION = {"train": 0, "valid": 1, "test": 2}
IMAGE_FOLDER = "img_align_celeba"
# (Google Drive file id, md5, name), as published with the dataset
FILES = (
    ("0B7EVK8r0v71pZjFTYXZWM3FlRnM", "00d2c5bc6d35e252742224ab0c1e8fcb", "img_align_celeba.zip"),
    ("0B7EVK8r0v71pY0NSMzRuSXJEVkk", "d32c9cbf5e040fd4025c592c306e6668", "list_eval_partition.txt"),
    ("0B7EVK8r0v71pblRyaVFSWGxPY0U", "75e246fa4810816ffd6ee81facbd244c", "list_attr_celeba.txt"),
)
_CACHE_VERSION = 1


@dataclass
class CelebAOptions:
    """Options of ``celeba``."""

    image_size: int = field(default=64, metadata=Range(4, 1024))
    crop: int = field(default=160, metadata=Range(0, 10_000))  # centred crop (source px); 0 = 178x178 square
    num_examples: int = field(default=0, metadata=Range(0, None))  # 0 = all; else a fixed random subset
    label_attr: str = ""  # e.g. "Male": y = that attribute (0/1); "" = unlabelled
    verify: bool = True  # md5 of the two text files
    cache: bool = True
    download: bool = False
    stream: bool | str = "auto"  # read batches from disk: auto (when over max_memory_gb), true, false
    max_memory_gb: float = field(default=4.0, metadata=Range(0.0, None))  # data.stream=auto's limit
    workers: int = field(default=2, metadata=Range(0, 64))  # streaming: decoding processes (0 = in-process)

    def __post_init__(self) -> None:
        check_stream_option(self.stream)


def _download(base: Path) -> None:
    """Fetch the official files from Google Drive into ``base`` and unpack the images."""
    try:
        from torchvision.datasets.utils import download_file_from_google_drive
    except ImportError:
        raise DataError(f"celeba: downloading needs torchvision; put {IMAGE_FOLDER}/ in {base}") from None
    base.mkdir(parents=True, exist_ok=True)
    for file_id, md5, name in FILES:
        if (base / name).is_file() or (name.endswith(".zip") and (base / IMAGE_FOLDER).is_dir()):
            continue
        try:
            download_file_from_google_drive(file_id, str(base), name, md5)
        except Exception as exc:  # network, quota and gdown errors all mean the same to the user
            raise DataError(f"celeba: cannot download {name} to {base} ({exc}); download it by hand") from None
        verify_file(base / name, md5=md5)
    if not (base / IMAGE_FOLDER).is_dir():
        extract_archive(base / "img_align_celeba.zip", base)


def _read_table(path: Path, has_header: bool) -> tuple[list[str], list[str], np.ndarray]:
    """(column names, file names, int values) of a CelebA list file."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise DataError(f"celeba: missing {path.name}; put it in {path.parent}") from None
    columns: list[str] = []
    if has_header:  # line 1: the count, line 2: attribute names
        columns, lines = lines[1].split(), lines[2:]
    names, values = [], []
    for lineno, line in enumerate(lines, 3 if has_header else 1):
        parts = line.split()
        if not parts:
            continue
        try:
            values.append([int(v) for v in parts[1:]])
        except ValueError:
            raise DataError(f"{path} line {lineno} is malformed") from None
        names.append(parts[0])
    return columns, names, np.array(values, dtype=np.int64)


def _md5_check(path: Path, verify: bool) -> None:
    if verify:
        md5 = {name: m for _, m, name in FILES}[path.name]
        verify_file(path, md5=md5)


@DATASETS.register("celeba", options=CelebAOptions, kind="image", needs_files=True, splits=SPLITS)
def load_celeba(root: Path, split: str, opts: CelebAOptions | None = None) -> ArrayDataset:
    """CelebA faces, 3 x image_size x image_size; labelled by ``label_attr`` when set."""
    opts = opts or CelebAOptions()
    check_split("celeba", split, SPLITS)
    base = root / "celeba"
    folder = base / IMAGE_FOLDER
    if opts.download:
        _download(base)
    if not folder.is_dir():
        raise DataError(f"celeba: missing {IMAGE_FOLDER}/; put it in {base} (or pass data.download=true)")
    if split == "all":
        names = sorted(p.name for p in folder.glob("*.jpg"))
    else:
        part_path = base / "list_eval_partition.txt"
        _, all_names, part = _read_table(part_path, has_header=False)
        _md5_check(part_path, opts.verify)
        names = [n for n, p in zip(all_names, part[:, 0]) if p == _PARTITION[split]]
    if not names:
        raise DataError(f"celeba: no images for split {split!r} in {folder}")
    keep = subset_indices(len(names), opts.num_examples)
    if keep is not None:
        names = [names[i] for i in keep]
    y, num_classes, meta = None, 0, {"filenames": names, "source": str(folder), "split": split}
    if opts.label_attr:
        attr_path = base / "list_attr_celeba.txt"
        columns, attr_names, attrs = _read_table(attr_path, has_header=True)
        _md5_check(attr_path, opts.verify)
        if opts.label_attr not in columns:
            raise DataError(f"celeba: unknown attribute {opts.label_attr!r}; choose one of: {', '.join(columns)}")
        row = {n: i for i, n in enumerate(attr_names)}
        missing = [n for n in names if n not in row]
        if missing:
            raise DataError(f"celeba: {missing[0]} has no attributes in {attr_path}")
        values = attrs[[row[n] for n in names], columns.index(opts.label_attr)]
        y, num_classes = torch.from_numpy((values > 0).astype(np.int64)), 2
        meta["classes"] = [f"not {opts.label_attr}", opts.label_attr]
    paths = [folder / n for n in names]
    if keep is not None:
        meta["index"] = torch.from_numpy(keep)
    size = opts.image_size
    reason = stream_reason(opts.stream, len(paths), (3, size, size), opts.max_memory_gb)
    if reason:
        spec = DataSpec(shape=(3, size, size), kind="image", num_classes=num_classes)
        source = ImageFiles(paths, size, opts.crop, False, (size, size, 3))
        return stream_images("celeba", source, spec, y, meta, opts.workers, reason)
    key = {
        "version": _CACHE_VERSION,
        "folder": str(folder.resolve()),
        # file names only: stat-ing 200k files on every load would cost more than it protects
        "files": hashlib.sha256("\n".join(names).encode()).hexdigest(),
        "image_size": opts.image_size,
        "crop": opts.crop,
    }
    x = cached_arrays("celeba", key, lambda: {"x": decode_images(paths, opts.image_size, opts.crop)}, opts.cache)["x"]
    return image_dataset("celeba", nhwc_to_nchw(x), y, num_classes, meta)
