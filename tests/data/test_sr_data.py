"""SR patch pairs: LR made from HR by the benchmarks' imresize, aligned, augmented, deterministic;
the bank built image by image (in worker processes) is bitwise the bank of all images at once."""

from __future__ import annotations

import logging
import multiprocessing
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_bench.data import sr
from gan_bench.data.base import DataError, load_dataset
from gan_bench.data.sr import SROptions, _dihedral, make_lr, patch_bank, patch_bank_from_files, read_rgb
from gan_bench.sr.imresize import imresize, modcrop
from gan_bench.train.identity import DATA_READING

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


def _old_patch_bank(images: list[np.ndarray], opts: SROptions) -> tuple[torch.Tensor, torch.Tensor]:
    """The bank as it was built before it streamed (every image and its LR in memory at once),
    kept verbatim as the reference the new builds must equal bit for bit."""
    s, p = opts.scale, opts.patch_size
    q = p // s
    pairs, counts = [], []
    for img in images:
        hr = modcrop(img, s)
        if hr.shape[0] < p or hr.shape[1] < p:
            continue
        pairs.append((hr, make_lr(hr, s)))
        counts.append((hr.shape[0] // s - q + 1) * (hr.shape[1] // s - q + 1))
    gen = torch.Generator().manual_seed(opts.seed)
    n = opts.num_patches
    which = torch.multinomial(torch.tensor(counts, dtype=torch.float64), n, replacement=True, generator=gen)
    u = torch.rand(n, 2, generator=gen, dtype=torch.float64)
    k = torch.randint(0, 8, (n,), generator=gen) if opts.augment else torch.zeros(n, dtype=torch.long)
    channels = pairs[0][0].shape[2]
    hr_out = torch.empty(n, channels, p, p, dtype=torch.uint8)
    lr_out = torch.empty(n, channels, q, q, dtype=torch.uint8)
    for i in range(n):
        hr, lr = pairs[int(which[i])]
        top = int(u[i, 0] * (lr.shape[0] - q + 1))
        left = int(u[i, 1] * (lr.shape[1] - q + 1))
        lr_out[i] = torch.from_numpy(np.ascontiguousarray(lr[top : top + q, left : left + q])).permute(2, 0, 1)
        hr_out[i] = torch.from_numpy(np.ascontiguousarray(hr[top * s : top * s + p, left * s : left * s + p])).permute(2, 0, 1)
    return _dihedral(hr_out, k), _dihedral(lr_out, k)


def _same_bank(a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor]) -> None:
    assert a[0].dtype == b[0].dtype == torch.uint8 and a[0].shape == b[0].shape and a[1].shape == b[1].shape
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_in_memory_bank_equals_the_old_one():
    # sizes that modcrop, and one image too small (skipped before the draws, as before)
    images = [_image(53, 70, 0), _image(20, 90, 1), _image(40, 41, 2), _image(66, 35, 3)]
    for opts in (SROptions(scale=4, patch_size=24, num_patches=200, seed=5),
                 SROptions(scale=3, patch_size=21, num_patches=150, augment=False, seed=1)):
        _same_bank(patch_bank(images, opts, "t"), _old_patch_bank(images, opts))


@needs_shared
def test_t91_bank_is_bitwise_the_old_one_whatever_the_workers():
    opts = SROptions(patch_size=24, num_patches=300, seed=7, verify=False)
    paths = sr.sr_image_paths("t91", SHARED, "train", opts)
    ref = _old_patch_bank([read_rgb(path) for path in paths], opts)
    _same_bank(patch_bank_from_files(paths, opts, "t91", workers=0), ref)
    ds = load_dataset("t91", "train", SHARED, {"patch_size": 24, "num_patches": 300, "seed": 7, "verify": False,
                                               "workers": 2})
    _same_bank((ds.x, ds.lr), ref)


def _sr_folder(root: Path, n: int = 3, h: int = 40, w: int = 52) -> Path:
    root.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(_image(h + 4 * i, w, seed=10 + i)).save(root / f"{i:02d}.png")
    return root


def test_only_images_that_own_a_patch_are_decoded_and_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = _sr_folder(tmp_path / "hr", n=6)
    Image.fromarray(_image(12, 200)).save(folder / "99_small.png")  # too small: never decoded
    paths = sr.list_images(folder)
    opts = SROptions(scale=2, patch_size=16, num_patches=3, seed=2)
    ref = _old_patch_bank([read_rgb(path) for path in paths], opts)
    decoded: list[str] = []
    monkeypatch.setattr(sr, "read_rgb", lambda path: decoded.append(path.name) or read_rgb(path))
    _same_bank(patch_bank_from_files(paths, opts, "t", workers=0), ref)
    assert 1 <= len(decoded) <= 3 and len(set(decoded)) == len(decoded) and "99_small.png" not in decoded


def test_workers_give_the_same_bank_and_say_so(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    folder = _sr_folder(tmp_path / "hr", n=5)
    base = {"path": str(folder), "scale": 2, "patch_size": 16, "num_patches": 500}
    with caplog.at_level(logging.INFO, logger="gan_bench.data"):
        banks = [load_dataset("sr-folder", "train", tmp_path, {**base, "workers": w}) for w in (0, 2, 3)]
    for ds in banks[1:]:
        _same_bank((ds.x, ds.lr), (banks[0].x, banks[0].lr))
    lines = [r.getMessage() for r in caplog.records if r.name == "gan_bench.data"]
    assert "sr-folder: reading 5 of 5 images for 500 patches (in this process)" in lines
    assert "sr-folder: reading 5 of 5 images for 500 patches (2 worker processes)" in lines
    # data.workers changes how the bank is read, never what it holds: it stays out of the config hash
    assert SROptions().workers == 2 and "workers" in DATA_READING


def test_worker_task_is_spawn_safe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # fork is the default on Linux; under spawn the task and its arguments must pickle and import
    folder = _sr_folder(tmp_path / "hr", n=3)
    paths = sr.list_images(folder)
    opts = SROptions(scale=2, patch_size=16, num_patches=64)
    ref = patch_bank_from_files(paths, opts, "t", workers=0)
    monkeypatch.setattr(sr, "pool_context", lambda: multiprocessing.get_context("spawn"))
    _same_bank(patch_bank_from_files(paths, opts, "t", workers=2), ref)


@pytest.mark.parametrize("workers", [0, 2])
def test_unreadable_image_is_one_line_naming_it(tmp_path: Path, workers: int):
    folder = _sr_folder(tmp_path / "hr", n=3)
    # a valid header (the size is read before anything is decoded) over truncated pixel data
    data = (folder / "01.png").read_bytes()
    (folder / "01.png").write_bytes(data[: len(data) // 2])
    opts = {"path": str(folder), "scale": 2, "patch_size": 16, "num_patches": 64, "workers": workers}
    with pytest.raises(DataError) as info:
        load_dataset("sr-folder", "train", tmp_path, opts)
    msg = str(info.value)
    assert msg.startswith("cannot decode image ") and msg.split(": ")[0].endswith("01.png") and "\n" not in msg
    assert info.value.__cause__ is None and info.value.__suppress_context__  # not the pool's traceback
    # a file whose header cannot be read fails before any worker starts, the same way
    (folder / "01.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"cannot decode image .*01\.png"):
        load_dataset("sr-folder", "train", tmp_path, opts)
