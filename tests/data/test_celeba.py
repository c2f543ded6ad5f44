"""CelebA's official layout, on a tiny synthetic copy (CelebA itself is not in ../shared/data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_bench.data.base import DataError, load_dataset
from gan_bench.data.celeba import CelebAOptions, load_celeba

PARTITION = [0, 0, 0, 0, 1, 2]
MALE = [1, -1, 1, -1, 1, -1]


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAN_BENCH_CACHE", str(tmp_path / "cache"))


def _fake_celeba(root: Path) -> Path:
    base = root / "celeba"
    folder = base / "img_align_celeba"
    folder.mkdir(parents=True)
    names = [f"{i:06d}.jpg" for i in range(1, len(PARTITION) + 1)]
    for i, name in enumerate(names):
        # 178x218 like CelebA: black outside the central 160x160 crop, grey level i inside
        img = np.zeros((218, 178, 3), np.uint8)
        img[29:189, 9:169] = 40 * (i + 1)
        Image.fromarray(img).save(folder / name, quality=95)
    (base / "list_eval_partition.txt").write_text("".join(f"{n} {p}\n" for n, p in zip(names, PARTITION)))
    header = f"{len(names)}\n5_o_Clock_Shadow Male\n"
    (base / "list_attr_celeba.txt").write_text(header + "".join(f"{n}  -1 {m}\n" for n, m in zip(names, MALE)))
    return base


def test_splits_crop_and_attribute_labels(tmp_path: Path) -> None:
    _fake_celeba(tmp_path)
    opts = {"verify": False, "image_size": 32}
    train = load_dataset("celeba", "train", tmp_path, opts)
    assert train.x.shape == (4, 3, 32, 32) and train.x.dtype == torch.uint8 and train.y is None
    assert train.spec.num_classes == 0 and train.meta["filenames"][0] == "000001.jpg"
    # the default 160 px centre crop removes the black border entirely
    levels = train.x.float().mean((1, 2, 3))
    assert torch.allclose(levels, torch.tensor([40.0, 80.0, 120.0, 160.0]), atol=3)
    assert len(load_dataset("celeba", "valid", tmp_path, opts)) == 1
    assert len(load_dataset("celeba", "test", tmp_path, opts)) == 1
    assert len(load_dataset("celeba", "all", tmp_path, opts)) == 6
    # without the crop the black border darkens the image
    uncropped = load_celeba(tmp_path, "train", CelebAOptions(verify=False, image_size=32, crop=0))
    assert (uncropped.x.float().mean((1, 2, 3)) < levels - 5).all()

    male = load_dataset("celeba", "train", tmp_path, {**opts, "label_attr": "Male"})
    assert male.spec.num_classes == 2 and male.y.tolist() == [1, 0, 1, 0]
    with pytest.raises(DataError, match="unknown attribute 'Smiling'"):
        load_dataset("celeba", "train", tmp_path, {**opts, "label_attr": "Smiling"})


def test_checksums_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_dataset("celeba", "train", tmp_path)
    assert "img_align_celeba" in str(err.value) and str(tmp_path / "celeba") in str(err.value)
    base = _fake_celeba(tmp_path)
    with pytest.raises(DataError, match="list_eval_partition.txt is corrupt.*md5"):
        load_celeba(tmp_path, "train", CelebAOptions(verify=True))
    (base / "list_eval_partition.txt").unlink()
    with pytest.raises(DataError, match="missing list_eval_partition.txt") as err:
        load_celeba(tmp_path, "train", CelebAOptions(verify=False))
    assert str(base) in str(err.value)
    with pytest.raises(DataError, match="splits train, valid, test, all"):
        load_dataset("celeba", "validation", tmp_path)
