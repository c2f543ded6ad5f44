"""legacy-tf = torch-fidelity: the harness's FID, KID, IS (and PR) equal torch-fidelity's own
``calculate_metrics`` on the same real MNIST images and the same (stand-in) Inception weights.

The harness runs in NCHW (torch-fidelity's own computation: every number within 1e-5, IS
bit-exact) and with its CPU default, channels-last convolutions (faster; they round differently,
so the spread of IS split scores is held to 1e-4 there). Statistics and kernels are float64 in the
harness, float32 in torch-fidelity; agreement to 1e-5 on KID holds because the two sets differ
(digits 1/7 vs 0/8); for near-identical sets see test_statistics.py.
"""

from __future__ import annotations

import json

import pytest
from metrics_helpers import rel

from gan_bench.metrics.family import MetricOptions
from gan_bench.metrics.harness import HarnessConfig, compute_metrics

KID_SUBSETS, KID_SUBSET_SIZE = 50, 12


@pytest.fixture(scope="module")
def theirs(mnist_folders, standin_inception):
    """torch-fidelity's own numbers for the two folders of 24 MNIST digits."""
    import torch_fidelity

    a, b = mnist_folders
    return torch_fidelity.calculate_metrics(
        input1=str(a),
        input2=str(b),
        cuda=False,
        isc=True,
        fid=True,
        kid=True,
        prc=True,
        feature_extractor="inception-v3-compat",
        feature_layer_prc="2048",  # PR on the same Inception pool features (its default is VGG16)
        feature_extractor_weights_path=str(standin_inception),
        kid_subsets=KID_SUBSETS,
        kid_subset_size=KID_SUBSET_SIZE,
        cache=False,
        save_cpu_ram=True,
        verbose=False,
    )


@pytest.fixture(scope="module", params=[True, False], ids=["channels_last", "nchw"])
def ours(request, mnist_folders, standin_inception):
    """gan_bench's numbers for the same folders, with the CPU default (channels-last) and in NCHW."""
    a, b = mnist_folders
    cfg = HarnessConfig(
        metrics=["fid", "kid", "is", "prc"],
        protocol="legacy-tf",
        inception_weights=str(standin_inception),
        cache=False,
        device="cpu",
        batch_size=24,
        channels_last=request.param,
        options=MetricOptions(kid_subsets=KID_SUBSETS, kid_subset_size=KID_SUBSET_SIZE),
    )
    return compute_metrics(str(a), str(b), cfg)


@pytest.fixture
def both(ours, theirs):
    return ours, theirs


@pytest.mark.parametrize(
    "ours_key, theirs_key",
    [
        ("fid", "frechet_inception_distance"),
        ("kid_mean", "kernel_inception_distance_mean"),
        ("kid_std", "kernel_inception_distance_std"),
        ("is_mean", "inception_score_mean"),
        ("is_std", "inception_score_std"),
    ],
)
def test_matches_torch_fidelity(both, ours_key, theirs_key):
    ours, theirs = both
    assert abs(theirs[theirs_key]) > 0
    tolerance = 1e-5
    if ours["protocol"]["memory_format"] == "channels_last" and ours_key == "is_std":
        # channels-last convolutions move the logits by ~1e-5 relative; the spread of 10 split
        # scores of 2-3 images each amplifies that to a few 1e-5 (NCHW: bit-exact, test below)
        tolerance = 1e-4
    assert rel(ours[ours_key], theirs[theirs_key]) < tolerance, (ours[ours_key], theirs[theirs_key])


def test_nchw_inception_score_is_bit_exact(mnist_folders, standin_inception, theirs):
    """In NCHW the harness runs torch-fidelity's network exactly as torch-fidelity does: IS is identical.
    (Channels-last convolutions, the CPU default, round differently: ~1e-5 relative on logits.)"""
    a, _ = mnist_folders
    cfg = HarnessConfig(metrics=["is"], protocol="legacy-tf", inception_weights=str(standin_inception), cache=False, device="cpu", channels_last=False)
    out = compute_metrics(str(a), None, cfg)
    assert out["is_mean"] == theirs["inception_score_mean"]
    assert out["is_std"] == theirs["inception_score_std"]


def test_precision_recall_match_torch_fidelity_prc(both):
    ours, theirs = both
    assert ours["precision"] == pytest.approx(theirs["precision"], abs=1e-7)  # theirs is a float32 mean
    assert ours["recall"] == pytest.approx(theirs["recall"], abs=1e-7)


def test_protocol_object_records_the_stand_in(both, standin_inception):
    ours, _ = both
    p = ours["protocol"]
    from gan_bench.metrics.weights import file_sha256

    assert p["name"] == "legacy-tf"
    assert p["library"] == "torch-fidelity" and p["library_version"]
    assert p["weights"]["sha256"] == file_sha256(standin_inception)
    assert p["weights"]["official"] is False
    assert "TF1 bilinear" in p["resize"]
    assert p["samples"] == {"input1": 24, "input2": 24}
    assert p["metrics"]["kid"]["subsets"] == KID_SUBSETS and p["metrics"]["kid"]["subset_size"] == KID_SUBSET_SIZE
    assert p["metrics"]["is"]["splits"] == 10
    assert p["columns"]["fid"] == "fid[legacy-tf]"
    json.dumps(ours)  # the whole result is JSON-serialisable
