"""Stacked MNIST mode coverage: the mode arithmetic, the KL, and the shipped classifier on real
stacked digits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from metrics_helpers import mnist

from gan_bench.metrics.stacked_mnist_modes import mode_coverage, mode_ids


def one_hot_logits(digits: np.ndarray) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.from_numpy(digits).long(), 10).float() * 10


def test_mode_index_is_r_g_b_digits():
    ids, num = mode_ids(one_hot_logits(np.array([[3, 0, 7], [0, 0, 0], [9, 9, 9]])))
    assert num == 1000
    assert ids.tolist() == [307, 0, 999]


def test_uniform_and_collapsed_generators():
    every = np.array([[m // 100, m // 10 % 10, m % 10] for m in range(1000)])
    out = mode_coverage(one_hot_logits(np.repeat(every, 2, axis=0)))
    assert out["modes"] == 1000 and out["kl_to_uniform"] == pytest.approx(0.0, abs=1e-12)
    collapsed = mode_coverage(one_hot_logits(np.array([[4, 2, 1]] * 50)))
    assert collapsed["modes"] == 1 and collapsed["kl_to_uniform"] == pytest.approx(math.log(1000))


def test_shipped_classifier_counts_real_stacked_digits():
    """Stack 3000 real test digits into 1000 three-channel samples: the harness's mode of each equals
    the mode of its true labels for >= 97% of samples, and the counts agree."""
    from gan_bench.metrics import weights as W
    from gan_bench.metrics.classifiers import CLASSIFIERS
    from gan_bench.metrics.features import CHANNEL_LOGITS, ClassifierFeatures

    x, y = mnist("test")
    rng = np.random.default_rng(0)
    idx = rng.choice(len(x), (1000, 3), replace=False)
    stacked = torch.from_numpy(x[idx].copy())  # (1000, 3, 28, 28): channel c is digit idx[:, c]
    extractor = ClassifierFeatures(CLASSIFIERS["mnist-classifier"], W.resolve("mnist-classifier"), "cpu")
    logits = extractor(stacked, [CHANNEL_LOGITS])[CHANNEL_LOGITS]
    ids, _ = mode_ids(logits)
    true_ids = torch.from_numpy((y[idx] * np.array([100, 10, 1])).sum(1))
    assert (ids == true_ids).double().mean() >= 0.97
    ours = mode_coverage(logits)["modes"]
    assert abs(ours - len(set(true_ids.tolist()))) <= 15


def test_modes_through_the_cli(tmp_path, capsys):
    import json

    from gan_bench.cli import main

    x, _ = mnist("test")
    idx = np.random.default_rng(1).choice(len(x), (500, 3), replace=False)
    np.savez(tmp_path / "stacked.npz", x=np.moveaxis(x[idx], 1, -1))  # NHWC, a digit per channel
    assert main(["metrics", str(tmp_path / "stacked.npz"), "--metrics", "modes", "--protocol", "mnist-classifier", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 300 < out["modes"] <= 500 and 0 < out["kl_to_uniform"] < math.log(1000)
    assert out["protocol"]["metrics"]["modes"]["samples"] == 500
    assert any("26000" in w for w in out["warnings"])


@pytest.mark.slow
def test_shipped_mnist_classifier_is_reproduced_by_its_command(tmp_path):
    """Re-run the recorded `gan-bench train-classifier mnist` (about 1.5 min on 2 cores): same bytes."""
    import hashlib
    import json
    import shlex

    from metrics_helpers import DATA

    from gan_bench.cli import main
    from gan_bench.metrics.weights import PACKAGE_WEIGHTS_DIR

    record = json.loads((PACKAGE_WEIGHTS_DIR / "mnist-classifier.json").read_text())
    argv = shlex.split(record["command"])[1:]
    argv[argv.index("--out") + 1] = str(tmp_path)
    argv[argv.index("--data-root") + 1] = str(DATA)
    assert main(argv) == 0
    assert hashlib.sha256((tmp_path / "mnist-classifier.safetensors").read_bytes()).hexdigest() == record["sha256"]
