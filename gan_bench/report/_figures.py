"""Plotly figures and the PNG image grid for the HTML report.

Every user-provided string that ends up in a figure (trace names, categories, titles) is HTML-escaped first:
plotly renders labels as a subset of HTML and decodes entities, so escaped text displays as typed and cannot
inject markup.
"""

from __future__ import annotations

import base64
import io
import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image

from gan_bench.report._format import direction_label, esc, to_float
from gan_bench.report._runs import RunData, curve, curve_keys

MAX_SCATTER_POINTS = 2500
MAX_EXTRA_SEED_POINTS = 1000
MAX_CURVE_POINTS = 500
MAX_GRID_IMAGES = 64
MAX_GRID_SIDE_PX = 1024

PALETTE = (
    "#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#EECA3B", "#B279A2", "#FF9DA6", "#9D755D",
    "#BAB0AC", "#1F77B4", "#2CA02C", "#D62728", "#9467BD", "#8C564B", "#17BECF",
)
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")

# A minimal template: plotly's default one adds ~5 kB of JSON to every figure.
_TEMPLATE = go.layout.Template(
    layout=dict(
        colorway=list(PALETTE),
        font=dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size=12, color="#222"),
        paper_bgcolor="white",
        plot_bgcolor="white",
        xaxis=dict(gridcolor="#e6e6e6", zerolinecolor="#c8c8c8", linecolor="#999", automargin=True),
        yaxis=dict(gridcolor="#e6e6e6", zerolinecolor="#c8c8c8", linecolor="#999", automargin=True),
        hovermode="closest",
        margin=dict(l=60, r=20, t=50, b=50),
        legend=dict(font=dict(size=11)),
    )
)


def color_map(names: Sequence[str]) -> dict[str, str]:
    """Stable colour per name (sorted), so a variant keeps its colour across all charts."""
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(sorted(set(names)))}


def _base(title: str, height: int) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(template=_TEMPLATE, title=dict(text=title, x=0.01, font=dict(size=14)), height=height)
    return fig


def metric_bounds(metric: str) -> tuple[float | None, float | None]:
    """The range a metric can take, (low, high), None for unbounded: error bars are clipped to it.

    Percentages are in [0, 100]; accuracies, precision, recall, coverage and SSIM in [0, 1]; counts,
    divergences and distances (modes, KL, FID, LPIPS, NIQE, PSNR, test error) are >= 0. KID and
    unnamed metrics are left unbounded (an unbiased KID estimate can be negative)."""
    name = metric.lower()
    if "pct" in name or name.endswith("_percent"):
        return 0.0, 100.0
    if name.startswith("kid"):
        return None, None
    if any(name.startswith(p) for p in ("acc", "class_acc", "code_acc", "precision", "recall", "coverage", "ssim")) \
            or name.endswith("accuracy"):
        return 0.0, 1.0
    if any(name.startswith(p) for p in ("modes", "reverse_kl", "kl", "fid", "lpips", "niqe", "psnr", "test_error",
                                        "identity_dist", "is", "inception_score", "density")):
        return 0.0, None
    return None, None


