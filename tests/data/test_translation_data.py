"""Translation data: side-by-side and two-folder pairs, unpaired folders, the published layouts'
one-line errors, and the deterministic UTKFace tasks (edges, grey, young/old)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_bench.data import translation as T
from gan_bench.data.base import DataError, load_dataset
from gan_bench.data.utkface import age_to_bin

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
needs_utkface = pytest.mark.skipif(not (SHARED / "utkface" / "labels.csv").is_file(), reason="../shared/data/utkface not here")


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _rand_images(n: int, h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- the derived inputs


def test_grey_input_is_rounded_bt601_luma_in_three_channels():
    img = torch.from_numpy(_rand_images(2, 5, 5, 0)).permute(0, 3, 1, 2).contiguous()
    grey = T.grey_input(img)
    want = np.round(0.299 * img[:, 0].double().numpy() + 0.587 * img[:, 1].double().numpy()
                    + 0.114 * img[:, 2].double().numpy())
    assert grey.dtype == torch.uint8 and grey.shape == img.shape
    for c in range(3):
        assert np.array_equal(grey[:, c].numpy(), want)


def test_edges_trace_a_square_and_nothing_else():
    """A bright square on black: edges (0) lie on its border, the flat inside and outside stay 255."""
    img = torch.zeros(1, 3, 32, 32, dtype=torch.uint8)
    img[:, :, 8:24, 8:24] = 200
    edges = T.edge_input(img)
    assert edges.shape == img.shape and set(edges.unique().tolist()) <= {0, 255}
    on = edges[0, 0] == 0
    assert torch.equal(edges[:, 0], edges[:, 1]) and torch.equal(edges[:, 0], edges[:, 2])
    assert on.any() and not on[12:20, 12:20].any() and not on[:4].any() and not on[:, -4:].any()
    rows = on.any(1).nonzero().flatten()
    assert rows.min() >= 5 and rows.max() <= 26  # within a few pixels of the square's border
    assert torch.equal(T.edge_input(img), edges)  # deterministic


# --------------------------------------------------------------------------- folders


def test_facades_layout_splits_side_by_side_images_labels_to_photo(tmp_path: Path):
    photo, labels = _rand_images(3, 16, 16, 1), _rand_images(3, 16, 16, 2)
    for i in range(3):
        _png(tmp_path / "facades" / "train" / f"{i + 1}.png", np.concatenate([photo[i], labels[i]], 1))
    data = load_dataset("facades", "train", tmp_path, {"image_size": 16})
    assert len(data) == 3 and data.meta["translation"] == "paired"
    # published direction BtoA: input = the right half (labels), target = the left (photo)
    assert np.array_equal(data.x.permute(0, 2, 3, 1).numpy(), photo)
    assert np.array_equal(data.a.permute(0, 2, 3, 1).numpy(), labels)
    batch = data.batch(torch.tensor([2, 0]))
    assert batch["x"].shape == batch["cond"].shape == (2, 3, 16, 16)
    assert torch.equal(batch["cond"][0], data.a[2].float() / 127.5 - 1)
    flipped = load_dataset("facades", "train", tmp_path, {"image_size": 16, "direction": "AtoB"})
    assert torch.equal(flipped.x, data.a) and torch.equal(flipped.a, data.x)
    small = load_dataset("facades", "train", tmp_path, {"image_size": 8})
    assert small.spec.shape == (3, 8, 8)


def test_paired_folder_two_folders_match_file_names(tmp_path: Path):
    a, b = _rand_images(3, 8, 8, 3), _rand_images(3, 8, 8, 4)
    for i, name in enumerate(["x.png", "y.png", "z.png"]):
        _png(tmp_path / "pairs" / "A" / "train" / name, a[i])
        _png(tmp_path / "pairs" / "B" / "train" / name, b[i])
    _png(tmp_path / "pairs" / "A" / "train" / "only_a.png", a[0])
    data = load_dataset("paired-folder", "train", tmp_path, {"path": "pairs", "image_size": 8})
    assert data.meta["filenames"] == ["x.png", "y.png", "z.png"]
    assert np.array_equal(data.a.permute(0, 2, 3, 1).numpy(), a) and np.array_equal(data.x.permute(0, 2, 3, 1).numpy(), b)


def test_unpaired_rows_use_every_image_of_both_domains(tmp_path: Path):
    a, b = _rand_images(5, 8, 8, 5), _rand_images(2, 8, 8, 6)
    for i in range(5):
        _png(tmp_path / "horse2zebra" / "trainA" / f"{i}.png", a[i])
    for i in range(2):
        _png(tmp_path / "horse2zebra" / "trainB" / f"{i}.png", b[i])
    data = load_dataset("horse2zebra", "train", tmp_path, {"image_size": 8})
    assert data.meta["translation"] == "unpaired" and data.meta["b_repeats"] == 3
    assert len(data) == 6 and sorted(set(data.partner.tolist())) == [0, 1, 2, 3, 4]  # every A within one pass
    assert torch.equal(data.x[:2], data.x[2:4]) and torch.equal(data.meta["domain_b"], data.x[:2])
    batch = data.batch(torch.tensor([4, 1]))
    assert torch.equal(batch["cond"][0], data.a[data.partner[4]].float() / 127.5 - 1)
    again = load_dataset("horse2zebra", "train", tmp_path, {"image_size": 8})
    assert torch.equal(again.partner, data.partner)  # a fixed pairing: resumable index lookups
    other = load_dataset("horse2zebra", "train", tmp_path, {"image_size": 8, "seed": 1})
    assert not torch.equal(other.partner, data.partner)


@pytest.mark.parametrize("name,split,missing", [
    ("facades", "test", "facades/test/"),
    ("horse2zebra", "train", "horse2zebra/trainA/"),
])
def test_missing_published_sets_fail_in_one_line_naming_the_folder(tmp_path: Path, name, split, missing):
    with pytest.raises(DataError) as err:
        load_dataset(name, split, tmp_path)
    msg = str(err.value)
    assert "\n" not in msg and missing in msg and f"put it in {tmp_path}" in msg


def test_unpaired_folder_names_the_missing_domain(tmp_path: Path):
    _png(tmp_path / "u" / "trainA" / "0.png", _rand_images(1, 8, 8, 7)[0])
    with pytest.raises(DataError, match="u/trainB/"):
        load_dataset("unpaired-folder", "train", tmp_path, {"path": str(tmp_path / "u")})


# --------------------------------------------------------------------------- UTKFace tasks


@needs_utkface
def test_utkface_tasks_hold_out_faces_by_file_name_hash():
    train = load_dataset("utkface-grey2colour", "train", SHARED)
    test = load_dataset("utkface-grey2colour", "test", SHARED)
    names_train, names_test = set(train.meta["filenames"]), set(test.meta["filenames"])
    assert not names_train & names_test and len(names_train) + len(names_test) == 9780
    assert 0.08 < len(names_test) / 9780 < 0.12
    assert all(T.in_test_split(n, 0.1) for n in names_test)
    assert train.spec.shape == (3, 64, 64) and train.name == "utkface"  # the UTKFace classifier's FID
    assert torch.equal(test.a, T.grey_input(test.x))
    edges = load_dataset("utkface-edges2faces", "test", SHARED, {"num_examples": 48})
    names = test.meta["filenames"]
    rows = torch.tensor([names.index(n) for n in edges.meta["filenames"]])
    assert len(rows) == 48 and torch.equal(edges.x, test.x[rows])
    assert torch.equal(edges.a, T.edge_input(test.x[rows]))


@needs_utkface
def test_utkface_young2old_domains_are_age_groups():
    from gan_bench.data.utkface import load_utkface

    data = load_dataset("utkface-young2old", "test", SHARED)
    faces = load_utkface(SHARED, "train")
    age = dict(zip(faces.meta["filenames"], faces.meta["age"].tolist()))
    held = [n for n in faces.meta["filenames"] if T.in_test_split(n, 0.1)]
    assert data.a.shape[0] == sum(age[n] < 30 for n in held)
    assert data.meta["domain_b"].shape[0] == sum(age[n] >= 50 for n in held)
    assert data.meta["target_groups"] == tuple(sorted(set(age_to_bin(np.arange(50, 117)).tolist()))) == (4, 5)
    assert data.batch(torch.arange(3))["cond"].shape == (3, 3, 64, 64)
