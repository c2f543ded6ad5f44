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

--executor ray runs each run (or vectorized group) as a Ray task asking for --cpus-per-run CPUs
and --gpus-per-run GPUs (fractional: 0.25 puts four small models on a GPU): a local Ray
instance by default, a running cluster with --address. On a cluster, every node needs the same
gan-bench installed, and OUT, the data (GAN_BENCH_DATA) and plugin files must be on a shared
filesystem at the same paths: each task writes its run folder there itself. Waves, reuse and
resume are the local executor's; rerun the suite after a crash of the driver.

examples:
  gan-bench suite baselines/quickstart.yaml --out runs/quickstart --jobs 2 --publish .
  gan-bench suite baselines/lucic2018.yaml --out runs/lucic --scale 0.05 --jobs 2
  gan-bench suite baselines/faces.yaml --out runs/faces --scale 0.05 --seeds 0   (a quick look, labelled so)
  gan-bench suite my_suite.yaml --plugin my_gan.py --out runs/mine   (your variant beside the zoo)
  gan-bench suite baselines/quickstart.yaml --out runs/quickstart --executor ray --jobs 2
  gan-bench suite baselines/cifar10.yaml --out /shared/runs/cifar --executor ray --address auto \
      --gpus-per-run 0.5 device=cuda   (pip install 'gan-bench[ray]'; OUT on a shared filesystem)"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("suite", help="suite YAML file")
    p.add_argument("--out", required=True, help="output folder (created; runs already done there are skipped)")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time on this machine: worker processes, or local Ray's concurrent tasks (default 1)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply the suite's budget by this factor, e.g. 0.05 for a quick CPU pass (default 1)")
    p.add_argument("--variants", default="", metavar="A,B",
                   help="run only these of the suite's variants (comma-separated; default: all)")
    p.add_argument("--seeds", default="", metavar="0,1",
                   help="run only these of the suite's seeds (comma-separated; default: all; the report says so)")
    p.add_argument("--datasets", default="", metavar="A,B",
                   help="run only these of the suite's datasets (comma-separated; default: all; the report says so)")
    p.add_argument("--publish", metavar="ROOT", nargs="?", const=".", default=None,
                   help="also write ROOT/leaderboards/NAME.csv and ROOT/reports/NAME/index.html (ROOT default: .)")
    p.add_argument("--plugin", action="append", default=[], metavar="FILE",
                   help="a Python file registering your own variant etc. (also `plugins:` in the suite file)")
    p.add_argument("--vectorize", choices=("auto", "off"), default="off",
                   help="auto: runs of one entry that differ only in seed and dataset train as one stacked model "
                        "(torch.func.vmap; each run still gets its own folder, equal to its sequential run to "
                        "float tolerance, but its training-loss rows are the group's mean; runs that cannot be "
                        "stacked train alone); off (default): every run alone. 16 seeds of the quickstart's MLP "
                        "on 2 CPU threads: 1.9-2.7x faster than one after the other, about 1.5x more than "
                        "--jobs 2 (benchmarks/vmap_seeds.py)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local (default): --jobs worker processes on this machine; ray: each run (or vectorized "
                        "group) a Ray task (pip install 'gan-bench[ray]'); local Ray unless --address")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="ray: a running cluster to join (auto, HOST:6379 or ray://HOST:10001); OUT, the data and "
                        "plugin files must then be on a filesystem shared by every node, at the same paths")
    p.add_argument("--gpus-per-run", type=float, default=None, metavar="F",
                   help="ray: GPUs each run asks for, fractional allowed (default: 1 for device=cuda runs, and for "
                        "device=auto when the cluster has a GPU; 0 otherwise)")
    p.add_argument("--cpus-per-run", type=int, default=None, metavar="N",
                   help="ray: CPUs (torch threads) each run asks for (default: this machine's CPUs // --jobs)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides applied to every run")


def run(args: argparse.Namespace) -> int:
    from gan_bench.cli import UserError
    from gan_bench.executors import make_executor
    from gan_bench.suite import run_suite

    if args.jobs < 1:
        raise UserError("--jobs must be at least 1")
    if not 0 < args.scale <= 100:
        raise UserError("--scale must be in (0, 100]")
    try:
        seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
    except ValueError:
        raise UserError(f"--seeds: {args.seeds!r} is not a comma-separated list of integers") from None
    executor = make_executor(args.executor, jobs=args.jobs, address=args.address, gpus_per_run=args.gpus_per_run,
                             cpus_per_run=args.cpus_per_run)  # Ray missing: one line, exit 2, nothing written
    result = run_suite(args.suite, args.out, jobs=args.jobs, scale=args.scale, overrides=tuple(args.overrides),
                       progress=not args.no_progress, publish=args.publish,
                       variants=tuple(v for v in args.variants.split(",") if v), plugins=tuple(args.plugin),
                       seeds=seeds, vectorize=args.vectorize, executor=executor,
                       datasets=tuple(d.strip() for d in args.datasets.split(",") if d.strip()))
    trained = result.runs - result.skipped
    print(f"suite done: {result.runs} runs ({result.skipped} reused, {result.resumed} resumed, "
          f"{trained - result.resumed} new; {result.diverged} diverged, {result.failed} failed) "
          f"in {result.wall_seconds:.1f} s wall time"
          + (f"; {result.stale} folders of other configurations untouched" if result.stale else ""))
    print(f"leaderboard: {result.leaderboard}")
    if result.report is not None:
        print(f"report: {result.report}")
    return 0 if result.failed == 0 else 1
