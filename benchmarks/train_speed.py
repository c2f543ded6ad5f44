"""Images per second and model FLOPs utilisation, AMP against fp32 and compiled against eager,
measured through gan_bench's own trainer.

For each model (BigGAN, StyleGAN2, DCGAN on CIFAR-10 at 32 px by default; ``dcgan-mnist`` and
``gan-ns-ring8``, the quickstart's mixture GAN, for the compile comparison of small models) and
each setting of the matrix (fp32 eager, bf16 autocast eager, fp32 compiled, bf16 compiled; channels-last throughout),
one ``Trainer.run`` trains ``--warmup + --steps`` generator steps at batch 64 (100 for the mixture GAN); the timed window is
the last ``--steps`` steps (through the trainer's ``on_step`` hook, so the 16 FLOP-counted
steps and compilation are outside it: ``--warmup`` is at least 18). FLOPs per step are the
trainer's own count (``summary.json`` ``speed.flops_per_step``); MFU is the window's achieved FLOP rate over the device's peak (datasheet
on a known GPU, a measured matmul on a CPU: see ``gan_bench.train.speed``). Ratios are against
fp32 eager of the same model, measured in the same process.

    # the GPU measurement the issue asks for (batch 64, the suite's widths):
    python benchmarks/train_speed.py --device cuda --steps 200 --warmup 30 --json benchmarks/results/train_speed_cuda.json
    # a CPU pass (narrow nets, few steps):
    GAN_BENCH_DATA=../shared/data OMP_NUM_THREADS=1 python benchmarks/train_speed.py --steps 5 --warmup 18 --width-scale 0.5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gan_bench.train.environment import environment_record
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import Trainer

# The models of baselines/cifar10.yaml, at its widths (scaled by --width-scale).
MODELS: dict[str, dict[str, Any]] = {
    "biggan": {"arch": "biggan", "z_dim": 128, "width_key": "net.width", "width": 16,
               "overrides": ["ema.decay=0.999", "ema.start=0"]},
    "stylegan2": {"arch": "stylegan2", "z_dim": 64, "width_key": "net.width", "width": 64,
                  "overrides": ["net.mapping_layers=2", "model.conditional=true", "model.r1_gamma=0.01",
                                "model.pl_weight=0.0", "model.mixing=0.0"]},
    "dcgan": {"arch": "dcgan", "z_dim": 100, "width_key": "net.width", "width": 32, "overrides": []},
    # small models, where per-op overhead rather than FLOPs sets the pace
    "dcgan-mnist": {"variant": "dcgan", "dataset": "mnist", "arch": "dcgan", "z_dim": 64, "width_key": "net.width",
                    "width": 64, "overrides": [], "channels_last": True},
    "gan-ns-ring8": {"variant": "gan-ns", "dataset": "ring8", "arch": "mlp", "z_dim": 64, "width_key": "net.width",
                     "width": 128, "overrides": [], "channels_last": False, "batch_size": 100},
}


@dataclass(frozen=True)
class Setting:
    amp: bool
    compile: bool

    @property
    def label(self) -> str:
        return f"{'bf16' if self.amp else 'fp32'} {'compiled' if self.compile else 'eager'}"


MATRIX = (Setting(False, False), Setting(True, False), Setting(False, True), Setting(True, True))


def measure(model: str, setting: Setting, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """One trainer run of ``model`` under ``setting``; its rate over the timed window."""
    spec = MODELS[model]
    width = max(4, int(round(spec["width"] * args.width_scale)))
    layout = str(spec.get("channels_last", True)).lower()
    overrides = [f"batch_size={spec.get('batch_size', args.batch_size)}", f"z_dim={spec['z_dim']}",
                 f"{spec['width_key']}={width}", f"channels_last={layout}", f"amp={str(setting.amp).lower()}",
                 f"compile={str(setting.compile).lower()}",
                 "eval.num_samples=64", "eval.every=0", f"checkpoint_every={10**9}", "log_every=1000",
                 *spec["overrides"]]
    flags = {"variant": spec.get("variant", model), "dataset": spec.get("dataset", args.dataset), "arch": spec["arch"],
             "seed": 0, "device": args.device,
             "budget": f"{args.warmup + args.steps}steps", "data_root": args.data_root}
    resolved = resolve(flags=flags, overrides=overrides)
    stamps: dict[int, float] = {}
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)

    def on_step(step: int, _variant: object) -> None:
        if step in (args.warmup, args.warmup + args.steps):
            sync()
            stamps[step] = time.perf_counter()

    run_dir = out / f"{model}_{setting.label.replace(' ', '_')}"
    result = Trainer(resolved, run_dir, progress=False, on_step=on_step).run()
    summary = json.loads((run_dir / "summary.json").read_text())
    speed = summary["speed"]
    steps_per_s = args.steps / (stamps[args.warmup + args.steps] - stamps[args.warmup])
    images_per_step = result.consumed.images / result.consumed.steps
    achieved = speed["flops_per_step"] * steps_per_s / 1e12
    peak = speed["peak_tflops"]
    return {"model": model, "setting": setting.label, "width": width, "batch_size": spec.get("batch_size", args.batch_size),
            "images_per_s": steps_per_s * images_per_step, "steps_per_s": steps_per_s,
            "gflop_per_step": speed["flops_per_step"] / 1e9, "tflops_per_s": achieved, "peak_tflops": peak,
            "peak_source": speed["peak_source"], "mfu": achieved / peak if peak and peak == peak else None,
            "compile": speed["compile"], "status": result.status}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="biggan,stylegan2,dcgan",
                   help="comma-separated, of: " + ", ".join(MODELS) + " (default: biggan,stylegan2,dcgan)")
    p.add_argument("--dataset", default="cifar10", help="dataset of the models that do not name theirs (default cifar10)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=20, help="timed generator steps per setting (default 20)")
    p.add_argument("--warmup", type=int, default=20,
                   help="steps before the timed window (default 20; at least 18: 16 FLOP-counted, then compilation)")
    p.add_argument("--repeats", type=int, default=1,
                   help="times the settings alternate per model; medians are reported (default 1)")
    p.add_argument("--width-scale", type=float, default=1.0, help="multiply the suite's widths (default 1)")
    p.add_argument("--settings", default="all", help="'all' or a comma-separated subset of: " +
                   ", ".join(s.label.replace(" ", "-") for s in MATRIX))
    p.add_argument("--data-root", default="", help="data folder (default: GAN_BENCH_DATA)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but CUDA is not available", file=sys.stderr)
        return 2
    if args.warmup < 18 or args.steps < 1 or args.repeats < 1:
        print("error: --warmup must be at least 18 (16 FLOP-counted steps, then the compiling step) and --steps and --repeats at least 1",
              file=sys.stderr)
        return 2
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        print(f"error: unknown model {unknown[0]!r} (choose from {', '.join(MODELS)})", file=sys.stderr)
        return 2
    wanted = None if args.settings == "all" else {s.replace("-", " ") for s in args.settings.split(",")}
    settings = [s for s in MATRIX if wanted is None or s.label in wanted]
    rows = []
    with tempfile.TemporaryDirectory(prefix="gan_bench_speed_") as tmp:
        for model in models:
            # The settings alternate --repeats times and each reports its median, so that a burst of
            # other work on the machine slows every setting alike rather than one of them.
            runs: dict[str, list[dict[str, Any]]] = {s.label: [] for s in settings}
            for repeat in range(args.repeats):
                for setting in settings:
                    runs[setting.label].append(measure(model, setting, args, Path(tmp) / f"r{repeat}"))
            for setting in settings:
                measured = runs[setting.label]
                rates = [m["images_per_s"] for m in measured]
                row = dict(measured[0])
                median = statistics.median(rates)
                scale = median / row["images_per_s"]
                row.update(images_per_s=median, images_per_s_repeats=rates, steps_per_s=row["steps_per_s"] * scale,
                           tflops_per_s=row["tflops_per_s"] * scale,
                           mfu=None if row["mfu"] is None else row["mfu"] * scale)
                rows.append(row)
                base = next((r for r in rows if r["model"] == model and r["setting"] == "fp32 eager"), None)
                row["ratio_vs_fp32_eager"] = row["images_per_s"] / base["images_per_s"] if base else None
                mfu = "—" if row["mfu"] is None else f"{100 * row['mfu']:.2f}%"
                ratio = "" if row["ratio_vs_fp32_eager"] is None else f"  x{row['ratio_vs_fp32_eager']:.2f} vs fp32 eager"
                spread = f" ({min(rates):.0f}-{max(rates):.0f})" if len(rates) > 1 else ""
                print(f"{model:12s} {setting.label:14s} {row['images_per_s']:9.1f}{spread} images/s  "
                      f"{row['gflop_per_step']:8.2f} GFLOP/step  {row['tflops_per_s']:8.4f} TFLOP/s  MFU {mfu}"
                      f"  (compile: {row['compile']}){ratio}", flush=True)
    device = torch.device(args.device)
    record = {"command": " ".join(sys.argv), "environment": environment_record(device, 0),
              "args": vars(args), "rows": rows}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
