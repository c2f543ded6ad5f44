"""A crafted pickle in any weight or cache file the harness loads never runs.

Checkpoints and CIFAR batches are covered by tests/test_fuzz_inputs.py; here: Inception weights for
both protocols, LPIPS trunks found in --weights-dir, and feature-cache entries."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from gan_bench.cli import main
from gan_bench.metrics import weights as W


class Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def crafted(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps({"state": Payload(marker)}))
    return path


@pytest.mark.parametrize("protocol", ["legacy-tf", "clean"])
def test_crafted_inception_weights_never_run(tmp_path: Path, mnist_npz, capsys, protocol: str):
    marker = tmp_path / "pwned"
    a, b = mnist_npz
    weights = crafted(tmp_path / "inception.pth", marker)
    code = main(["metrics", str(a), str(b), "--metrics", "fid", "--protocol", protocol,
                 "--inception-weights", str(weights), "--num", "10", "--no-cache"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err and err[-1].startswith("gan-bench metrics: error:")
    assert not marker.exists()


def test_crafted_lpips_trunk_in_weights_dir_never_runs(tmp_path: Path, mnist_npz, capsys):
    marker = tmp_path / "pwned"
    a, _ = mnist_npz
    weights_dir = tmp_path / "weights"
    weights_dir.mkdir()
    for spec in W.registry().values():  # every weight file the harness knows, each a crafted pickle
        crafted(weights_dir / spec.filename, marker)
    code = main(["metrics", str(a), "--metrics", "lpips_div", "--weights-dir", str(weights_dir), "--num", "10",
                 "--no-cache", "--lpips-pairs", "5"])
    capsys.readouterr()
    assert code == 2
    assert not marker.exists()


def test_crafted_feature_cache_entries_are_misses(tmp_path: Path, mnist_npz, tiny_classifier, capsys):
    marker = tmp_path / "pwned"
    a, b = mnist_npz
    cache = tmp_path / "cache"
    args = ["metrics", str(a), str(b), "--metrics", "fid", "--protocol", "mnist-classifier",
            "--classifier-weights", str(tiny_classifier), "--num", "50", "--cache-dir", str(cache)]
    assert main(args) == 0
    first = capsys.readouterr().out
    entries = sorted(cache.rglob("*.safetensors"))
    assert entries
    for entry in entries:
        crafted(entry, marker)
    assert main(args) == 0  # unreadable entries are recomputed, never unpickled
    assert capsys.readouterr().out == first
    assert not marker.exists()
