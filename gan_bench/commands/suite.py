"""``gan-bench suite``: variants x datasets x seeds, then a leaderboard and an HTML report."""

from __future__ import annotations

import argparse

NAME = "suite"
HELP = "run a benchmark suite (variants x datasets x seeds) and write its leaderboard and report"
DESCRIPTION = """Run a benchmark suite file (see baselines/*.yaml): every variant x dataset x seed
under the suite's budget, in parallel worker processes with --jobs. Writes
OUT/runs/<variant>__<dataset>__s<seed>__<config hash>/, OUT/leaderboard.csv (mean and std over
seeds) and OUT/index.html (self-contained, opens offline), and prints the suite's wall time.

A rerun reuses the runs that finished with exactly the same resolved config (budget, --scale and
overrides included), resumes interrupted ones and trains the rest, and says which; folders of
other configurations are left untouched and never reported. A killed suite continues where it
stopped. OUT is locked while the suite runs: a second suite on it exits with code 2. Diverged runs
are shown as such and left out of the means; the exit code is 1 only when a run failed.

examples:
  gan-bench suite baselines/quickstart.yaml --out runs/quickstart --jobs 2 --publish .
  gan-bench suite baselines/lucic2018.yaml --out runs/lucic --scale 0.05 --jobs 2
  gan-bench suite baselines/faces.yaml --out runs/faces --scale 0.05 --seeds 0   (a quick look, labelled so)
  gan-bench suite my_suite.yaml --plugin my_gan.py --out runs/mine   (your variant beside the zoo)"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("suite", help="suite YAML file")
    p.add_argument("--out", required=True, help="output folder (created; runs already done there are skipped)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply the suite's budget by this factor, e.g. 0.05 for a quick CPU pass (default 1)")
    p.add_argument("--variants", default="", metavar="A,B",
                   help="run only these of the suite's variants (comma-separated; default: all)")
    p.add_argument("--seeds", default="", metavar="0,1",
                   help="run only these of the suite's seeds (comma-separated; default: all; the report says so)")
    p.add_argument("--publish", metavar="ROOT", nargs="?", const=".", default=None,
                   help="also write ROOT/leaderboards/NAME.csv and ROOT/reports/NAME/index.html (ROOT default: .)")
    p.add_argument("--plugin", action="append", default=[], metavar="FILE",
                   help="a Python file registering your own variant etc. (also `plugins:` in the suite file)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides applied to every run")


def run(args: argparse.Namespace) -> int:
    from gan_bench.cli import UserError
    from gan_bench.suite import run_suite

    if args.jobs < 1:
        raise UserError("--jobs must be at least 1")
    if not 0 < args.scale <= 100:
        raise UserError("--scale must be in (0, 100]")
    try:
        seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
    except ValueError:
        raise UserError(f"--seeds: {args.seeds!r} is not a comma-separated list of integers") from None
    result = run_suite(args.suite, args.out, jobs=args.jobs, scale=args.scale, overrides=tuple(args.overrides),
                       progress=not args.no_progress, publish=args.publish,
                       variants=tuple(v for v in args.variants.split(",") if v), plugins=tuple(args.plugin),
                       seeds=seeds)
    trained = result.runs - result.skipped
    print(f"suite done: {result.runs} runs ({result.skipped} reused, {result.resumed} resumed, "
          f"{trained - result.resumed} new; {result.diverged} diverged, {result.failed} failed) "
          f"in {result.wall_seconds:.1f} s wall time"
          + (f"; {result.stale} folders of other configurations untouched" if result.stale else ""))
    print(f"leaderboard: {result.leaderboard}")
    if result.report is not None:
        print(f"report: {result.report}")
    return 0 if result.failed == 0 else 1
