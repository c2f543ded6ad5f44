"""Self-contained interactive HTML report for a gan_bench suite.

One file, opens offline: plotly.js is inlined once in ``<head>``, sample images are base64 PNG ``data:`` URIs,
CSS is inline. Every user-provided string is HTML-escaped. Missing or broken run files never abort the
report; they are listed where the content would have been.
"""

from __future__ import annotations

import json
import math
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
    diagnostic_curves,
    eval_curves,
    image_grid_png,
    loss_curves,
    metric_bar_chart,
    png_data_uri,
    rows_grid_png,
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
from gan_bench.report.speed import section_speed

__all__ = ["write_report", "build_report_html", "metric_names"]

# ``<x>_mean`` columns of the leaderboard that are bookkeeping, not quality metrics.
_NON_METRIC_MEANS = {"steps", "images", "wall_seconds", "seconds", "seed"}
# No plotly logo, no "send to cloud" / "edit in Chart Studio" buttons: a report never sends data anywhere.
_PLOT_CONFIG = {
    "displaylogo": False, "responsive": True, "showSendToCloud": False,
    "modeBarButtonsToRemove": ["sendDataToCloud"],
}
PLOTLY_FILE = "plotly.min.js"


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
    plotly_src: str | None = None,
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
        plotly_src: a relative URL of a plotly.js file shared by several pages (see
            :mod:`gan_bench.report.site`); None inlines plotly.js into this page.
    """
    page = build_report_html(title, leaderboard, runs, references, notes=notes, wall_seconds=wall_seconds,
                             banner=banner, plotly_src=plotly_src)
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
    plotly_src: str | None = None,
    home: str | None = None,
) -> str:
    """The report page as a string (see :func:`write_report`, which also writes it); ``home`` is a
    relative link to the site's index shown in the header."""
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
        ("metrics", "Metrics", _guard(lambda: _section_metrics(board, metrics, colors, sink, loaded))),
        ("published", "Published results", _guard(lambda: render_references(references or [], board))),
        ("rankings", "Rankings: ours vs published", _guard(lambda: _section_rankings(references or [], board))),
        ("runs", "Samples and training curves", _guard(lambda: _section_runs(groups, orphans, sink))),
        ("speed", "Training speed", _guard(lambda: section_speed(loaded))),
        ("notes", "Notes", _guard(lambda: _section_notes(notes))),
    ]
    meta = (f"total wall time {esc(fmt_duration(wall_seconds))} · {len(board)} leaderboard rows · "
            f"{len(loaded)} runs ({esc(_status_counts(loaded))})")
    return page_html(title, sections, meta, banner or [], plotly_src, home, header_extra=_provenance(loaded),
                     footer="Self-contained report: no network access needed. Plots are interactive (hover, zoom, "
                            "click legend entries to hide traces).")


