"""The report site: ``reports/index.html`` listing every suite, one page per suite, one shared plotly.js.

Layout written by :func:`write_site`::

    OUT/plotly.min.js          one copy, referenced by every page (no page inlines it)
    OUT/index.html             every suite: its protocol(s), budget, scale and overrides, run count, date
    OUT/<suite>/index.html     the suite's page (gan_bench.report.html)
    OUT/<suite>/leaderboard.csv, leaderboard.wide.{csv,json,md}   its tables (gan_bench.report.tidy)

Everything is local: the pages open from ``file://`` and request nothing from the network (sample
images are ``data:`` URIs, CSS and the table script are inline, plotly.js is the local file).
A suite comes from a suite output folder (its ``suite.json``, written by the suite runner, names
the runs, banner, notes and reference tables; without it the runs under ``runs/`` are read and the
rest is inferred) or from run folders given directly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from plotly.offline import get_plotlyjs

import gan_bench
from gan_bench import atomic
from gan_bench.report._format import esc, fmt_duration
from gan_bench.report.html import PLOTLY_FILE, build_report_html
from gan_bench.report.leaderboard import aggregate, read_references, runs_frame
from gan_bench.report.tidy import ReportInputError, find_run_dirs, long_table, read_manifest, write_leaderboard

__all__ = ["SuitePage", "load_suite_page", "publish_suite", "write_index", "write_site"]


@dataclass
class SuitePage:
    """Everything one suite page shows."""

    name: str
    run_dirs: list[Path]
    title: str = ""
    banner: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    references: list[Path] = field(default_factory=list)
    wall_seconds: float | None = None
    date: str = ""
    budget: str = ""
    scale: float = 1.0
    overrides: list[str] = field(default_factory=list)


def _safe_name(name: str) -> str:
    """A folder name for a suite page (letters, digits, '.', '_', '-')."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name).strip("._") or "suite"


