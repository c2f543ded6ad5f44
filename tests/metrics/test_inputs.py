"""INPUT strings: folders, .npz, dataset splits and run directories become uint8 NCHW batches;
bad inputs are one-line MetricsInputErrors."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch
from metrics_helpers import DATA, mnist, write_pngs
from PIL import Image

from gan_bench.metrics.errors import MetricsInputError
from gan_bench.metrics.inputs import ArrayInput, FolderInput, RunInput, float_to_uint8, resolve_input


def collect(inp, batch_size=7):
    return torch.cat(list(inp.batches(batch_size)))


def test_npz_gray_and_rgb(tmp_path):
    gray = np.random.default_rng(0).integers(0, 256, (10, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "g.npz", gray)
    np.savez(tmp_path / "c.npz", images=np.stack([gray] * 3, axis=-1))
    g = resolve_input(str(tmp_path / "g.npz"))
    c = resolve_input(str(tmp_path / "c.npz"), num=4)
    assert collect(g).shape == (10, 1, 8, 8) and torch.equal(collect(g)[:, 0], torch.from_numpy(gray))
    assert collect(c).shape == (4, 3, 8, 8)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((4, 3, 8, 8), np.uint8), "NHWC"),
        (np.zeros((4, 8, 8, 3), np.float32), "uint8"),
    ],
)
def test_bad_npz_is_one_line(tmp_path, array, message):
    np.savez(tmp_path / "bad.npz", x=array)
    with pytest.raises(MetricsInputError) as err:
        resolve_input(str(tmp_path / "bad.npz"))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_folder_reads_rgb_in_name_order(tmp_path):
    x, _ = mnist("test")
    write_pngs(tmp_path / "f", x[:5])
    inp = resolve_input(str(tmp_path / "f"))
    assert isinstance(inp, FolderInput)
    out = collect(inp, 2)
    assert out.shape == (5, 3, 28, 28)
    assert torch.equal(out[:, 1], torch.from_numpy(x[:5].copy()))
    assert torch.equal(inp.gather(np.array([4, 0, 4])), out[[4, 0, 4]])


def test_folder_with_mixed_sizes_names_the_file(tmp_path):
    (tmp_path / "f").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "f" / "a.png")
    Image.new("RGB", (9, 8)).save(tmp_path / "f" / "b.png")
    with pytest.raises(MetricsInputError, match="b.png is 9x8"):
        collect(resolve_input(str(tmp_path / "f")))


@pytest.mark.parametrize("text, message", [("nope/nothing", "not an image folder"), ("nosuchset:test", "not a dataset")])
def test_unknown_inputs(text, message):
    with pytest.raises(MetricsInputError, match=message):
        resolve_input(text)


def test_too_few_images_for_num(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.zeros((3, 4, 4, 1), np.uint8))
    with pytest.raises(MetricsInputError, match="fewer than --num 5"):
        resolve_input(str(tmp_path / "a.npz"), num=5)


def test_dataset_split_goes_through_load_dataset():
    inp = resolve_input("mnist:test", num=100, data_root=str(DATA))
    x, _ = mnist("test")
    assert isinstance(inp, ArrayInput)
    assert torch.equal(collect(inp)[:, 0], torch.from_numpy(x[:100].copy()))
    assert inp.describe()["split"] == "test"


def test_content_hash_follows_content_and_order():
    x = torch.randint(0, 256, (6, 1, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    a, b, c = ArrayInput("a", "npz", x), ArrayInput("b", "npz", x.clone()), ArrayInput("c", "npz", x.flip(0))
    assert a.content_hash() == b.content_hash() != c.content_hash()


def test_float_to_uint8_matches_save_image(tmp_path):
    from torchvision.utils import save_image

    x = torch.rand(1, 3, 5, 5, generator=torch.Generator().manual_seed(0)) * 2 - 1
    save_image((x + 1) / 2, tmp_path / "s.png")
    saved = torch.from_numpy(np.array(Image.open(tmp_path / "s.png"))).permute(2, 0, 1)
    assert torch.equal(float_to_uint8(x)[0], saved)


def test_run_directory_streams_samples_without_writing(tmp_path, monkeypatch):
    """A run directory (config.yaml) is read through open_run(...).samples lazily."""
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "config.yaml").write_text("variant: x\n")
    calls = {}

    class Handle:
        step = 123

        def samples(self, n, batch_size, seed):
            calls.update(n=n, batch_size=batch_size, seed=seed)
            gen = torch.Generator().manual_seed(seed)
            for i in range(0, n, batch_size):
                yield types.SimpleNamespace(x=torch.rand(min(batch_size, n - i), 1, 6, 6, generator=gen) * 2 - 1, y=None)

    fake = types.ModuleType("gan_bench.train.runs")
    fake.open_run = lambda path, device: Handle()
    monkeypatch.setitem(sys.modules, "gan_bench.train.runs", fake)
    before = sorted(p.name for p in run_dir.rglob("*"))
    inp = resolve_input(str(run_dir), num=25, seed=5)
    assert isinstance(inp, RunInput) and len(inp) == 25 and inp.content_hash() is None
    out = collect(inp, 10)
    assert out.dtype == torch.uint8 and out.shape == (25, 1, 6, 6)
    assert calls == {"n": 25, "batch_size": 10, "seed": 5}
    assert inp.describe()["checkpoint_step"] == 123
    assert sorted(p.name for p in run_dir.rglob("*")) == before


def test_folder_with_class_subfolders_reads_what_training_reads(tmp_path, data_root):
    from gan_bench.data.base import load_dataset
    from gan_bench.data.images import list_images

    x, _ = mnist("test")
    write_pngs(tmp_path / "imgs" / "zero", x[:3])
    write_pngs(tmp_path / "imgs" / "one", x[3:5])
    (tmp_path / "imgs" / "one" / "extra.GIF").write_bytes((tmp_path / "imgs" / "one" / "00000.png").read_bytes())
    (tmp_path / "imgs" / "notes.txt").write_text("not an image")
    inp = resolve_input(str(tmp_path / "imgs"))
    assert isinstance(inp, FolderInput) and inp.files == list_images(tmp_path / "imgs") and len(inp) == 6
    trained = load_dataset("folder", "train", data_root, {"path": str(tmp_path / "imgs"), "cache": False, "grayscale": True})
    assert len(trained) == len(inp)
    # the same images in the same order (training decodes 1 channel here, metrics RGB)
    assert torch.equal(collect(inp)[:, :1], trained.x)


def test_run_directory_with_sample_pngs_is_still_a_run(tmp_path):
    write_pngs(tmp_path / "run" / "samples", mnist("test")[0][:2])
    (tmp_path / "run" / "config.yaml").write_text("variant: gan-ns\n")
    assert isinstance(resolve_input(str(tmp_path / "run")), RunInput)


@pytest.mark.parametrize("content, message", [
    (b"", "cannot read"),
    (b"PK\x03\x04garbage", "cannot read"),
    (None, "holds arrays none"),
])
def test_empty_or_corrupt_npz_is_one_line(tmp_path, content, message):
    path = tmp_path / "e.npz"
    if content is None:
        np.savez(path)
    else:
        path.write_bytes(content)
    with pytest.raises(MetricsInputError, match=message) as err:
        resolve_input(str(path))
    assert "\n" not in str(err.value)


def test_decompression_bomb_png_is_one_line(tmp_path):
    from metrics_helpers import write_png_header

    write_pngs(tmp_path / "f", mnist("test")[0][:1])
    write_png_header(tmp_path / "f" / "00001.png", 20_000, 10_000)  # 200 megapixels
    inp = resolve_input(str(tmp_path / "f"))
    with pytest.raises(MetricsInputError, match=r"00001.png .*megapixels") as err:
        collect(inp)
    assert "\n" not in str(err.value)
    write_png_header(tmp_path / "f" / "00001.png", 10_000, 10_000)  # under Pillow's limit, over ours
    with pytest.raises(MetricsInputError, match=r"10000x10000 \(95 megapixels\), over the limit of 64"):
        collect(resolve_input(str(tmp_path / "f")))
