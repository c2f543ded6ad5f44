"""The conditional metrics (class accuracy, intra-class FID) and InfoGAN's code-to-class matching,
on real MNIST test images whose labels are known, right or deliberately wrong."""

from __future__ import annotations

import math

import pytest
import torch

from gan_bench.data.base import ArrayDataset, load_dataset
from gan_bench.metrics.conditional import (
    code_to_class_accuracy,
    evaluate_conditional,
    intra_class_fid,
    intra_class_kid,
    reference_labels,
)
from gan_bench.metrics.training_eval import _extractor, _features, _reference_features
from gan_bench.registry import METRICS
from gan_bench.variants.base import Sample

P = "mnist-classifier"


@pytest.fixture(scope="module")
def mnist_train() -> ArrayDataset:
    return load_dataset("mnist", options={"num_examples": 600})


@pytest.fixture(scope="module")
def mnist_test() -> tuple[torch.Tensor, torch.Tensor]:
    batch = load_dataset("mnist", "test", options={"num_examples": 500}).batch(torch.arange(500))
    return batch["x"], batch["y"]


def test_registered_as_a_default_image_metric_that_needs_labels():
    meta = METRICS.entry("conditional").meta
    assert meta["default"] and meta["kinds"] == ("image",) and meta["needs"] == ("y",)


def test_code_matching_finds_the_permutation():
    classes = torch.arange(1000) % 10
    codes = (classes * 3 + 1) % 10  # a permutation of the labels
    assert code_to_class_accuracy(codes, classes, 10, 10) == 1.0
    noisy = codes.clone()
    noisy[:100] = (noisy[:100] + 1) % 10  # 10% of samples moved to another code
    assert code_to_class_accuracy(noisy, classes, 10, 10) == pytest.approx(0.9)
    one_code = torch.zeros(1000, dtype=torch.long)  # all samples under one code: one class matched
    assert code_to_class_accuracy(one_code, classes, 10, 10) == pytest.approx(0.1)


def test_intra_class_fid_is_zero_for_identical_classes_and_skips_empty_ones():
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(300, 4, generator=gen)
    y = torch.arange(300) % 3
    assert intra_class_fid(feats, y, feats, y, 3) == pytest.approx(0.0, abs=1e-6)
    shifted = intra_class_fid(feats + 1.0, y, feats, y, 3)
    assert shifted == pytest.approx(4.0, rel=1e-6)  # |mu difference|^2 = 4 * 1^2 in every class
    assert intra_class_fid(feats, y, feats, y, 4) == pytest.approx(0.0, abs=1e-6)  # class 3 has none
    assert math.isnan(intra_class_fid(feats[:1], y[:1], feats, y, 3))


def test_intra_class_kid_is_the_mean_of_per_class_kids():
    from gan_bench.metrics.kid import kernel_distance

    gen = torch.Generator().manual_seed(1)
    real = torch.randn(600, 8, generator=gen, dtype=torch.float64)
    y = torch.arange(600) % 3
    fake = real + torch.tensor([0.0, 0.5, 2.0], dtype=torch.float64)[y][:, None]  # class 2 far off
    per_class = [kernel_distance(fake[y == k], real[y == k], subsets=100, subset_size=200)[0] for k in range(3)]
    assert intra_class_kid(fake, y, real, y, 3) == pytest.approx(sum(per_class) / 3, rel=1e-9)
    assert abs(per_class[0]) < per_class[1] < per_class[2]  # unbiased: about 0 for the same class
    assert math.isnan(intra_class_kid(fake[:1], y[:1], real, y, 3))


def test_reference_labels_belong_to_the_reference_features(mnist_train: ArrayDataset):
    extractor = _extractor("mnist")
    real = _reference_features(mnist_train, extractor)
    labels = reference_labels(mnist_train)
    assert labels.shape == (real.shape[0],)
    for k in (0, 7):
        own = mnist_train.x[mnist_train.y == k]
        own_feats = _features(extractor, own, "pool")  # uint8 images, as the reference
        mine = real[labels == k]
        assert mine.shape[0] == own_feats.shape[0]
        # the same examples (in another order): equal sums of features
        assert torch.allclose(mine.sum(0), own_feats.sum(0), rtol=1e-4, atol=1e-3)


def test_real_images_with_their_labels_score_high_and_wrong_labels_low(mnist_train, mnist_test):
    x, y = mnist_test
    right = evaluate_conditional(Sample(x=x, y=y), mnist_train)
    assert set(right) == {f"class_acc[{P}]", f"fid_intra[{P}]", f"kid_intra[{P}]"}
    assert right[f"class_acc[{P}]"] > 0.95  # the classifier's test accuracy is 99.5%
    wrong = evaluate_conditional(Sample(x=x, y=(y + 1) % 10), mnist_train)
    assert wrong[f"class_acc[{P}]"] < 0.05
    assert wrong[f"fid_intra[{P}]"] > 3 * right[f"fid_intra[{P}]"]


def test_no_scores_without_labels_or_classifier(mnist_train, mnist_test):
    x, y = mnist_test
    assert evaluate_conditional(Sample(x=x), mnist_train) == {}
    no_labels = ArrayDataset(name="mnist", x=mnist_train.x, spec=mnist_train.spec)
    assert evaluate_conditional(Sample(x=x, y=y), no_labels) == {}
    no_classifier = ArrayDataset(name="unknown", x=mnist_train.x, spec=mnist_train.spec, y=mnist_train.y)
    assert evaluate_conditional(Sample(x=x, y=y), no_classifier) == {}
