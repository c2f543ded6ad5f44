"""Training-time image scores: protocol-named domain FID/KID, and Stacked MNIST modes."""

from pathlib import Path

import torch

from gan_bench.data.base import load_dataset
from gan_bench.metrics.training_eval import evaluate_classifier_scores


def test_real_images_score_far_better_than_noise(data_root: Path):
    train = load_dataset("mnist", "train", data_root, {"num_examples": 2000})
    test = load_dataset("mnist", "test", data_root, {"num_examples": 300})
    real = test.batch(torch.arange(300))["x"]
    noise = torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    good = evaluate_classifier_scores(real, train)
    bad = evaluate_classifier_scores(noise, train)
    assert set(good) == {"fid[mnist-classifier]", "kid_mean[mnist-classifier]", "kid_std[mnist-classifier]"}
    assert good["fid[mnist-classifier]"] < 0.1 * bad["fid[mnist-classifier]"]
    assert good["kid_mean[mnist-classifier]"] < bad["kid_mean[mnist-classifier]"]


def test_stacked_mnist_modes_of_real_data(data_root: Path):
    stacked = load_dataset("stacked_mnist", "train", data_root, {"num_examples": 2000})
    real = stacked.batch(torch.arange(2000))["x"]
    out = evaluate_classifier_scores(real, stacked)
    # 2000 draws from 1000 near-uniform modes cover about 1000 * (1 - e^-2) = 865 of them.
    assert 780 <= out["modes"] <= 950
    assert out["kl_to_uniform"] < 0.6


def test_datasets_without_a_classifier_get_no_scores():
    from gan_bench.data.base import ArrayDataset, DataSpec

    ds = ArrayDataset("folder", torch.zeros(4, 3, 8, 8, dtype=torch.uint8), DataSpec((3, 8, 8), "image"))
    assert evaluate_classifier_scores(torch.zeros(4, 3, 8, 8), ds) == {}


def test_reference_cache_follows_the_pixels_not_the_name(data_root: Path):
    """MNIST padded and MNIST resized share name, length and shape; their scores must differ."""
    from gan_bench.data.base import ArrayDataset, DataSpec

    x = load_dataset("mnist", "test", data_root, {"num_examples": 200}).x
    spec = DataSpec(tuple(x.shape[1:]), "image", 10)
    plain = ArrayDataset("mnist", x.clone(), spec)
    shifted = ArrayDataset("mnist", torch.roll(x, shifts=3, dims=-1), spec)  # same size, other pixels
    samples = plain.batch(torch.arange(100))["x"]
    a = evaluate_classifier_scores(samples, plain)["fid[mnist-classifier]"]
    b = evaluate_classifier_scores(samples, shifted)["fid[mnist-classifier]"]
    again = evaluate_classifier_scores(samples, ArrayDataset("mnist", x.clone(), spec))["fid[mnist-classifier]"]
    assert a != b
    assert again == a  # same content: the cached features are reused
