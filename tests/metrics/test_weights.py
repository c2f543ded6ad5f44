"""Weight resolution: the search order, the one-line missing-weights error (never a URLError
traceback), verified atomic downloads, stand-in files, and `gan-bench weights`."""

from __future__ import annotations

import hashlib
import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch

from gan_bench.cli import main
from gan_bench.metrics import weights as W
from gan_bench.metrics.errors import MetricsInputError, WeightsMissingError

INCEPTION = W.spec("inception-fidelity")


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert "Traceback" not in err and "URLError" not in err
    return err


def test_missing_inception_is_a_one_line_error_with_exit_2(mnist_npz, capsys):
    a, b = mnist_npz
    rc = main(["metrics", str(a), str(b), "--metrics", "fid", "--protocol", "legacy-tf"])
    assert rc == 2
    err = _one_line_error(capsys)
    hub = W.torch_hub_checkpoints()
    for part in (INCEPTION.filename, INCEPTION.sha256, INCEPTION.url, str(hub)):
        assert part in err


def test_failed_download_is_the_same_one_line_error(mnist_npz, capsys, monkeypatch, tmp_path):
    """Downloads allowed but the network is down: a one-line error, not a URLError traceback."""
    monkeypatch.delenv("GAN_BENCH_OFFLINE")

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    a, b = mnist_npz
    wdir = tmp_path / "my_weights"
    rc = main(["metrics", str(a), str(b), "--metrics", "fid", "--weights-dir", str(wdir)])
    assert rc == 2
    err = _one_line_error(capsys)
    assert "download failed" in err and "Temporary failure in name resolution" in err
    for part in (INCEPTION.filename, INCEPTION.sha256, INCEPTION.url, str(wdir)):
        assert part in err
    assert not any(wdir.glob("*")) if wdir.exists() else True  # no partial file left behind


def _file_spec(tmp_path: Path, content: bytes, sha256: str) -> W.WeightSpec:
    src = tmp_path / "served.bin"
    src.write_bytes(content)
    return W.WeightSpec("test-weight", "weight.bin", sha256, src.as_uri(), "test file", "tests")


def test_download_is_verified_and_atomic(tmp_path):
    content = b"weights" * 1000
    spec = _file_spec(tmp_path, content, hashlib.sha256(content).hexdigest())
    dest = W.download(spec, tmp_path / "cache")
    assert dest.read_bytes() == content
    assert sorted(p.name for p in dest.parent.iterdir()) == ["weight.bin"]  # no temp file left


def test_download_with_the_wrong_checksum_leaves_nothing(tmp_path):
    spec = _file_spec(tmp_path, b"tampered", "0" * 64)
    with pytest.raises(WeightsMissingError) as err:
        W.download(spec, tmp_path / "cache")
    assert "0" * 64 in str(err.value) and "had sha256 " in str(err.value)
    assert list((tmp_path / "cache").iterdir()) == []


def test_search_order_weights_dir_then_env_then_package(tmp_path, monkeypatch, tiny_classifier):
    shipped = W.locate("mnist-classifier")
    assert shipped is not None and shipped.source == "package" and shipped.official
    env_dir, cli_dir = tmp_path / "env", tmp_path / "cli"
    for d in (env_dir, cli_dir):
        d.mkdir()
        shutil.copy(tiny_classifier, d / "mnist-classifier.safetensors")
    monkeypatch.setenv("GAN_BENCH_WEIGHTS_DIR", str(env_dir))
    assert W.resolve("mnist-classifier").source == "GAN_BENCH_WEIGHTS_DIR"
    found = W.resolve("mnist-classifier", weights_dir=cli_dir)
    assert found.source == "--weights-dir" and found.path.parent == cli_dir
    assert found.official is False  # a retrained classifier is recorded by its own sha256


def test_torch_hub_cache_is_searched_and_checked(tmp_path):
    hub = W.torch_hub_checkpoints()
    hub.mkdir(parents=True)
    (hub / INCEPTION.filename).write_bytes(b"half a download")
    with pytest.raises(MetricsInputError) as err:
        W.resolve("inception-fidelity")
    assert str(hub / INCEPTION.filename) in str(err.value) and INCEPTION.sha256 in str(err.value)


def test_any_file_in_torch_fidelity_format_is_accepted_and_recorded(standin_inception, caplog):
    with caplog.at_level("WARNING"):
        found = W.resolve_file("inception-fidelity", standin_inception)
    assert found.official is False and found.sha256 == W.file_sha256(standin_inception)
    assert "not the official" in caplog.text


def test_standin_weights_load_weights_only_into_torch_fidelity(standin_inception):
    """`gan-bench weights --make-standin inception-fidelity` (the fixture) writes a tensors-only
    state dict that torch-fidelity's own extractor loads."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    state = torch.load(standin_inception, weights_only=True)
    model = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(standin_inception))
    assert set(state) == set(model.state_dict())
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_weights_command_lists_every_file(capsys):
    assert main(["weights", "--json"]) == 0
    rows = {r["key"]: r for r in json.loads(capsys.readouterr().out)}
    for key in ("inception-fidelity", "inception-cleanfid", "lpips-alex-backbone", "lpips-alex-linear-v0.1", "mnist-classifier"):
        assert key in rows
    assert rows["inception-fidelity"]["present"] is False and rows["inception-fidelity"]["url"] == INCEPTION.url
    assert rows["mnist-classifier"]["present"] is True and rows["mnist-classifier"]["state"] == "ok"
    assert rows["lpips-alex-linear-v0.1"]["present"] is True
    assert main(["weights"]) == 0
    text = capsys.readouterr().out
    assert INCEPTION.filename in text and "put it in" in text
