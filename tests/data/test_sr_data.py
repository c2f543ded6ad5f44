"""SR patch pairs: LR made from HR by the benchmarks' imresize, aligned, augmented, deterministic."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_bench.data.base import DataError, load_dataset
from gan_bench.data.sr import SROptions, _dihedral, patch_bank
from gan_bench.sr.imresize import imresize

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED / "t91" / "SHA256SUMS").is_file(), reason="../shared/data not here")


def _image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_patches_are_aligned_crops_of_the_images_lr():
    img = _image(64, 80)
    opts = SROptions(scale=4, patch_size=16, num_patches=32, augment=False)
    hr, lr = patch_bank([img], opts, "test")
    full_lr = torch.from_numpy(imresize(img, 0.25)).permute(2, 0, 1)
    full_hr = torch.from_numpy(img).permute(2, 0, 1)
    for i in range(32):
        # find the LR patch in the LR image; the HR patch sits at 4x its position
        hits = [(t, c) for t in range(16 - 3) for c in range(20 - 3)
                if torch.equal(full_lr[:, t:t + 4, c:c + 4], lr[i])]
        assert hits
        t, c = hits[0]
        assert torch.equal(full_hr[:, 4 * t:4 * t + 16, 4 * c:4 * c + 16], hr[i])


def test_augmentation_applies_one_transform_to_both():
    img = _image(48, 48, 1)
    plain = patch_bank([img], SROptions(scale=2, patch_size=8, num_patches=64, augment=False, seed=3), "t")
    aug = patch_bank([img], SROptions(scale=2, patch_size=8, num_patches=64, augment=True, seed=3), "t")
    assert not torch.equal(plain[0], aug[0])
    # the same patches (positions are drawn first), each pair under one of the eight transforms
    used = set()
    for i in range(64):
        fits = [t for t in range(8)
                if torch.equal(_dihedral(plain[0][i:i + 1], torch.tensor([t])), aug[0][i:i + 1])
                and torch.equal(_dihedral(plain[1][i:i + 1], torch.tensor([t])), aug[1][i:i + 1])]
        assert fits, i
        used.update(fits)
    assert len(used) == 8
    again = patch_bank([img], SROptions(scale=2, patch_size=8, num_patches=64, augment=True, seed=3), "t")
    assert torch.equal(aug[0], again[0]) and torch.equal(aug[1], again[1])


def test_bad_patch_size():
    with pytest.raises(DataError, match="multiple"):
        patch_bank([_image(64, 64)], SROptions(scale=4, patch_size=18), "t")
    with pytest.raises(DataError, match="at least"):
        patch_bank([_image(16, 16)], SROptions(scale=4, patch_size=32), "t")


@needs_shared
def test_t91_and_set5_batches():
    ds = load_dataset("t91", "train", SHARED, {"patch_size": 24, "num_patches": 40, "verify": False})
    assert ds.spec.shape == (3, 24, 24) and ds.meta["scale"] == 4 and ds.meta["images"] == 91
    batch = ds.batch(torch.arange(5))
    assert batch["x"].shape == (5, 3, 24, 24) and batch["cond"].shape == (5, 3, 6, 6)
    assert batch["cond"].min() >= -1 and batch["cond"].max() <= 1
    s5 = load_dataset("set5", "test", SHARED, {"scale": 2, "patch_size": 32, "num_patches": 8})
    assert s5.batch(torch.arange(2))["cond"].shape == (2, 3, 16, 16)
    with pytest.raises(DataError, match="splits"):
        load_dataset("set5", "train", SHARED)


@needs_shared
def test_missing_files_name_the_file_and_where(tmp_path: Path):
    with pytest.raises(DataError, match="t91: missing SHA256SUMS; put"):
        load_dataset("t91", "train", tmp_path)
    (tmp_path / "set5" / "HR").mkdir(parents=True)
    with pytest.raises(DataError, match=r"set5: missing baby.png; put it in .*set5/HR"):
        load_dataset("set5", "test", tmp_path)
    with pytest.raises(DataError, match="DIV2K_train_HR"):
        load_dataset("div2k", "train", tmp_path)
    # the DIV2K layout and any folder go through the same loader
    folder = tmp_path / "DIV2K" / "DIV2K_train_HR"
    folder.mkdir(parents=True)
    for name in ("baby.png", "bird.png"):
        shutil.copy(SHARED / "set5" / "HR" / name, folder / name)
    ds = load_dataset("div2k", "train", tmp_path, {"patch_size": 32, "num_patches": 4})
    assert ds.meta["images"] == 2
    ds = load_dataset("sr-folder", "train", tmp_path, {"path": str(folder), "patch_size": 32, "num_patches": 4})
    assert len(ds) == 4
