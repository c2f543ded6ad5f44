"""MNIST and Fashion-MNIST from the real idx files in ../shared/data."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
import torch

from gan_bench.config import ConfigError
from gan_bench.data.base import DataError, load_dataset
from gan_bench.data.idx import IdxOptions, load_mnist

TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def _copy_test_split(data_root: Path, dest: Path) -> Path:
    folder = dest / "mnist"
    folder.mkdir(parents=True)
    for name in TEST_FILES:
        shutil.copy(data_root / "mnist" / name, folder / name)
    return folder


def test_mnist_train_matches_the_published_statistics(data_root: Path) -> None:
    ds = load_dataset("mnist", "train", data_root)
    assert ds.x.shape == (60000, 1, 28, 28) and ds.x.dtype == torch.uint8
    assert ds.spec.shape == (1, 28, 28) and ds.spec.kind == "image" and ds.spec.num_classes == 10
    assert ds.y.dtype == torch.int64 and int(ds.y.min()) == 0 and int(ds.y.max()) == 9
    # the well-known MNIST pixel mean (0.1307) and class sizes prove the bytes were parsed right
    assert abs(ds.x.float().mean().item() / 255 - 0.1307) < 5e-4
    assert torch.bincount(ds.y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    batch = ds.batch(torch.arange(64))
    assert batch["x"].dtype == torch.float32 and batch["x"].min() >= -1 and batch["x"].max() <= 1
    assert batch["y"].shape == (64,)


def test_mnist_test_resized_to_32_both_ways(data_root: Path) -> None:
    plain = load_dataset("mnist", "test", data_root, {"verify": False})
    bilinear = load_dataset("mnist", "test", data_root, {"image_size": 32})
    padded = load_dataset("mnist", "test", data_root, {"image_size": 32, "resize": "pad"})
    assert plain.x.shape == (10000, 1, 28, 28)
    assert bilinear.x.shape == padded.x.shape == (10000, 1, 32, 32) and bilinear.spec.shape == (1, 32, 32)
    assert torch.equal(padded.x[:, :, 2:30, 2:30], plain.x) and padded.x[:, :, :2].sum() == 0
    # scaling keeps the mean intensity; padding dilutes it by the added border
    assert abs(bilinear.x.float().mean() - plain.x.float().mean()) < 0.5
    assert abs(padded.x.float().mean() - plain.x.float().mean() * (28 / 32) ** 2) < 1e-3
    assert torch.equal(bilinear.y, plain.y)


def test_fashion_mnist_subset_is_random_and_covers_all_classes(data_root: Path) -> None:
    ds = load_dataset("fashion_mnist", "train", data_root, {"num_examples": 1000})
    assert ds.x.shape == (1000, 1, 28, 28) and len(ds.meta["classes"]) == 10
    assert ds.meta["classes"][9] == "Ankle boot"
    assert set(ds.y.tolist()) == set(range(10))
    index = ds.meta["index"]
    assert len(torch.unique(index)) == 1000 and bool((index[1:] > index[:-1]).all())
    full = load_dataset("fashion_mnist", "train", data_root, {"verify": False})
    assert abs(full.x.float().mean().item() / 255 - 0.2860) < 5e-4
    assert torch.equal(full.x[index], ds.x) and torch.equal(full.y[index], ds.y)


def test_checksum_mismatch_names_the_file(data_root: Path, tmp_path: Path) -> None:
    folder = _copy_test_split(data_root, tmp_path)
    path = folder / TEST_FILES[0]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz is corrupt.*sha256") as err:
        load_mnist(tmp_path, "test", IdxOptions(verify=True))
    assert str(path) in str(err.value)
    # without the checksum the gzip CRC still catches it
    with pytest.raises(DataError, match="corrupt or truncated") as err:
        load_mnist(tmp_path, "test", IdxOptions(verify=False))
    assert str(path) in str(err.value)


def test_truncated_and_garbage_files_are_data_errors(data_root: Path, tmp_path: Path) -> None:
    folder = _copy_test_split(data_root, tmp_path)
    path = folder / TEST_FILES[0]
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError, match="corrupt or truncated") as err:
        load_mnist(tmp_path, "test", IdxOptions(verify=False))
    assert str(path) in str(err.value)
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + (10).to_bytes(4, "big") * 3 + b"\x00" * 7))
    with pytest.raises(DataError, match="header says"):
        load_mnist(tmp_path, "test", IdxOptions(verify=False))
    path.write_bytes(b"definitely not gzip")
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_mnist(tmp_path, "test", IdxOptions(verify=False))


def test_missing_file_names_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_dataset("mnist", "train", tmp_path)
    msg = str(err.value)
    assert "train-images-idx3-ubyte.gz" in msg and str(tmp_path / "mnist") in msg and "\n" not in msg


def test_unpacked_files_in_torchvision_layout(data_root: Path, tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in TEST_FILES:
        (raw / name.removesuffix(".gz")).write_bytes(gzip.decompress((data_root / "mnist" / name).read_bytes()))
    ds = load_mnist(tmp_path, "test")
    ref = load_mnist(data_root, "test", IdxOptions(verify=False))
    assert torch.equal(ds.x, ref.x) and torch.equal(ds.y, ref.y)


def test_bad_split_and_bad_options(data_root: Path) -> None:
    with pytest.raises(DataError, match="splits train, test"):
        load_dataset("mnist", "valid", data_root)
    with pytest.raises(ConfigError, match="data.resize"):
        load_dataset("mnist", "test", data_root, {"resize": "nearest"})
    with pytest.raises(ConfigError, match="data.image_size"):
        load_dataset("mnist", "test", data_root, {"image_size": 0})
    assert IdxOptions().image_size == 28 and IdxOptions().verify


def test_download_fetches_verifies_and_loads(
    data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real download path, offline: the "mirror" is the shared folder as a file:// URL."""
    import dataclasses

    import gan_bench.data.idx as idx

    mirror = (data_root / "mnist").as_uri() + "/"
    monkeypatch.setattr(idx, "MNIST", dataclasses.replace(idx.MNIST, mirrors=("file:///no/such/mirror/", mirror)))
    ds = load_dataset("mnist", "test", tmp_path, {"download": True})
    assert ds.x.shape == (10000, 1, 28, 28)
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(TEST_FILES)
    # a mirror serving a different file is rejected by its md5 and leaves nothing behind
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (bad / name).write_bytes(b"\x1f\x8b not mnist")
    monkeypatch.setattr(idx, "MNIST", dataclasses.replace(idx.MNIST, mirrors=(bad.as_uri() + "/",)))
    with pytest.raises(DataError, match="had (sha256|md5) [0-9a-f]+, expected"):
        load_dataset("mnist", "train", tmp_path, {"download": True})
    assert not (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").exists()
