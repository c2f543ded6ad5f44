"""Metric inputs: turn an INPUT string into a stream of uint8 NCHW image batches.

An INPUT is one of

- an image folder: every image file under it, class sub-folders included, sorted by path, exactly
  the files training reads (:func:`gan_bench.data.images.list_images`), decoded to RGB as
  torch-fidelity and clean-fid do; a folder holding a run's ``config.yaml`` is a run directory;
- an ``.npz`` file holding one uint8 array of images, NHWC (``(N,H,W,3)``, ``(N,H,W,1)`` or ``(N,H,W)``),
  and optionally their integer class labels ``y`` (or ``labels``), shape ``(N,)``;
- a dataset split ``NAME:SPLIT`` (``mnist:test``), loaded by :func:`gan_bench.data.base.load_dataset`,
  with its labels when the dataset has them;
- a run directory from ``gan-bench train`` (or ``run:PATH``): samples are drawn from its generator
  and streamed to the feature extractor batch by batch, never written to disk. A class-conditional
  run's samples carry the labels they were generated for (class-balanced: sample i gets class
  i mod K), recorded while they stream.

Class labels (:meth:`ImageInput.labels`) are what the class-conditional metrics read (class
accuracy, intra-class FID/KID, LPIPS per class); an input without them says why in one line
(:meth:`ImageInput.no_labels_reason`).

``--num N`` takes the first N images of a finite input (an error if it has fewer) and sets how
many samples a run directory generates. Generated floats in [-1, 1] are quantised to uint8 exactly
as ``torchvision.utils.save_image`` would write them, so a streamed run scores like its saved PNGs.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gan_bench.data.base import DataError
from gan_bench.data.images import IMAGE_SUFFIXES, list_images, open_image
from gan_bench.metrics.errors import MetricsInputError

IMAGE_EXTENSIONS = frozenset(IMAGE_SUFFIXES)
DEFAULT_LABEL_BATCH = 250  # samples per batch when a run is drawn only to learn its labels
MIN_IMAGES = 2  # every metric needs two samples at least (FID's covariance, k-NN radii, pairs)
LOSSY_EXTENSIONS = frozenset({".jpg", ".jpeg", ".webp"})
RUN_MARKER = "config.yaml"  # what gan_bench.train.runs.is_run_dir checks
DEFAULT_RUN_SAMPLES = 10_000
NPZ_KEYS = ("x", "images", "samples", "imgs", "arr_0")
NPZ_LABEL_KEYS = ("y", "labels")


def float_to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> uint8 in [0, 255], rounding like ``torchvision.utils.save_image``."""
    return ((x.detach().float().clamp(-1.0, 1.0) + 1.0) * 127.5 + 0.5).clamp_(0, 255).to(torch.uint8)


class ImageInput(ABC):
    """A finite or generated set of images, read in uint8 NCHW batches."""

    def __init__(self, spec: str, kind: str) -> None:
        self.spec = spec
        self.kind = kind

    @abstractmethod
    def __len__(self) -> int:
        """How many images :meth:`batches` yields in total."""

    @abstractmethod
    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """uint8 tensors (B, C, H, W), C in {1, 3}, in a fixed order."""

    def content_hash(self) -> str | None:
        """sha256 of exactly the images used (order included); None when not cacheable (runs)."""
        return None

    def describe(self) -> dict[str, Any]:
        """What goes into the protocol object for this input."""
        return {"input": self.spec, "kind": self.kind, "num": len(self)}

    def has_labels(self) -> bool:
        """Whether :meth:`labels` gives class labels (cheap: never draws samples)."""
        return False

    def labels(self) -> torch.Tensor | None:
        """Class labels (long, (N,)) of the images in :meth:`batches` order, or None."""
        return None

    @property
    def num_classes(self) -> int | None:
        """How many classes the labels range over when the input declares it (a dataset's or a
        conditional run's K), else None (then the labels' maximum + 1 is all that is known)."""
        return None

    def no_labels_reason(self) -> str:
        """Why this input has no class labels, as a clause for a one-line error."""
        return (f"{self.spec} ({self.kind}) carries no class labels; give a labelled dataset split like "
                "mnist:test or an .npz with a 'y' array of labels")

    def gather(self, indices: np.ndarray, batch_size: int = 256) -> torch.Tensor:
        """The images at ``indices`` (in that order), collected in one streaming pass."""
        want = np.asarray(indices, dtype=np.int64)
        if want.size and (want.min() < 0 or want.max() >= len(self)):
            raise MetricsInputError(f"image index out of range for {self.spec} ({len(self)} images)")
        needed = np.unique(want)
        found: dict[int, torch.Tensor] = {}
        start = 0
        for batch in self.batches(batch_size):
            stop = start + batch.shape[0]
            lo, hi = np.searchsorted(needed, [start, stop])
            for i in needed[lo:hi]:
                found[int(i)] = batch[int(i) - start].clone()
            start = stop
            if len(found) == len(needed):
                break
        return torch.stack([found[int(i)] for i in want]) if want.size else torch.empty(0, dtype=torch.uint8)