def metric_bar_chart(board: pd.DataFrame, metric: str, colors: dict[str, str],
                     seeds: dict[tuple[str, str, str], list[tuple[str, float]]] | None = None) -> go.Figure | None:
    """Bars of ``<metric>_mean`` per (dataset, variant) with ``<metric>_std`` error bars clipped to
    :func:`metric_bounds`, and each seed's value as a dot (``seeds``: (variant, dataset, metric) ->
    [(seed label, value)]). A positive metric spanning two decades or more gets a log axis.
    Returns None when no row has a finite mean for this metric."""
    mean_col, std_col = f"{metric}_mean", f"{metric}_std"
    if mean_col not in board.columns or "variant" not in board.columns or "dataset" not in board.columns:
        return None
    rows = board[pd.to_numeric(board[mean_col], errors="coerce").notna()]
    if rows.empty:
        return None
    seeds = seeds or {}
    lo, hi = metric_bounds(metric)
    fig = _base(f"{esc(metric)} — mean ± std over seeds, dots = seeds", height=400)
    values: list[float] = []
    for variant in sorted(rows["variant"].astype(str).unique()):
        sub = rows[rows["variant"].astype(str) == variant].sort_values("dataset", key=lambda c: c.astype(str))
        xs: list[list[str]] = [[], []]
        means, plus, minus, hover = [], [], [], []
        px: list[list[str]] = [[], []]
        py, ptext = [], []
        for _, r in sub.iterrows():
            ds = str(r["dataset"])
            m = to_float(r[mean_col])
            sd = to_float(r[std_col]) if std_col in r.index else None
            if m is None:
                continue
            values.append(m)
            xs[0].append(esc(ds))
            xs[1].append(esc(variant))
            means.append(m)
            up = sd or 0.0
            down = sd or 0.0
            if hi is not None:
                up = max(0.0, min(up, hi - m))
            if lo is not None:
                down = max(0.0, min(down, m - lo))
            plus.append(up)
            minus.append(down)
            hover.append(f"{esc(variant)} · {esc(ds)}<br>{esc(metric)} = {m:.4g}" + (f" ± {sd:.3g}" if sd is not None else "")
                         + (f"<br>seeds: {esc(r.get('seeds'))}" if r.get("seeds") is not None else ""))
            for label, v in seeds.get((variant, ds, metric), []):
                px[0].append(esc(ds))
                px[1].append(esc(variant))
                py.append(v)
                ptext.append(f"{esc(variant)} · {esc(ds)} · seed {esc(label)}: {v:.4g}")
                values.append(v)
        if not means:
            continue
        color = colors.get(variant)
        fig.add_trace(go.Bar(
            name=esc(variant), legendgroup=esc(variant), x=xs, y=means, marker_color=color, opacity=0.85,
            error_y=dict(type="data", symmetric=False, array=plus, arrayminus=minus, visible=True, thickness=1.2, width=3),
            hovertext=hover, hoverinfo="text",
        ))
        if py:
            fig.add_trace(go.Scatter(
                name=f"{esc(variant)} seeds", legendgroup=esc(variant), showlegend=False, x=px, y=py, mode="markers",
                marker=dict(size=6, color="#222", opacity=0.7, line=dict(width=1, color="white")),
                hovertext=ptext, hoverinfo="text",
            ))
    positive = [v for v in values if v > 0]
    log_axis = bool(values) and len(positive) == len(values) and max(positive) / min(positive) >= 100
    fig.update_layout(
        xaxis_title="dataset · variant",
        yaxis_title=f"{esc(metric)} ({direction_label(metric)})" + (", log axis" if log_axis else ""),
        showlegend=False,
    )
    if log_axis:
        fig.update_yaxes(type="log")
    return fig