def _summaries(run_dirs: Sequence[Path]) -> list[dict]:
    out = []
    for run in run_dirs:
        try:
            s = json.loads((Path(run) / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(s, dict) and s.get("dataset") is not None and (s.get("variant") or s.get("entry")):
            out.append(s)
    return out


def load_suite_page(path: str | Path, extra_references: Sequence[Path] = ()) -> SuitePage:
    """A suite page from a suite output folder (or a run folder, or a folder of runs).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ReportInputError: it holds no run folder.
    """
    path = Path(path)
    runs = find_run_dirs([path])
    manifest = read_manifest(path) or {}
    name = str(manifest.get("name") or path.resolve().name)
    summaries = _summaries(runs)
    budgets = sorted({str(s.get("budget")) for s in summaries if s.get("budget")})
    seeds = sorted({s.get("seed") for s in summaries if isinstance(s.get("seed"), int)})
    budget = str(manifest.get("budget") or ", ".join(budgets))
    banner = [str(b) for b in manifest.get("banner") or []]
    scale = float(manifest.get("scale") or 1.0)
    overrides = [str(o) for o in manifest.get("overrides") or []]
    if not banner:
        banner = [f"Budget trained: {budget or 'not recorded'} per run, {len(seeds)} seed(s)"
                  + (f", --scale {scale:g}" if scale != 1.0 else "")
                  + (f", overrides {' '.join(overrides)}" if overrides else "")]
        if not manifest:
            banner.append("No suite.json in this folder: the suite file, its scale and overrides are not recorded; "
                          "every run folder found is shown.")
    references = [Path(p) for p in manifest.get("references") or [] if Path(p).is_file()] + list(extra_references)
    mtimes = [(Path(r) / "summary.json").stat().st_mtime for r in runs if (Path(r) / "summary.json").is_file()]
    date = str(manifest.get("written") or "")
    if not date and mtimes:
        date = datetime.fromtimestamp(max(mtimes), timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    wall = manifest.get("wall_seconds")
    if wall is None:  # the suite runner's record of its wall time
        try:
            wall = json.loads((path / "suite_time.json").read_text(encoding="utf-8")).get("wall_seconds")
        except (OSError, ValueError, AttributeError):
            wall = None
    return SuitePage(
        name=name, run_dirs=runs, title=f"gan_bench suite: {name}", banner=banner,
        notes=[str(n) for n in manifest.get("notes") or []], references=references,
        wall_seconds=float(wall) if isinstance(wall, (int, float)) else None, date=date, budget=budget,
        scale=scale, overrides=overrides,
    )


def _protocols(board: pd.DataFrame) -> list[str]:
    if "protocol" not in board.columns:
        return []
    return [str(p) for p in dict.fromkeys(board["protocol"].dropna().astype(str)) if p]


PAGE_RECORD = "page.json"


def write_site(out_dir: str | Path, pages: Sequence[SuitePage]) -> list[Path]:
    """Write the suites' pages into the site ``out_dir`` and rebuild its index; returns the pages
    written, the index first (see the module docstring).

    The index lists every suite page of the site, also those written earlier (each page folder keeps
    a ``page.json`` record), so suites can be added one at a time. A page replaces the earlier page of
    the same suite name; two suites of one name given together get ``name`` and ``name-2``."""
    if not pages:
        raise ReportInputError("no suite to report")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out / PLOTLY_FILE, get_plotlyjs())
    written: list[Path] = []
    used: set[str] = set()
    for page in pages:
        folder, k = _safe_name(page.name), 2
        while folder in used:  # two suites of one name in one call keep a page each
            folder, k = f"{_safe_name(page.name)}-{k}", k + 1
        used.add(folder)
        board = aggregate(runs_frame(_summaries(page.run_dirs)))
        html = build_report_html(
            page.title or page.name, board, page.run_dirs, read_references(page.references), notes=page.notes,
            wall_seconds=page.wall_seconds, banner=page.banner, plotly_src=f"../{PLOTLY_FILE}", home="../index.html",
        )
        written.append(atomic.write_text(out / folder / "index.html", html))
        write_leaderboard(long_table(page.run_dirs), out / folder / "leaderboard.csv")
        record = {
            "name": page.name, "budget": page.budget, "scale": page.scale, "overrides": page.overrides,
            "runs": len(page.run_dirs), "banner": page.banner, "wall_seconds": page.wall_seconds, "date": page.date,
            "protocols": _protocols(board),
            "variants": sorted(board["variant"].astype(str).unique()) if "variant" in board.columns else [],
            "datasets": sorted(board["dataset"].astype(str).unique()) if "dataset" in board.columns else [],
        }
        atomic.write_text(out / folder / PAGE_RECORD, json.dumps(record, indent=1) + "\n")
    return [write_index(out), *written]


def write_index(out_dir: str | Path) -> Path:
    """(Re)write ``OUT/index.html`` from the ``page.json`` of every suite folder in the site; a folder
    with a page but no record (written by an older gan_bench) is listed by its name."""
    out = Path(out_dir)
    rows: list[str] = []
    count = 0
    for folder in sorted(p for p in out.iterdir() if p.is_dir() and (p / "index.html").is_file()):
        count += 1
        try:
            rec = json.loads((folder / PAGE_RECORD).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            rec = None
        link = f'<a href="{esc(folder.name)}/index.html">{esc(rec.get("name") if isinstance(rec, dict) else folder.name)}</a>'
        if not isinstance(rec, dict):
            rows.append(f'<tr><td>{link}</td><td colspan="6" class="muted">an older page without a record; '
                        "regenerate it with gan-bench report</td></tr>")
            continue
        scale = rec.get("scale") or 1.0
        datasets = [str(d) for d in rec.get("datasets") or []]
        tables = (f'<br><span class="muted"><a href="{esc(folder.name)}/leaderboard.csv">per-seed CSV</a> · '
                  f'<a href="{esc(folder.name)}/leaderboard.wide.csv">mean/std CSV</a></span>'
                  if (folder / "leaderboard.csv").is_file() else "")
        wall = rec.get("wall_seconds")
        rows.append(
            f"<tr><td>{link}{tables}</td>"
            f"<td>{esc(rec.get('budget') or 'not recorded')}" + (f" (--scale {float(scale):g})" if scale != 1.0 else "") + "</td>"
            f"<td>{esc(' '.join(map(str, rec.get('overrides') or [])) or '—')}</td>"
            f"<td>{int(rec.get('runs') or 0)} runs; {len(rec.get('variants') or [])} variants × {len(datasets)} datasets "
            f"<span class='muted'>({esc(', '.join(datasets))})</span></td>"
            f"<td><span class='wrap'>{'<br>'.join(esc(p) for p in rec.get('protocols') or []) or '—'}</span></td>"
            f"<td>{esc(fmt_duration(wall if isinstance(wall, (int, float)) else None))}</td>"
            f"<td>{esc(rec.get('date') or '—')}</td></tr>"
            + "".join(f'<tr class="sub"><td></td><td colspan="6" class="warn">{esc(b)}</td></tr>'
                      for b in rec.get("banner") or [])
        )
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    index = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>gan_bench reports</title>'
        f"<style>{_INDEX_CSS}</style></head><body><header><h1>gan_bench reports</h1>"
        f'<p class="meta">Generated {esc(generated)} · gan_bench {esc(gan_bench.__version__)} · {count} suite(s)</p>'
        "</header><main><table class='data'><thead><tr><th>suite</th><th>budget per run</th><th>overrides</th>"
        "<th>runs</th><th>protocol</th><th>wall time</th><th>date</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table><p class='muted'>Each suite page states the budget actually trained, its scale and every "
        "override at the top, beside the published numbers under their protocol. All pages open offline.</p>"
        "</main></body></html>\n"
    )
    return atomic.write_text(out / "index.html", index)


def publish_suite(root: str | Path, suite_dir: str | Path) -> list[Path]:
    """Publish a finished suite folder into a repository root: its page in ``ROOT/reports/<name>/``
    (the site's index rebuilt) and its tables as ``ROOT/leaderboards/<name>.csv`` (long, per seed)
    plus ``<name>.wide.csv/.json/.md``. Returns the files written."""
    page = load_suite_page(suite_dir)
    written = write_site(Path(root) / "reports", [page])
    written += write_leaderboard(long_table(page.run_dirs), Path(root) / "leaderboards" / f"{_safe_name(page.name)}.csv")
    return written


_INDEX_CSS = """
body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:#1d232b; background:#f5f7f9; }
header { background:#1f2d3d; color:#fff; padding:18px 32px 8px; } header h1 { margin:0 0 4px; font-size:24px; }
header .meta { color:#c9d3de; margin:0 0 8px; }
main { max-width:1500px; margin:0 auto; padding:16px 32px; }
table.data { border-collapse:collapse; background:#fff; font-size:13px; }
table.data th, table.data td { border:1px solid #dde2e8; padding:4px 8px; text-align:left; vertical-align:top; }
table.data th { background:#eef2f6; }
tr.sub td { border-top:none; font-size:12px; }
.wrap { display:inline-block; min-width:260px; max-width:560px; }
.muted { color:#66707c; } .warn { color:#a15c00; }
a { color:#2f6fb0; }
"""
