"""MNIST and Fashion-MNIST from the original gzipped idx files.

Files are looked for in ``<root>/mnist`` (``<root>/fashion_mnist``), the layout of
``../shared/data``, then in torchvision's ``<root>/MNIST/raw`` (``FashionMNIST/raw``); both the
``.gz`` files and unpacked idx files are accepted. ``verify`` (default on: hashing the 10 MB
training file takes ~30 ms) checks each .gz against its published checksum; a corrupt or
truncated gzip is caught by its CRC either way. ``download=true`` fetches missing files from the
publishers' mirrors and checks their md5 first.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gan_bench.config import Choice, Range
from gan_bench.data.base import ArrayDataset, DataError
from gan_bench.data.download import ensure_file
from gan_bench.data.images import image_dataset, resize_images, subset_indices
from gan_bench.registry import DATASETS

SPLITS = ("train", "test")
_PREFIX = {"train": "train", "test": "t10k"}


@dataclass(frozen=True)
class IdxSource:
    """Where one idx dataset lives and how to check it: {file name: (sha256, md5)}."""

    name: str
    folder: str  # under the data root, as in ../shared/data
    torchvision_folder: str  # torchvision's layout, <root>/<this>/raw
    mirrors: tuple[str, ...]
    checksums: dict[str, tuple[str, str]]
    classes: tuple[str, ...]


MNIST = IdxSource(
    name="mnist",
    folder="mnist",
    torchvision_folder="MNIST",
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    checksums={
        "train-images-idx3-ubyte.gz": (
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        ),
        "train-labels-idx1-ubyte.gz": (
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "d53e105ee54ea40749a09fcbcd1e9432",
        ),
        "t10k-images-idx3-ubyte.gz": (
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "9fb629c4189551a2d022fa330f9573f3",
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            "ec29112dd5afa0611ce80d1b7f02629c",
        ),
    },
    classes=tuple(str(d) for d in range(10)),
)

FASHION_MNIST = IdxSource(
    name="fashion_mnist",
    folder="fashion_mnist",
    torchvision_folder="FashionMNIST",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    checksums={
        "train-images-idx3-ubyte.gz": (
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        ),
        "train-labels-idx1-ubyte.gz": (
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "25c81989df183df01b3e8a0aad5dffbe",
        ),
        "t10k-images-idx3-ubyte.gz": (
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "bef4ecab320f06d8554ea6380940ec79",
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            "bb300cfdad3c16e7a12a480ee83cd310",
        ),
    },
    classes=(
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
)


@dataclass
class IdxOptions:
    """Options of ``mnist`` and ``fashion_mnist``."""

    image_size: int = field(default=28, metadata=Range(4, 1024))  # e.g. 32 for DCGAN-32
    resize: str = field(default="bilinear", metadata=Choice("bilinear", "pad"))  # how 28 -> image_size
    num_examples: int = field(default=0, metadata=Range(0, None))  # 0 = all; else a fixed random subset
    verify: bool = True  # sha256 of each .gz (~30 ms for the training images)
    download: bool = False  # fetch missing files from the publisher (never in tests)


def check_split(dataset: str, split: str, splits: tuple[str, ...] = SPLITS) -> None:
    """DataError unless ``split`` is one ``dataset`` has."""
    if split not in splits:
        raise DataError(f"{dataset} has splits {', '.join(splits)}; got {split!r}")


def parse_idx(data: bytes, path: Path) -> np.ndarray:
    """The uint8 array in an (uncompressed) idx blob; DataError naming ``path`` if malformed."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{path} is not a uint8 idx file (bad magic number); replace it with the original")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path} is truncated (incomplete idx header); replace it with the original")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        raise DataError(f"{path} holds {len(data)} bytes but its header says {expected}; replace it with the original")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read_idx_file(path: Path) -> np.ndarray:
    """A gzipped (``.gz``) or plain idx file as a uint8 array; corrupt files raise DataError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
            raise DataError(f"{path} is corrupt or truncated ({exc}); replace it with the original") from None
    return parse_idx(raw, path)


def _locate(root: Path, source: IdxSource, name: str, verify: bool, download: bool) -> Path:
    """The file ``name`` (or its unpacked twin) in one of the known layouts, else fetched/DataError."""
    folders = (root / source.folder, root / source.torchvision_folder / "raw")
    for folder in folders:
        for candidate in (folder / name, folder / name.removesuffix(".gz")):
            if candidate.is_file():
                if candidate.suffix != ".gz":
                    return candidate  # unpacked: no published checksum to compare with
                sha256, md5 = source.checksums[name]
                return ensure_file(candidate, dataset=source.name, sha256=sha256, md5=md5, verify=verify)
    sha256, md5 = source.checksums[name]
    return ensure_file(
        folders[0] / name,
        dataset=source.name,
        urls=[m + name for m in source.mirrors],
        sha256=sha256,
        md5=md5,
        download=download,
        verify=verify,
    )


def read_split(
    root: Path, source: IdxSource, split: str, verify: bool = True, download: bool = False
) -> tuple[np.ndarray, np.ndarray, Path]:
    """(images uint8 (N,28,28), labels uint8 (N,), folder) of one split, checked for consistency."""
    check_split(source.name, split)
    prefix = _PREFIX[split]
    img_path = _locate(root, source, f"{prefix}-images-idx3-ubyte.gz", verify, download)
    lbl_path = _locate(root, source, f"{prefix}-labels-idx1-ubyte.gz", verify, download)
    images, labels = read_idx_file(img_path), read_idx_file(lbl_path)
    if images.ndim != 3 or labels.ndim != 1:
        raise DataError(f"{img_path} / {lbl_path}: expected (N,H,W) images and (N,) labels")
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{img_path} has {images.shape[0]} images but {lbl_path} has {labels.shape[0]} labels")
    if labels.size and labels.max() >= len(source.classes):
        raise DataError(f"{lbl_path} has label {labels.max()} outside 0..{len(source.classes) - 1}")
    return images, labels, img_path.parent


def _load(source: IdxSource, root: Path, split: str, opts: IdxOptions | None) -> ArrayDataset:
    opts = opts or IdxOptions()
    images, labels, folder = read_split(root, source, split, opts.verify, opts.download)
    keep = subset_indices(len(labels), opts.num_examples)
    if keep is not None:
        images, labels = images[keep], labels[keep]
    x = torch.from_numpy(images.copy()).unsqueeze(1)  # copy: frombuffer arrays are read-only
    x = resize_images(x, opts.image_size, opts.resize)
    meta = {"classes": list(source.classes), "source": str(folder), "split": split}
    if keep is not None:
        meta["index"] = torch.from_numpy(keep)  # rows of the original split, for reproducibility
    return image_dataset(source.name, x, torch.from_numpy(labels.astype(np.int64)), len(source.classes), meta)


@DATASETS.register("mnist", options=IdxOptions, kind="image", needs_files=True, splits=SPLITS)
def load_mnist(root: Path, split: str, opts: IdxOptions | None = None) -> ArrayDataset:
    """MNIST digits, 1x28x28 (or ``image_size``), labels 0-9."""
    return _load(MNIST, root, split, opts)


@DATASETS.register("fashion_mnist", options=IdxOptions, kind="image", needs_files=True, splits=SPLITS)
def load_fashion_mnist(root: Path, split: str, opts: IdxOptions | None = None) -> ArrayDataset:
    """Fashion-MNIST (Zalando), 1x28x28 (or ``image_size``), 10 clothing classes."""
    return _load(FASHION_MNIST, root, split, opts)
