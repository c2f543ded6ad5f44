"""Vectorized seeds against sequential runs: steps per second of a mixture GAN, in one process.

``--runs`` seeds (default 16) of ``gan-ns`` on ring8 with the quickstart's MLP (3 hidden layers of
``--width`` units, batch norm in G, z 2, batch 100) train ``--steps`` steps twice on the same device:
one after the other through :class:`gan_bench.train.trainer.Trainer`, and as one stacked group
through :func:`gan_bench.train.vectorized.train_group`. Both count the training seconds the
trainer counts (steps only; evaluation and checkpoints excluded). Printed: run-steps per second of
each side and their ratio, per width; ``--json`` writes the same.

    OMP_NUM_THREADS=1 python benchmarks/vmap_seeds.py --runs 16 --steps 200 --threads 1
    OMP_NUM_THREADS=1 python benchmarks/vmap_seeds.py --widths 8,32,128 --profile
    python benchmarks/vmap_seeds.py --device cuda --runs 16 --steps 500
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import Trainer
from gan_bench.train.vectorized import GroupRun, train_group


def _configs(runs: int, steps: int, width: int, device: str, variant: str, dataset: str) -> list[Any]:
    overrides = [f"net.width={width}", f"device={device}", f"checkpoint_every={10 * steps}", "eval.num_samples=500"]
    return [resolve(flags={"variant": variant, "dataset": dataset, "budget": f"{steps}steps", "seed": s},
                    overrides=overrides) for s in range(runs)]


def measure(runs: int, steps: int, width: int, device: str, variant: str = "gan-ns",
            dataset: str = "ring8") -> dict[str, Any]:
    """Run-steps per second of ``runs`` sequential runs and of the same runs stacked."""
    configs = _configs(runs, steps, width, device, variant, dataset)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        seq = [Trainer(c, Path(tmp) / f"seq{i}", progress=False).run() for i, c in enumerate(configs)]
        seq_wall = time.perf_counter() - t0
        t0 = time.perf_counter()
        vec = train_group([GroupRun(c, Path(tmp) / f"vec{i}") for i, c in enumerate(configs)])
        vec_wall = time.perf_counter() - t0
        stacked = json.loads((Path(tmp) / "vec0" / "summary.json").read_text()).get("vectorized")
    seq_seconds = sum(r.consumed.seconds for r in seq)
    vec_seconds = sum(r.consumed.seconds for r in vec)  # each run holds its share of the group's time
    total = runs * steps
    return {"runs": runs, "steps": steps, "width": width, "device": device, "variant": variant,
            "stacked": stacked == runs, "threads": torch.get_num_threads(),
            "sequential_steps_per_s": total / seq_seconds, "vectorized_steps_per_s": total / vec_seconds,
            "ratio": seq_seconds / vec_seconds, "sequential_wall_s": seq_wall, "vectorized_wall_s": vec_wall,
            "statuses": sorted({r.status for r in seq + vec})}


def profile(runs: int, width: int, device: str, steps: int = 20) -> str:
    """The top operators of the stacked group's training, by self time."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    configs = _configs(runs, steps, width, device, "gan-ns", "ring8")
    with tempfile.TemporaryDirectory() as tmp, torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        train_group([GroupRun(c, Path(tmp) / f"vec{i}") for i, c in enumerate(configs)])
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=16)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--widths", default="128", help="comma-separated MLP widths (the quickstart's is 128)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--profile", action="store_true", help="also print where the stacked step spends its time")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    rows = []
    for width in (int(w) for w in args.widths.split(",")):
        row = measure(args.runs, args.steps, width, args.device)
        rows.append(row)
        print(f"width {width:4d}: {args.runs} sequential runs {row['sequential_steps_per_s']:8.1f} run-steps/s, "
              f"stacked {row['vectorized_steps_per_s']:8.1f} run-steps/s, ratio {row['ratio']:.2f}x "
              f"(stacked: {row['stacked']}, {args.device}, {row['threads']} thread(s))", flush=True)
        if args.profile:
            print(profile(args.runs, width, args.device))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