def page_html(title: str, sections: list[tuple[str, str, str]], meta: str, banner: list[str],
              plotly_src: str | None = None, home: str | None = None, header_extra: str = "",
              footer: str = "Self-contained report: no network access needed.") -> str:
    """A report page: header (title, generation time, ``meta`` (HTML), warning ``banner`` lines,
    ``header_extra`` HTML), a table of contents and one section per (id, heading HTML, content
    HTML); plotly inlined, or loaded from ``plotly_src`` (the site's shared copy)."""
    toc = "".join(f'<li><a href="#{sid}">{name}</a></li>' for sid, name, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{name}</h2>{content}</section>' for sid, name, content in sections)
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style>"
        + (f'<script type="text/javascript">{get_plotlyjs()}</script>' if plotly_src is None
           else f'<script type="text/javascript" src="{esc(plotly_src)}"></script>')
        + "</head><body><header>"
        + (f'<p class="home"><a href="{esc(home)}">&larr; all suites</a></p>' if home else "")
        + f'<h1>{esc(title)}</h1><p class="meta">Generated {esc(generated)} · gan_bench '
        f"{esc(gan_bench.__version__)} · {meta}</p>"
        + "".join(f'<p class="warn banner">{esc(line)}</p>' for line in banner)
        + header_extra
        + f'<nav><ul>{toc}</ul></nav></header><main>{body}</main>'
        f"<footer>{esc(footer)}</footer>"
        f"<script>{_RESIZE_JS}{TABLE_JS}</script></body></html>\n"
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
    best = best_per_dataset(board, metrics)

    columns = merged_metric_columns(board, metrics)
    metric_header = [f"{esc(name)} <span class='dir'>{'↓' if lower_is_better(ms[0]) else '↑'}</span>" for name, ms in columns]
    header = [esc(_pretty_col(c)) for c in lead] + metric_header + [esc(_pretty_col(c)) for c in plain[len(lead):]]
    if protocols:
        header.append("protocol")
    rows = []
    for i, row in board.iterrows():
        cells = []
        for c in plain:
            v = row[c]
            text = fmt_num(v) if not isinstance(v, str) else esc(v)
            if c == "status" and isinstance(v, str) and not _all_done(v):
                text = f'<span class="warn">{text}</span>'
            cells.append(_td(text, v))
        metric_cells = []
        for _name, ms in columns:
            m = next((m for m in ms if to_float(row[f"{m}_mean"]) is not None), ms[0])
            text = fmt_mean_std(row[f"{m}_mean"], row.get(f"{m}_std"))
            if len(ms) > 1 and "[" in m and to_float(row[f"{m}_mean"]) is not None:
                text += f" <span class='proto'>[{esc(m.split('[', 1)[1])}</span>"
            metric_cells.append(_td(f"<strong>{text}</strong>" if (i, m) in best else text, row[f"{m}_mean"]))
        cells = cells[: len(lead)] + metric_cells + cells[len(lead):]
        if protocols:
            p = row["protocol"]
            k = protocols.index(str(p)) + 1 if not is_missing(p) else 0
            cells.append(_td("—" if not k else f'<a href="#proto{k}">P{k}</a>', k or None))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    legend = (
        "<p class='muted'>Metrics are mean ± std over seeds; ↑ higher is better, ↓ lower is better. "
        "<strong>Bold</strong> = best on that dataset, marked only when it is separated from the runner-up "
        "beyond the seed spread: the two mean ± std intervals do not overlap (both with at least two seeds; "
        "ties and single seeds are never bold). Click a column header to sort; type to filter rows.</p>"
    )
    head = "".join(f'<th title="sort">{h}</th>' for h in header)
    table = (f'<input class="filter" type="search" placeholder="filter rows" aria-label="filter the leaderboard" '
             f'data-table="leaderboard-table"><div class="scroll lbwrap"><table class="data sortable lb" '
             f'id="leaderboard-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')
    proto_list = ""
    if protocols:
        items = "".join(f'<li id="proto{k + 1}"><strong>P{k + 1}</strong> {esc(p)}</li>' for k, p in enumerate(protocols))
        proto_list = f"<h3>Evaluation protocols</h3><ul class='protocol-list'>{items}</ul>"
    return legend + table + proto_list


def merged_metric_columns(board: pd.DataFrame, metrics: list[str]) -> list[tuple[str, list[str]]]:
    """Leaderboard columns as (header, metrics): metrics that differ only by their ``[protocol]``
    (``fid[mnist-classifier]``, ``fid[fashion-mnist-classifier]``) share one column ``fid[…]`` when no row
    has a value for more than one of them (each dataset is scored under its own protocol), so the table
    is not half empty; each cell names its protocol. Others keep a column each."""
    by_base: dict[str, list[str]] = {}
    for m in metrics:
        by_base.setdefault(m.split("[", 1)[0] if "[" in m else m, []).append(m)
    out: list[tuple[str, list[str]]] = []
    done: set[str] = set()
    for m in metrics:
        if m in done:
            continue
        base = m.split("[", 1)[0] if "[" in m else m
        group = [g for g in by_base[base] if "[" in g]
        if "[" in m and len(group) > 1:
            filled = sum(pd.to_numeric(board[f"{g}_mean"], errors="coerce").notna() for g in group)
            if int(filled.max()) <= 1:
                out.append((f"{base}[…]", group))
                done.update(group)
                continue
        out.append((m, [m]))
        done.add(m)
    return out


def _td(html_text: str, value: Any) -> str:
    """A cell with its sort key (``data-v``: the number, or the text; empty when missing)."""
    if isinstance(value, str):
        key = value
    else:
        f = to_float(value)
        key = "" if f is None else repr(f)
    return f'<td data-v="{esc(key)}">{html_text}</td>'


def _pretty_col(col: Any) -> str:
    col = str(col)
    return col[: -len("_mean")] + " (mean)" if col.endswith("_mean") else col


def _all_done(status: str) -> bool:
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s+done\s*", status)
    return bool(m) and m.group(1) == m.group(2)


def best_per_dataset(board: pd.DataFrame, metrics: list[str]) -> set[tuple[Any, str]]:
    """(row index, metric) of the leaderboard cells to mark best: per dataset, the best mean of a score
    (never a ``_std`` column nor a spread metric such as ``kid_std[...]``), only when its mean ± std interval does not overlap the runner-up's.

    Both the best and the runner-up need a finite std (two or more seeds); a tie is never marked."""
    best: set[tuple[Any, str]] = set()
    if "dataset" not in board.columns:
        return best
    for m in metrics:
        if is_spread_metric(m) or f"{m}_mean" not in board.columns:
            continue
        means = pd.to_numeric(board[f"{m}_mean"], errors="coerce")
        stds = pd.to_numeric(board[f"{m}_std"], errors="coerce") if f"{m}_std" in board.columns else means * math.nan
        for _, idx in board.groupby(board["dataset"].astype(str)).groups.items():
            v = means.loc[idx].dropna()
            if len(v) < 2:
                continue
            ranked = v.sort_values(ascending=lower_is_better(m), kind="stable")
            first, second = ranked.index[0], ranked.index[1]
            s1, s2 = stds.loc[first], stds.loc[second]
            if not (math.isfinite(s1) and math.isfinite(s2)):
                continue
            gap = (v[second] - v[first]) if lower_is_better(m) else (v[first] - v[second])
            if gap > s1 + s2:
                best.add((first, m))
    return best


def is_spread_metric(metric: str) -> bool:
    """True for a metric that is a spread, not a score (``kid_std``, ``kid_std[mnist-classifier]``):
    never marked best."""
    return metric.split("[", 1)[0].endswith("_std")


def _provenance(runs: list[RunData]) -> str:
    """One header line: git sha(s), torch, device and gan_bench version the runs were trained with."""
    found: dict[str, dict[str, None]] = {"git sha": {}, "gan_bench": {}, "torch": {}, "device": {}}
    for r in runs:
        try:
            env = json.loads((Path(r.path) / "env.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(env, dict):
            continue
        packages = env.get("packages") if isinstance(env.get("packages"), dict) else {}
        for key, value in (("git sha", env.get("git_sha")), ("gan_bench", env.get("gan_bench")),
                           ("torch", packages.get("torch")), ("device", env.get("device"))):
            if value:
                found[key][str(value)[:12] if key == "git sha" else str(value)] = None
    parts = [f"{k} {', '.join(v)}" for k, v in found.items() if v]
    return f'<p class="meta provenance">Trained with: {esc(" · ".join(parts))}</p>' if parts else ""


# ---------------------------------------------------------------------------------------------- metrics


def _seed_values(runs: list[RunData]) -> dict[tuple[str, str, str], list[tuple[str, float]]]:
    """(variant, dataset, metric) -> [(seed label, value)] of the runs that finished as ``done``."""
    out: dict[tuple[str, str, str], list[tuple[str, float]]] = {}
    for r in runs:
        if r.status != "done" or r.variant is None or r.dataset is None:
            continue
        metrics = (r.summary or {}).get("metrics")
        for k, v in (metrics.items() if isinstance(metrics, dict) else []):
            f = to_float(v)
            if f is not None:
                out.setdefault((r.variant, r.dataset, str(k)), []).append((r.seed_label, f))
    return out


def _section_metrics(board: pd.DataFrame, metrics: list[str], colors: dict[str, str], sink: _FigureSink,
                     runs: list[RunData] | None = None) -> str:
    if not metrics:
        return '<p class="muted">The leaderboard has no metric columns.</p>'
    seeds = _seed_values(runs or [])
    parts = ["<p class='muted'>Bars are means over seeds, error bars one standard deviation (clipped to the "
             "metric's range, e.g. no negative KL or FID), dots the seeds' own values; a metric whose values span "
             "two decades or more is drawn on a log axis. The axis title says which direction is better.</p>"
             "<div class='grid2'>"]
    for m in metrics:
        try:
            fig = metric_bar_chart(board, m, colors, seeds)
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
        n_evals = max((len(r.eval_rows) for r in members), default=0)
        out.append(sink.html(ev))
        if n_evals <= 1:
            out.append("<p class='caption'>One evaluation per seed (at the end): set <code>eval.every</code> in the "
                       "suite file for curves against the budget.</p>")
    diag = diagnostic_curves(members, f"diagnostics logged during training — {label}")
    if diag is not None:
        out.append(sink.html(diag))
    out.append(_run_details(members))
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


def _run_details(members: list[RunData]) -> str:
    """Per run, folded: its status, resolved config.yaml and env.json, as written (escaped)."""
    parts = []
    for r in members:
        blocks = []
        for name in ("config.yaml", "env.json", "run.json"):
            try:
                text = (Path(r.path) / name).read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = "(missing)"
            blocks.append(f"<h4>{name}</h4><pre class='cfg'>{esc(text[:20000])}</pre>")
        parts.append(f"<details><summary>seed {esc(r.seed_label)} — status {esc(r.status)}: config, environment"
                     f"</summary><div class='grid2'>{''.join(blocks)}</div></details>")
    return "".join(parts)


COMPANION_TITLES = {"cond": "input", "mask": "mask", "target": "ground truth", "pair": "coupled image"}


def _companions_grid(samples: Any, label: str, seed_label: str) -> str:
    """(``label`` is escaped HTML already.) Rows of (input, mask, output, ground truth / coupled image), as image-to-image papers show them."""
    order = [k for k in ("cond", "mask") if k in samples.companions]
    after = [k for k in ("target", "pair") if k in samples.companions]
    columns = [samples.companions[k] for k in order] + [samples.x] + [samples.companions[k] for k in after]
    names = [COMPANION_TITLES[k] for k in order] + ["output"] + [COMPANION_TITLES[k] for k in after]
    png, rows, (w, h) = rows_grid_png(columns)
    zoom = max(1, min(3, round(360 / max(w, 1))))
    return (f"<h4>inputs and outputs — {label} (seed {esc(seed_label)})</h4>"
            f"<img class='grid' alt='input, output and ground truth' src='{png_data_uri(png)}' "
            f"width='{w * zoom}' height='{h * zoom}'>"
            f"<p class='caption'>{rows} examples; columns: {esc(' | '.join(names))}.</p>")


def _samples_panel(members: list[RunData], label: str, sink: _FigureSink) -> str:
    """Samples of every seed: the first seed's in full (if its samples are missing, say so and start with
    the next seed that has them); the other seeds' points as legend entries, their image grids beside."""
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
        rest = [(r.seed_label, load_samples(r.path)[0]) for r in members[k + 1:]]
        if samples.kind == "points":
            others = [(lab, o.x) for lab, o in rest if o is not None and o.kind == "points"]
            fig, drawn = samples_scatter(samples.x, samples.modes, title, others=others)
            modes_note = "red circles = true mode centres" if samples.modes is not None else "true mode centres not stored"
            seeds_note = (f"; seeds {esc(', '.join(lab for lab, _ in others))}: click their legend entries"
                          if others else "")
            return note + sink.html(fig) + (
                f"<p class='caption'>{fmt_num(drawn)} of {fmt_num(len(samples.x))} generated points; {modes_note}"
                f"{seeds_note}.</p>"
            )
        if samples.companions:
            note += _companions_grid(samples, label, run.seed_label)
        png, used, (w, h) = image_grid_png(samples.x)
        zoom = max(1, min(4, round(520 / max(w, 1))))  # small grids (MNIST) are shown enlarged, pixels kept sharp
        main = note + (
            f"<h4>{title}</h4><img class='grid' alt='sample grid' src='{png_data_uri(png)}' "
            f"width='{w * zoom}' height='{h * zoom}'>"
            f"<p class='caption'>{used} of {fmt_num(len(samples.x))} images, "
            f"{samples.x.shape[1]}×{samples.x.shape[2]}×{samples.x.shape[3]}.</p>"
        )
        extra = []
        for lab, o in rest:
            if o is None or o.kind != "images":
                continue
            png, used, (w, h) = image_grid_png(o.x, max_images=36)
            extra.append(f"<figure><img class='grid' alt='sample grid, seed {esc(lab)}' src='{png_data_uri(png)}' "
                         f"width='{min(w * 2, 240)}'><figcaption class='caption'>seed {esc(lab)}: {used} images"
                         "</figcaption></figure>")
        return main + (f"<div class='seedgrids'>{''.join(extra)}</div>" if extra else "")
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

# Sortable, filterable tables (no library): click a header to sort by its cells' data-v (numbers
# numerically, missing values last), type in the filter box to hide rows without that text.
TABLE_JS = (
    "document.querySelectorAll('table.sortable').forEach(function(t){var hs=t.tHead.rows[0].cells;"
    "Array.prototype.forEach.call(hs,function(th,i){th.addEventListener('click',function(){"
    "var dir=th.getAttribute('aria-sort')==='ascending'?-1:1;"
    "Array.prototype.forEach.call(hs,function(h){h.removeAttribute('aria-sort');});"
    "th.setAttribute('aria-sort',dir===1?'ascending':'descending');"
    "var rows=Array.prototype.slice.call(t.tBodies[0].rows);"
    "function key(r){var c=r.cells[i];if(!c)return '';var v=c.getAttribute('data-v');return v===null?c.textContent:v;}"
    "rows.sort(function(a,b){var x=key(a),y=key(b);if(x===''&&y!=='')return 1;if(y===''&&x!=='')return -1;"
    "var p=Number(x),q=Number(y);if(x!==''&&y!==''&&!isNaN(p)&&!isNaN(q))return (p-q)*dir;"
    "return x.localeCompare(y)*dir;});"
    "rows.forEach(function(r){t.tBodies[0].appendChild(r);});});});});"
    "document.querySelectorAll('input.filter').forEach(function(inp){"
    "var t=document.getElementById(inp.getAttribute('data-table'));if(!t)return;"
    "inp.addEventListener('input',function(){var q=inp.value.toLowerCase();"
    "Array.prototype.forEach.call(t.tBodies[0].rows,function(r){"
    "r.style.display=r.textContent.toLowerCase().indexOf(q)>=0?'':'none';});});});"
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
table.sortable th { cursor:pointer; user-select:none; }
table.sortable th[aria-sort=ascending]::after { content:" ▲"; }
table.sortable th[aria-sort=descending]::after { content:" ▼"; }
.lbwrap { max-height:80vh; overflow:auto; }
table.lb th:first-child, table.lb td:first-child { position:sticky; left:0; z-index:1; background:#fff;
  box-shadow: 1px 0 0 var(--line); }
table.lb thead th { z-index:2; }
table.lb thead th:first-child { z-index:3; background:#eef2f6; }
input.filter { margin:4px 0; padding:4px 8px; min-width:260px; border:1px solid var(--line); border-radius:4px; }
header .home { margin:0 0 6px; } header .home a { color:#9fd0ff; }
.provenance { font-size:12px; }
.proto { color:var(--muted); font-size:11px; }
.seedgrids { display:flex; flex-wrap:wrap; gap:8px; } .seedgrids figure { margin:0; }
pre.cfg { max-height:320px; overflow:auto; background:#f7f8fa; border:1px solid var(--line); padding:6px; font-size:11px; }
footer { color:var(--muted); text-align:center; padding:20px; font-size:12px; }
"""
