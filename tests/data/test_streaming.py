"""Streaming datasets: batches read from disk by worker processes equal the in-memory ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_bench.config import ConfigError
from gan_bench.data.base import ArrayDataset, DataError, DataSpec, load_dataset
from gan_bench.data.streaming import MemmapImages, StreamingDataset, npy_member
from gan_bench.train.sampler import EpochSampler


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAN_BENCH_CACHE", str(tmp_path / "cache"))


def _images(n: int, h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def _folder(root: Path, per_class: int = 6, h: int = 12, w: int = 10) -> Path:
    """Two class folders of random PNGs (lossless: the pixels are known exactly)."""
    for k, cls in enumerate(("cat", "dog")):
        (root / cls).mkdir(parents=True)
        for i, img in enumerate(_images(per_class, h, w, seed=k)):
            Image.fromarray(img).save(root / cls / f"{i:02d}.png")
    return root


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k


INDEXES = (torch.tensor([3, 0, 11, 7, 7]), torch.arange(12), torch.tensor([5]))


@pytest.mark.parametrize("opts", [{}, {"image_size": 8, "crop": 9}, {"image_size": 6, "grayscale": True, "labels": False}])
def test_folder_batches_equal_in_memory(tmp_path: Path, opts: dict) -> None:
    root = _folder(tmp_path / "imgs")
    base = {"path": str(root), "cache": False, **opts}
    mem = load_dataset("folder", "train", None, {**base, "stream": False})
    st = load_dataset("folder", "train", None, {**base, "stream": True, "workers": 2})
    assert isinstance(st, StreamingDataset) and type(mem) is ArrayDataset
    assert st.spec == mem.spec and st.meta == mem.meta and len(st) == len(mem) == 12
    assert st.x.shape == mem.x.shape and st.x.dtype == torch.uint8
    for index in INDEXES:
        _same(mem.batch(index), st.batch(index))
        assert torch.equal(st.x[index], mem.x[index])
    assert torch.equal(st.x[:4], mem.x[:4]) and torch.equal(st.x[-1], mem.x[-1])
    rows = torch.cat([b["x"] for b in st.iter_batches(5)])
    assert torch.equal(rows, mem.batch(torch.arange(12))["x"])
    st.close()


@pytest.mark.parametrize("suffix", [".npz", ".npy"])
def test_memory_mapped_arrays_equal_in_memory(tmp_path: Path, suffix: str) -> None:
    x, y = _images(40, 9, 9, seed=3), np.arange(40) % 4
    path = tmp_path / f"data{suffix}"
    if suffix == ".npz":
        np.savez(path, x=x, y=y)
    else:
        np.save(path, x)
    offset, dtype, shape, _, compressed = npy_member(path, "x")
    assert (dtype, shape, compressed) == (np.uint8, (40, 9, 9, 3), False)
    for opts in ({}, {"image_size": 16, "num_examples": 25}):
        base = {"path": str(path), **opts}
        mem = load_dataset("folder", "train", None, {**base, "stream": False})
        st = load_dataset("folder", "train", None, {**base, "stream": True, "workers": 0})
        assert isinstance(st, StreamingDataset) and st.spec == mem.spec and len(st) == len(mem)
        for index in (torch.tensor([2, 0, 19, 19]), torch.arange(len(mem))):
            _same(mem.batch(index), st.batch(index))


def test_following_the_sampler_reads_ahead_and_never_changes_batches(tmp_path: Path) -> None:
    root = _folder(tmp_path / "imgs", per_class=10, h=8, w=8)
    mem = load_dataset("folder", "train", None, {"path": str(root), "stream": False})
    st = load_dataset("folder", "train", None, {"path": str(root), "stream": True, "workers": 2})
    ours, theirs = EpochSampler(len(st), seed=1), EpochSampler(len(mem), seed=1)
    st.follow(ours)
    for step in range(12):  # several epochs of 20 examples in batches of 6
        _same(mem.batch(theirs.next(6)), st.batch(ours.next(6)))
        if step in (3, 4):  # a batch outside the sampler's order (evaluation) keeps the reads ahead
            _same(mem.batch(torch.tensor([1, 2])), st.batch(torch.tensor([1, 2])))
        if step == 7:  # the sampler moved under it (a resume): predicted again
            theirs.next(5), ours.next(5)
    assert st.read_ahead_hits == 12 - 2  # all but the first batch and the one after the jump
    # data-parallel: rank 1 of 2 reads its half of each global draw of 8
    ours, theirs = EpochSampler(len(st), seed=2), EpochSampler(len(mem), seed=2)
    st.follow(ours, rank=1, world_size=2)
    for _ in range(6):
        _same(mem.batch(theirs.next(8)[4:]), st.batch(ours.next(8)[4:]))
    assert st.read_ahead_hits == 10 + 5


def test_auto_streams_only_over_the_memory_limit(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = _folder(tmp_path / "imgs")  # 12 images 12x10, centre-cropped to 10x10: 3,600 bytes
    base = {"path": str(root), "cache": False}
    assert type(load_dataset("folder", "train", None, base)) is ArrayDataset
    assert type(load_dataset("folder", "train", None, {**base, "max_memory_gb": 3600 / 2**30})) is ArrayDataset
    with caplog.at_level("INFO", logger="gan_bench.data"):
        st = load_dataset("folder", "train", None, {**base, "max_memory_gb": 3599 / 2**30})
    assert isinstance(st, StreamingDataset) and "data.max_memory_gb" in st.reason
    assert any("streaming 12 examples" in r.getMessage() and "max_memory_gb" in r.getMessage() for r in caplog.records)
    assert type(load_dataset("folder", "train", None, {**base, "stream": False, "max_memory_gb": 0})) is ArrayDataset
    with pytest.raises(ConfigError, match="data.stream"):
        load_dataset("folder", "train", None, {**base, "stream": "sometimes"})


def test_corrupt_missing_and_unmappable_files_are_named(tmp_path: Path) -> None:
    root = _folder(tmp_path / "imgs")
    bad = root / "dog" / "03.png"
    bad.write_bytes(b"not a png")
    st = load_dataset("folder", "train", None, {"path": str(root), "stream": True, "workers": 2})
    st.batch(torch.tensor([0, 1]))  # the good files read
    with pytest.raises(DataError, match=r"cannot decode image .*dog/03\.png"):
        st.batch(torch.tensor([0, 9]))  # 9 = dog/03
    gone = root / "cat" / "01.png"
    gone.unlink()
    with pytest.raises(DataError, match=r"cat/01\.png"):
        st.batch(torch.tensor([1]))
    st.close()
    np.savez_compressed(tmp_path / "small.npz", x=_images(4, 8, 8, seed=0))
    with pytest.raises(DataError, match="compressed .npz"):
        load_dataset("folder", "train", None, {"path": str(tmp_path / "small.npz"), "stream": True})


def test_reference_features_read_a_streamed_dataset(tmp_path: Path) -> None:
    """Training-time FID/KID gather their real images with ``dataset.x[index]``; a streamed
    dataset must give the same scores as the same images in memory."""
    from gan_bench.metrics.training_eval import evaluate_classifier_scores

    x = np.random.default_rng(0).integers(0, 256, (64, 28, 28), dtype=np.uint8)
    np.save(tmp_path / "digits.npy", x)
    offset, _, shape, _, _ = npy_member(tmp_path / "digits.npy")
    spec = DataSpec(shape=(1, 28, 28), kind="image")
    streamed = StreamingDataset("mnist", MemmapImages(tmp_path / "digits.npy", offset, shape), spec, workers=2)
    in_memory = ArrayDataset("mnist", torch.from_numpy(x).unsqueeze(1), spec)
    fake = torch.rand(32, 1, 28, 28) * 2 - 1
    scores = evaluate_classifier_scores(fake, streamed)
    assert scores and scores == evaluate_classifier_scores(fake, in_memory)


def test_a_run_trains_on_a_streamed_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gan_bench.train.resolve import resolve
    from gan_bench.train.trainer import Trainer

    root = _folder(tmp_path / "imgs", per_class=16, h=16, w=16)
    calls = []
    batch = StreamingDataset.batch
    monkeypatch.setattr(StreamingDataset, "batch", lambda self, index: calls.append(len(index)) or batch(self, index))
    resolved = resolve(flags={"variant": "dcgan", "dataset": "folder", "budget": "3steps", "batch_size": 8},
                       overrides=[f"data.path={root}", "data.stream=true", "net.width=8", "eval.num_samples=16"])
    result = Trainer(resolved, tmp_path / "run", progress=False).run()
    assert result.status == "done" and result.consumed.steps == 3
    assert sum(calls) >= 3 * 8  # every real batch came through the streaming dataset
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "done" and "metrics" in summary


def test_celeba_streams_the_faces_it_would_hold(tmp_path: Path) -> None:
    folder = tmp_path / "celeba" / "img_align_celeba"  # the official layout, 178x218 JPEGs
    folder.mkdir(parents=True)
    names = [f"{i:06d}.jpg" for i in range(1, 8)]
    for i, name in enumerate(names):
        Image.fromarray(_images(1, 218, 178, seed=i)[0]).save(folder / name, quality=90)
    header = f"{len(names)}\nSmiling Male\n"
    (folder.parent / "list_attr_celeba.txt").write_text(header + "".join(f"{n} -1 {1 - i % 2 * 2}\n" for i, n in enumerate(names)))
    opts = {"verify": False, "image_size": 16, "label_attr": "Male", "num_examples": 5, "cache": False}
    mem = load_dataset("celeba", "all", tmp_path, {**opts, "stream": False})
    st = load_dataset("celeba", "all", tmp_path, {**opts, "stream": True, "workers": 2})
    assert isinstance(st, StreamingDataset) and st.spec == mem.spec and len(st) == len(mem) == 5
    assert st.meta["filenames"] == mem.meta["filenames"] and torch.equal(st.meta["index"], mem.meta["index"])
    _same(mem.batch(torch.tensor([4, 0, 2, 2])), st.batch(torch.tensor([4, 0, 2, 2])))


def test_reading_options_leave_the_run_identity_unchanged():
    """A streamed run and an in-memory run of the same config are one run: same folder name."""
    from gan_bench.train.identity import _hash

    base = {"variant": "dcgan", "dataset": "folder", "data": {"path": "faces", "image_size": 64}}
    streamed = {**base, "data": {**base["data"], "stream": "true", "workers": 4, "max_memory_gb": 1.0}}
    assert _hash(streamed, frozenset()) == _hash(base, frozenset())
    assert _hash({**base, "data": {**base["data"], "image_size": 32}}, frozenset()) != _hash(base, frozenset())
