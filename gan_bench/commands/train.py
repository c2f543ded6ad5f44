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

The run directory gets run.json (what it holds), config.yaml, env.json, status, metrics.jsonl,
checkpoints/, samples/ and summary.json. If --out already holds a checkpoint of the same
configuration, training resumes from it; a larger --budget continues a finished run. A folder that
holds another run (another variant, dataset, seed or setting), or that another process is
writing, is refused with exit code 2, and nothing in it is changed. A run whose losses or weights
become non-finite stops as "diverged at step N", keeping its last finite checkpoint (exit 1).

Your own variant (or architecture, dataset, metric) in a Python file registers with the same
decorators as the built-in ones and runs the same way with --plugin FILE (see docs/variants.md).

examples:
  gan-bench train --variant wgan-gp --dataset grid25 --budget 2000steps --seed 0 --out runs/wgp
  gan-bench train --variant gan-ns --dataset ring8 --budget 50kimg --out runs/ns model.n_critic=2
  gan-bench train --variant dcgan --dataset mnist --budget 300s --device cuda --out runs/dcgan
  gan-bench train --variant dcgan --dataset mnist --budget 3000steps --out runs/bf16 amp=true channels_last=true
    (amp: bfloat16 autocast, on GPUs and on CPUs with AVX512-BF16/AMX)
  gan-bench train --variant dcgan --dataset mnist --budget 3000steps --out runs/compiled compile=true
    (torch.compile of every net after one eager step; eager, with a warning, where a net cannot compile.
    summary.json's "speed" holds images/s, counted FLOPs per step and MFU against the device's peak)
  gan-bench train --plugin my_gan.py --variant my-gan --dataset mnist --budget 2000steps --out runs/mine
  gan-bench train --variant dcgan --dataset mnist --budget 5000steps --out runs/ema ema.decay=0.999 \
      lr_schedule.name=linear lr_schedule.start=0.5   (EMA generator for sampling; LR decay over the second half)"""


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
    p.add_argument("--plugin", action="append", default=[], metavar="FILE",
                   help="a Python file registering your own variant/architecture/dataset/metric; may be repeated")
    p.add_argument("--truncation", type=float, metavar="T",
                   help="sample with the truncation trick (BigGAN: |z| <= T; StyleGAN2: psi = T towards the mean w); "
                        "the same as model.truncation=T, for the variants that have it")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides")


def run(args: argparse.Namespace) -> int:
    from gan_bench.plugins import load_plugins
    from gan_bench.train.resolve import resolve
    from gan_bench.train.trainer import Trainer

    plugins = load_plugins(args.plugin)
    flags = {"variant": args.variant, "dataset": args.dataset, "arch": args.arch, "budget": args.budget,
             "seed": args.seed, "device": args.device, "data_root": args.data_root}
    if args.budget is None:  # continuing a folder without --budget keeps its recorded budget
        flags["budget"] = _stored_budget(args.out)
    overrides = list(args.overrides)
    if args.truncation is not None:  # validated like the override it stands for (a variant without it: exit 2)
        overrides.insert(0, f"model.truncation={args.truncation!r}")
    resolved = resolve(args.config, flags, overrides)
    result = Trainer(resolved, args.out, progress=not args.no_progress, plugins=plugins).run()
    if result.reused:
        print(f"{args.out}: already {result.status} at budget {resolved.budget.text} (nothing to do)")
        return 0 if result.status == "done" else 1
    metrics = " ".join(f"{k}={v:.4g}" for k, v in result.metrics.items())
    print(f"{result.run_dir}: {result.status}; steps={result.consumed.steps} images={result.consumed.images} "
          f"seconds={result.consumed.seconds:.1f} {metrics}".rstrip())
    return 0 if result.status == "done" else 1


def _stored_budget(run_dir: str) -> str | None:
    from pathlib import Path

    from gan_bench.config import ConfigError, load_yaml

    path = Path(run_dir) / "config.yaml"
    try:
        stored = load_yaml(path) if path.is_file() else None
    except ConfigError:
        return None  # the trainer's identity check reports a corrupt folder
    budget = stored.get("budget") if isinstance(stored, dict) else None
    return budget if isinstance(budget, str) else None