def samples_scatter(x: np.ndarray, modes: np.ndarray | None, title: str, seed: int = 0,
                    others: list[tuple[str, np.ndarray]] | None = None) -> tuple[go.Figure, int]:
    """Generated 2-D points (random subsample of at most ``MAX_SCATTER_POINTS``) over the true mode centres;
    ``others``: (seed label, points) of further seeds, as traces hidden until clicked in the legend (at most
    ``MAX_EXTRA_SEED_POINTS`` each). Returns the figure and the number of points drawn of ``x``."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x).all(axis=1)]
    if len(x) > MAX_SCATTER_POINTS:
        x = x[np.random.default_rng(seed).choice(len(x), MAX_SCATTER_POINTS, replace=False)]
    fig = _base(title, height=440)
    if modes is not None and len(modes):
        # Open circles drawn first, so covered modes show generated points inside and missed ones stay empty.
        fig.add_trace(
            go.Scatter(x=compact(modes[:, 0]), y=compact(modes[:, 1]), mode="markers", name="true modes",
                       marker=dict(size=16, color=PALETTE[3], symbol="circle-open", line=dict(width=2)))
        )
    fig.add_trace(
        go.Scatter(x=compact(x[:, 0], 4), y=compact(x[:, 1], 4), mode="markers", name="generated",
                   marker=dict(size=4, color=PALETTE[0], opacity=0.5))
    )
    for label, other in others or []:  # further seeds: listed in the legend, shown on click
        o = np.asarray(other, dtype=np.float64)
        o = o[np.isfinite(o).all(axis=1)]
        if len(o) > MAX_EXTRA_SEED_POINTS:
            o = o[np.random.default_rng(seed).choice(len(o), MAX_EXTRA_SEED_POINTS, replace=False)]
        fig.add_trace(go.Scatter(x=compact(o[:, 0], 4), y=compact(o[:, 1], 4), mode="markers", visible="legendonly",
                                 name=f"seed {esc(label)} ({len(o)} points)", marker=dict(size=4, opacity=0.5)))
    # Equal aspect: mode coverage is about geometry, a stretched ring would mislead.
    fig.update_layout(
        yaxis=dict(scaleanchor="x", scaleratio=1),
        legend=dict(orientation="h", yanchor="top", y=-0.08, xanchor="left", x=0.0),
    )
    return fig, len(x)


def _bin_means(xs: np.ndarray, ys: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Average consecutive points into at most ``max_points`` bins (keeps the trend of a noisy loss, unlike
    plain striding). NaNs (divergence) are ignored within a bin. Returns x, y and the bin size."""
    n = len(xs)
    if n <= max_points:
        return xs, ys, 1
    size = math.ceil(n / max_points)
    pad = (-n) % size
    xp = np.concatenate([xs, np.full(pad, np.nan)]).reshape(-1, size)
    yp = np.concatenate([ys, np.full(pad, np.nan)]).reshape(-1, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN bins are meant to become gaps
        bx = np.nanmean(xp, axis=1)
        by = np.nanmean(yp, axis=1)
    return bx, by, size


def compact(a: np.ndarray, digits: int = 5) -> list[float | None]:
    """List for plotly with ``digits`` significant digits and None for non-finite values: full float precision
    would double the size of every curve in the file for no visible difference."""
    return [float(f"{v:.{digits}g}") if math.isfinite(v) else None for v in np.asarray(a, dtype=float).ravel()]


def loss_curves(runs: list[RunData], title: str) -> go.Figure | None:
    """All seeds overlaid: one trace per (seed, ``loss/*`` key); colour = key, dash = seed.
    None when no run has a loss key."""
    keys: list[str] = []
    for run in runs:
        for k in curve_keys(run.train_rows, prefix="loss/"):
            if k not in keys:
                keys.append(k)
    if not keys:
        return None
    fig = _base(title, height=430)
    binned = 1
    # Dash style per seed, counted over runs that logged anything, so a lone surviving seed is drawn solid.
    for si, run in enumerate(r for r in runs if r.train_rows):
        for ki, key in enumerate(keys):
            xs, ys = curve(run.train_rows, key)
            if len(xs) == 0:
                continue
            bx, by, size = _bin_means(xs, ys, MAX_CURVE_POINTS)
            binned = max(binned, size)
            fig.add_trace(
                go.Scatter(
                    x=compact(bx, 7), y=compact(by), mode="lines",
                    name=f"{esc(key)} · seed {esc(run.seed_label)}",
                    legendgroup=esc(key),
                    line=dict(color=PALETTE[ki % len(PALETTE)], dash=DASHES[si % len(DASHES)], width=1.4),
                )
            )
    fig.update_layout(
        xaxis_title="step" + (f" (each point = mean of {binned} logged rows)" if binned > 1 else ""),
        yaxis_title="loss",
    )
    return fig


BUDGET_AXES = (("step", "generator steps"), ("images_seen", "real images seen"), ("seconds", "training seconds"))


def _panel_curves(runs: list[RunData], keys: list[str], title: str, rows_of: str, switchable: bool,
                  legend_title: str) -> go.Figure:
    """Small multiples, one panel per key (4 per row), every seed overlaid; with ``switchable`` a menu
    switches the x axis between generator steps, images seen and training seconds."""
    from plotly.subplots import make_subplots

    cols = min(4, len(keys))
    nrows = math.ceil(len(keys) / cols)
    fig = make_subplots(
        rows=nrows, cols=cols, horizontal_spacing=0.07, vertical_spacing=0.28 / max(1, nrows - 1) if nrows > 1 else 0.1,
        subplot_titles=[f"{esc(k)} ({'↓' if direction_label(k).startswith('lower') else '↑'})" if switchable else esc(k)
                        for k in keys],
    )
    fig.update_layout(template=_TEMPLATE, title=dict(text=title, x=0.01, font=dict(size=14)),
                      height=120 + 230 * nrows, margin=dict(t=90), legend_title_text=legend_title)
    xs_by_basis: dict[str, list[list[float | None]]] = {b: [] for b, _ in BUDGET_AXES}
    for si, run in enumerate(r for r in runs if getattr(r, rows_of)):
        rows = getattr(run, rows_of)
        for ki, key in enumerate(keys):
            xs, ys = curve(rows, key)
            if len(xs) == 0:
                continue
            bx, by, size = _bin_means(xs, ys, MAX_CURVE_POINTS)
            for basis, _ in BUDGET_AXES:
                other, _ = curve(rows, key, basis)
                xs_by_basis[basis].append(compact(_bin_means(other, ys, MAX_CURVE_POINTS)[0], 7))
            fig.add_trace(
                go.Scatter(
                    x=compact(bx, 7), y=compact(by), mode="lines+markers" if len(bx) <= 50 else "lines",
                    marker=dict(size=4), name=f"seed {esc(run.seed_label)}", legendgroup=f"seed{si}",
                    showlegend=ki == 0, line=dict(color=PALETTE[si % len(PALETTE)], width=1.4),
                ),
                row=ki // cols + 1, col=ki % cols + 1,
            )
    axis_names = [f"xaxis{'' if i == 0 else i + 1}" for i in range(len(keys))]
    for i in range(len(keys)):
        fig.update_xaxes(title_text="generator steps", row=i // cols + 1, col=i % cols + 1)
    if switchable and fig.data:
        buttons = [dict(label=label, method="update",
                        args=[{"x": xs_by_basis[basis]}, {f"{a}.title.text": label for a in axis_names}])
                   for basis, label in BUDGET_AXES]
        fig.update_layout(updatemenus=[dict(type="buttons", direction="right", buttons=buttons, showactive=True,
                                            x=1.0, xanchor="right", y=1.0 + 60 / (120 + 230 * nrows), yanchor="bottom",
                                            font=dict(size=11), pad=dict(r=4, t=0))])
    return fig


def eval_curves(runs: list[RunData], title: str) -> go.Figure | None:
    """Evaluation metrics logged during training against the budget (steps, images or seconds, switchable),
    one panel per metric, seeds overlaid. None when no run has eval rows."""
    keys: list[str] = []
    for run in runs:
        for k in curve_keys(run.eval_rows):
            if k not in keys:
                keys.append(k)
    if not keys:
        return None
    return _panel_curves(runs, keys[:12], title, "eval_rows", switchable=True, legend_title="seed")


def diagnostic_curves(runs: list[RunData], title: str) -> go.Figure | None:
    """Every numeric training-row key that is not a loss (BEGAN's k and convergence measure, D(real),
    D(fake), gradient penalty, gradient norms, ...), one panel each, seeds overlaid. None when there is none."""
    keys: list[str] = []
    for run in runs:
        for k in curve_keys(run.train_rows):
            if not k.startswith("loss/") and k not in keys:
                keys.append(k)
    if not keys:
        return None
    return _panel_curves(runs, keys[:16], title, "train_rows", switchable=False, legend_title="seed")


def _to_uint8(x: np.ndarray) -> np.ndarray:
    if x.dtype == np.uint8:
        return x
    x = x.astype(np.float32)
    finite = x[np.isfinite(x)]
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(finite.max()) if finite.size else 1.0
    if lo >= 0.0 and hi > 1.5:  # already 0..255 but stored as float/int
        x = x / 255.0
    elif lo < 0.0:  # generators with tanh output: [-1, 1]
        x = (x + 1.0) / 2.0
    return (np.nan_to_num(np.clip(x, 0.0, 1.0)) * 255.0 + 0.5).astype(np.uint8)


def image_grid_png(x: np.ndarray, max_images: int = MAX_GRID_IMAGES) -> tuple[bytes, int, tuple[int, int]]:
    """Tile the first ``max_images`` NHWC images into one PNG (2 px gaps; large tiles downscaled so the grid
    stays within ``MAX_GRID_SIDE_PX``). Returns (png bytes, images used, (width, height))."""
    imgs = _to_uint8(np.asarray(x[:max_images]))
    n, h, w, c = imgs.shape
    if c == 4:
        imgs, c = imgs[..., :3], 3
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    gap = 2
    scale = min(1.0, (MAX_GRID_SIDE_PX - gap * (cols + 1)) / (cols * w), (MAX_GRID_SIDE_PX - gap * (rows + 1)) / (rows * h))
    tw, th = max(1, int(w * scale)), max(1, int(h * scale))
    mode = "L" if c == 1 else "RGB"
    grid = Image.new(mode, (cols * tw + gap * (cols + 1), rows * th + gap * (rows + 1)), color=230 if c == 1 else (230, 230, 230))
    for i in range(n):
        tile = Image.fromarray(imgs[i, ..., 0] if c == 1 else imgs[i], mode=mode)
        if (tw, th) != (w, h):
            tile = tile.resize((tw, th), Image.LANCZOS)
        r, col = divmod(i, cols)
        grid.paste(tile, (gap + col * (tw + gap), gap + r * (th + gap)))
    buf = io.BytesIO()
    grid.save(buf, format="PNG", optimize=True)
    return buf.getvalue(), n, grid.size


def rows_grid_png(columns: list[np.ndarray], max_rows: int = 8) -> tuple[bytes, int, tuple[int, int]]:
    """One row per example, one column per array (NHWC, same N): e.g. input | output | ground truth.
    Every tile is shown at the size of the largest (nearest-neighbour, so an LR input's pixels stay
    visible). Returns (png bytes, rows drawn, (width, height))."""
    cols = [_to_uint8(np.asarray(c[:max_rows])) for c in columns]
    n = min(len(c) for c in cols)
    th, tw = max(c.shape[1] for c in cols), max(c.shape[2] for c in cols)
    scale = min(1.0, MAX_GRID_SIDE_PX / (len(cols) * (tw + 2)), MAX_GRID_SIDE_PX / (n * (th + 2)))
    th, tw = max(1, int(th * scale)), max(1, int(tw * scale))
    gap = 2
    grid = Image.new("RGB", (len(cols) * (tw + gap) + gap, n * (th + gap) + gap), color=(230, 230, 230))
    for j, col in enumerate(cols):
        for i in range(n):
            img = col[i, ..., :3]
            tile = Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).convert("RGB")
            tile = tile.resize((tw, th), Image.NEAREST if img.shape[0] < th else Image.LANCZOS)
            grid.paste(tile, (gap + j * (tw + gap), gap + i * (th + gap)))
    buf = io.BytesIO()
    grid.save(buf, format="PNG", optimize=True)
    return buf.getvalue(), n, grid.size


def png_data_uri(png: bytes) -> str:
    """``data:`` URI for embedding a PNG inline (no external files)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
