"""Shared data for the variant tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gan_bench.data.base import ArrayDataset, load_dataset


@pytest.fixture(scope="module")
def mnist(request: pytest.FixtureRequest) -> ArrayDataset:
    """A fixed subset of the real MNIST training set, of the test module's ``NUM_EXAMPLES`` images
    (skips when the data is absent)."""
    root = Path(os.environ["GAN_BENCH_DATA"])
    if not (root / "mnist").exists():
        pytest.skip(f"MNIST not found under {root}; set GAN_BENCH_DATA")
    return load_dataset("mnist", options={"num_examples": request.module.NUM_EXAMPLES})


@pytest.fixture(scope="module")
def cifar(request: pytest.FixtureRequest) -> ArrayDataset:
    """A fixed subset of the real CIFAR-10 training set, of the test module's ``NUM_EXAMPLES``
    images (skips when the data is absent)."""
    root = Path(os.environ["GAN_BENCH_DATA"])
    if not (root / "cifar10").exists():
        pytest.skip(f"CIFAR-10 not found under {root}; set GAN_BENCH_DATA")
    return load_dataset("cifar10", options={"num_examples": request.module.NUM_EXAMPLES})
