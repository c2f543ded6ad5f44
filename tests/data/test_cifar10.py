"""CIFAR-10 from the shared npz arrays, and from (small, synthetic) python batches."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_bench.data.base import DataError, load_dataset
from gan_bench.data.cifar10 import Cifar10Options, load_cifar10


def _write_batch(path: Path, n: int, label: int) -> np.ndarray:
    rng = np.random.default_rng(label)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    with open(path, "wb") as f:
        pickle.dump({b"data": data, b"labels": [label] * n}, f)
    return data


def test_npz_splits_match_the_published_statistics(data_root: Path) -> None:
    test = load_dataset("cifar10", "test", data_root)
    assert test.x.shape == (10000, 3, 32, 32) and test.x.dtype == torch.uint8
    assert test.spec.shape == (3, 32, 32) and test.spec.num_classes == 10
    assert test.meta["classes"][0] == "airplane" and test.meta["source"].endswith("cifar10_test.npz")
    # the published per-channel means of the CIFAR-10 test split
    means = test.x.float().mean((0, 2, 3)) / 255
    assert torch.allclose(means, torch.tensor([0.4942, 0.4851, 0.4504]), atol=5e-4)
    train = load_dataset("cifar10", "train", data_root, {"verify": False})
    assert train.x.shape == (10000, 3, 32, 32)
    assert torch.bincount(train.y).tolist() == [1000] * 10


def test_capped_subset_is_not_the_first_class_only(data_root: Path) -> None:
    ds = load_dataset("cifar10", "test", data_root, {"num_examples": 300, "image_size": 64, "verify": False})
    assert ds.x.shape == (300, 3, 64, 64) and len(ds.meta["filenames"]) == 300
    assert set(ds.y.tolist()) == set(range(10))  # the npz is ordered by class


def test_python_batches_take_precedence(tmp_path: Path) -> None:
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    first = _write_batch(folder / "data_batch_1", 4, 3)
    for i in range(2, 6):
        _write_batch(folder / f"data_batch_{i}", 4, i)
    npz = tmp_path / "cifar10" / "cifar10_train_10k.npz"
    np.savez(npz, x=np.zeros((2, 32, 32, 3), np.uint8), y=np.zeros(2, np.uint8))
    ds = load_cifar10(tmp_path, "train", Cifar10Options(verify=False))
    assert ds.x.shape == (20, 3, 32, 32) and ds.meta["source"] == str(folder)
    assert ds.y.tolist() == [3] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4
    # rows are R plane, G plane, B plane of 32x32
    assert np.array_equal(ds.x[0].numpy().reshape(-1), first[0])
    forced = load_cifar10(tmp_path, "train", Cifar10Options(verify=False, source="npz"))
    assert forced.x.shape == (2, 3, 32, 32)
    # the test split has no python batch here and no npz: a clear error
    with pytest.raises(DataError, match="cifar10_test.npz"):
        load_cifar10(tmp_path, "test", Cifar10Options(verify=False))
    # a missing training batch is reported, not silently replaced by the npz
    (folder / "data_batch_4").unlink()
    with pytest.raises(DataError, match="missing data_batch_4") as err:
        load_cifar10(tmp_path, "train", Cifar10Options(verify=False))
    assert str(folder) in str(err.value)


def test_checksum_mismatch_and_corrupt_files(tmp_path: Path) -> None:
    folder = tmp_path / "cifar10"
    folder.mkdir()
    path = folder / "cifar10_test.npz"
    np.savez(path, x=np.zeros((2, 32, 32, 3), np.uint8), y=np.zeros(2, np.uint8))
    with pytest.raises(DataError, match="sha256") as err:
        load_cifar10(tmp_path, "test", Cifar10Options(verify=True))
    assert str(path) in str(err.value)
    path.write_bytes(b"garbage")
    with pytest.raises(DataError, match="corrupt") as err:
        load_cifar10(tmp_path, "test", Cifar10Options(verify=False))
    assert str(path) in str(err.value)
    np.savez(path, x=np.zeros((2, 28, 28), np.uint8), y=np.zeros(2, np.uint8))
    with pytest.raises(DataError, match=r"expected x uint8 \(N,32,32,3\)"):
        load_cifar10(tmp_path, "test", Cifar10Options(verify=False))
    bad_batch = folder / "cifar-10-batches-py" / "test_batch"
    bad_batch.parent.mkdir()
    bad_batch.write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="not a CIFAR-10 python batch") as err:
        load_cifar10(tmp_path, "test", Cifar10Options(verify=False))
    assert str(bad_batch) in str(err.value)


def test_missing_files_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_dataset("cifar10", "train", tmp_path)
    msg = str(err.value)
    assert "cifar10_train_10k.npz" in msg and "cifar-10-batches-py" in msg and str(tmp_path / "cifar10") in msg


class _Payload:
    """Unpickling this runs ``open(marker, 'w')``: what a crafted batch would do with os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_batches_of_every_pickle_protocol_load(tmp_path: Path, protocol: int) -> None:
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    data = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
    entry = {b"batch_label": b"testing batch 1 of 1", b"labels": [7, 1], b"data": data, b"filenames": [b"a.png", b"b.png"]}
    (folder / "test_batch").write_bytes(pickle.dumps(entry, protocol=protocol))
    ds = load_cifar10(tmp_path, "test", Cifar10Options(verify=False))
    assert ds.y.tolist() == [7, 1] and np.array_equal(ds.x[1].numpy().reshape(-1), data[1])


@pytest.mark.parametrize("where", ["top", "inside"])
def test_crafted_batch_never_runs_code(tmp_path: Path, where: str) -> None:
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    marker = tmp_path / "pwned"
    payload = _Payload(marker)
    entry = payload if where == "top" else {b"data": np.zeros((1, 3072), np.uint8), b"labels": [payload]}
    for name in [f"data_batch_{i}" for i in range(1, 6)]:
        (folder / name).write_bytes(pickle.dumps(entry))
    with pytest.raises(DataError, match=r"data_batch_1 is not a CIFAR-10 python batch .*refused global") as err:
        load_cifar10(tmp_path, "train", Cifar10Options(verify=False))
    assert "\n" not in str(err.value)
    assert not marker.exists()


def test_object_arrays_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    data = np.empty((1, 3072), dtype=object)
    data[:] = 0
    # an object array pickles its items with builtins' globals, refused like any other
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": data, b"labels": [0]}))
    with pytest.raises(DataError, match="not a CIFAR-10 python batch|expected uint8"):
        load_cifar10(tmp_path, "test", Cifar10Options(verify=False))
