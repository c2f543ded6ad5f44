"""``gan-bench leaderboard``: the tidy long table of some runs, plus the wide mean/std view."""

from __future__ import annotations

import argparse

NAME = "leaderboard"
HELP = "write the tidy per-seed table of runs and the wide mean/std leaderboard (.csv, .json, .md)"
DESCRIPTION = """Collect run folders (a run folder, a suite's --out folder, or any folder holding
runs) into one tidy table, one row per run and metric, with each seed's value, the budget consumed,
wall time, device, gan_bench version, git sha, config hash, scale and overrides. Writes OUT (the
long table) and, beside it, OUT.wide.csv, OUT.wide.json and OUT.wide.md: one row per variant x
dataset with <metric>__mean, <metric>__std and <metric>__n over the seeds that finished. Column
names are identifiers pandas can query: fid[mnist-classifier] becomes fid__mnist_classifier (the
.json file maps each column back to its metric).

examples:
  gan-bench leaderboard runs/quickstart -o leaderboards/quickstart.csv
  gan-bench leaderboard runs/ci -o leaderboards/ci.csv      (the CI baseline)"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUNS", help="run folders or suite output folders")
    p.add_argument("-o", "--output", required=True, metavar="NAME.csv", help="the long table to write")


def run(args: argparse.Namespace) -> int:
    from gan_bench.cli import UserError
    from gan_bench.report.tidy import ReportInputError, find_run_dirs, long_table, write_leaderboard

    try:
        runs = find_run_dirs(args.runs)
    except ReportInputError as err:
        raise UserError(str(err)) from None
    written = write_leaderboard(long_table(runs), args.output)
    print(f"{len(runs)} runs -> " + ", ".join(str(p) for p in written))
    return 0
