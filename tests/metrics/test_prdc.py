"""Precision/recall and density/coverage equal the reference ``prdc`` package (and torch-fidelity's
``prc``) on the same features."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from metrics_helpers import mnist

from gan_bench.metrics import prdc as P


@pytest.fixture(scope="module")
def features():
    """Continuous features (random projection of real digits; no distance ties): fake = 300 test
    digits, real = 400 train digits, deliberately mismatched in class mix."""
    test_x, test_y = mnist("test")
    train_x, _ = mnist("train")
    proj = np.random.default_rng(0).standard_normal((784, 64))
    fake = test_x[test_y < 6][:300].reshape(300, -1) / 255.0 @ proj
    real = train_x[:400].reshape(400, -1) / 255.0 @ proj
    return fake, real


def test_precision_recall_match_prdc(features):
    import prdc

    fake, real = features
    ref = prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=3)
    ours = P.prdc(torch.from_numpy(fake), torch.from_numpy(real), prc_k=3, which=("prc",))
    assert 0 < ours["precision"] < 1 and 0 < ours["recall"] < 1
    assert ours["precision"] == pytest.approx(ref["precision"], abs=1e-12)
    assert ours["recall"] == pytest.approx(ref["recall"], abs=1e-12)


def test_density_coverage_match_prdc(features):
    import prdc

    fake, real = features
    ref = prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=5)
    ours = P.prdc(torch.from_numpy(fake), torch.from_numpy(real), dc_k=5, which=("dc",))
    assert 0 < ours["coverage"] < 1 and ours["density"] > 0
    assert ours["density"] == pytest.approx(ref["density"], abs=1e-12)
    assert ours["coverage"] == pytest.approx(ref["coverage"], abs=1e-12)


def test_precision_recall_match_torch_fidelity(features):
    from torch_fidelity.metric_prc import prc_features_to_metric

    fake, real = features
    theirs = prc_features_to_metric(torch.from_numpy(fake), torch.from_numpy(real), prc_neighborhood=3, prc_batch_size=10000, save_cpu_ram=False, verbose=False)
    ours = P.prdc(torch.from_numpy(fake), torch.from_numpy(real), prc_k=3, which=("prc",))
    assert ours["precision"] == pytest.approx(theirs["precision"], abs=1e-7)
    assert ours["recall"] == pytest.approx(theirs["recall"], abs=1e-7)


def test_blocked_computation_is_exact(features, monkeypatch):
    """Row blocks (for 50k x 50k) give exactly the unblocked answer."""
    fake, real = (torch.from_numpy(f) for f in features)
    whole = P.prdc(fake, real)
    monkeypatch.setattr(P, "BLOCK", 37)
    assert P.prdc(fake, real) == whole


def test_identical_sets_are_perfect():
    x = torch.randn(50, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = P.prdc(x, x.clone())
    assert out["precision"] == out["recall"] == out["coverage"] == 1.0
