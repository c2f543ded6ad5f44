"""``gan-bench check``: fail when runs are worse than a baseline beyond a tolerance (the CI gate)."""

from __future__ import annotations

import argparse

NAME = "check"
HELP = "compare runs with a baseline leaderboard; exit 1 when a metric regressed beyond its tolerance"
DESCRIPTION = """Compare runs with a baseline long table (written by gan-bench leaderboard), per
variant, dataset and metric, on the mean over the seeds that finished. A metric regressed when it
moved in the worse direction by more than its tolerance; a baseline row with no finished run, or
fewer finished seeds than the baseline, fails too. Improvements pass.

Default tolerance: max(3 x the baseline's std over seeds, 10% of |baseline mean|).
--tolerance METRIC=abs:X (absolute) or METRIC=rel:X (fraction of |baseline mean|) replaces it for
one metric; *=rel:X for every other metric.

Exit codes: 0 within tolerance, 1 regressed (a table says what and by how much), 2 bad input.

examples:
  gan-bench check runs/ci --baseline leaderboards/ci.csv
  gan-bench check runs/ci --baseline leaderboards/ci.csv --tolerance modes=abs:2 --tolerance '*=rel:0.2'
regenerate the CI baseline (trains baselines/ci.yaml, then rewrites leaderboards/ci.csv):
  bash .ci/gate --update"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", metavar="RUNS", help="run folders or suite output folders to check")
    p.add_argument("--baseline", required=True, metavar="FILE.csv", help="baseline long table (gan-bench leaderboard)")
    p.add_argument("--tolerance", action="append", default=[], metavar="METRIC=abs:X|rel:X",
                   help="tolerance of one metric (repeatable; '*' for all others)")
    p.add_argument("--metric", action="append", default=None, metavar="METRIC",
                   help="check only this metric (repeatable; default: every metric of the baseline)")
    p.add_argument("--all", action="store_true", help="print every comparison, not only the failing ones")


def run(args: argparse.Namespace) -> int:
    from gan_bench.cli import UserError
    from gan_bench.report.check import FAILING, compare, format_table, parse_tolerances
    from gan_bench.report.tidy import ReportInputError, find_run_dirs, long_table, read_long_table

    try:
        tolerances = parse_tolerances(args.tolerance)
        baseline = read_long_table(args.baseline)
        current = long_table(find_run_dirs(args.runs))
        result = compare(baseline, current, tolerances, args.metric)
    except ReportInputError as err:
        raise UserError(str(err)) from None
    failing = result[result["verdict"].isin(FAILING)]
    if args.all or len(failing):
        print(format_table(result, only_failing=not args.all))
    if len(failing):
        print(f"check: {len(failing)} of {len(result)} comparisons failed against {args.baseline}")
        return 1
    print(f"check: all {len(result)} comparisons within tolerance of {args.baseline}")
    return 0