class ArrayInput(ImageInput):
    """Images held in memory as one uint8 NCHW tensor (an ``.npz`` or a dataset split)."""

    def __init__(
        self,
        spec: str,
        kind: str,
        x: torch.Tensor,
        extra: dict[str, Any] | None = None,
        y: torch.Tensor | None = None,
        num_classes: int | None = None,
    ) -> None:
        super().__init__(spec, kind)
        if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] not in (1, 3):
            raise MetricsInputError(f"{spec}: expected uint8 images (N, C, H, W) with C 1 or 3, got {x.dtype} {tuple(x.shape)}")
        self.x = x.contiguous()
        self.y = None if y is None else check_labels(y, x.shape[0], spec, num_classes)
        self._num_classes = num_classes
        self.extra = dict(extra or {})
        self._hash: str | None = None

    def has_labels(self) -> bool:
        return self.y is not None

    def labels(self) -> torch.Tensor | None:
        return self.y

    @property
    def num_classes(self) -> int | None:
        return self._num_classes if self.has_labels() else None

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        for i in range(0, len(self), batch_size):
            yield self.x[i : i + batch_size]

    def gather(self, indices: np.ndarray, batch_size: int = 256) -> torch.Tensor:
        return self.x[torch.as_tensor(np.asarray(indices, dtype=np.int64))]

    def content_hash(self) -> str:
        if self._hash is None:
            h = hashlib.sha256(f"uint8 {tuple(self.x.shape)}".encode())
            h.update(self.x.numpy().tobytes())
            self._hash = h.hexdigest()
        return self._hash

    def describe(self) -> dict[str, Any]:
        y = self.y  # labels loaded (an .npz's only once a metric asked for them)
        labelled = {} if y is None or not len(y) else {"labelled": True, "num_classes": self.num_classes or int(y.max()) + 1}
        return {**super().describe(), "shape": list(self.x.shape[1:]), **labelled, **self.extra}


class NpzInput(ArrayInput):
    """The images of an ``.npz``; its labels (``y`` or ``labels``) are read and checked only when a
    metric asks for them, so a file with other arrays beside the images still scores as before."""

    def __init__(self, spec: str, x: torch.Tensor, path: Path, total: int) -> None:
        super().__init__(spec, "npz", x)
        self.path = path
        self.total = total  # images in the file (labels are checked against all of them)
        with np.load(path, allow_pickle=False) as data:
            self._label_key = next((k for k in NPZ_LABEL_KEYS if k in data.keys()), None)

    def has_labels(self) -> bool:
        return self._label_key is not None

    def labels(self) -> torch.Tensor | None:
        if self.y is None and self._label_key is not None:
            y = load_npz_labels(self.path, self.total)
            if y is not None:
                self.y = check_labels(torch.from_numpy(y[: len(self)].astype(np.int64)), len(self), self.spec)
        return self.y


