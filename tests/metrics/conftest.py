"""Fixtures for the metric-harness tests: real MNIST/CIFAR images, stand-in weights, an offline,
isolated environment (no downloads, empty weight and feature caches)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from metrics_helpers import mnist, write_pngs


@pytest.fixture(autouse=True)
def offline_isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never download; empty torch hub / weights / feature caches for every test."""
    monkeypatch.setenv("GAN_BENCH_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("GAN_BENCH_METRICS_CACHE", str(tmp_path / "feature_cache"))
    monkeypatch.delenv("GAN_BENCH_WEIGHTS_DIR", raising=False)


@pytest.fixture(scope="session")
def standin_inception(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeded random Inception-v3 weights in torch-fidelity's format (the official file is absent),
    made by `gan-bench weights --make-standin`."""
    from gan_bench.cli import main

    path = tmp_path_factory.mktemp("weights") / "standin-inception.pth"
    assert main(["weights", "--make-standin", "inception-fidelity", str(path), "--seed", "0"]) == 0
    return path


@pytest.fixture(scope="session")
def mnist_folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two small sets of real MNIST digits as PNG folders: 24 test digits 1/7 and 24 train digits 0/8.

    Thin against round strokes keep KID (~0.04 here) well away from 0, where it is a difference of
    nearly equal kernel means and float32 rounding (torch-fidelity's) decides its last digits; that
    regime has its own absolute-tolerance test in test_kid_is.py.
    """
    root = tmp_path_factory.mktemp("mnist_png")
    test_x, test_y = mnist("test")
    train_x, train_y = mnist("train")
    a = test_x[np.isin(test_y, (1, 7))][:24]
    b = train_x[np.isin(train_y, (0, 8))][:24]
    return write_pngs(root / "a", a), write_pngs(root / "b", b)


@pytest.fixture(scope="session")
def mnist_npz(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two .npz inputs (uint8 NHWC) of 600 MNIST test and 700 MNIST train digits."""
    root = tmp_path_factory.mktemp("mnist_npz")
    test_x, _ = mnist("test")
    train_x, _ = mnist("train")
    a, b = root / "fake.npz", root / "real.npz"
    np.savez(a, x=test_x[:600, :, :, None])
    np.savez(b, x=train_x[:700, :, :, None])
    return a, b


@pytest.fixture(scope="session")
def tiny_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained (seeded) MNIST-architecture classifier file: fast, for harness plumbing tests."""
    from gan_bench.metrics.classifiers import CLASSIFIERS, SmallCNN, save_classifier

    spec = CLASSIFIERS["mnist-classifier"]
    torch.manual_seed(0)
    model = SmallCNN(spec.arch_config()).eval()
    out = tmp_path_factory.mktemp("tiny_classifier")
    return save_classifier(model, spec, out, {"test_accuracy": None, "seed": 0, "note": "untrained test fixture"})
