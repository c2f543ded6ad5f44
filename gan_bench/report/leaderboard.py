"""Leaderboards: one row per variant x dataset, mean and std over seeds of every metric."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from gan_bench import atomic

ID_COLUMNS = ["variant", "dataset", "arch", "budget"]


def runs_frame(summaries: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per run from ``summary.json`` contents: ids, consumption and flattened metrics."""
    rows = []
    for s in summaries:
        consumed = s.get("consumed", {})
        rows.append({
            "variant": s.get("entry") or s["variant"], "dataset": s["dataset"], "arch": s.get("arch", ""), "budget": s.get("budget", ""),
            "seed": s.get("seed"), "status": s.get("status", "unknown"), "protocol": s.get("protocol", ""),
            "steps": consumed.get("steps"), "images": consumed.get("images"), "seconds": consumed.get("seconds"),
            "wall_seconds": s.get("wall_seconds"),
            **{k: v for k, v in (s.get("metrics") or {}).items()},
        })
    return pd.DataFrame(rows)


def aggregate(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std (ddof=1; NaN for a single seed) over seeds, per variant x dataset.

    Only runs that finished as ``done`` enter the means: a diverged run has no trustworthy final
    state (its last finite checkpoint is not the budget's). ``status`` says how many seeds
    finished, ``diverged`` how many diverged (the report shows them)."""
    if runs.empty:
        return pd.DataFrame(columns=ID_COLUMNS + ["seeds"])
    fixed = set(ID_COLUMNS) | {"seed", "status", "protocol", "steps", "images", "seconds", "wall_seconds"}
    metric_cols = [c for c in runs.columns if c not in fixed]
    out = []
    for key, group in runs.groupby(ID_COLUMNS, sort=True, dropna=False):
        row: dict[str, Any] = dict(zip(ID_COLUMNS, key))
        finished = group["status"] == "done"
        done = int(finished.sum())
        diverged = int(group["status"].astype(str).str.startswith("diverged").sum())
        scored = group[finished]
        row.update({
            "seeds": len(group),
            "seed_list": " ".join(str(int(s)) for s in sorted(group["seed"].dropna())),
            "status": f"{done}/{len(group)} done" + (f", {diverged} diverged" if diverged else ""),
            "diverged": diverged,
            "protocol": group["protocol"].iloc[0],
            "steps_mean": group["steps"].mean(),
            "images_mean": group["images"].mean(),
            "seconds_mean": group["seconds"].mean(),
            "wall_seconds_mean": group["wall_seconds"].mean(),
        })
        for m in metric_cols:
            values = pd.to_numeric(scored[m], errors="coerce")
            row[f"{m}_mean"] = values.mean()
            row[f"{m}_std"] = values.std(ddof=1)
        out.append(row)
    return pd.DataFrame(out)


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Atomically write a leaderboard CSV (floats with 6 significant digits)."""
    return atomic.write_text(path, frame.to_csv(index=False, float_format="%.6g"))


def read_references(paths: Iterable[str | Path]) -> list[pd.DataFrame]:
    """Published reference tables; each frame's ``attrs['name']`` is its file stem."""
    frames = []
    for p in paths:
        frame = pd.read_csv(p)
        frame.attrs["name"] = Path(p).stem
        frames.append(frame)
    return frames