class FolderInput(ImageInput):
    """The image files directly inside a folder, sorted by name, decoded to RGB."""

    def __init__(self, spec: str, files: list[Path]) -> None:
        super().__init__(spec, "folder")
        self.files = files
        self._hash: str | None = None
        self._shape: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, path: Path) -> np.ndarray:
        try:
            with open_image(path) as img:
                arr = np.asarray(img.convert("RGB"))
        except DataError as exc:
            raise MetricsInputError(str(exc)) from None
        except (OSError, ValueError) as exc:
            raise MetricsInputError(f"cannot read image {path}: {exc}") from None
        if self._shape is None:
            self._shape = arr.shape[:2]
        elif arr.shape[:2] != self._shape:
            raise MetricsInputError(
                f"{path} is {arr.shape[1]}x{arr.shape[0]} but the first image of {self.spec} is "
                f"{self._shape[1]}x{self._shape[0]}; all images of an input must have one size"
            )
        return arr

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        for i in range(0, len(self.files), batch_size):
            arrs = np.stack([self._load(p) for p in self.files[i : i + batch_size]])
            yield torch.from_numpy(arrs).permute(0, 3, 1, 2).contiguous()

    def content_hash(self) -> str:
        if self._hash is None:
            h = hashlib.sha256(b"folder-rgb")
            for p in self.files:
                h.update(p.name.encode() + b"\0")
                with open(p, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
            self._hash = h.hexdigest()
        return self._hash

    def describe(self) -> dict[str, Any]:
        lossy = any(p.suffix.lower() in LOSSY_EXTENSIONS for p in self.files)
        return {**super().describe(), "lossy_files": lossy}

    def no_labels_reason(self) -> str:
        return (f"{self.spec} is an image folder, which carries no class labels; give a labelled dataset split "
                "like mnist:test or an .npz with 'x' images and 'y' labels")


class RunInput(ImageInput):
    """Samples of a trained run's generator, drawn lazily in batches (never written to disk).

    A class-conditional run's samples come with the labels they were generated for
    (``RunHandle.samples``); a full pass over :meth:`batches` records them for :meth:`labels`."""

    def __init__(self, spec: str, run_dir: Path, num: int, seed: int, device: str) -> None:
        super().__init__(spec, "run")
        self.run_dir = run_dir
        self.num = num
        self.seed = seed
        self.device = device
        self.step: int | None = None  # the checkpoint's generator step, known once opened
        self._handle: Any = None
        self._labels: torch.Tensor | None = None
        self._labels_key: tuple[int, int] | None = None  # (num, seed) the recorded labels belong to

    def __len__(self) -> int:
        return self.num

    def open(self) -> Any:
        """The run's :class:`~gan_bench.train.runs.RunHandle`, loaded once."""
        if self._handle is None:
            from gan_bench.train.runs import open_run  # imported here: only runs need the trainer

            self._handle = open_run(self.run_dir, self.device)
            self.step = getattr(self._handle, "step", None)
        return self._handle

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        handle = self.open()
        labels: list[torch.Tensor] = []
        with torch.inference_mode():
            for sample in handle.samples(self.num, batch_size, self.seed):
                x = sample.x
                if x.dim() != 4 or x.shape[1] not in (1, 3):
                    raise MetricsInputError(f"run {self.run_dir} generates {tuple(x.shape)} tensors, not images")
                if getattr(sample, "y", None) is not None:
                    labels.append(sample.y.detach().long().cpu())
                yield float_to_uint8(x).cpu()
        # only a complete pass (gather stops early) tells every sample's label
        if labels and sum(len(t) for t in labels) == self.num:
            self._labels, self._labels_key = torch.cat(labels), (self.num, self.seed)

    def _variant(self) -> Any:
        return getattr(self.open(), "variant", None)

    def has_labels(self) -> bool:
        return bool(getattr(self._variant(), "num_classes", 0))

    @property
    def num_classes(self) -> int | None:
        return int(getattr(self._variant(), "num_classes", 0)) or None

    def labels(self) -> torch.Tensor | None:
        if not self.has_labels():
            return None
        if self._labels_key != (self.num, self.seed):
            for _ in self.batches(DEFAULT_LABEL_BATCH):  # not streamed yet: one pass records them
                pass
        if self._labels_key != (self.num, self.seed):
            raise MetricsInputError(f"run {self.run_dir}: its samples carry no labels although its variant is class-conditional")
        return self._labels

    def no_labels_reason(self) -> str:
        variant = self._variant()
        name = getattr(getattr(variant, "cfg", None), "variant", None) or type(variant).__name__
        return (f"run {self.run_dir} is of variant {name!r}, which is not class-conditional "
                "(its samples are drawn without class labels)")

    def describe(self) -> dict[str, Any]:
        out = {**super().describe(), "seed": self.seed, "checkpoint_step": self.step, "quantised": "uint8, as save_image"}
        if self._handle is not None and self.has_labels():
            out.update(labelled=True, num_classes=self.num_classes, labels="class-balanced, as asked for (RunHandle.samples)")
        return out


# --------------------------------------------------------------------------- parsing


def _looks_like_run(folder: Path) -> bool:
    return (folder / RUN_MARKER).is_file()


def load_npz_images(path: Path) -> np.ndarray:
    """The uint8 NHWC image array of an ``.npz`` (key x/images/samples/imgs/arr_0, or its only array)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = list(data.keys())
            key = next((k for k in NPZ_KEYS if k in keys), keys[0] if len(keys) == 1 else None)
            arr = data[key] if key is not None else None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else f"{type(exc).__name__}, an empty or truncated file"
        raise MetricsInputError(f"cannot read {path} as .npz: {reason}") from None
    if arr is None:
        raise MetricsInputError(f"{path} holds arrays {keys or 'none'}; name the images 'x' (or 'images')")
    if arr.dtype != np.uint8:
        raise MetricsInputError(f"{path}: images must be uint8 in [0, 255], got {arr.dtype}")
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim not in (4, 5) or arr.shape[-1] not in (1, 3):
        raise MetricsInputError(f"{path}: expected uint8 images NHWC with 1 or 3 channels, got shape {arr.shape}")
    return arr


def load_npz_labels(path: Path, n: int) -> np.ndarray | None:
    """The class labels ``y`` (or ``labels``) stored beside the images of an ``.npz``, or None."""
    try:
        with np.load(path, allow_pickle=False) as data:
            key = next((k for k in NPZ_LABEL_KEYS if k in data.keys()), None)
            if key is None:
                return None
            y = data[key]
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MetricsInputError(f"cannot read the labels of {path}: {reason}") from None
    if y.ndim != 1 or y.shape[0] != n:
        raise MetricsInputError(f"{path}: labels {key!r} must have shape ({n},), one per image, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise MetricsInputError(f"{path}: labels {key!r} must be integers, got {y.dtype}")
    return y


def check_labels(y: torch.Tensor, n: int, spec: str, num_classes: int | None = None) -> torch.Tensor:
    """``y`` as long (N,) class indices in [0, num_classes), or a one-line error."""
    if y.dim() != 1 or y.shape[0] != n or y.is_floating_point() or y.is_complex():
        raise MetricsInputError(f"{spec}: expected {n} integer class labels, got {y.dtype} {tuple(y.shape)}")
    y = y.long().cpu()
    if n and int(y.min()) < 0:
        raise MetricsInputError(f"{spec}: class labels must be non-negative, found {int(y.min())}")
    if n and num_classes is not None and int(y.max()) >= num_classes:
        raise MetricsInputError(f"{spec}: class label {int(y.max())} is out of range for {num_classes} classes")
    return y


def _take(x: torch.Tensor, num: int | None, spec: str) -> torch.Tensor:
    if num is None:
        return x
    if num > x.shape[0]:
        raise MetricsInputError(f"{spec} has {x.shape[0]} images, fewer than --num {num}")
    return x[:num]


def _dataset_input(spec: str, name: str, split: str, num: int | None, data_root: str | None) -> ArrayInput:
    from gan_bench.data.base import load_dataset

    ds = load_dataset(name, split, data_root)
    if ds.spec.kind != "image" or ds.x.dtype != torch.uint8:
        raise MetricsInputError(f"{spec} is not an image dataset (kind {ds.spec.kind}, dtype {ds.x.dtype})")
    x = _take(ds.x[:num].cpu(), num, spec)  # a streamed dataset reads only these rows
    y = None if ds.y is None else ds.y.cpu()[: x.shape[0]]
    k = ds.spec.num_classes or None
    return ArrayInput(spec, "dataset", x, {"dataset": name, "split": split}, y=y, num_classes=k if y is not None else None)


def resolve_input(
    text: str,
    *,
    num: int | None = None,
    data_root: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    seed: int = 0,
) -> ImageInput:
    """Parse an INPUT string (see the module docstring) into an :class:`ImageInput`."""
    if num is not None and num < 1:
        raise MetricsInputError(f"--num must be positive, got {num}")
    if text.startswith("run:"):
        run_dir = Path(text[4:]).expanduser()
        if not run_dir.is_dir():
            raise MetricsInputError(f"run directory {run_dir} does not exist")
        return RunInput(text, run_dir, num or DEFAULT_RUN_SAMPLES, seed, device)
    path = Path(text).expanduser()
    if path.is_dir():
        if _looks_like_run(path):  # before listing: a run keeps sample PNGs under samples/
            return RunInput(text, path, num or DEFAULT_RUN_SAMPLES, seed, device)
        files = list_images(path)
        if files:
            if num is not None:
                if num > len(files):
                    raise MetricsInputError(f"{text} has {len(files)} images, fewer than --num {num}")
                files = files[:num]
            return FolderInput(text, files)
        raise MetricsInputError(
            f"{text} holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) and is not a run directory"
        )
    if path.is_file():
        if path.suffix.lower() != ".npz":
            raise MetricsInputError(f"{text} is a file but not an .npz of uint8 images")
        arr = load_npz_images(path)
        if arr.ndim != 4:
            raise MetricsInputError(f"{text}: a 5-D array is a grouped (conditional) input; use --lpips-mode conditional")
        x = torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).contiguous()
        return NpzInput(text, _take(x, num, text), path, x.shape[0])
    name, sep, split = text.partition(":")
    if sep and name and split:
        from gan_bench.registry import DATASETS

        if name in DATASETS:
            return _dataset_input(text, name, split, num, data_root)
        raise MetricsInputError(
            f"{text!r}: no file or folder of that name, and {name!r} is not a dataset "
            f"(datasets: {', '.join(DATASETS.names())})"
        )
    raise MetricsInputError(
        f"{text!r} is not an image folder, an .npz file, a run directory or a dataset split like mnist:test"
    )


# --------------------------------------------------------------------------- grouped inputs (conditional LPIPS)


def resolve_grouped_input(text: str, num_groups: int | None = None) -> Iterator[torch.Tensor]:
    """Groups of samples that share one conditioning input, each a uint8 (S, C, H, W) tensor.

    ``text`` is a folder of sub-folders (one per input, the samples inside sorted by name) or an
    ``.npz`` whose array is (K, S, H, W, C). ``num_groups`` takes the first K groups.
    """
    path = Path(text).expanduser()
    if path.is_dir():
        subdirs = sorted(p for p in path.iterdir() if p.is_dir())
        if not subdirs:
            raise MetricsInputError(f"{text}: conditional LPIPS needs one sub-folder of samples per input")
        if num_groups is not None:
            subdirs = subdirs[:num_groups]
        for sub in subdirs:
            files = list_images(sub)
            if len(files) < 2:
                raise MetricsInputError(f"{sub} holds {len(files)} images; each input needs at least 2 samples")
            yield next(FolderInput(str(sub), files).batches(len(files)))
        return
    if path.is_file() and path.suffix.lower() == ".npz":
        arr = load_npz_images(path)
        if arr.ndim != 5:
            raise MetricsInputError(f"{text}: conditional LPIPS needs a (K, S, H, W, C) array, got {arr.shape}")
        if num_groups is not None:
            arr = arr[:num_groups]
        for group in arr:
            yield torch.from_numpy(np.ascontiguousarray(group)).permute(0, 3, 1, 2).contiguous()
        return
    raise MetricsInputError(f"{text!r}: conditional LPIPS takes a folder of per-input sub-folders or a 5-D .npz")
