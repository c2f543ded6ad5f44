"""``gan-bench search``: hyperparameter search under a fixed budget (Lucic et al. 2018), with Optuna."""

from __future__ import annotations

import argparse

NAME = "search"
HELP = "search hyperparameters of a suite's variants under a fixed budget (Lucic et al. 2018) with Optuna"
DESCRIPTION = """Lucic et al. 2018's protocol ("Are GANs Created Equal?"): for each variant x dataset of a
suite file, N trials, each a normal run under the suite's budget with hyperparameters sampled from the
paper's wide range (compare_gan v1: learning rate log-uniform [1e-5, 1e-2] for G and D, Adam beta1
uniform [0, 1], n_critic in {1, 5}, batch norm in D or not, penalty weight lambda log-uniform
[0.1, 100] where the variant has one; beta2 stays at the suite's value, as in the paper's code).
Trial 0 is the suite's own setting. Each trial trains in OUT/runs/ under a folder named by its config
hash, so a rerun reuses finished trials (the seeded sampler asks the same values) and --trials can
grow later. Diverged or failed trials are failures, never scores.

Writes OUT/trials.csv (one row per trial: sampled values, score, state) and OUT/index.html (the
distribution of the best score against the number of trials, the paper's figure 4, and the best
trial per variant). Needs Optuna: pip install 'gan-bench[search]'.

examples:
  gan-bench search baselines/search_mnist.yaml --trials 20 --out runs/search-mnist --publish .
  gan-bench search baselines/lucic2018.yaml --trials 100 --variants wgan-gp,dragan --out runs/lucic-search device=cuda
  gan-bench search baselines/search_mnist.yaml --trials 5 --scale 0.1 --out /tmp/s   (a short pass, labelled so)"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("suite", help="suite YAML file (its variants, datasets, budget and settings)")
    p.add_argument("--trials", type=int, required=True, metavar="N", help="trials per variant and dataset")
    p.add_argument("--out", required=True, help="output folder (created; finished trials there are reused)")
    p.add_argument("--variants", default="", metavar="A,B", help="search only these of the suite's variants")
    p.add_argument("--seed", type=int, default=None, metavar="S",
                   help="seeds the samplers and every trial's training (default: the suite's first seed)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply the suite's budget by this factor (default 1)")
    p.add_argument("--metric", default="fid", metavar="NAME",
                   help="the objective: a metric column of the final evaluation (default: the dataset's fid[...])")
    p.add_argument("--direction", default="auto", choices=("auto", "minimize", "maximize"),
                   help="auto: minimise FID/KID-like metrics, maximise the others (default)")
    p.add_argument("--sampler", default="random", choices=("random", "tpe"),
                   help="Optuna sampler: random (the paper's random search, default) or tpe")
    p.add_argument("--publish", metavar="ROOT", nargs="?", const=".", default=None,
                   help="also write ROOT/leaderboards/NAME-search.csv and ROOT/reports/NAME-search/index.html")
    p.add_argument("--plugin", action="append", default=[], metavar="FILE",
                   help="a Python file registering your own variant etc.")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides applied to every trial")


def run(args: argparse.Namespace) -> int:
    from gan_bench.cli import UserError
    from gan_bench.search import run_search

    if args.trials < 1:
        raise UserError(f"--trials must be at least 1 (got {args.trials})")
    if not 0 < args.scale <= 100:
        raise UserError("--scale must be in (0, 100]")
    result = run_search(args.suite, args.out, args.trials, seed=args.seed,
                        variants=tuple(v for v in args.variants.split(",") if v), scale=args.scale,
                        overrides=tuple(args.overrides), metric=args.metric, direction=args.direction,
                        sampler=args.sampler, plugins=tuple(args.plugin), publish=args.publish)
    print(f"search done: {len(result.rows)} trials ({result.reused} reused, {result.trained} trained; "
          f"{result.failed} failed or diverged) in {result.wall_seconds:.1f} s wall time")
    best: dict[tuple[str, str], float] = {}
    for r in result.rows:
        if r.score is not None:
            key = (r.entry, r.dataset)
            better = min if result.direction == "minimize" else max
            best[key] = better(best.get(key, r.score), r.score)
    for (entry, dataset), score in best.items():
        print(f"  best {entry} on {dataset}: {score:.4g}")
    print(f"trials: {result.trials_csv}")
    if result.report is not None:
        print(f"report: {result.report}")
    return 0

