"""`gan-bench metrics` end to end: the JSON and its protocol object, one extraction per input,
the feature cache, protocol separation, user errors, and the clean (clean-fid) pipeline."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from metrics_helpers import mnist

from gan_bench.cli import main
from gan_bench.metrics.family import MetricOptions
from gan_bench.metrics.features import ClassifierFeatures
from gan_bench.metrics.harness import HarnessConfig, compute_metrics

ALL_KEYS = ("fid", "kid_mean", "kid_std", "precision", "recall", "density", "coverage")


def run_json(capsys, *argv) -> dict:
    assert main(["metrics", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_json_has_every_number_and_the_protocol(mnist_npz, tiny_classifier, capsys):
    a, b = mnist_npz
    out = run_json(
        capsys, str(a), str(b), "--protocol", "mnist-classifier", "--classifier-weights", str(tiny_classifier),
        "--metrics", "fid,kid,prc,dc", "--kid-subsets", "10", "--kid-subset-size", "100",
    )  # fmt: skip
    for key in ALL_KEYS:
        assert isinstance(out[key], float) and math.isfinite(out[key])
    p = out["protocol"]
    assert p["name"] == "mnist-classifier" and p["library"] == "gan_bench"
    assert p["weights"]["sha256"] and p["weights"]["official"] is False
    assert "128-d penultimate" in p["features"] and "resize" in p
    assert p["samples"] == {"input1": 600, "input2": 700}
    assert p["reference"] == str(b)
    assert p["metrics"]["prc"]["k"] == 3 and p["metrics"]["dc"]["k"] == 5
    assert p["metrics"]["kid"]["subsets"] == 10 and p["metrics"]["kid"]["subset_size"] == 100
    assert p["columns"]["fid"] == "fid[mnist-classifier]"


def test_each_input_is_extracted_once_for_all_metrics(mnist_npz, tiny_classifier, monkeypatch):
    batches = []
    original = ClassifierFeatures.__call__

    def counting(self, batch, kinds):
        batches.append(batch.shape[0])
        return original(self, batch, kinds)

    monkeypatch.setattr(ClassifierFeatures, "__call__", counting)
    a, b = mnist_npz
    cfg = HarnessConfig(
        metrics=["fid", "kid", "prc", "dc"], protocol="mnist-classifier", classifier_weights=str(tiny_classifier),
        cache=False, batch_size=100, options=MetricOptions(kid_subsets=5, kid_subset_size=50),
    )  # fmt: skip
    compute_metrics(str(a), str(b), cfg)
    assert sum(batches) == 600 + 700 and len(batches) == 6 + 7


def test_cache_hits_give_identical_numbers(mnist_npz, tiny_classifier, tmp_path):
    a, b = mnist_npz
    cfg = HarnessConfig(
        metrics=["fid", "prc"], protocol="mnist-classifier", classifier_weights=str(tiny_classifier), cache_dir=str(tmp_path / "c")
    )
    first = compute_metrics(str(a), str(b), cfg)
    second = compute_metrics(str(a), str(b), cfg)
    assert first["protocol"]["cache"] == {"input1": "stored", "input2": "stored"}
    assert second["protocol"]["cache"] == {"input1": "hit", "input2": "hit"}
    assert (first["fid"], first["precision"]) == (second["fid"], second["precision"])
    files = sorted(p.name for p in (tmp_path / "c").iterdir())
    assert files and not any(name.startswith(".") for name in files)  # no temp files left over
    cfg.cache = False
    third = compute_metrics(str(a), str(b), cfg)
    assert third["protocol"]["cache"] == {"input1": "off", "input2": "off"} and third["fid"] == first["fid"]


def test_shipped_mnist_classifier_separates_domains(tmp_path, capsys):
    """Domain FID: MNIST test vs MNIST train is small, MNIST vs Fashion-MNIST is large."""
    test_x, _ = mnist("test")
    train_x, _ = mnist("train")
    fashion_x, _ = mnist("test", name="fashion_mnist")
    for name, arr in (("a", test_x[:500]), ("b", train_x[:500]), ("f", fashion_x[:500])):
        np.savez(tmp_path / f"{name}.npz", x=arr[..., None])
    same = run_json(capsys, str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--protocol", "mnist-classifier", "--no-cache")
    other = run_json(capsys, str(tmp_path / "f.npz"), str(tmp_path / "b.npz"), "--protocol", "mnist-classifier", "--no-cache")
    assert same["protocol"]["weights"]["official"] is True
    assert other["fid"] > 20 * same["fid"] > 0


def test_legacy_tf_cli_with_stand_in_weights(mnist_folders, standin_inception, capsys):
    a, b = mnist_folders
    out = run_json(
        capsys, str(a), str(b), "--metrics", "fid,is", "--inception-weights", str(standin_inception), "--num", "10", "--no-cache"
    )
    assert out["fid"] > 0 and out["is_mean"] >= 1.0
    assert out["protocol"]["weights"]["official"] is False
    assert any("singular" in w for w in out["warnings"])  # 10 samples in 2048 dimensions


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--protocol", "clean", "--metrics", "is"], "not defined under protocol clean"),
        (["--metrics", "fid,bogus"], "unknown metric 'bogus'"),
        (["--protocol", "legacy-tf", "--metrics", "modes"], "not defined under protocol legacy-tf"),
    ],
)
def test_user_errors_are_one_line_exit_2(mnist_npz, capsys, argv, message):
    a, b = mnist_npz
    assert main(["metrics", str(a), str(b), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_binary_metric_needs_a_reference(mnist_npz, capsys):
    assert main(["metrics", str(mnist_npz[0]), "--metrics", "fid"]) == 2
    assert "give INPUT2" in capsys.readouterr().err


def test_lpips_div_through_the_cli(mnist_npz, capsys):
    out = run_json(capsys, str(mnist_npz[0]), "--metrics", "lpips_div", "--lpips-pairs", "8", "--lpips-random-backbone", "1")
    assert out["lpips_diversity"] > 0
    rec = out["protocol"]["metrics"]["lpips_div"]
    assert rec["net"] == "alex" and rec["version"] == "0.1" and rec["pairs"] == 8 and rec["library_version"]


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_clean_protocol_features_equal_clean_fid_pipeline(tmp_path, mnist_folders, capsys):
    """clean = clean-fid: on a TorchScript stand-in, our features of a folder equal those of clean-fid's
    own folder pipeline (its PIL-bicubic ResizeDataset and DataLoader) with the same network."""
    from cleanfid.fid import get_folder_features

    from gan_bench.metrics.features import CleanFidInception
    from gan_bench.metrics.inputs import resolve_input
    from gan_bench.metrics.weights import resolve_file

    path = tmp_path / "clean-standin.pt"
    assert main(["weights", "--make-standin", "inception-cleanfid", str(path)]) == 0
    folder = tmp_path / "eight"
    folder.mkdir()
    for f in sorted(mnist_folders[0].iterdir())[:8]:
        (folder / f.name).write_bytes(f.read_bytes())
    extractor = CleanFidInception(resolve_file("inception-cleanfid", path), "cpu")
    ours = torch.cat([extractor(b, ["pool"])["pool"] for b in resolve_input(str(folder)).batches(4)])
    net = torch.jit.load(str(path))
    theirs = get_folder_features(
        str(folder), model=lambda x: net.layers((x - 128) / 128).reshape(x.shape[0], 2048), num_workers=0,
        batch_size=4, device=torch.device("cpu"), mode="clean", verbose=False,
    )  # fmt: skip
    assert ours.shape == (8, 2048)
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-5, atol=1e-6)
    capsys.readouterr()
    out = run_json(capsys, str(folder), str(folder), "--protocol", "clean", "--inception-weights", str(path), "--metrics", "fid", "--no-cache")
    assert abs(out["fid"]) < 1e-6 and out["protocol"]["library"] == "clean-fid"


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "cannot read"),
    (lambda p: np.savez(p), "holds arrays none"),
    (lambda p: np.savez(p, x=np.zeros((0, 28, 28), np.uint8)), "has 0 images; metrics need at least 2"),
    (lambda p: np.savez(p, x=np.zeros((1, 28, 28), np.uint8)), "has 1 image; metrics need at least 2"),
])
def test_empty_and_single_image_inputs_exit_2(mnist_npz, tmp_path, capsys, make, message):
    bad = tmp_path / "bad.npz"
    make(bad)
    for argv in ([str(bad), str(mnist_npz[1])], [str(mnist_npz[0]), str(bad)]):
        assert main(["metrics", *argv, "--protocol", "mnist-classifier", "--metrics", "fid"]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err and err.startswith("gan-bench metrics: error:")


def test_bomb_png_and_bad_device_exit_2(mnist_npz, tmp_path, capsys):
    from metrics_helpers import write_png_header

    folder = tmp_path / "f"
    folder.mkdir()
    for i in range(2):
        write_png_header(folder / f"{i}.png", 20_000, 10_000)
    assert main(["metrics", str(folder), str(mnist_npz[1]), "--protocol", "mnist-classifier"]) == 2
    err = capsys.readouterr().err.strip()
    assert "megapixels" in err and "\n" not in err
    assert main(["metrics", str(mnist_npz[0]), str(mnist_npz[1]), "--device", "foo"]) == 2
    assert "not a device" in capsys.readouterr().err
