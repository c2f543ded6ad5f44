"""Throughput of ``gan-bench metrics`` against a direct torch-fidelity call, same images, same values.

Both score the same two PNG folders (the first N MNIST test digits against the first N MNIST train
digits, written once to a temporary folder) with FID, KID and IS under the legacy-tf protocol and
the same Inception weights: the official torch-fidelity file when given (--weights), else stand-in
weights made offline. Each tool runs in its own fresh process (so neither warms the other's caches);
the timed region is the call itself (``gan_bench.cli.main([...])`` for gan-bench,
``torch_fidelity.calculate_metrics`` with its defaults for torch-fidelity), caches off on both.
Printed: seconds, images per second, the ratio (torch-fidelity time / gan-bench time; > 1 means
gan-bench is faster), and every value side by side with its relative difference.

    python benchmarks/metrics_throughput.py                  # N = 200, a few minutes on 2 CPU cores
    python benchmarks/metrics_throughput.py --num 10000      # the full comparison
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
KEYS = {  # gan_bench key -> torch-fidelity key
    "fid": "frechet_inception_distance",
    "kid_mean": "kernel_inception_distance_mean",
    "kid_std": "kernel_inception_distance_std",
    "is_mean": "inception_score_mean",
    "is_std": "inception_score_std",
}


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path) as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _write_folder(folder: Path, images: np.ndarray) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"{i:05d}.png")


def _worker(args: argparse.Namespace) -> None:
    """Run one tool once and print {"seconds": ..., "values": {...}} as the last line."""
    kid_size = min(1000, args.num)
    if args.worker == "torch-fidelity":
        import torch_fidelity

        t0 = time.perf_counter()
        out = torch_fidelity.calculate_metrics(
            input1=args.dir1,
            input2=args.dir2,
            cuda=False,
            fid=True,
            kid=True,
            isc=True,
            feature_extractor_weights_path=args.weights,
            kid_subset_size=kid_size,
            cache=False,
            verbose=False,
        )
        seconds = time.perf_counter() - t0
        values = {ours: float(out[theirs]) for ours, theirs in KEYS.items()}
    else:
        import contextlib
        import io

        from gan_bench.cli import main

        buf = io.StringIO()
        argv = [
            "metrics", args.dir1, args.dir2, "--metrics", "fid,kid,is", "--protocol", "legacy-tf",
            "--inception-weights", args.weights, "--kid-subset-size", str(kid_size), "--no-cache",
            "--device", "cpu", "--batch-size", str(args.batch_size), "--json", "--quiet", "--offline",
        ]  # fmt: skip
        if args.no_channels_last:
            argv.append("--no-channels-last")
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(buf):
            rc = main(argv)
        seconds = time.perf_counter() - t0
        if rc != 0:
            raise SystemExit(f"gan-bench metrics exited with {rc}")
        result = json.loads(buf.getvalue())
        values = {k: float(result[k]) for k in KEYS}
    print(json.dumps({"seconds": seconds, "values": values}))


def _run_worker(tool: str, args: argparse.Namespace, dir1: Path, dir2: Path, weights: Path) -> dict:
    cmd = [
        sys.executable, __file__, "--worker", tool, "--num", str(args.num), "--batch-size", str(args.batch_size),
        "--dir1", str(dir1), "--dir2", str(dir2), "--weights", str(weights),
    ]  # fmt: skip
    if args.no_channels_last:
        cmd.append("--no-channels-last")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{tool} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num", type=int, default=200, help="images per input (default 200; the full run is 10000)")
    p.add_argument("--batch-size", type=int, default=50, help="gan-bench batch size (torch-fidelity keeps its default 64)")
    p.add_argument("--weights", help="torch-fidelity Inception weights (default: stand-in weights made offline)")
    p.add_argument("--no-channels-last", action="store_true", help="run gan-bench's Inception in NCHW")
    p.add_argument("--data", default=str(DATA / "mnist"), help="folder with the MNIST idx.gz files")
    p.add_argument("--json", metavar="FILE", help="also write the results to FILE")
    p.add_argument("--worker", choices=("torch-fidelity", "gan-bench"), help=argparse.SUPPRESS)
    p.add_argument("--dir1", help=argparse.SUPPRESS)
    p.add_argument("--dir2", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        _worker(args)
        return

    data = Path(args.data)
    test_x = _read_idx(data / "t10k-images-idx3-ubyte.gz")
    train_x = _read_idx(data / "train-images-idx3-ubyte.gz")
    if args.num > len(test_x):
        raise SystemExit(f"--num {args.num} exceeds the {len(test_x)} MNIST test images")
    with tempfile.TemporaryDirectory(prefix="gan_bench_metrics_bench_") as tmp:
        tmp_path = Path(tmp)
        dir1, dir2 = tmp_path / "test", tmp_path / "train"
        _write_folder(dir1, test_x[: args.num])
        _write_folder(dir2, train_x[: args.num])
        if args.weights:
            weights = Path(args.weights)
        else:
            from gan_bench.metrics.features import make_standin_fidelity_inception

            weights = tmp_path / "standin-inception.pth"
            make_standin_fidelity_inception(weights, seed=0)
        theirs = _run_worker("torch-fidelity", args, dir1, dir2, weights)
        ours = _run_worker("gan-bench", args, dir1, dir2, weights)

    images = 2 * args.num
    ratio = theirs["seconds"] / ours["seconds"]
    print(f"{images} images ({args.num} per input), FID + KID + IS, legacy-tf, CPU")
    print(f"  torch-fidelity  {theirs['seconds']:8.1f} s  {images / theirs['seconds']:7.2f} img/s")
    print(f"  gan-bench       {ours['seconds']:8.1f} s  {images / ours['seconds']:7.2f} img/s")
    print(f"  ratio (torch-fidelity time / gan-bench time): {ratio:.2f}x")
    diffs = {}
    for key in KEYS:
        a, b = ours["values"][key], theirs["values"][key]
        diffs[key] = abs(a - b) / max(abs(b), 1e-30)
        print(f"  {key:9s} gan-bench {a:.8g}  torch-fidelity {b:.8g}  abs diff {abs(a - b):.1e}  rel diff {diffs[key]:.1e}")
    print("  (KID near 0 is a difference of nearly equal kernel means: torch-fidelity's float32 sums set")
    print("   its last digits; with N <= 1000 every KID subset is the whole set and kid_std is 0 up to rounding)")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"num": args.num, "ratio": ratio, "gan_bench": ours, "torch_fidelity": theirs, "rel_diff": diffs}, indent=2)
        )


if __name__ == "__main__":
    main()
