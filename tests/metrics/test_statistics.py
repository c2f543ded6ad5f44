"""The numeric cores against the reference libraries on the same features / statistics:
Frechet distance vs clean-fid and torch-fidelity, KID and IS vs torch-fidelity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from metrics_helpers import mnist, rel

from gan_bench.metrics.frechet import frechet_distance, frechet_distance_from_features, gaussian_statistics
from gan_bench.metrics.inception_score import inception_score
from gan_bench.metrics.kid import kernel_distance


def projected(images: np.ndarray, dim: int, seed: int = 0) -> np.ndarray:
    """Continuous features of real digits: pixels in [0, 1] through a fixed Gaussian projection,
    scaled so x.y/d is ~0.3 like Inception pool features (KID's kernel then sits in its usual range)."""
    rng = np.random.default_rng(seed)
    proj = rng.standard_normal((images[0].size, dim)) / np.sqrt(images[0].size)
    feats = np.abs(images.reshape(len(images), -1).astype(np.float64) / 255.0 @ proj)
    return (feats / np.sqrt((feats**2).mean()) * 0.55).astype(np.float32)


@pytest.fixture(scope="module")
def digits():
    test_x, test_y = mnist("test")
    train_x, train_y = mnist("train")
    return test_x, test_y, train_x, train_y


@pytest.fixture(scope="module")
def full_rank_stats(digits):
    """Statistics of 1500 vs 1500 real digits in 196 dimensions (full-rank covariances)."""
    test_x, _, train_x, _ = digits
    a = projected(test_x[:1500], 196)
    b = projected(train_x[:1500], 196)
    return gaussian_statistics(torch.from_numpy(a)), gaussian_statistics(torch.from_numpy(b))


def test_frechet_matches_clean_fid(full_rank_stats):
    from cleanfid.fid import frechet_distance as clean_fd

    (mu1, s1), (mu2, s2) = full_rank_stats
    ours = frechet_distance(mu1, s1, mu2, s2)
    assert ours > 0
    assert rel(ours, float(clean_fd(mu1, s1, mu2, s2))) < 1e-6


def test_frechet_matches_torch_fidelity_statistics(full_rank_stats):
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    (mu1, s1), (mu2, s2) = full_rank_stats
    theirs = fid_statistics_to_metric({"mu": mu1, "sigma": s1}, {"mu": mu2, "sigma": s2}, False)
    assert rel(frechet_distance(mu1, s1, mu2, s2), theirs["frechet_inception_distance"]) < 1e-6


def test_frechet_closed_form():
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2 for N(0, 1) and N(1, 4): 1 + 1 = 2
    assert frechet_distance(np.array([0.0]), np.array([[1.0]]), np.array([1.0]), np.array([[4.0]])) == pytest.approx(2.0, abs=1e-12)
    mu, s = np.zeros(5), np.diag(np.arange(1.0, 6.0))
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-10)


def test_low_sample_fid_path_equals_the_statistics_path(digits):
    """Fewer samples than dimensions: the nuclear-norm shortcut equals the d x d computations (ours and
    torch-fidelity's, whose singular covariances leave sqrt(rounding) noise from their null spaces)."""
    test_x, _, train_x, _ = digits
    a, b = projected(test_x[:40], 256), projected(train_x[:50], 256, seed=0)
    s1, s2 = gaussian_statistics(a), gaussian_statistics(b)
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    theirs = fid_statistics_to_metric({"mu": s1[0], "sigma": s1[1]}, {"mu": s2[0], "sigma": s2[1]}, False)
    assert rel(frechet_distance_from_features(a, b), frechet_distance(*s1, *s2)) < 1e-6
    assert rel(frechet_distance_from_features(a, b), theirs["frechet_inception_distance"]) < 1e-6


def test_kid_matches_torch_fidelity(digits):
    from torch_fidelity.metric_kid import kid_features_to_metric

    test_x, test_y, train_x, train_y = digits
    f1 = torch.from_numpy(projected(test_x[test_y == 1][:400], 128))
    f2 = torch.from_numpy(projected(train_x[train_y == 0][:300], 128))
    theirs = kid_features_to_metric(f1, f2, kid_subsets=30, kid_subset_size=200, verbose=False)
    mean, std = kernel_distance(f1, f2, subsets=30, subset_size=200)
    assert mean > 0.01  # well away from 0, see below
    assert rel(mean, theirs["kernel_inception_distance_mean"]) < 1e-5
    assert rel(std, theirs["kernel_inception_distance_std"]) < 1e-5


def test_kid_near_zero_differs_only_by_float32_rounding(digits):
    """Two samples of one distribution: KID ~ 0 is a difference of nearly equal kernel means, and
    torch-fidelity's float32 sums set its last digits. The harness sums in float64; the gap to
    torch-fidelity stays below the float32 resolution of those means, far below KID's own spread."""
    from torch_fidelity.metric_kid import kid_features_to_metric

    test_x, _, train_x, _ = digits
    f1 = torch.from_numpy(projected(test_x[:400], 128))
    f2 = torch.from_numpy(projected(train_x[:400], 128))
    theirs = kid_features_to_metric(f1, f2, kid_subsets=30, kid_subset_size=200, verbose=False)
    mean, std = kernel_distance(f1, f2, subsets=30, subset_size=200)
    kernel_scale = float(((f1 @ f2.T).double().mean() / f1.shape[1] + 1) ** 3)
    assert abs(mean - theirs["kernel_inception_distance_mean"]) < 20 * np.finfo(np.float32).eps * kernel_scale
    assert abs(mean - theirs["kernel_inception_distance_mean"]) < 1e-3 * std


def test_kid_float64_is_exact_on_a_tiny_case():
    """Hand-computable: one-dimensional features, subsets are the whole sets."""
    x = np.array([[0.0], [1.0], [2.0]])
    y = np.array([[1.0], [3.0], [5.0]])
    k = lambda a, b: (a * b + 1.0) ** 3  # noqa: E731  (gamma = 1/d = 1)
    xx = sum(k(x[i, 0], x[j, 0]) for i in range(3) for j in range(3) if i != j) / 6
    yy = sum(k(y[i, 0], y[j, 0]) for i in range(3) for j in range(3) if i != j) / 6
    xy = sum(k(x[i, 0], y[j, 0]) for i in range(3) for j in range(3)) / 9
    mean, std = kernel_distance(x, y, subsets=3, subset_size=3)
    assert mean == pytest.approx(xx + yy - 2 * xy, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_matches_torch_fidelity():
    from torch_fidelity.metric_isc import isc_features_to_metric

    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(250, 1008, generator=gen) * 3
    theirs = isc_features_to_metric(logits, splits=10, shuffle=True, rng_seed=2020)
    mean, std = inception_score(logits, splits=10, seed=2020)
    assert mean == pytest.approx(theirs["inception_score_mean"], rel=1e-12)
    assert std == pytest.approx(theirs["inception_score_std"], rel=1e-12)
    assert mean > 1.5  # sharp random logits: a non-trivial score


def test_inception_score_bounds():
    # identical predictions -> IS 1; one-hot over K balanced classes -> IS K
    assert inception_score(torch.zeros(40, 10), splits=4)[0] == pytest.approx(1.0)
    one_hot = torch.eye(8).repeat(5, 1) * 50.0
    assert inception_score(one_hot, splits=1)[0] == pytest.approx(8.0, rel=1e-6)
