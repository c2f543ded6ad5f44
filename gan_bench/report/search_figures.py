"""The report of a hyperparameter search (``gan-bench search``): Lucic et al. 2018's figure 4 and the
best trial per entry, as one self-contained HTML page (plotly inline, or a shared plotly.js when
published into the report site).

Read from a search folder: ``search.json`` (budget, scale, overrides, metric, direction, sampler,
the space of each study) and ``trials.csv`` (one row per trial). Published as
``ROOT/reports/<name>-search/index.html`` (listed in the site's index) and
``ROOT/leaderboards/<name>-search.csv`` (the trials table).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from gan_bench import atomic
from gan_bench.report._figures import color_map
from gan_bench.report._format import esc, fmt_duration, fmt_num, to_float
from gan_bench.report.html import _PLOT_CONFIG, PLOTLY_FILE, page_html
from gan_bench.report.site import PAGE_RECORD, write_index
from gan_bench.search import MANIFEST, PAPER_SPACE, TRIALS_FILE, best_of_k, read_trials_csv

__all__ = ["build_search_html", "write_search_report", "publish_search", "search_banner"]

RESAMPLES = 500


def _read(out: Path) -> tuple[dict[str, Any], list[dict[str, str]]]:
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    return manifest, read_trials_csv(out / TRIALS_FILE)


def search_banner(manifest: dict[str, Any], rows: list[dict[str, str]]) -> list[str]:
    """The lines on top of the page: budget per trial, trials, metric and protocol, deviations."""
    scale = float(manifest.get("scale") or 1.0)
    done = sum(r["state"] == "COMPLETE" for r in rows)
    per = {}
    for r in rows:
        per.setdefault((r["entry"], r["dataset"]), []).append(r)
    counts = sorted({len(v) for v in per.values()})
    lines = [
        f"Budget trained: {manifest.get('budget')} per trial"
        + (f" ({scale:g} x the suite file's {manifest.get('suite_budget')})" if scale != 1.0 else "")
        + f"; {'/'.join(map(str, counts)) or 0} trials per variant and dataset ({len(rows)} in all, {done} finished with "
        f"a score, {len(rows) - done} failed or diverged) of the {manifest.get('trials')} asked; training seed "
        f"{manifest.get('seed')}; sampler: {manifest.get('sampler')} (Optuna), seeded from {manifest.get('seed')}",
        f"Objective: {manifest.get('metric')} of the final evaluation, {manifest.get('direction')}d; "
        "diverged or failed trials are Optuna FAIL trials, never scores",
    ]
    lines += [f"Protocol: {p}" for p in manifest.get("protocols") or []]
    if manifest.get("overrides"):
        lines.append("Overrides: " + " ".join(manifest["overrides"]))
    if manifest.get("label"):
        lines.append(str(manifest["label"]))
    if scale < 1.0:
        lines.append(f"Short pass: --scale {scale:g} of the suite's budget; read its ranking as how fast each model "
                     "starts to learn at most")
    if counts and max(counts) < int(manifest.get("trials") or 0):
        lines.append(f"Incomplete: {max(counts)} of the {manifest.get('trials')} trials asked have run")
    return lines


def _curve_figure(dataset: str, per: dict[str, list[float]], minimize: bool, metric: str, colors: dict[str, str]) -> go.Figure:
    fig = go.Figure()
    for entry, scores in per.items():
        if not scores:
            continue
        c = best_of_k(scores, minimize=minimize, resamples=RESAMPLES)
        color = colors.get(entry, "#444")
        ks = c.k.tolist()
        fig.add_trace(go.Scatter(x=ks + ks[::-1], y=c.high.tolist() + c.low.tolist()[::-1], fill="toself",
                                 fillcolor=_alpha(color, 0.18), line={"width": 0}, hoverinfo="skip",
                                 name=f"{entry}: 5-95%", legendgroup=entry, showlegend=False))
        fig.add_trace(go.Scatter(x=ks, y=c.mean.tolist(), mode="lines+markers", line={"color": color},
                                 name=f"{entry} ({len(scores)} finished)", legendgroup=entry,
                                 hovertemplate="k=%{x}: mean best %{y:.4g}<extra>" + entry + "</extra>"))
    fig.update_layout(title=f"{dataset}: best {metric} among k trials (mean, 5-95% band; {RESAMPLES} resamples)",
                      xaxis_title="k: number of hyperparameter trials (the computational budget)",
                      yaxis_title=f"best {metric} ({'lower' if minimize else 'higher'} is better)",
                      height=430, margin={"l": 60, "r": 20, "t": 50, "b": 50}, template="plotly_white")
    return fig


def _scatter_figure(dataset: str, rows: list[dict[str, str]], metric: str, colors: dict[str, str]) -> go.Figure:
    fig = go.Figure()
    for entry in dict.fromkeys(r["entry"] for r in rows):
        mine = [r for r in rows if r["entry"] == entry and to_float(r["score"]) is not None and to_float(r.get("lr"))]
        fig.add_trace(go.Scatter(
            x=[float(r["lr"]) for r in mine], y=[float(r["score"]) for r in mine], mode="markers",
            marker={"color": colors.get(entry, "#444"), "size": 8}, name=entry,
            text=[f"trial {r['trial']}" for r in mine], hovertemplate="%{text}: lr %{x:.3g}, score %{y:.4g}<extra>"
            + entry + "</extra>"))
    fig.update_layout(title=f"{dataset}: {metric} of each finished trial against its learning rate",
                      xaxis={"type": "log", "title": "learning rate (G and D)"}, yaxis_title=metric, height=430,
                      margin={"l": 60, "r": 20, "t": 50, "b": 50}, template="plotly_white")
    return fig


def _alpha(color: str, a: float) -> str:
    if color.startswith("#") and len(color) == 7:
        r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
        return f"rgba({r},{g},{b},{a})"
    return color


def _best_table(rows: list[dict[str, str]], manifest: dict[str, Any], params: list[str], minimize: bool) -> str:
    header = ["variant", "dataset", "trials", "finished", "failed / diverged", "best score", "best trial",
              *params, "suite default's score", "mean best of 5", "run"]
    body = []
    groups: dict[tuple[str, str], list[dict[str, str]]] = {}
    for r in rows:
        groups.setdefault((r["entry"], r["dataset"]), []).append(r)
    for (entry, dataset), mine in groups.items():
        scored = [r for r in mine if to_float(r["score"]) is not None]
        best = (min if minimize else max)(scored, key=lambda r: float(r["score"])) if scored else None
        default = next((r for r in mine if r["origin"] == "suite default"), None)
        curve = best_of_k([float(r["score"]) for r in scored], minimize=minimize, resamples=RESAMPLES)
        at5 = curve.mean[4] if len(curve.mean) >= 5 else None
        cells = [esc(entry), esc(dataset), str(len(mine)), str(len(scored)), str(len(mine) - len(scored)),
                 f"<strong>{fmt_num(best['score']) if best else '—'}</strong>", esc(best["trial"]) if best else "—"]
        cells += [esc(_short(best.get(p, ""))) if best else "—" for p in params]
        cells += [fmt_num(default["score"]) if default and default["score"] else ("failed" if default else "—"),
                  fmt_num(at5), f"<code>{esc(best['run'])}</code>" if best else "—"]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    return (f'<div class="scroll"><table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}'
            "</tbody></table></div>")


def _short(value: str) -> str:
    f = to_float(value)
    return value if f is None or value.strip().isdigit() else f"{f:.4g}"


def _trials_table(rows: list[dict[str, str]], params: list[str]) -> str:
    cols = ["entry", "dataset", "trial", "origin", *params, "score", "state", "status", "reused", "seconds"]
    body = []
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c, "")
            f = to_float(v)
            text = esc(_short(v)) if c in params else fmt_num(f) if f is not None and c in ("score", "seconds") else esc(v)
            if c == "state" and v != "COMPLETE":
                text = f'<span class="warn">{text}</span>'
            cells.append(f'<td data-v="{esc(repr(f) if f is not None else v)}">{text}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f'<th title="sort">{esc(c)}</th>' for c in cols)
    return (f'<input class="filter" type="search" placeholder="filter rows" data-table="trials-table">'
            f'<div class="scroll lbwrap"><table class="data sortable" id="trials-table"><thead><tr>{head}</tr>'
            f'</thead><tbody>{"".join(body)}</tbody></table></div>')


def _space_section(manifest: dict[str, Any]) -> str:
    parts = []
    for s in manifest.get("studies") or []:
        rows = "".join(f"<tr><td>{esc(p['name'])}</td><td><code>{esc(', '.join(p['keys']))}</code></td>"
                       f"<td>{esc(p['range'])}</td><td class='muted'>compare_gan {esc(p['source'])}</td></tr>"
                       for p in s.get("space") or [])
        default = s.get("default")
        parts.append(f"<h4>{esc(s['entry'])} on {esc(s['dataset'])}</h4><table class='data small'><thead><tr><th>param"
                     "</th><th>config keys</th><th>range</th><th>source</th></tr></thead><tbody>" + rows
                     + "</tbody></table><p class='caption'>Trial 0: "
                     + (esc(", ".join(f"{k}={_short(str(v))}" for k, v in default.items())) + " (the suite's own setting)"
                        if default else "sampled (the suite's own setting lies outside the space)") + "</p>")
    return ("<p>Lucic et al. 2018's wide range as released in compare_gan v1 (params.py); Adam's beta2 is not "
            "searched there (TensorFlow's default 0.999) and stays at the suite's value.</p>" + "".join(parts))


def build_search_html(out: str | Path, plotly_src: str | None = None, home: str | None = None) -> str:
    """The search report of folder ``out`` as one HTML page (plotly inline unless ``plotly_src``)."""
    out = Path(out)
    manifest, rows = _read(out)
    minimize = manifest.get("direction", "minimize") == "minimize"
    metric = str(manifest.get("metric") or "score")
    params = [p.name for p in PAPER_SPACE if any(r.get(p.name) for r in rows)]
    entries = list(dict.fromkeys(r["entry"] for r in rows))
    colors = color_map(entries)
    figures = []
    n = 0
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == dataset]
        per = {e: [float(r["score"]) for r in mine if r["entry"] == e and to_float(r["score"]) is not None]
               for e in entries}
        for fig in (_curve_figure(dataset, per, minimize, metric, colors), _scatter_figure(dataset, mine, metric, colors)):
            n += 1
            figures.append('<div class="card">' + fig.to_html(full_html=False, include_plotlyjs=False,
                                                               div_id=f"fig{n}", config=_PLOT_CONFIG) + "</div>")
    title = f"gan_bench search: {manifest.get('name')}"
    wall = to_float(manifest.get("wall_seconds"))
    trained = sum(to_float(r.get("seconds")) or 0.0 for r in rows)
    notes = ([manifest["description"]] if manifest.get("description") else []) + list(manifest.get("notes") or [])
    sections = [
        ("figure4", "Best score against the number of trials (Lucic et al. 2018, figure 4)",
         "<p class='muted'>For each k, 500 resamples draw k of the finished trials without replacement (a random "
         "order of the trials, its first k) and keep the best; the line is their mean, the band their 5th-95th "
         "percentiles. Failed and diverged trials are left out (they count in the tables). The right-hand plot shows "
         "every finished trial's score against its learning rate.</p><div class='grid2'>" + "".join(figures) + "</div>"),
        ("best", "Best trial per variant", _best_table(rows, manifest, params, minimize)),
        ("trials", "All trials", _trials_table(rows, params)),
        ("space", "Search space", _space_section(manifest)),
        ("notes", "Notes", "".join(f"<p>{esc(t)}</p>" for t in notes) or "<p class='muted'>No notes.</p>"),
    ]
    meta = (f"search wall time {esc(fmt_duration(wall))} · trials' training time {esc(fmt_duration(trained))} · "
            f"{len(rows)} trials")
    return page_html(title, [(sid, esc(name), content) for sid, name, content in sections], meta,
                     search_banner(manifest, rows), plotly_src, home)


def write_search_report(out: str | Path) -> Path:
    """Write ``out/index.html`` (plotly inline) and return its path."""
    return atomic.write_text(Path(out) / "index.html", build_search_html(out))


def publish_search(root: str | Path, out: str | Path) -> list[Path]:
    """Publish a search folder into a repository root: ``ROOT/reports/<name>-search/index.html`` (with
    its ``page.json``, listed in the site's rebuilt index) and ``ROOT/leaderboards/<name>-search.csv``
    (the trials table). Returns the files written."""
    root, out = Path(root), Path(out)
    manifest, rows = _read(out)
    name = f"{manifest['name']}-search"
    site = root / "reports"
    site.mkdir(parents=True, exist_ok=True)
    if not (site / PLOTLY_FILE).is_file():
        atomic.write_text(site / PLOTLY_FILE, get_plotlyjs())
    page = atomic.write_text(site / name / "index.html",
                             build_search_html(out, plotly_src=f"../{PLOTLY_FILE}", home="../index.html"))
    record = {
        "name": name, "budget": f"{manifest.get('budget')} per trial", "scale": manifest.get("scale") or 1.0,
        "overrides": manifest.get("overrides") or [], "runs": len(rows), "banner": search_banner(manifest, rows),
        "wall_seconds": manifest.get("wall_seconds"), "date": manifest.get("written") or "",
        "protocols": manifest.get("protocols") or [],
        "variants": sorted({r["variant"] for r in rows}), "datasets": sorted({r["dataset"] for r in rows}),
    }
    atomic.write_text(site / name / PAGE_RECORD, json.dumps(record, indent=1) + "\n")
    board = root / "leaderboards" / f"{name}.csv"
    board.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out / TRIALS_FILE, board)
    return [write_index(site), page, board]
