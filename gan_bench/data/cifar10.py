"""CIFAR-10 from the official python batches or from the npz arrays of ``../shared/data/cifar10``.

Sources, in order of precedence for each split (``source: auto``):

1. the official python batches, ``<root>/cifar10/cifar-10-batches-py/`` (or torchvision's
   ``<root>/cifar-10-batches-py/``): ``data_batch_1..5`` for ``train`` (all 50,000 images),
   ``test_batch`` for ``test``;
2. the npz arrays: ``cifar10_train_10k.npz`` (1,000 per class of the training split) for
   ``train``, ``cifar10_test.npz`` (the whole test split) for ``test``.

``download=true`` fetches and unpacks the official archive when neither is present.

The python batches are pickles, but they are read by :class:`BatchUnpickler`, which resolves only
the few globals those files use (numpy array and dtype reconstruction, ``_codecs.encode``): a
crafted batch cannot run code, even with ``verify: false``.
"""

from __future__ import annotations

import _codecs
import io
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan_bench.config import Choice, Range
from gan_bench.data.base import ArrayDataset, DataError
from gan_bench.data.download import ensure_file, extract_archive
from gan_bench.data.idx import SPLITS, check_split
from gan_bench.data.images import image_dataset, nhwc_to_nchw, resize_images, subset_indices
from gan_bench.registry import DATASETS

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
ARCHIVE_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
BATCH_FOLDER = "cifar-10-batches-py"
BATCH_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
NPZ = {"train": "cifar10_train_10k.npz", "test": "cifar10_test.npz"}
NPZ_SHA256 = {
    "cifar10_train_10k.npz": "30c2b7a972e35b00fafb476baef90b4b334b3d7663840ef3d27b8bcce746f536",
    "cifar10_test.npz": "1077bd7b972f6a6d35d2007784f7899c3e4cceb6221461f7218972dd8324706a",
}


def _numpy_reconstructors() -> dict[tuple[str, str], Any]:
    """The functions numpy's own pickles call to rebuild an array, under every module path numpy
    has written them with (``numpy.core`` before 2.0, ``numpy._core`` since)."""
    probe = np.zeros(1, np.uint8)
    reconstruct = probe.__reduce__()[0]  # multiarray._reconstruct (protocols 0-4)
    frombuffer = probe.__reduce_ex__(5)[0]  # numeric._frombuffer (protocol 5)
    found: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for package in ("numpy.core", "numpy._core"):
        found[(f"{package}.multiarray", "_reconstruct")] = reconstruct
        found[(f"{package}.numeric", "_frombuffer")] = frombuffer
    return found


class BatchUnpickler(pickle.Unpickler):
    """An unpickler for CIFAR python batches: dicts, lists, bytes, numbers and numpy arrays only.

    ``find_class`` is the only way a pickle reaches code; anything outside the allow-list (``os.system``
    in a ``__reduce__`` payload, say) is refused before it is looked up.
    """

    _ALLOWED: dict[tuple[str, str], Any] | None = None

    def find_class(self, module: str, name: str) -> Any:
        if BatchUnpickler._ALLOWED is None:
            BatchUnpickler._ALLOWED = {**_numpy_reconstructors(), ("_codecs", "encode"): _codecs.encode}
        try:
            return BatchUnpickler._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name}") from None


def unpickle_batch(raw: bytes) -> Any:
    """``raw`` unpickled with :class:`BatchUnpickler` (bytes keys kept as bytes, as in the official
    Python 2 files)."""
    return BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()


@dataclass
class Cifar10Options:
    """Options of ``cifar10``."""

    image_size: int = field(default=32, metadata=Range(4, 1024))
    num_examples: int = field(default=0, metadata=Range(0, None))  # 0 = all; else a fixed random subset
    source: str = field(default="auto", metadata=Choice("auto", "python", "npz"))
    verify: bool = True  # md5 of python batches / sha256 of the npz files (~0.1 s)
    download: bool = False


def _batch_folder(root: Path, split: str) -> Path | None:
    """The python-batch folder holding any batch of ``split``, in our layout or torchvision's.

    A folder with only some of the training batches is still chosen, so that the missing batch
    is reported rather than silently replaced by the 10k npz subset.
    """
    for folder in (root / "cifar10" / BATCH_FOLDER, root / BATCH_FOLDER):
        if any((folder / name).is_file() for name in BATCHES[split]):
            return folder
    return None


