"""``gan-bench report``: the static report site (index + one page per suite, one shared plotly.js)."""

from __future__ import annotations

import argparse

NAME = "report"
HELP = "write the static report site: OUT/index.html and a page per suite, opening offline"
DESCRIPTION = """Write a static site from suite output folders (gan-bench suite --out DIR) or run
folders: OUT/index.html lists every suite with its protocol, budget, scale, overrides and date;
OUT/<suite>/index.html is the suite's page (leaderboard you can sort and filter, bars with
per-seed dots, published numbers under their protocol, samples and curves of every run), and
OUT/<suite>/leaderboard*.csv its tables. All pages share one OUT/plotly.min.js, open from file://
and request nothing from the network. Each argument is one suite page.

examples:
  gan-bench report runs/quickstart runs/lucic2018 -o reports/
  gan-bench report runs/ci -o /tmp/site --references baselines/references/mode_coverage_2d.csv"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("suites", nargs="+", metavar="RUNS_OR_SUITE_DIR", help="suite output folders or run folders")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="site folder (created)")
    p.add_argument("--references", action="append", default=[], metavar="CSV",
                   help="a published-results table to show beside every suite (repeatable)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gan_bench.cli import UserError
    from gan_bench.report.site import load_suite_page, write_site
    from gan_bench.report.tidy import ReportInputError

    refs = [Path(r) for r in args.references]
    for ref in refs:
        if not ref.is_file():
            raise UserError(f"--references: {ref} is not a file")
    try:
        pages = [load_suite_page(p, refs) for p in args.suites]
        written = write_site(args.output, pages)
    except ReportInputError as err:
        raise UserError(str(err)) from None
    print(f"{len(pages)} suite page(s): {written[0]}")
    return 0
