"""UTKFace aligned and cropped faces (``../shared/data/utkface``), labelled by age.

Layout: ``<root>/utkface/crop_part1/*.jpg`` (200x200 RGB), ``labels.csv`` (filename, age, gender,
race) and ``SHA256SUMS``. Without ``labels.csv`` (e.g. the full ``UTKFace/`` folder, chosen with
``data.folder``) the labels are parsed from the file names ``age_gender_race_date.jpg.chip.jpg``.

Decoding ~10k JPEGs takes many seconds on two cores, so the decoded, resized uint8 array is cached
as an .npz (see :func:`gan_bench.data.download.cached_arrays`) keyed by the options and by each
image file's name, size and mtime; checksums are verified only when that cache is (re)built.

Labels: ``y`` is the age in years (classes 0..116, UTKFace's range), or with ``age_bins`` the
Age-cGAN group 0-18, 19-29, 30-39, 40-49, 50-59, 60+ (classes 0..5). ``meta`` keeps ``age``,
``gender`` and ``race`` (-1 where the file name lacks the field) and the file names.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gan_bench.config import Range
from gan_bench.data.base import ArrayDataset, DataError
from gan_bench.data.download import cached_arrays, read_checksum_list, verify_file
from gan_bench.data.idx import check_split
from gan_bench.data.images import decode_images, image_dataset, nhwc_to_nchw, subset_indices
from gan_bench.registry import DATASETS

MAX_AGE = 116
AGE_BIN_EDGES = (19, 30, 40, 50, 60)  # lower bounds of groups 1..5 (Antipov et al., Age-cGAN)
AGE_BIN_NAMES = ("0-18", "19-29", "30-39", "40-49", "50-59", "60+")
_CACHE_VERSION = 1


@dataclass
class UTKFaceOptions:
    """Options of ``utkface``."""

    image_size: int = field(default=64, metadata=Range(4, 1024))
    crop: int = field(default=0, metadata=Range(0, 10_000))  # centred crop (source px) before resizing; 0 = all
    num_examples: int = field(default=0, metadata=Range(0, None))  # 0 = all; else a fixed random subset
    age_bins: bool = False  # y = Age-cGAN's 6 age groups instead of the age in years
    folder: str = "crop_part1"  # image folder under <root>/utkface
    verify: bool = True  # sha256 of each image against SHA256SUMS when the cache is built
    cache: bool = True


def age_to_bin(age: np.ndarray) -> np.ndarray:
    """Age-cGAN group (0..5) of each age: 0-18, 19-29, 30-39, 40-49, 50-59, 60+."""
    return np.digitize(age, AGE_BIN_EDGES).astype(np.int64)


def _int_or_missing(text: str) -> int:
    return int(text) if text.strip() else -1


def read_labels(base: Path, folder: Path) -> tuple[list[str], np.ndarray]:
    """(file names, int64 (N, 3) age/gender/race with -1 for missing) from labels.csv or names."""
    csv_path = base / "labels.csv"
    rows: list[tuple[str, int, int, int]] = []
    if csv_path.is_file():
        try:
            with open(csv_path, newline="") as f:
                for rec in csv.DictReader(f):
                    rows.append(
                        (rec["filename"], int(rec["age"]), _int_or_missing(rec["gender"]), _int_or_missing(rec["race"]))
                    )
        except (KeyError, ValueError, TypeError, csv.Error) as exc:
            raise DataError(f"{csv_path} is malformed ({exc}); expected columns filename,age,gender,race") from None
    else:
        if not folder.is_dir():
            raise DataError(f"utkface: missing {folder.name}/ and labels.csv; put them in {base}")
        for path in sorted(folder.glob("*.jpg")):
            fields = path.name.split("_")
            try:
                age = int(fields[0])
            except ValueError:
                raise DataError(f"utkface: cannot read the age from file name {path}") from None
            if len(fields) >= 4:
                gender, race = (_int_or_missing(p) if p.isdigit() else -1 for p in fields[1:3])
            else:  # a field is missing: trust the second only if it can be a gender (0/1)
                gender = int(fields[1]) if len(fields) == 3 and fields[1] in ("0", "1") else -1
                race = -1
            rows.append((path.name, age, gender, race))
    if not rows:
        raise DataError(f"utkface: no images listed in {csv_path if csv_path.is_file() else folder}")
    names = [r[0] for r in rows]
    labels = np.array([r[1:] for r in rows], dtype=np.int64)
    if labels[:, 0].min() < 0 or labels[:, 0].max() > MAX_AGE:
        raise DataError(f"utkface: ages outside 0..{MAX_AGE} in {csv_path if csv_path.is_file() else folder}")
    return names, labels


def _fingerprint(paths: list[Path]) -> str:
    """A hash of every file's name, size and mtime: what the cached array was decoded from."""
    h = hashlib.sha256()
    for path in paths:
        try:
            st = path.stat()
        except FileNotFoundError:
            raise DataError(f"utkface: missing {path.name}; put it in {path.parent}") from None
        h.update(f"{path.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _verify_images(base: Path, paths: list[Path]) -> None:
    sums_path = base / "SHA256SUMS"
    if not sums_path.is_file():
        return  # the full UTKFace folder has no published checksums
    sums = read_checksum_list(sums_path)
    for path in paths:
        expected = sums.get(path.name) or sums.get(f"{path.parent.name}/{path.name}")
        if expected is None:
            raise DataError(f"{path.name} is not listed in {sums_path}")
        verify_file(path, sha256=expected)


@DATASETS.register("utkface", options=UTKFaceOptions, kind="image", needs_files=True, splits=("train",))
def load_utkface(root: Path, split: str, opts: UTKFaceOptions | None = None) -> ArrayDataset:
    """UTKFace faces, 3 x image_size x image_size, labelled by age (or age group)."""
    opts = opts or UTKFaceOptions()
    check_split("utkface", split, ("train",))
    base = root / "utkface"
    folder = base / opts.folder
    names, labels = read_labels(base, folder)
    keep = subset_indices(len(names), opts.num_examples)
    if keep is not None:
        names, labels = [names[i] for i in keep], labels[keep]
    paths = [folder / name for name in names]
    key = {
        "version": _CACHE_VERSION,
        "folder": str(folder.resolve()),
        "files": _fingerprint(paths),
        "image_size": opts.image_size,
        "crop": opts.crop,
    }

    def build() -> dict[str, np.ndarray]:
        if opts.verify:
            _verify_images(base, paths)
        return {"x": decode_images(paths, opts.image_size, opts.crop)}

    x = cached_arrays("utkface", key, build, enabled=opts.cache)["x"]
    age = labels[:, 0]
    if opts.age_bins:
        y, num_classes = age_to_bin(age), len(AGE_BIN_NAMES)
    else:
        y, num_classes = age.copy(), MAX_AGE + 1
    meta = {
        "age": torch.from_numpy(age.copy()),
        "gender": torch.from_numpy(labels[:, 1].copy()),
        "race": torch.from_numpy(labels[:, 2].copy()),
        "filenames": names,
        "source": str(folder),
        "split": split,
    }
    if opts.age_bins:
        meta["classes"] = list(AGE_BIN_NAMES)
    if keep is not None:
        meta["index"] = torch.from_numpy(keep)
    return image_dataset("utkface", nhwc_to_nchw(x), torch.from_numpy(y), num_classes, meta)


def in_test_split(name: str, fraction: float) -> bool:
    """Whether face file ``name`` is held out: sha256(name) read as a fraction of its range is below
    ``fraction``. UTKFace ships one set; every task gan_bench makes of it (translation, completion)
    holds out the same faces by this rule."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:12], 16) / 16**12 < fraction
