"""utkface-masked: centre and random holes, fixed per face and mask_seed, the local patch around them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gan_bench.data.base import DataError, load_dataset
from gan_bench.data.masks import (
    MaskedFaceOptions,
    box_masks,
    crop_patches,
    draw_boxes,
    local_patch_corners,
    mask_boxes,
)

SMALL = {"num_examples": 256}


@pytest.fixture(scope="module")
def load(tmp_path_factory: pytest.TempPathFactory):
    """load(split, **options): utkface-masked from ../shared/data with a private decode cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAN_BENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        root = Path(__import__("os").environ["GAN_BENCH_DATA"])
        if not (root / "utkface" / "labels.csv").is_file():
            pytest.skip(f"UTKFace not found under {root}")
        yield lambda split="train", **o: load_dataset("utkface-masked", split, None, {**SMALL, **o})


def test_batch_is_image_masked_image_and_mask(load):
    data = load(mask="random")
    assert data.name == "utkface" and data.meta["mask"] == "random"  # the utkface classifier scores it
    b = data.batch(torch.arange(8))
    x, cond, mask = b["x"], b["cond"], b["mask"]
    assert x.shape == cond.shape == (8, 3, 64, 64) and mask.shape == (8, 1, 64, 64)
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    hole = mask.expand_as(x).bool()
    assert torch.equal(cond[~hole], x[~hole]) and bool((cond[hole] == 0).all())
    assert torch.equal(mask, box_masks(data.boxes[:8], 64, 64))
    # a batch is a lookup: a face's mask does not depend on the rest of the batch
    assert torch.equal(data.batch(torch.tensor([5]))["mask"][0], mask[5])


def test_centre_holes_are_the_middle_quarter(load):
    data = load(mask="center")
    m = data.batch(torch.arange(4))["mask"]
    assert torch.equal(m[0, 0, 16:48, 16:48], torch.ones(32, 32)) and m[0].sum() == 32 * 32
    assert all(torch.equal(m[i], m[0]) for i in range(4))
    assert data.meta["patch_size"] == (32, 32)


def test_random_holes_follow_iizuka_scaled_and_are_fixed_by_the_seed(load):
    opts = MaskedFaceOptions(mask="random")
    boxes = draw_boxes(5000, 64, 64, opts)
    top, left, h, w = boxes.T
    assert int(h.min()) == 24 and int(h.max()) == 32 and int(w.min()) == 24 and int(w.max()) == 32  # 96..128 of 256
    assert bool((top >= 0).all() and (left >= 0).all() and (top + h <= 64).all() and (left + w <= 64).all())
    assert int(top.min()) == 0 and int((top + h).max()) == 64  # anywhere in the image
    assert torch.equal(boxes, draw_boxes(5000, 64, 64, opts))
    assert not torch.equal(boxes, draw_boxes(5000, 64, 64, MaskedFaceOptions(mask="random", mask_seed=1)))
    a, b = load(mask="random"), load(mask="random", mask_seed=3)
    assert torch.equal(a.boxes, load(mask="random").boxes) and not torch.equal(a.boxes, b.boxes)


def test_held_out_faces_keep_their_holes(load):
    """Split test: the faces whose sha256(file name) is in the lowest 10% (the translation tasks'
    rule); a face keeps its hole whichever split it is loaded in."""
    import hashlib

    train, test = load(), load("test")
    assert 10 <= len(test) <= 45 and len(train) + len(test) == 256  # about 10% of 256
    assert not set(train.meta["filenames"]) & set(test.meta["filenames"])
    assert all(int(hashlib.sha256(f.encode()).hexdigest()[:12], 16) < 0.1 * 16**12 for f in test.meta["filenames"])
    assert not any(int(hashlib.sha256(f.encode()).hexdigest()[:12], 16) < 0.1 * 16**12 for f in train.meta["filenames"])
    # the loaded faces in their order (meta index: position in UTKFace) carry the boxes drawn for all
    rows = sorted([*zip(train.meta["index"].tolist(), train.boxes.tolist()),
                   *zip(test.meta["index"].tolist(), test.boxes.tolist())])
    assert [box for _, box in rows] == draw_boxes(256, 64, 64, MaskedFaceOptions()).tolist()


def test_local_patch_contains_the_hole_inside_the_image():
    boxes = draw_boxes(500, 64, 64, MaskedFaceOptions(mask="random", mask_seed=7))
    mask = box_masks(boxes, 64, 64)
    assert torch.equal(mask_boxes(mask), boxes)
    corners = local_patch_corners(mask, (32, 32))
    top, left = corners.T
    assert bool((top >= 0).all() and (left >= 0).all() and (top + 32 <= 64).all() and (left + 32 <= 64).all())
    assert bool((top <= boxes[:, 0]).all() and (left <= boxes[:, 1]).all())
    assert bool((top + 32 >= boxes[:, 0] + boxes[:, 2]).all() and (left + 32 >= boxes[:, 1] + boxes[:, 3]).all())
    # centred where the image allows: the centre hole's patch is the middle
    centre = box_masks(torch.tensor([[16, 16, 32, 32], [0, 0, 10, 10]]), 64, 64)
    assert local_patch_corners(centre, (32, 32)).tolist() == [[16, 16], [0, 0]]
    x = torch.randn(500, 3, 64, 64, requires_grad=True)
    patches = crop_patches(x, corners, (32, 32))
    i, (t, l_) = 17, corners[17].tolist()
    assert torch.equal(patches[i], x[i, :, t : t + 32, l_ : l_ + 32])
    patches.sum().backward()
    assert x.grad is not None and int(x.grad.sum()) == 500 * 3 * 32 * 32


def test_bad_options_and_missing_files(load, tmp_path: Path):
    with pytest.raises(DataError, match="local patch"):
        draw_boxes(4, 64, 64, MaskedFaceOptions(hole_max=0.75))
    with pytest.raises(DataError, match="hole_min"):
        draw_boxes(4, 64, 64, MaskedFaceOptions(hole_min=0.5, hole_max=0.4))
    with pytest.raises(DataError, match=r"utkface: missing crop_part1/ and labels.csv; put them in"):
        load_dataset("utkface-masked", "train", tmp_path, SMALL)
    with pytest.raises(DataError, match="splits train, test"):
        load("valid")