def read_batch(path: Path, verify: bool) -> tuple[np.ndarray, np.ndarray]:
    """One pickled python batch as (uint8 NHWC images, int64 labels); DataError when it is not one."""
    ensure_file(path, dataset="cifar10", md5=BATCH_MD5.get(path.name), verify=verify)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        entry = unpickle_batch(raw)
    except Exception as exc:  # a corrupt or hostile pickle raises many types; none is a bug of ours
        raise DataError(f"{path} is not a CIFAR-10 python batch ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}); replace it") from None
    if not isinstance(entry, dict) or not isinstance(entry.get(b"data"), np.ndarray):
        raise DataError(f"{path} is not a CIFAR-10 python batch (no b'data' array); replace it")
    data = entry[b"data"]
    if data.dtype != np.uint8:  # also refuses object arrays
        raise DataError(f"{path}: expected uint8 data, got {data.dtype}; replace it")
    try:
        labels = np.asarray(entry.get(b"labels", entry.get(b"fine_labels")), dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"{path}: labels are not a list of integers; replace it") from None
    if data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (data.shape[0],):
        raise DataError(f"{path}: expected (N, 3072) data and N labels, got {data.shape} and {labels.shape}")
    # rows are 1024 R, then G, then B values of a 32x32 image
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def read_npz(path: Path, verify: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(uint8 NHWC images, labels, filenames or None) from one of the shared npz files."""
    ensure_file(path, dataset="cifar10", sha256=NPZ_SHA256.get(path.name), verify=verify)
    try:
        with np.load(path, allow_pickle=False) as data:
            x, y = data["x"], data["y"]
            names = data["filenames"] if "filenames" in data.files else None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path} is corrupt or not a CIFAR-10 npz ({exc}); replace it") from None
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (32, 32, 3) or y.shape != (x.shape[0],):
        raise DataError(f"{path}: expected x uint8 (N,32,32,3) and y (N,), got x {x.dtype} {x.shape}, y {y.shape}")
    return x, y.astype(np.int64), names


def _download(root: Path) -> Path:
    """Fetch and unpack the official archive into ``<root>/cifar10``; the batch folder."""
    archive = ensure_file(
        root / "cifar10" / "cifar-10-python.tar.gz",
        dataset="cifar10",
        urls=[ARCHIVE_URL],
        md5=ARCHIVE_MD5,
        download=True,
        verify=True,
    )
    extract_archive(archive, root / "cifar10")
    return root / "cifar10" / BATCH_FOLDER


@DATASETS.register("cifar10", options=Cifar10Options, kind="image", needs_files=True, splits=SPLITS)
def load_cifar10(root: Path, split: str, opts: Cifar10Options | None = None) -> ArrayDataset:
    """CIFAR-10, 3x32x32 (or ``image_size``), labels 0-9 in the standard class order."""
    opts = opts or Cifar10Options()
    check_split("cifar10", split)
    batch_folder = None if opts.source == "npz" else _batch_folder(root, split)
    npz_path = root / "cifar10" / NPZ[split]
    use_npz = batch_folder is None and opts.source != "python" and npz_path.is_file()
    if batch_folder is None and not use_npz:
        if opts.download and opts.source != "npz":
            batch_folder = _download(root)
        elif opts.source == "npz":
            raise DataError(f"cifar10: missing {npz_path.name}; put it in {npz_path.parent}")
        else:
            wanted = f"{BATCH_FOLDER}/" if opts.source == "python" else f"{npz_path.name} or {BATCH_FOLDER}/"
            raise DataError(f"cifar10: missing {wanted}; put it in {npz_path.parent} (or pass data.download=true)")
    names = None
    if batch_folder is not None:
        parts = [read_batch(batch_folder / name, opts.verify) for name in BATCHES[split]]
        x = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts])
        source = str(batch_folder)
    else:
        x, y, names = read_npz(npz_path, opts.verify)
        source = str(npz_path)
    if y.size and (y.min() < 0 or y.max() >= len(CLASSES)):
        raise DataError(f"{source}: labels outside 0..9")
    keep = subset_indices(len(y), opts.num_examples)
    meta = {"classes": list(CLASSES), "source": source, "split": split}
    if keep is not None:
        x, y = x[keep], y[keep]
        names = names[keep] if names is not None else None
        meta["index"] = torch.from_numpy(keep)
    if names is not None:
        meta["filenames"] = names
    images = resize_images(nhwc_to_nchw(x), opts.image_size)
    return image_dataset("cifar10", images, torch.from_numpy(y), len(CLASSES), meta)
