"""Stacked MNIST built from the real MNIST files."""

from __future__ import annotations

from pathlib import Path

import torch

from gan_bench.data.base import load_dataset
from gan_bench.data.stacked_mnist import StackedMnistOptions


def test_deterministic_per_seed_and_labels_match_the_channels(data_root: Path) -> None:
    opts = {"num_examples": 4000, "seed": 3, "verify": False}
    a = load_dataset("stacked_mnist", "train", data_root, opts)
    b = load_dataset("stacked_mnist", "train", data_root, opts)
    c = load_dataset("stacked_mnist", "train", data_root, {**opts, "seed": 4})
    assert a.x.shape == (4000, 3, 28, 28) and a.x.dtype == torch.uint8 and a.spec.num_classes == 1000
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.y, c.y)

    digits = a.meta["digits"].long()
    assert torch.equal(a.y, 100 * digits[:, 0] + 10 * digits[:, 1] + digits[:, 2])
    assert 0 <= int(a.y.min()) and int(a.y.max()) <= 999
    # each channel is the MNIST training image (and digit) the metadata names
    mnist = load_dataset("mnist", "train", data_root, {"verify": False})
    rows = a.meta["index"].long()
    for ch in range(3):
        assert torch.equal(a.x[:, ch], mnist.x[rows[:, ch], 0])
        assert torch.equal(digits[:, ch], mnist.y[rows[:, ch]])


def test_covers_nearly_all_1000_modes_and_resizes(data_root: Path) -> None:
    ds = load_dataset("stacked_mnist", "test", data_root, {"num_examples": 10000, "image_size": 32})
    assert ds.x.shape == (10000, 3, 32, 32) and ds.meta["split"] == "test"
    # 10k uniform draws over 1000 modes miss ~0.05 modes on average
    assert len(torch.unique(ds.y)) >= 995
    counts = torch.bincount(ds.y, minlength=1000)
    assert counts.max() < 35  # no mode is heavily over-represented (mean 10)


def test_default_is_pacgans_128k() -> None:
    assert StackedMnistOptions().num_examples == 128_000
