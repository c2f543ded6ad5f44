"""UTKFace from the real images in ../shared/data/utkface, with the decoded-array cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import gan_bench.data.utkface as utk
from gan_bench.data.base import DataError, load_dataset
from gan_bench.data.utkface import UTKFaceOptions, age_to_bin, load_utkface

ODD_NAMES = ("61_1_20170109142408075.jpg.chip.jpg", "61_3_20170109150557335.jpg.chip.jpg")


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GAN_BENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _copy_subset(data_root: Path, dest: Path, names: list[str], with_csv: bool = True) -> Path:
    folder = dest / "utkface" / "crop_part1"
    folder.mkdir(parents=True)
    for name in names:
        shutil.copy(data_root / "utkface" / "crop_part1" / name, folder / name)
    sums = (data_root / "utkface" / "SHA256SUMS").read_text().splitlines()
    (dest / "utkface" / "SHA256SUMS").write_text("\n".join(line for line in sums if line.split()[-1] in names) + "\n")
    if with_csv:
        rows = (data_root / "utkface" / "labels.csv").read_text().splitlines()
        keep = [rows[0]] + [r for r in rows[1:] if r.split(",")[0] in names]
        (dest / "utkface" / "labels.csv").write_text("\n".join(keep) + "\n")
    return folder


def test_subset_shapes_labels_and_cache(
    data_root: Path, _cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opts = {"num_examples": 40, "image_size": 32}
    ds = load_dataset("utkface", "train", data_root, opts)
    assert ds.x.shape == (40, 3, 32, 32) and ds.x.dtype == torch.uint8
    assert ds.spec.shape == (3, 32, 32) and ds.spec.num_classes == 117
    assert torch.equal(ds.y, ds.meta["age"]) and 1 <= int(ds.y.min()) and int(ds.y.max()) <= 110
    # ages come from the file names, e.g. "23_1_0_...": check them against the names
    assert [int(n.split("_")[0]) for n in ds.meta["filenames"]] == ds.y.tolist()
    assert set(ds.meta["gender"].tolist()) <= {-1, 0, 1} and set(ds.meta["race"].tolist()) <= {-1, 0, 1, 2, 3, 4}
    assert len(list(_cache.glob("utkface-*.npz"))) == 1
    assert 30 < ds.x.float().mean() < 230  # real faces, not a blank array

    # the second load must come from the cache: decoding is made impossible
    def fail(*args: object, **kwargs: object) -> np.ndarray:
        raise AssertionError("decoded again instead of using the cache")

    monkeypatch.setattr(utk, "decode_images", fail)
    again = load_dataset("utkface", "train", data_root, opts)
    assert torch.equal(again.x, ds.x) and torch.equal(again.y, ds.y)
    binned = load_dataset("utkface", "train", data_root, {**opts, "age_bins": True})
    assert binned.spec.num_classes == 6 and torch.equal(binned.x, ds.x)
    assert torch.equal(binned.y, torch.from_numpy(age_to_bin(ds.meta["age"].numpy())))


def test_age_bins_follow_age_cgan_groups() -> None:
    ages = np.array([1, 18, 19, 29, 30, 39, 40, 49, 50, 59, 60, 110])
    assert age_to_bin(ages).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_crop_and_full_resolution(data_root: Path, tmp_path: Path) -> None:
    names = ["100_1_0_20170110183726390.jpg.chip.jpg", "10_0_0_20161220222308131.jpg.chip.jpg"]
    _copy_subset(data_root, tmp_path, names)
    full = load_utkface(tmp_path, "train", UTKFaceOptions(image_size=200, cache=False))
    assert full.x.shape == (2, 3, 200, 200) and full.y.tolist() == [100, 10]
    cropped = load_utkface(tmp_path, "train", UTKFaceOptions(image_size=100, crop=100, cache=False))
    # a 100 px centre crop at 100 px is the centre of the full-resolution decode
    diff = (cropped.x.float() - full.x[:, :, 50:150, 50:150].float()).abs().mean()
    assert diff < 3


def test_labels_from_file_names_without_csv(data_root: Path, tmp_path: Path) -> None:
    names = ["100_1_0_20170110183726390.jpg.chip.jpg", *ODD_NAMES]
    _copy_subset(data_root, tmp_path, names, with_csv=False)
    ds = load_utkface(tmp_path, "train", UTKFaceOptions(image_size=16, cache=False))
    by_name = dict(zip(ds.meta["filenames"], zip(ds.y.tolist(), ds.meta["gender"].tolist(), ds.meta["race"].tolist())))
    # the same as labels.csv: (age, gender, race), -1 where a field is missing
    assert by_name == {names[0]: (100, 1, 0), ODD_NAMES[0]: (61, 1, -1), ODD_NAMES[1]: (61, -1, -1)}


def test_corrupt_image_fails_its_checksum(data_root: Path, tmp_path: Path) -> None:
    names = ["100_1_0_20170110183726390.jpg.chip.jpg", "10_0_0_20161220222308131.jpg.chip.jpg"]
    folder = _copy_subset(data_root, tmp_path, names)
    path = folder / names[1]
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(DataError, match="sha256") as err:
        load_utkface(tmp_path, "train", UTKFaceOptions(image_size=16))
    assert str(path) in str(err.value)
    with pytest.raises(DataError, match="cannot decode image") as err:
        load_utkface(tmp_path, "train", UTKFaceOptions(image_size=16, verify=False))
    assert str(path) in str(err.value)


def test_missing_files_are_named(data_root: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_dataset("utkface", "train", tmp_path)
    assert "crop_part1" in str(err.value) and str(tmp_path / "utkface") in str(err.value)
    folder = _copy_subset(data_root, tmp_path, ["100_1_0_20170110183726390.jpg.chip.jpg"])
    (folder / "100_1_0_20170110183726390.jpg.chip.jpg").unlink()
    with pytest.raises(DataError, match="missing 100_1_0_20170110183726390.jpg.chip.jpg") as err:
        load_utkface(tmp_path, "train")
    assert str(folder) in str(err.value)
    with pytest.raises(DataError, match="splits train"):
        load_dataset("utkface", "test", data_root)
