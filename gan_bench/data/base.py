"""The in-memory dataset every loader returns, and where datasets are found on disk.

A loader registered in ``DATASETS`` is a function ``load(root: Path, split: str, opts) -> ArrayDataset``.
Everything gan_bench trains on fits in memory (MNIST-size data always fits on the device), so a
dataset is one tensor of examples plus optional labels, and batches are index lookups: training
never waits on a DataLoader.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

DEFAULT_DATA_ROOT = Path("~/.cache/gan_bench/data").expanduser()


class DataError(RuntimeError):
    """A dataset file is missing or corrupt; the message names the file and where to put it."""


@dataclass(frozen=True)
class DataSpec:
    """What a network needs to know about the data it models.

    ``shape`` is one example's shape: ``(2,)`` for points, ``(C, H, W)`` for images.
    """

    shape: tuple[int, ...]
    kind: Literal["points", "image"]
    num_classes: int = 0

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


@dataclass
class ArrayDataset:
    """Examples held as one tensor (``x``), with optional integer labels (``y``).

    Images are stored as uint8 NCHW to save memory and converted to float in [-1, 1] per batch
    by :meth:`batch`; points are stored as float32 and returned as they are.
    """

    name: str
    x: torch.Tensor
    spec: DataSpec
    y: torch.Tensor | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: torch.device | str) -> ArrayDataset:
        """Move the whole dataset to ``device`` (it is small enough to live there)."""
        self.x = self.x.to(device)
        if self.y is not None:
            self.y = self.y.to(device)
        return self

    def batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """The examples at ``index`` as a dict: ``x`` (float), ``index`` (the rows, for per-example
        side data such as StackGAN's embeddings) and, when labelled, ``y`` (long)."""
        index = index.to(self.x.device)
        x = self.x[index]
        if x.dtype == torch.uint8:
            x = x.float().div_(127.5).sub_(1.0)
        out = {"x": x, "index": index}
        if self.y is not None:
            out["y"] = self.y[index].long()
        return out


def data_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data root: ``explicit`` (``--data-root``), else ``$GAN_BENCH_DATA``, else the cache dir."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("GAN_BENCH_DATA")
    if env:
        return Path(env).expanduser()
    return DEFAULT_DATA_ROOT


def load_dataset(
    name: str,
    split: str = "train",
    root: str | os.PathLike[str] | None = None,
    options: dict[str, Any] | None = None,
) -> ArrayDataset:
    """Load registered dataset ``name`` (its options validated) from the data root.

    Raises :class:`DataError` naming the missing file and where to put it.
    """
    from gan_bench.config import from_mapping
    from gan_bench.registry import DATASETS

    entry = DATASETS.entry(name)
    opts_cls = entry.meta.get("options")
    opts = from_mapping(opts_cls, options or {}, prefix="data.") if opts_cls else None
    return entry.obj(data_root(root), split, opts)
