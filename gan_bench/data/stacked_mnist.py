"""Stacked MNIST: three independent MNIST digits as the R, G and B channels (1000 modes).

The mode-collapse benchmark of Metz et al. (unrolled GAN), VEEGAN and PacGAN: PacGAN trains on
128k such images and counts how many of the 1000 digit triples a generator covers. The images
are made deterministically from ``seed`` (the same seed gives the same dataset everywhere), from
MNIST's training digits for ``train`` and its test digits for ``test``.

Labels: ``y`` = the mode id ``100*d_R + 10*d_G + d_B``; ``meta["digits"]`` holds the three digits
and ``meta["index"]`` the MNIST rows each channel came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gan_bench.config import Choice, Range
from gan_bench.data.base import ArrayDataset
from gan_bench.data.idx import MNIST, SPLITS, read_split
from gan_bench.data.images import image_dataset, resize_images
from gan_bench.registry import DATASETS

NUM_MODES = 1000


@dataclass
class StackedMnistOptions:
    """Options of ``stacked_mnist``."""

    num_examples: int = field(default=128_000, metadata=Range(1, 10**7))  # PacGAN: 128k
    seed: int = field(default=0, metadata=Range(0, 2**63 - 1))
    image_size: int = field(default=28, metadata=Range(4, 1024))
    resize: str = field(default="bilinear", metadata=Choice("bilinear", "pad"))
    verify: bool = True
    download: bool = False


def mode_ids(digits: torch.Tensor) -> torch.Tensor:
    """Mode ids 100*d0 + 10*d1 + d2 of an (N, 3) tensor of channel digits."""
    d = digits.long()
    return 100 * d[:, 0] + 10 * d[:, 1] + d[:, 2]


def stack_digits(
    images: torch.Tensor, labels: torch.Tensor, num_examples: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x uint8 (N,3,H,W), digits (N,3), source rows (N,3)) from (M,1,H,W) MNIST images.

    Each channel is an independent uniform draw of an MNIST row, so every mode has probability
    ~1/1000 (the digit frequencies of MNIST are close to, not exactly, uniform).
    """
    gen = torch.Generator().manual_seed(seed)
    rows = torch.randint(0, images.shape[0], (num_examples, 3), generator=gen)
    x = images[:, 0][rows]  # (N, 3, H, W): advanced indexing gathers the three channels at once
    return x, labels[rows], rows


@DATASETS.register(
    "stacked_mnist", options=StackedMnistOptions, kind="image", needs_files=True, splits=SPLITS
)
def load_stacked_mnist(root: Path, split: str, opts: StackedMnistOptions | None = None) -> ArrayDataset:
    """``num_examples`` 3xHxW images of three MNIST digits, 1000 classes (digit triples)."""
    opts = opts or StackedMnistOptions()
    images, labels, folder = read_split(root, MNIST, split, opts.verify, opts.download)
    # resize the 60k source digits once rather than the 128k stacked images
    mnist = resize_images(torch.from_numpy(images.copy()).unsqueeze(1), opts.image_size, opts.resize)
    x, digits, rows = stack_digits(mnist, torch.from_numpy(labels.astype(np.int64)), opts.num_examples, opts.seed)
    meta = {
        "digits": digits.to(torch.uint8),
        "index": rows.to(torch.int32),
        "num_modes": NUM_MODES,
        "seed": opts.seed,
        "source": str(folder),
        "split": split,
    }
    return image_dataset("stacked_mnist", x, mode_ids(digits), NUM_MODES, meta)
