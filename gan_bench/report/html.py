"""Self-contained interactive HTML report for a gan_bench suite.

One file, opens offline: plotly.js is inlined once in ``<head>``, sample images are base64 PNG ``data:`` URIs,
CSS is inline. Every user-provided string is HTML-escaped. Missing or broken run files never abort the
report; they are listed where the content would have been.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

import gan_bench
from gan_bench import atomic
from gan_bench.report._figures import (
    color_map,
    eval_curves,
    image_grid_png,
    loss_curves,
    metric_bar_chart,
    png_data_uri,
    samples_scatter,
)
from gan_bench.report._format import (
    direction_label,
    esc,
    fmt_duration,
    fmt_mean_std,
    fmt_num,
    html_table,
    is_missing,
    lower_is_better,
    to_float,
)
from gan_bench.report._references import render_references
from gan_bench.report._runs import RunData, group_runs, load_run, load_samples
from gan_bench.report.rankings import compare_rankings, render_rankings

__all__ = ["write_report", "build_report_html", "metric_names"]

# ``<x>_mean`` columns of the leaderboard that are bookkeeping, not quality metrics.
_NON_METRIC_MEANS = {"steps", "images", "wall_seconds", "seconds", "seed"}
_PLOT_CONFIG = {"displaylogo": False, "responsive": True}


def metric_names(board: pd.DataFrame) -> list[str]:
    """Metric names of a leaderboard, from its ``<metric>_mean`` columns, in column order."""
    names = []
    for col in board.columns:
        col = str(col)
        if col.endswith("_mean"):
            base = col[: -len("_mean")]
            if base not in _NON_METRIC_MEANS:
                names.append(base)
    return names


def write_report(
    out_html: Path,
    title: str,
    leaderboard: pd.DataFrame,
    runs: list[Path],
    references: list[pd.DataFrame],
    notes: list[str] | None = None,
    wall_seconds: float | None = None,
    banner: list[str] | None = None,
) -> Path:
    """Render the suite report to ``out_html`` and return its path.

    Args:
        out_html: destination file; its folder is created if needed. Written atomically (temp file in the
            same folder, then ``os.replace``), so a reader never sees half a report.
        title: page title.
        leaderboard: one row per variant x dataset with ``variant``, ``dataset``, ``protocol``, ... and
            ``<metric>_mean`` / ``<metric>_std`` columns.
        runs: run directories (``summary.json``, ``metrics.jsonl``, ``samples/final.npz``; any may be missing).
        references: published-result tables (``attrs["name"]`` names each one); rows whose model maps to one
            of our variants get our matching leaderboard row beside them.
        notes: free-text paragraphs shown at the end (e.g. where we do not match the literature).
        wall_seconds: total suite wall time, shown in the header.
        banner: lines shown at the top, under the title: the budget actually trained, the kind of pass
            (a short CPU pass is labelled so) and every deviation from the suite file.
    """
    page = build_report_html(title, leaderboard, runs, references, notes=notes, wall_seconds=wall_seconds,
                             banner=banner)
    return atomic.write_text(out_html, page)


class _FigureSink:
    """Turns plotly figures into ``<div>`` snippets with deterministic ids (stable diffs between reports)."""

    def __init__(self) -> None:
        self.count = 0

    def html(self, fig: go.Figure) -> str:
        self.count += 1
        return fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig{self.count}", config=_PLOT_CONFIG)


def build_report_html(
    title: str,
    leaderboard: pd.DataFrame,
    runs: list[Path],
    references: list[pd.DataFrame],
    notes: list[str] | None = None,
    wall_seconds: float | None = None,
    banner: list[str] | None = None,
) -> str:
    """The report page as a string (see :func:`write_report`, which also writes it)."""
    board = _sorted_board(leaderboard if leaderboard is not None else pd.DataFrame())
    metrics = metric_names(board)
    variants = sorted(board["variant"].astype(str).unique()) if "variant" in board.columns else []
    datasets = sorted(board["dataset"].astype(str).unique()) if "dataset" in board.columns else []
    loaded = [load_run(Path(p), variants, datasets) for p in runs]
    groups, orphans = group_runs(loaded)
    colors = color_map(variants + [g[0] for g in groups])
    sink = _FigureSink()

    sections = [
        ("leaderboard", "Leaderboard", _guard(lambda: _section_leaderboard(board, metrics))),
        ("metrics", "Metrics", _guard(lambda: _section_metrics(board, metrics, colors, sink))),
        ("published", "Published results", _guard(lambda: render_references(references or [], board))),
        ("rankings", "Rankings: ours vs published", _guard(lambda: _section_rankings(references or [], board))),
        ("runs", "Samples and training curves", _guard(lambda: _section_runs(groups, orphans, sink))),
        ("notes", "Notes", _guard(lambda: _section_notes(notes))),
    ]
    toc = "".join(f'<li><a href="#{sid}">{name}</a></li>' for sid, name, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{name}</h2>{content}</section>' for sid, name, content in sections)
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    run_counts = _status_counts(loaded)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f'<header><h1>{esc(title)}</h1><p class="meta">Generated {esc(generated)} · gan_bench '
        f"{esc(gan_bench.__version__)} · total wall time {esc(fmt_duration(wall_seconds))} · "
        f"{len(board)} leaderboard rows · {len(loaded)} runs ({esc(run_counts)})</p>"
        + "".join(f'<p class="warn banner">{esc(line)}</p>' for line in banner or [])
        + f'<nav><ul>{toc}</ul></nav></header><main>{body}</main>'
        "<footer>Self-contained report: no network access needed. Plots are interactive (hover, zoom, "
        "click legend entries to hide traces).</footer>"
        f"<script>{_RESIZE_JS}</script></body></html>\n"
    )


def _section_rankings(references: list[pd.DataFrame], board: pd.DataFrame) -> str:
    comparisons = [c for i, ref in enumerate(references)
                   for c in compare_rankings(ref, board, str(ref.attrs.get("name") or f"reference table {i + 1}"))]
    return render_rankings(comparisons)


def _guard(render: Any) -> str:
    """Run one section renderer; a bug in it costs that section, not the report."""
    try:
        return render()
    except Exception as err:
        return f'<p class="problem">This section could not be rendered: {esc(type(err).__name__)}: {esc(err)}</p>'


def _status_counts(runs: list[RunData]) -> str:
    counts: dict[str, int] = {}
    for r in runs:
        s = r.status.lower()
        kind = "done" if s == "done" else "diverged" if s.startswith("diverged") else "failed" if s.startswith("failed") else "unknown"
        counts[kind] = counts.get(kind, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in counts.items()) or "none"


def _sorted_board(board: pd.DataFrame) -> pd.DataFrame:
    keys = [k for k in ("dataset", "variant") if k in board.columns]
    if not keys:
        return board.reset_index(drop=True)
    return board.sort_values(keys, key=lambda s: s.astype(str), kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- leaderboard


def _section_leaderboard(board: pd.DataFrame, metrics: list[str]) -> str:
    if board.empty:
        return '<p class="muted">The leaderboard is empty.</p>'
    metric_cols = {f"{m}_mean" for m in metrics} | {f"{m}_std" for m in metrics}
    rest = [c for c in board.columns if c not in metric_cols and c != "protocol"]
    # Identity first, then the metrics a reader came for, then bookkeeping (seeds, budget, wall time, status).
    lead = [c for c in ("variant", "dataset") if c in rest]
    plain = lead + [c for c in rest if c not in lead]
    protocols: list[str] = []
    if "protocol" in board.columns:
        protocols = [str(p) for p in dict.fromkeys(board["protocol"].dropna().tolist())]
    best = _best_per_dataset(board, metrics)

    metric_header = [f"{esc(m)} <span class='dir'>{'↓' if lower_is_better(m) else '↑'}</span>" for m in metrics]
    header = [esc(_pretty_col(c)) for c in lead] + metric_header + [esc(_pretty_col(c)) for c in plain[len(lead):]]
    if protocols:
        header.append("protocol")
    rows, classes = [], []
    for i, row in board.iterrows():
        cells = []
        for c in plain:
            v = row[c]
            text = fmt_num(v) if not isinstance(v, str) else esc(v)
            if c == "status" and isinstance(v, str) and not _all_done(v):
                text = f'<span class="warn">{text}</span>'
            cells.append(text)
        metric_cells = []
        for m in metrics:
            text = fmt_mean_std(row[f"{m}_mean"], row.get(f"{m}_std"))
            metric_cells.append(f"<strong>{text}</strong>" if (i, m) in best else text)
        cells = cells[: len(lead)] + metric_cells + cells[len(lead):]
        if protocols:
            p = row["protocol"]
            cells.append("—" if is_missing(p) else f'<a href="#proto{protocols.index(str(p)) + 1}">P{protocols.index(str(p)) + 1}</a>')
        rows.append(cells)
        classes.append("")
    legend = (
        "<p class='muted'>Metrics are mean ± std over seeds; ↑ higher is better, ↓ lower is better; "
        "<strong>bold</strong> = best on that dataset (when at least two variants report it). "
        "Sorted by dataset, then variant.</p>"
    )
    proto_list = ""
    if protocols:
        items = "".join(f'<li id="proto{k + 1}"><strong>P{k + 1}</strong> {esc(p)}</li>' for k, p in enumerate(protocols))
        proto_list = f"<h3>Evaluation protocols</h3><ul class='protocol-list'>{items}</ul>"
    return legend + f'<div class="scroll">{html_table(header, rows, classes)}</div>' + proto_list


def _pretty_col(col: Any) -> str:
    col = str(col)
    return col[: -len("_mean")] + " (mean)" if col.endswith("_mean") else col


def _all_done(status: str) -> bool:
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s+done\s*", status)
    return bool(m) and m.group(1) == m.group(2)


def _best_per_dataset(board: pd.DataFrame, metrics: list[str]) -> set[tuple[Any, str]]:
    best: set[tuple[Any, str]] = set()
    if "dataset" not in board.columns:
        return best
    for m in metrics:
        values = pd.to_numeric(board[f"{m}_mean"], errors="coerce")
        for _, idx in board.groupby(board["dataset"].astype(str)).groups.items():
            v = values.loc[idx].dropna()
            if len(v) < 2:
                continue
            target = v.min() if lower_is_better(m) else v.max()
            best.update((i, m) for i in v.index[v == target])
    return best


# ---------------------------------------------------------------------------------------------- metrics


def _section_metrics(board: pd.DataFrame, metrics: list[str], colors: dict[str, str], sink: _FigureSink) -> str:
    if not metrics:
        return '<p class="muted">The leaderboard has no metric columns.</p>'
    parts = ["<p class='muted'>Bars are means over seeds, error bars one standard deviation; "
             "the axis title says which direction is better.</p><div class='grid2'>"]
    for m in metrics:
        try:
            fig = metric_bar_chart(board, m, colors)
        except Exception as err:
            parts.append(f"<div class='card'><p class='problem'>{esc(m)}: chart failed ({esc(type(err).__name__)}: {esc(err)})</p></div>")
            continue
        if fig is None:
            parts.append(f"<div class='card'><p class='muted'>{esc(m)} ({direction_label(m)}): no finite values.</p></div>")
        else:
            parts.append(f"<div class='card'>{sink.html(fig)}</div>")
    parts.append("</div>")
    return "".join(parts)


# ---------------------------------------------------------------------------------------------- runs


def _section_runs(groups: dict[tuple[str, str], list[RunData]], orphans: list[RunData], sink: _FigureSink) -> str:
    if not groups and not orphans:
        return '<p class="muted">No run directories were given.</p>'
    index = " · ".join(
        f'<a href="#{_anchor(v, d)}">{esc(v)} / {esc(d)}</a>' for v, d in groups
    )
    parts = [f"<p class='index'>{index}</p>"] if groups else []
    for (variant, dataset), members in groups.items():
        parts.append(_guard(lambda v=variant, d=dataset, m=members: _render_group(v, d, m, sink)))
    if orphans:
        rows = [[f'<code class="wrap">{esc(r.path)}</code>',
                 f'<span class="wrap">{esc("; ".join(r.problems) or "variant/dataset unknown")}</span>'] for r in orphans]
        parts.append("<h3>Runs that could not be attributed to a variant and dataset</h3>"
                     + html_table(["run directory", "problems"], rows))
    return "".join(parts)


def _anchor(variant: str, dataset: str) -> str:
    return "run-" + re.sub(r"[^A-Za-z0-9_-]", "_", f"{variant}--{dataset}")


def _render_group(variant: str, dataset: str, members: list[RunData], sink: _FigureSink) -> str:
    label = f"{esc(variant)} · {esc(dataset)}"
    out = [f'<article class="card run" id="{_anchor(variant, dataset)}"><h3>{label}</h3>']
    out.append(_seed_table(members))

    figs = []
    samples_html = _guard(lambda: _samples_panel(members, label, sink))
    figs.append(f"<div>{samples_html}</div>")
    loss = loss_curves(members, f"losses — {label} (all seeds)")
    figs.append(f"<div>{sink.html(loss)}</div>" if loss is not None
                else "<div><p class='muted'>No loss curves: no <code>loss/*</code> rows in any metrics.jsonl.</p></div>")
    out.append(f"<div class='grid2'>{''.join(figs)}</div>")
    ev = eval_curves(members, f"evaluation during training — {label}")
    if ev is not None:
        out.append(sink.html(ev))
    out.append("</article>")
    return "".join(out)


def _seed_table(members: list[RunData]) -> str:
    metric_keys: list[str] = []
    for r in members:
        for k in ((r.summary or {}).get("metrics") or {}):
            if k not in metric_keys:
                metric_keys.append(str(k))
    header = ["seed", "status", "steps", "images", "seconds"] + [esc(k) for k in metric_keys] + ["run directory", "missing / problems"]
    rows, classes = [], []
    for r in members:
        s = r.summary or {}
        consumed = s.get("consumed") if isinstance(s.get("consumed"), dict) else {}
        ms = s.get("metrics") if isinstance(s.get("metrics"), dict) else {}
        status = r.status
        ok = status == "done"
        cells = [
            esc(r.seed_label),
            esc(status) if ok else f'<span class="warn">{esc(status)}</span>',
            fmt_num(consumed.get("steps")),
            fmt_num(consumed.get("images")),
            fmt_num(to_float(consumed.get("seconds")), 3) if consumed.get("seconds") is not None else "—",
        ]
        cells += [fmt_num(ms.get(k)) for k in metric_keys]
        problems = "; ".join(r.problems)
        cells += [f'<code class="wrap">{esc(r.path)}</code>', f'<span class="wrap">{esc(problems)}</span>' if problems else "—"]
        rows.append(cells)
        classes.append("" if ok else "bad")
    return f'<div class="scroll">{html_table(header, rows, classes, table_class="data small")}</div>'


def _samples_panel(members: list[RunData], label: str, sink: _FigureSink) -> str:
    """Samples of the first seed; if its samples are missing, say so and show the next seed that has them."""
    notes = []
    for k, run in enumerate(members):
        samples, problem = load_samples(run.path)
        if samples is None:
            notes.append(f"seed {esc(run.seed_label)}: {esc(problem)}")
            continue
        note = ""
        if k > 0:
            note = f"<p class='warn'>First seed has no usable samples ({'; '.join(notes)}); showing seed {esc(run.seed_label)}.</p>"
        title = f"samples — {label} (seed {esc(run.seed_label)})"
        if samples.kind == "points":
            fig, drawn = samples_scatter(samples.x, samples.modes, title)
            modes_note = "red circles = true mode centres" if samples.modes is not None else "true mode centres not stored"
            return note + sink.html(fig) + (
                f"<p class='caption'>{fmt_num(drawn)} of {fmt_num(len(samples.x))} generated points; {modes_note}.</p>"
            )
        png, used, (w, h) = image_grid_png(samples.x)
        zoom = max(1, min(4, round(520 / max(w, 1))))  # small grids (MNIST) are shown enlarged, pixels kept sharp
        return note + (
            f"<h4>{title}</h4><img class='grid' alt='sample grid' src='{png_data_uri(png)}' "
            f"width='{w * zoom}' height='{h * zoom}'>"
            f"<p class='caption'>{used} of {fmt_num(len(samples.x))} images, "
            f"{samples.x.shape[1]}×{samples.x.shape[2]}×{samples.x.shape[3]}.</p>"
        )
    return "<p class='problem'>No samples to show: " + "; ".join(notes) + ".</p>"


# ---------------------------------------------------------------------------------------------- notes


def _section_notes(notes: list[str] | None) -> str:
    if not notes:
        return '<p class="muted">No notes.</p>'
    return "".join("<p>" + esc(n).replace("\n", "<br>") + "</p>" for n in notes)


# Plots are laid out while the page is still loading; resize them once everything (fonts, grids) is final.
_RESIZE_JS = (
    "window.addEventListener('load',function(){document.querySelectorAll('.plotly-graph-div')"
    ".forEach(function(d){try{Plotly.Plots.resize(d);}catch(e){}});});"
)

_CSS = """
:root { --fg:#1d232b; --muted:#66707c; --line:#dde2e8; --accent:#2f6fb0; --ours:#fff7dd; --bad:#fdecec; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       background:#f5f7f9; }
header { background:#1f2d3d; color:#fff; padding:18px 32px 8px; }
header h1 { margin:0 0 4px; font-size:24px; }
header .meta { margin:0 0 8px; color:#c9d3de; }
nav ul { list-style:none; padding:0; margin:0; display:flex; gap:18px; flex-wrap:wrap; }
nav a { color:#9fd0ff; text-decoration:none; }
main { max-width:1500px; margin:0 auto; padding:8px 32px 32px; }
section { margin-top:28px; }
h2 { border-bottom:2px solid var(--line); padding-bottom:4px; }
h3 { margin:22px 0 8px; }
h4 { margin:6px 0; font-size:14px; font-weight:600; }
.card { background:#fff; border:1px solid var(--line); border-radius:6px; padding:10px 14px; margin:10px 0; }
/* auto-fill, not auto-fit: each plot is drawn while the page is still parsing, and auto-fit would give the
   first plot of a grid the full row width before its siblings exist. */
.grid2 { display:grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap:12px; }
.grid2 > .card { margin:0; }
.scroll { overflow-x:auto; }
table.data { border-collapse:collapse; background:#fff; font-size:13px; margin:6px 0; }
table.data th, table.data td { border:1px solid var(--line); padding:4px 8px; text-align:left; vertical-align:top;
  white-space:nowrap; }
.wrap { white-space:normal; display:inline-block; min-width:260px; max-width:520px; }
table.data th { background:#eef2f6; position:sticky; top:0; }
table.data tbody tr:nth-child(even) { background:#fafbfc; }
table.small { font-size:12px; }
tr.ours, tr.ours:nth-child(even) { background: var(--ours) !important; font-weight:600; }
tr.peer td { color:#4b5560; }
tr.bad, tr.bad:nth-child(even) { background: var(--bad) !important; }
.badge { background:#b8860b; color:#fff; padding:1px 6px; border-radius:8px; font-size:11px; }
.peer { color:var(--muted); font-style:italic; }
.dir { color:var(--muted); font-weight:normal; }
.muted { color:var(--muted); }
.warn { color:#a15c00; font-weight:600; }
.problem { color:#b00020; }
.caveat { background:#eef5ff; border-left:4px solid var(--accent); padding:8px 12px; }
.caption { color:var(--muted); font-size:12px; margin:4px 0; }
.index { line-height:1.9; }
.index a { color:var(--accent); text-decoration:none; white-space:nowrap; }
img.grid { image-rendering: pixelated; max-width:100%; height:auto; border:1px solid var(--line); }
.refblock { background:#fff; border:1px solid var(--line); border-radius:6px; padding:8px 12px; margin:10px 0; }
dl.protocols { display:grid; grid-template-columns: 1fr 1fr; gap:16px; margin:0 0 6px; }
dl.protocols dt { font-weight:600; margin-top:4px; }
dl.protocols dd { margin:0 0 2px 0; color:#333; }
ul.protocol-list li { margin:4px 0; }
details > summary { cursor:pointer; color:var(--accent); margin:4px 0; }
code { font-size:12px; color:#444; word-break:break-all; }
footer { color:var(--muted); text-align:center; padding:20px; font-size:12px; }
"""
