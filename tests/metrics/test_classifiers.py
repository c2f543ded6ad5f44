"""The offline classifiers: shipped weights as recorded, reproducible training, input handling."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from metrics_helpers import mnist

from gan_bench.metrics.classifiers import (
    CLASSIFIERS,
    ClassifierData,
    evaluate,
    load_classifier,
    save_classifier,
    to_model_input,
    train_classifier,
)
from gan_bench.metrics.errors import MetricsInputError
from gan_bench.metrics.weights import PACKAGE_WEIGHTS_DIR

SHIPPED = sorted(p.stem for p in PACKAGE_WEIGHTS_DIR.glob("*.safetensors"))


def test_mnist_classifier_is_shipped():
    assert "mnist-classifier" in SHIPPED


@pytest.mark.parametrize("protocol", SHIPPED)
def test_shipped_weights_match_their_record(protocol):
    path = PACKAGE_WEIGHTS_DIR / f"{protocol}.safetensors"
    record = json.loads((PACKAGE_WEIGHTS_DIR / f"{protocol}.json").read_text())
    assert path.stat().st_size < 2_000_000
    assert hashlib.sha256(path.read_bytes()).hexdigest() == record["sha256"]
    assert record["seed"] == 0 and record["command"].startswith("gan-bench train-classifier ")
    assert 0 < record["test_accuracy"] <= 1
    load_classifier(path)  # no pickle involved: a safetensors file plus JSON metadata


def test_shipped_mnist_classifier_accuracy():
    """>= 99% on the 10,000 MNIST test digits, exactly the accuracy its record states."""
    record = json.loads((PACKAGE_WEIGHTS_DIR / "mnist-classifier.json").read_text())
    model = load_classifier(PACKAGE_WEIGHTS_DIR / "mnist-classifier.safetensors")
    x, y = mnist("test")
    acc = evaluate(model, torch.from_numpy(x.copy())[:, None], torch.from_numpy(y.astype("int64")))
    assert acc >= 0.99
    assert acc == pytest.approx(record["test_accuracy"], abs=1e-4)


def test_training_is_reproducible(tmp_path):
    x, y = mnist("train")
    data = ClassifierData(
        torch.from_numpy(x[:768].copy())[:, None], torch.from_numpy(y[:768].astype("int64")),
        torch.from_numpy(x[768:1024].copy())[:, None], torch.from_numpy(y[768:1024].astype("int64")),
    )  # fmt: skip
    spec = CLASSIFIERS["mnist-classifier"]
    digests = []
    for run, seed in enumerate((0, 0, 1)):
        model, report = train_classifier(spec, data, seed=seed, epochs=1, progress=lambda m: None)
        path = save_classifier(model, spec, tmp_path / str(run), report)
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1] != digests[2]


def test_model_input_channels_and_size():
    gray = torch.full((2, 1, 14, 14), 255, dtype=torch.uint8)
    x = to_model_input(gray, 3, 32)
    assert x.shape == (2, 3, 32, 32) and torch.allclose(x, torch.ones_like(x))
    rgb_gray = gray.expand(-1, 3, -1, -1)
    assert to_model_input(rgb_gray, 1, 28).shape == (2, 1, 28, 28)
    colour = torch.zeros(1, 3, 28, 28, dtype=torch.uint8)
    colour[:, 0] = 200
    with pytest.raises(MetricsInputError, match="colour"):
        to_model_input(colour, 1, 28)


def test_foreign_safetensors_file_is_rejected(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(MetricsInputError, match="not a gan_bench classifier"):
        load_classifier(tmp_path / "other.safetensors")
