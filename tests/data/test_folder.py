"""The ``folder`` dataset: folders of images (with class sub-folders) and .npz arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_bench.data.base import DataError, load_dataset


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAN_BENCH_CACHE", str(tmp_path / "cache"))


def _images(n: int, size: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_class_folders_round_trip_losslessly(tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    arrays = {"cat": _images(3, seed=1), "dog": _images(2, seed=2)}
    for cls, imgs in arrays.items():
        (root / cls).mkdir(parents=True)
        for i, img in enumerate(imgs):
            Image.fromarray(img).save(root / cls / f"{i}.png")
    ds = load_dataset("folder", "train", tmp_path, {"path": str(root)})
    assert ds.x.shape == (5, 3, 16, 16) and ds.x.dtype == torch.uint8
    assert ds.meta["classes"] == ["cat", "dog"] and ds.spec.num_classes == 2 and ds.y.tolist() == [0, 0, 0, 1, 1]
    expected = np.concatenate([arrays["cat"], arrays["dog"]]).transpose(0, 3, 1, 2)
    assert np.array_equal(ds.x.numpy(), expected)  # PNG is lossless, native size: exact pixels
    # relative to the data root, resized, grayscale, unlabelled
    opts = {"path": "imgs", "image_size": 8, "grayscale": True, "labels": False}
    small = load_dataset("folder", "train", tmp_path, opts)
    assert small.x.shape == (5, 1, 8, 8) and small.y is None and small.spec.num_classes == 0


def test_split_subfolder_and_size_mismatch(tmp_path: Path) -> None:
    for split, n in (("train", 3), ("test", 2)):
        (tmp_path / split).mkdir()
        for i, img in enumerate(_images(n, seed=n)):
            Image.fromarray(img).save(tmp_path / split / f"{i}.jpg")
    assert len(load_dataset("folder", "test", tmp_path, {"path": str(tmp_path)})) == 2
    assert len(load_dataset("folder", "train", tmp_path, {"path": str(tmp_path)})) == 3
    Image.fromarray(_images(1, size=20)[0]).save(tmp_path / "train" / "big.png")
    with pytest.raises(DataError, match="set data.image_size"):
        load_dataset("folder", "train", tmp_path, {"path": str(tmp_path), "cache": False})
    ds = load_dataset("folder", "train", tmp_path, {"path": str(tmp_path), "image_size": 12})
    assert ds.x.shape == (4, 3, 12, 12)


def test_npz_round_trip(tmp_path: Path) -> None:
    x, y = _images(6, size=8), np.array([0, 1, 2, 0, 1, 2])
    np.savez(tmp_path / "rgb.npz", x=x, y=y, classes=np.array(["a", "b", "c"]))
    ds = load_dataset("folder", "train", tmp_path, {"path": str(tmp_path / "rgb.npz")})
    assert np.array_equal(ds.x.numpy(), x.transpose(0, 3, 1, 2)) and ds.y.tolist() == y.tolist()
    assert ds.spec.shape == (3, 8, 8) and ds.spec.num_classes == 3 and ds.meta["classes"] == ["a", "b", "c"]
    np.savez(tmp_path / "gray.npz", images=x[..., 0])
    gray = load_dataset("folder", "train", tmp_path, {"path": str(tmp_path / "gray.npz"), "image_size": 4})
    assert gray.x.shape == (6, 1, 4, 4) and gray.y is None
    capped = load_dataset("folder", "train", tmp_path, {"path": str(tmp_path / "rgb.npz"), "num_examples": 3})
    assert len(capped) == 3 and len(capped.y) == 3


def test_bad_inputs_are_one_line_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="set data.path"):
        load_dataset("folder", "train", tmp_path)
    with pytest.raises(DataError, match="does not exist") as err:
        load_dataset("folder", "train", tmp_path, {"path": str(tmp_path / "nope")})
    assert str(tmp_path / "nope") in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        load_dataset("folder", "train", tmp_path, {"path": str(tmp_path / "empty")})
    np.savez(tmp_path / "float.npz", x=np.zeros((2, 4, 4, 3), np.float32))
    with pytest.raises(DataError, match="must be uint8"):
        load_dataset("folder", "train", tmp_path, {"path": str(tmp_path / "float.npz")})
    np.savez(tmp_path / "nchw.npz", x=np.zeros((2, 3, 8, 8), np.uint8))
    with pytest.raises(DataError, match=r"\(N,H,W,C\)"):
        load_dataset("folder", "train", tmp_path, {"path": str(tmp_path / "nchw.npz")})
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="not a readable .npz") as err:
        load_dataset("folder", "train", tmp_path, {"path": str(tmp_path / "junk.npz")})
    assert str(tmp_path / "junk.npz") in str(err.value)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="cannot decode image"):
        load_dataset("folder", "train", tmp_path, {"path": str(tmp_path / "broken")})
