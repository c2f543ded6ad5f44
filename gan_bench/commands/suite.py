"""``gan-bench suite``: variants x datasets x seeds, then a leaderboard and an HTML report."""

from __future__ import annotations

import argparse

NAME = "suite"
HELP = "run a benchmark suite (variants x datasets x seeds) and write its leaderboard and report"
DESCRIPTION = """Run a benchmark suite file (see baselines/*.yaml): every variant x dataset x seed
under the suite's budget, in parallel worker processes with --jobs. Runs already done are skipped,
so a killed suite continues where it stopped. Writes OUT/runs/<variant>__<dataset>__s<seed>/,
OUT/leaderboard.csv (mean and std over seeds) and OUT/index.html (self-contained, opens offline),
and prints the suite's wall time.

examples:
  gan-bench suite baselines/quickstart.yaml --out runs/quickstart --jobs 2 --publish .
  gan-bench suite baselines/lucic2018.yaml --out runs/lucic --scale 0.05 --jobs 2"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("suite", help="suite YAML file")
    p.add_argument("--out", required=True, help="output folder (created; runs already done there are skipped)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply the suite's budget by this factor, e.g. 0.05 for a quick CPU pass (default 1)")
    p.add_argument("--variants", default="", metavar="A,B",
                   help="run only these of the suite's variants (comma-separated; default: all)")
    p.add_argument("--publish", metavar="ROOT", nargs="?", const=".", default=None,
                   help="also write ROOT/leaderboards/NAME.csv and ROOT/reports/NAME/index.html (ROOT default: .)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides applied to every run")


def run(args: argparse.Namespace) -> int:
    from gan_bench.cli import UserError
    from gan_bench.suite import run_suite

    if args.jobs < 1:
        raise UserError("--jobs must be at least 1")
    if not 0 < args.scale <= 100:
        raise UserError("--scale must be in (0, 100]")
    result = run_suite(args.suite, args.out, jobs=args.jobs, scale=args.scale, overrides=tuple(args.overrides),
                       progress=not args.no_progress, publish=args.publish,
                       variants=tuple(v for v in args.variants.split(",") if v))
    print(f"suite done: {result.runs} runs ({result.skipped} skipped, {result.failed} not done) "
          f"in {result.wall_seconds:.1f} s wall time")
    print(f"leaderboard: {result.leaderboard}")
    if result.report is not None:
        print(f"report: {result.report}")
    return 0 if result.failed == 0 else 1
