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


def metric_bar_chart(board: pd.DataFrame, metric: str, colors: dict[str, str]) -> go.Figure | None:
    """Grouped bars of ``<metric>_mean`` with ``<metric>_std`` error bars: x = dataset, one bar per variant.
    Returns None when no row has a finite mean for this metric."""
    mean_col, std_col = f"{metric}_mean", f"{metric}_std"
    if mean_col not in board.columns or "variant" not in board.columns or "dataset" not in board.columns:
        return None
    rows = board[pd.to_numeric(board[mean_col], errors="coerce").notna()]
    if rows.empty:
        return None
    datasets = sorted(rows["dataset"].astype(str).unique())
    fig = _base(f"{esc(metric)} — mean ± std over seeds", height=380)
    for variant in sorted(rows["variant"].astype(str).unique()):
        sub = rows[rows["variant"].astype(str) == variant]
        by_ds = {str(r["dataset"]): r for _, r in sub.iterrows()}
        means, stds, hover = [], [], []
        for ds in datasets:
            r = by_ds.get(ds)
            m = to_float(r[mean_col]) if r is not None else None
            s = to_float(r[std_col]) if r is not None and std_col in r.index else None
            means.append(m)
            stds.append(s if s is not None else 0.0)
            seeds = r.get("seeds") if r is not None else None
            hover.append(
                f"{esc(variant)} · {esc(ds)}<br>{esc(metric)} = {m:.4g}"
                + (f" ± {s:.3g}" if s is not None else "")
                + (f"<br>seeds: {esc(seeds)}" if seeds is not None else "")
                if m is not None
                else ""
            )
        fig.add_trace(
            go.Bar(
                name=esc(variant),
                x=[esc(d) for d in datasets],
                y=means,
                error_y=dict(type="data", array=stds, visible=True, thickness=1.2, width=3),
                marker_color=colors.get(variant),
                hovertext=hover,
                hoverinfo="text",
            )
        )
    fig.update_layout(
        barmode="group",
        xaxis_title="dataset",
        yaxis_title=f"{esc(metric)} ({direction_label(metric)})",
        legend_title_text="variant",
    )
    return fig


def samples_scatter(x: np.ndarray, modes: np.ndarray | None, title: str, seed: int = 0) -> tuple[go.Figure, int]:
    """Generated 2-D points (random subsample of at most ``MAX_SCATTER_POINTS``) over the true mode centres.
    Returns the figure and the number of points drawn."""
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


def eval_curves(runs: list[RunData], title: str) -> go.Figure | None:
    """Evaluation metrics logged during training, one small panel per metric, seeds overlaid.
    None when no run has eval rows."""
    from plotly.subplots import make_subplots

    keys: list[str] = []
    for run in runs:
        for k in curve_keys(run.eval_rows):
            if k not in keys:
                keys.append(k)
    if not keys:
        return None
    keys = keys[:6]  # more panels than this would be unreadable in one row
    fig = make_subplots(
        rows=1, cols=len(keys), horizontal_spacing=0.06,
        subplot_titles=[f"{esc(k)} ({'↓' if direction_label(k).startswith('lower') else '↑'})" for k in keys],
    )
    fig.update_layout(template=_TEMPLATE, title=dict(text=title, x=0.01, font=dict(size=14)), height=300,
                      margin=dict(t=80))
    for si, run in enumerate(r for r in runs if r.eval_rows):
        for ki, key in enumerate(keys):
            xs, ys = curve(run.eval_rows, key)
            if len(xs) == 0:
                continue
            bx, by, _ = _bin_means(xs, ys, MAX_CURVE_POINTS)
            fig.add_trace(
                go.Scatter(
                    x=compact(bx, 7), y=compact(by), mode="lines+markers", marker=dict(size=4),
                    name=f"seed {esc(run.seed_label)}", legendgroup=f"seed{si}", showlegend=ki == 0,
                    line=dict(color=PALETTE[si % len(PALETTE)], width=1.4),
                ),
                row=1, col=ki + 1,
            )
    for ki in range(len(keys)):
        fig.update_xaxes(title_text="step", row=1, col=ki + 1)
    return fig


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


def png_data_uri(png: bytes) -> str:
    """``data:`` URI for embedding a PNG inline (no external files)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
