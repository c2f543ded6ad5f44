"""SR conventions against the published tables and the reference libraries, on the real Set5."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_bench.cli import main
from gan_bench.data.base import DataError
from gan_bench.data.sr import SET5_SHA256, read_rgb
from gan_bench.sr.color import rgb_to_y
from gan_bench.sr.imresize import cubic, imresize, modcrop, resize_weights
from gan_bench.sr.niqe import niqe, params_path
from gan_bench.sr.quality import psnr, sr_scores, ssim

SET5 = Path(__file__).resolve().parents[3] / "shared" / "data" / "set5"
needs_set5 = pytest.mark.skipif(not (SET5 / "HR" / "baby.png").is_file(), reason="../shared/data/set5 not here")


def _set5(scale: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(modcropped HR, shipped LR) of the five images."""
    out = []
    for name in sorted(SET5_SHA256):
        stem = name[:-4]
        hr = modcrop(read_rgb(SET5 / "HR" / name), scale)
        out.append((hr, read_rgb(SET5 / "LR_bicubic" / f"X{scale}" / f"{stem}x{scale}.png")))
    return out


def test_cubic_kernel_and_weights():
    assert cubic(torch.tensor([0.0, 1.0, 2.0, 0.5])).tolist() == [1.0, 0.0, 0.0, 0.5625]
    w = resize_weights(12, 3, 0.25)
    assert w.shape == (3, 12)
    assert np.allclose(w.sum(1).numpy(), 1.0)
    # shrinking spreads over 4 / scale = 16 taps (mirrored at the borders), enlarging over 4
    assert int((resize_weights(64, 16, 0.25)[8] != 0).sum()) == 16
    assert int((resize_weights(16, 64, 4.0)[30] != 0).sum()) == 4


def test_imresize_shapes_and_constant_images():
    img = np.full((30, 21, 3), 77, dtype=np.uint8)
    small = imresize(img, 1 / 3)
    assert small.shape == (10, 7, 3) and small.dtype == np.uint8 and (small == 77).all()
    assert imresize(np.zeros((10, 10)), 2.0).shape == (20, 20)


def test_rgb_to_y_matlab_coefficients():
    rgb = np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0]]], dtype=np.uint8)
    assert np.allclose(rgb_to_y(rgb), [[235.0, 16.0, 16 + 65.481]])


@needs_set5
@pytest.mark.parametrize("scale,lo,hi", [(4, 28.42, 28.44), (2, 33.66, 33.69)])
def test_bicubic_set5_matches_the_tables(scale: int, lo: float, hi: float):
    shipped, own = [], []
    for hr, lr in _set5(scale):
        shipped.append(sr_scores(hr, imresize(lr, scale), scale)["psnr"])
        own.append(sr_scores(hr, imresize(imresize(hr, 1 / scale), scale), scale)["psnr"])
    assert lo <= np.mean(shipped) <= hi
    assert lo <= np.mean(own) <= hi


@needs_set5
def test_own_lr_images_equal_the_shipped_ones():
    close = total = 0
    for hr, lr in _set5(4):
        mine = imresize(hr, 0.25)
        assert mine.shape == lr.shape
        diff = np.abs(mine.astype(int) - lr.astype(int))
        close += int((diff <= 1).sum())
        total += diff.size
    assert close / total >= 0.9999


@needs_set5
def test_psnr_ssim_equal_scikit_image():
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    for hr, lr in _set5(4):
        a = rgb_to_y(hr)[4:-4, 4:-4]
        b = rgb_to_y(imresize(lr, 4))[4:-4, 4:-4]
        assert abs(psnr(a, b) - peak_signal_noise_ratio(a, b, data_range=255)) < 1e-6
        ref = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
        assert abs(ssim(a, b) - ref) < 1e-6


def _basicsr_niqe():
    """basicsr's metrics module without running basicsr/__init__ (which imports its whole
    training stack, broken on current torchvision)."""
    spec = importlib.util.find_spec("basicsr") if "basicsr" not in sys.modules else None
    if "basicsr" not in sys.modules:
        if spec is None or not spec.submodule_search_locations:
            pytest.skip("basicsr is not installed")
        stub = types.ModuleType("basicsr")
        stub.__path__ = list(spec.submodule_search_locations)
        sys.modules["basicsr"] = stub
    try:
        from basicsr.metrics.niqe import calculate_niqe
    except ImportError as exc:
        pytest.skip(f"basicsr's niqe is not importable: {exc}")
    return calculate_niqe


@needs_set5
def test_niqe_equals_basicsr():
    calculate_niqe = _basicsr_niqe()
    for name in sorted(SET5_SHA256):
        rgb = read_rgb(SET5 / "HR" / name)
        ref = calculate_niqe(rgb[..., ::-1].copy(), crop_border=4, input_order="HWC", convert_to="y")
        assert abs(niqe(rgb, crop_border=4) - ref) < 1e-3, name


def test_niqe_params_missing_is_one_line(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("GAN_BENCH_NIQE_PARAMS", str(tmp_path / "none.npz"))
    with pytest.raises(DataError, match="niqe_pris_params.npz"):
        params_path()


def test_ssim_of_identical_images_is_one_and_psnr_infinite():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 255, (32, 32))
    assert ssim(a, a) == pytest.approx(1.0)
    assert psnr(a, a) == float("inf")
    assert ssim(a, a + rng.normal(0, 20, a.shape)) < 0.99


@needs_set5
def test_sr_eval_cli(capsys, tmp_path: Path):
    assert main(["sr-eval", "--hr", str(SET5 / "HR"), "--lr", str(SET5 / "LR_bicubic" / "X4"), "--scale", "4",
                 "--method", "bicubic", "--no-niqe", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"psnr", "ssim", "niqe", "per_image", "protocol"}
    assert 28.42 <= out["psnr"] <= 28.44 and len(out["per_image"]) == 5 and out["protocol"]["border_crop"] == 4
    assert main(["sr-eval", "--hr", str(tmp_path / "missing"), "--scale", "4", "--method", "bicubic"]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["sr-eval", "--hr", str(SET5 / "HR"), "--lr", str(tmp_path), "--scale", "4", "--method", "bicubic"]) == 2
    assert main(["sr-eval", "--hr", str(SET5 / "HR"), "--scale", "4", "--run", str(tmp_path)]) == 2
