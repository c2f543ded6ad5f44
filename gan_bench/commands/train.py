"""``gan-bench train``: one variant on one dataset under a fixed budget."""

from __future__ import annotations

import argparse

NAME = "train"
HELP = "train one variant on one dataset under a fixed budget (resumes when --out holds a checkpoint)"
DESCRIPTION = """Train one variant on one dataset under a fixed budget.

Configuration is merged from, lowest first: built-in defaults, the dataset's and the variant's
defaults, --config files, the flags below, then KEY=VALUE overrides (dotted keys, YAML values),
e.g. optim.g_lr=1e-4 model.n_critic=5 net.width=256 eval.num_samples=2500.
Every key is validated before anything is written: a bad key or value exits with code 2.

The run directory gets config.yaml, env.json, status, metrics.jsonl, checkpoints/, samples/ and
summary.json. If --out already holds a checkpoint of the same configuration, training resumes
from it; a larger --budget continues a finished run.

examples:
  gan-bench train --variant wgan-gp --dataset grid25 --budget 2000steps --seed 0 --out runs/wgp
  gan-bench train --variant gan-ns --dataset ring8 --budget 50kimg --out runs/ns model.n_critic=2
  gan-bench train --variant dcgan --dataset mnist --budget 300s --device cuda --out runs/dcgan
  gan-bench train --variant dcgan --dataset mnist --budget 3000steps --out runs/bf16 amp=true channels_last=true
    (amp: bfloat16 autocast, on GPUs and on CPUs with AVX512-BF16/AMX)"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", help="variant name (see `gan-bench list`)")
    p.add_argument("--dataset", help="dataset name (see `gan-bench list`)")
    p.add_argument("--arch", help="architecture name (default: the variant's choice for the data kind)")
    p.add_argument("--budget", help="generator steps (2000steps), images seen (50kimg) or wall-clock (300s, 5min)")
    p.add_argument("--seed", type=int, help="random seed of weights, noise and data order (default 0)")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], help="where to train (default cpu)")
    p.add_argument("--data-root", help="folder with one subfolder per dataset (default $GAN_BENCH_DATA or ~/.cache/gan_bench/data)")
    p.add_argument("--config", action="append", default=[], metavar="YAML", help="config file; may be repeated, later files win")
    p.add_argument("--out", required=True, help="run directory to create or resume")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides")


def run(args: argparse.Namespace) -> int:
    from gan_bench.train.resolve import resolve
    from gan_bench.train.trainer import Trainer, read_status

    flags = {"variant": args.variant, "dataset": args.dataset, "arch": args.arch, "budget": args.budget,
             "seed": args.seed, "device": args.device, "data_root": args.data_root}
    resolved = resolve(args.config, flags, args.overrides)
    if read_status(args.out) == "done" and (args.budget is None or resolved.budget.text == _stored_budget(args.out)):
        print(f"{args.out}: already done (nothing to do)")
        return 0
    result = Trainer(resolved, args.out, progress=not args.no_progress).run()
    metrics = " ".join(f"{k}={v:.4g}" for k, v in result.metrics.items())
    print(f"{result.run_dir}: {result.status}; steps={result.consumed.steps} images={result.consumed.images} "
          f"seconds={result.consumed.seconds:.1f} {metrics}".rstrip())
    return 0 if result.status == "done" else 1


def _stored_budget(run_dir: str) -> str | None:
    from pathlib import Path

    import yaml

    path = Path(run_dir) / "config.yaml"
    return (yaml.safe_load(path.read_text()) or {}).get("budget") if path.exists() else None
