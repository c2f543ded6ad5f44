"""``gan-bench sr-eval``: PSNR, SSIM and NIQE of a super-resolution method on a folder of HR images."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

NAME = "sr-eval"
HELP = "super-resolution scores (Y-PSNR, SSIM, NIQE) of bicubic or a trained run on HR images"
DESCRIPTION = """\
Score a super-resolution method on the HR images of --hr with the protocol of the published tables:
PSNR and SSIM on the Y channel of YCbCr (ITU-R BT.601, MATLAB's coefficients, not rounded), S
pixels cropped from every border (S = --scale), SSIM with an 11x11 Gaussian window (sigma 1.5) on
[0, 255]; NIQE (no reference, lower is better) as BasicSR's calculate_niqe, on the Y channel with
the same border crop. --channel rgb scores the RGB channels instead (the BasicSR ModelZoo's
numbers). Every HR image is first cropped to a multiple of S.

LR inputs: with --lr DIR, the files of DIR (matched by name: `baby.png` or `babyx4.png` for
`baby.png`); without it, gan_bench makes them from HR with MATLAB's bicubic imresize (the way the
benchmarks' LR files were made; equal to them up to rounding).

Methods: --method bicubic (MATLAB bicubic upsampling), or --run RUN_DIR (the generator of a
trained `srgan`/`esrgan` run, its EMA copy when it has one).

NIQE needs the published pristine-model parameters (niqe_pris_params.npz, shipped by
`pip install basicsr`, or set $GAN_BENCH_NIQE_PARAMS); without them NIQE is left out with a
warning (--no-niqe skips it).

examples:
  gan-bench sr-eval --hr ../shared/data/set5/HR --scale 4 --method bicubic
  gan-bench sr-eval --hr ../shared/data/set5/HR --lr ../shared/data/set5/LR_bicubic/X4 --scale 4 --method bicubic --json
  gan-bench sr-eval --hr ../shared/data/set5/HR --scale 4 --run runs/srgan-psnr --json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hr", required=True, metavar="DIR", help="folder of HR (ground-truth) images")
    parser.add_argument("--scale", required=True, type=int, metavar="S", help="upscaling factor (2, 3, 4, 8)")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--method", choices=("bicubic",), help="a classical method")
    how.add_argument("--run", metavar="RUN_DIR", help="a trained super-resolution run")
    parser.add_argument("--lr", metavar="DIR", help="folder of LR inputs (default: made from HR with MATLAB bicubic)")
    parser.add_argument("--channel", choices=("y", "rgb"), default="y", help="score Y (default) or RGB")
    parser.add_argument("--no-niqe", action="store_true", help="skip NIQE")
    parser.add_argument("--device", default="cpu", help="device of a run's generator (default: cpu)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _lr_file(folder: Path, stem: str, scale: int) -> Path:
    from gan_bench.config import ConfigError
    from gan_bench.data.images import list_images

    candidates = [p for p in list_images(folder) if p.stem in (stem, f"{stem}x{scale}", f"{stem}_x{scale}")]
    if not candidates:
        raise ConfigError(f"--lr: no LR image for {stem} in {folder} (looked for {stem}.*, {stem}x{scale}.*)")
    return candidates[0]


def evaluate_folder(hr_dir: Path, scale: int, method: str | None = None, run: str | None = None,
                    lr_dir: Path | None = None, channel: str = "y", with_niqe: bool = True,
                    device: str = "cpu") -> dict[str, Any]:
    """Per-image and mean PSNR/SSIM (and NIQE) of ``method`` or ``run`` on the images of ``hr_dir``."""
    import logging

    import numpy as np

    from gan_bench.config import ConfigError
    from gan_bench.data.base import DataError
    from gan_bench.data.images import list_images
    from gan_bench.data.sr import read_rgb
    from gan_bench.sr.imresize import imresize, modcrop
    from gan_bench.sr.niqe import niqe, params_path
    from gan_bench.sr.quality import protocol_name, sr_scores

    if scale < 2 or scale > 8:
        raise ConfigError(f"--scale must be 2..8, got {scale}")
    if not hr_dir.is_dir():
        raise ConfigError(f"--hr: {hr_dir} is not a folder of images")
    if lr_dir is not None and not lr_dir.is_dir():
        raise ConfigError(f"--lr: {lr_dir} is not a folder of images")
    paths = list_images(hr_dir)
    if not paths:
        raise DataError(f"--hr: no images (.png, .jpg, .bmp, ...) in {hr_dir}")
    niqe_source = None
    if with_niqe:
        try:
            niqe_source = str(params_path())
        except DataError as exc:
            logging.getLogger(__name__).warning("%s; NIQE left out", exc)
            with_niqe = False
    upscale = None
    if run is not None:
        from gan_bench.train.runs import open_run

        variant = open_run(run, device).variant
        if not hasattr(variant, "upscale"):
            raise ConfigError(f"--run: {run} is a {variant.cfg.variant} run, not a super-resolution one")
        if getattr(variant, "scale", scale) != scale:
            raise ConfigError(f"--run: {run} upscales x{variant.scale}, not x{scale}")
        upscale = variant.upscale
    rows = []
    for path in paths:
        hr = modcrop(read_rgb(path), scale)
        if lr_dir is not None:
            lr = read_rgb(_lr_file(lr_dir, path.stem, scale))
            expect = (hr.shape[0] // scale, hr.shape[1] // scale)
            if lr.shape[:2] != expect:
                raise DataError(f"--lr: {path.stem}'s LR image is {lr.shape[1]}x{lr.shape[0]}, "
                                f"not {expect[1]}x{expect[0]} (HR / {scale})")
        else:
            lr = imresize(hr, 1.0 / scale)
        sr = imresize(lr, scale) if upscale is None else upscale(lr)
        if sr.shape != hr.shape:
            raise DataError(f"{path.stem}: the SR image is {sr.shape}, the HR image {hr.shape}")
        row: dict[str, Any] = {"image": path.name, **sr_scores(hr, sr, scale, channel)}  # type: ignore[arg-type]
        if with_niqe:
            row["niqe"] = niqe(sr, crop_border=scale)
        rows.append(row)
    out: dict[str, Any] = {
        "psnr": float(np.mean([r["psnr"] for r in rows])),
        "ssim": float(np.mean([r["ssim"] for r in rows])),
        "niqe": float(np.mean([r["niqe"] for r in rows])) if with_niqe else None,
        "per_image": rows,
        "protocol": {
            "name": protocol_name(scale, channel),  # type: ignore[arg-type]
            "channel": "Y (ITU-R BT.601, MATLAB coefficients, float)" if channel == "y" else "RGB",
            "border_crop": scale,
            "ssim": "11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, data range 255",
            "niqe": f"BasicSR calculate_niqe (Y, crop {scale}), pristine parameters {niqe_source}" if with_niqe else None,
            "lr": str(lr_dir) if lr_dir is not None else "MATLAB bicubic imresize of the HR images (gan_bench)",
            "method": f"run {run}" if run is not None else method,
            "scale": scale,
            "hr": str(hr_dir),
            "images": len(rows),
        },
    }
    return out


def run(args: argparse.Namespace) -> int:
    result = evaluate_folder(Path(args.hr), args.scale, args.method, args.run,
                             Path(args.lr) if args.lr else None, args.channel, not args.no_niqe, args.device)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    p = result["protocol"]
    print(f"{p['method']} x{p['scale']} on {p['hr']} ({p['images']} images), {p['name']}; LR: {p['lr']}")
    for r in result["per_image"]:
        niqe = f"  NIQE {r['niqe']:.4f}" if "niqe" in r else ""
        print(f"  {r['image']:24s} PSNR {r['psnr']:.4f} dB  SSIM {r['ssim']:.4f}{niqe}")
    niqe = f"  NIQE {result['niqe']:.4f}" if result["niqe"] is not None else ""
    print(f"  {'mean':24s} PSNR {result['psnr']:.4f} dB  SSIM {result['ssim']:.4f}{niqe}")
    return 0
