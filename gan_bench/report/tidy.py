"""Tidy leaderboards: one row per (run, metric) with provenance, and the wide mean/std view.

The long table is what every other view is computed from (the wide leaderboard, ``gan-bench
check``); it holds each seed's value, so nothing is lost by aggregating. Its columns::

    variant, dataset, arch, protocol, metric, seed, value, status, budget,
    steps, images, seconds          (budget consumed: generator steps, real images, training seconds)
    wall_seconds, device, gan_bench_version, git_sha, torch_version, config_hash,
    scale, overrides, run            (the run folder's name)

``scale`` and ``overrides`` come from the suite folder's ``suite.json`` (written by the suite
runner); a run trained on its own has scale 1 and no overrides recorded.

Wide column names are pandas-queryable identifiers (:func:`column_name`): ``fid[mnist-classifier]``
becomes ``fid__mnist_classifier``, and each metric gets ``<name>__mean``, ``<name>__std`` and
``<name>__n`` (seeds that finished). ``DataFrame.query("fid__mnist_classifier__mean < 20")`` works.
The ``.json`` view carries the mapping from column names back to metric names.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from gan_bench import atomic

__all__ = [
    "LONG_COLUMNS", "SUITE_MANIFEST", "ReportInputError", "column_name", "find_run_dirs", "long_table",
    "read_long_table", "read_manifest", "wide_table", "write_leaderboard", "write_suite_manifest",
]

SUITE_MANIFEST = "suite.json"
LONG_COLUMNS = [
    "variant", "dataset", "arch", "protocol", "metric", "seed", "value", "status", "budget",
    "steps", "images", "seconds", "wall_seconds", "device", "gan_bench_version", "git_sha", "torch_version",
    "config_hash", "scale", "overrides", "run",
]
_ID = ["variant", "dataset", "arch", "budget"]


class ReportInputError(ValueError):
    """Bad input to a report, leaderboard or check (no runs found, a table of the wrong shape)."""


def column_name(metric: str) -> str:
    """A pandas-queryable identifier for a metric name: lower case, ``[protocol]`` becomes ``__protocol``,
    any other character outside ``[a-z0-9_]`` becomes ``_`` (``fid[mnist-classifier]`` ->
    ``fid__mnist_classifier``, ``loss/d`` -> ``loss_d``); a leading digit gets an ``m_`` prefix."""
    text = str(metric).strip().lower()
    text = re.sub(r"\[([^\]]*)\]", lambda m: "__" + m.group(1), text)
    text = re.sub(r"[^a-z0-9_]", "_", text)
    text = re.sub(r"_{3,}", "__", text).strip("_") or "metric"
    return "m_" + text if text[0].isdigit() else text


# ------------------------------------------------------------------------------------------------ inputs


def _is_run_dir(path: Path) -> bool:
    return (path / "summary.json").is_file() or (path / "run.json").is_file()


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The suite folder's ``suite.json`` (see :func:`write_suite_manifest`), or None when absent or unreadable."""
    path = Path(folder) / SUITE_MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def find_run_dirs(paths: Iterable[str | Path]) -> list[Path]:
    """Run folders named by ``paths``: a run folder itself, a suite folder (the runs its ``suite.json``
    lists, else every run under ``runs/``), or any folder holding run folders (searched 3 levels deep).

    Raises:
        FileNotFoundError: a path does not exist.
        ReportInputError: a path holds no run folder.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise FileNotFoundError(2, "No such file or directory", str(path))
        if not path.is_dir():
            raise ReportInputError(f"{path} is not a folder (give run folders or suite output folders)")
        if _is_run_dir(path):
            hits = [path]
        else:
            manifest = read_manifest(path)
            listed = manifest.get("runs") if manifest else None
            if isinstance(listed, list) and listed:
                hits = [path / "runs" / str(name) for name in listed if _is_run_dir(path / "runs" / str(name))]
            else:
                hits = sorted({p.parent for depth in ("*", "*/*", "*/*/*") for p in path.glob(f"{depth}/summary.json")})
        if not hits:
            raise ReportInputError(f"{path} holds no run folder (no summary.json in it or below it)")
        found += [h for h in hits if h not in found]
    return found


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _manifest_for(run: Path) -> dict[str, Any]:
    """The ``suite.json`` of the suite a run folder belongs to (``SUITE/runs/RUN``), or {}."""
    if run.parent.name != "runs":
        return {}
    return read_manifest(run.parent.parent) or {}


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def long_table(run_dirs: Sequence[Path]) -> pd.DataFrame:
    """The tidy table of ``run_dirs`` (columns :data:`LONG_COLUMNS`), one row per (run, metric).

    A run without metrics (failed, still running) keeps one row with an empty ``metric`` so its status
    is not lost. Unreadable files leave their columns empty; nothing here raises on a broken run."""
    rows: list[dict[str, Any]] = []
    for run in run_dirs:
        run = Path(run)
        summary = _read_json(run / "summary.json")
        ident = _read_json(run / "run.json")
        env = _read_json(run / "env.json")
        manifest = _manifest_for(run)
        status = summary.get("status")
        if not isinstance(status, str):
            try:
                status = (run / "status").read_text(encoding="utf-8").strip() or "unknown"
            except OSError:
                status = "unknown"
        consumed = summary.get("consumed") if isinstance(summary.get("consumed"), dict) else {}
        overrides = manifest.get("overrides") or []
        base = {
            "variant": str(summary.get("entry") or summary.get("variant") or ident.get("variant") or ""),
            "dataset": str(summary.get("dataset") or ident.get("dataset") or ""),
            "arch": str(summary.get("arch") or ident.get("arch") or ""),
            "protocol": str(summary.get("protocol") or ""),
            "seed": summary.get("seed", ident.get("seed")),
            "status": status,
            "budget": str(summary.get("budget") or ident.get("budget") or ""),
            "steps": _number(consumed.get("steps")),
            "images": _number(consumed.get("images")),
            "seconds": _number(consumed.get("seconds")),
            "wall_seconds": _number(summary.get("wall_seconds")),
            "device": str(env.get("device") or ""),
            "gan_bench_version": str(env.get("gan_bench") or ""),
            "git_sha": str(env.get("git_sha") or ""),
            "torch_version": str((env.get("packages") or {}).get("torch") or "") if isinstance(env.get("packages"), dict) else "",
            "config_hash": str(summary.get("config_hash") or ident.get("config_hash") or ""),
            "scale": _number(manifest.get("scale", 1.0)),
            "overrides": " ".join(map(str, overrides)) if isinstance(overrides, list) else str(overrides),
            "run": run.name,
        }
        metrics = summary.get("metrics") if isinstance(summary.get("metrics"), dict) else {}
        if not metrics:
            rows.append({**base, "metric": "", "value": math.nan})
        for name, value in metrics.items():
            rows.append({**base, "metric": str(name), "value": _number(value)})
    frame = pd.DataFrame(rows, columns=LONG_COLUMNS)
    frame["seed"] = pd.to_numeric(frame["seed"], errors="coerce").astype("Int64")
    return frame.sort_values(["dataset", "variant", "metric", "seed"], kind="stable").reset_index(drop=True)


def read_long_table(path: str | Path) -> pd.DataFrame:
    """A long table written by :func:`write_leaderboard`.

    Raises:
        FileNotFoundError: no such file.
        ReportInputError: the file is not such a table (not CSV, or columns missing)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "No such file", str(path))
    try:
        frame = pd.read_csv(path, keep_default_na=True)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ReportInputError(f"{path}: not a CSV table ({type(err).__name__})") from None
    missing = [c for c in ("variant", "dataset", "metric", "seed", "value", "status") if c not in frame.columns]
    if missing:
        raise ReportInputError(f"{path}: not a long leaderboard table (no column {', '.join(missing)}); "
                               "write one with gan-bench leaderboard RUNS -o FILE.csv")
    frame["metric"] = frame["metric"].fillna("").astype(str)
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame


# ------------------------------------------------------------------------------------------------ wide view


def wide_table(long: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """The wide view: one row per variant x dataset (x arch, budget), ``<metric>__mean/__std/__n`` over
    the seeds that finished as ``done`` (sample std, ddof 1; NaN for one seed), bookkeeping means
    (``steps__mean``, ``images__mean``, ``seconds__mean``, ``wall_seconds__mean``) and provenance
    (``seeds``, ``seed_list``, ``status``, ``protocol``, ``device``, ``git_sha``, ``scale``, ``overrides``).

    Returns the frame and the mapping column name -> metric name for the metric columns."""
    mapping: dict[str, str] = {}
    if long.empty:
        return pd.DataFrame(columns=_ID + ["seeds", "status"]), mapping
    metrics = [m for m in dict.fromkeys(long["metric"].astype(str)) if m]
    for m in metrics:
        name = column_name(m)
        while name in mapping and mapping[name] != m:  # two metrics that collapse to one name stay distinct
            name += "_"
        mapping[name] = m
    inverse = {m: c for c, m in mapping.items()}
    out = []
    for key, group in long.groupby(_ID, sort=True, dropna=False):
        per_run = group.drop_duplicates("run")
        done = per_run["status"].astype(str) == "done"
        diverged = int(per_run["status"].astype(str).str.startswith("diverged").sum())
        row: dict[str, Any] = dict(zip(_ID, key))
        row.update({
            "seeds": len(per_run),
            "seed_list": " ".join(str(int(s)) for s in sorted(per_run["seed"].dropna())),
            "status": f"{int(done.sum())}/{len(per_run)} done" + (f", {diverged} diverged" if diverged else ""),
            "protocol": _one(per_run["protocol"]),
            "device": _one(per_run["device"]),
            "git_sha": _one(per_run["git_sha"]),
            "gan_bench_version": _one(per_run["gan_bench_version"]),
            "scale": _one(per_run["scale"]),
            "overrides": _one(per_run["overrides"]),
        })
        for col in ("steps", "images", "seconds", "wall_seconds"):
            row[f"{col}__mean"] = pd.to_numeric(per_run[col], errors="coerce").mean()
        finished = group[group["status"].astype(str) == "done"]
        for m in metrics:
            values = pd.to_numeric(finished.loc[finished["metric"] == m, "value"], errors="coerce").dropna()
            c = inverse[m]
            row[f"{c}__mean"] = values.mean() if len(values) else math.nan
            row[f"{c}__std"] = values.std(ddof=1) if len(values) > 1 else math.nan
            row[f"{c}__n"] = len(values)
        out.append(row)
    return pd.DataFrame(out), mapping


def _one(series: pd.Series) -> Any:
    """The single value of a column within a group; several distinct values are joined with ' | '."""
    values = [v for v in dict.fromkeys(series.tolist()) if not (isinstance(v, float) and math.isnan(v)) and v != ""]
    if not values:
        return ""
    return values[0] if len(values) == 1 else " | ".join(map(str, values))


def _markdown(frame: pd.DataFrame) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "" if math.isnan(v) else f"{v:.4g}"
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + " --- |" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_leaderboard(long: pd.DataFrame, out_csv: str | Path) -> list[Path]:
    """Write the long table to ``out_csv`` and the wide view beside it as ``NAME.wide.csv``,
    ``NAME.wide.json`` (``{"columns": {column: metric}, "rows": [...]}``) and ``NAME.wide.md``.
    Each file is written atomically. Returns the paths written."""
    out = Path(out_csv)
    stem = out.name[: -len(".csv")] if out.name.endswith(".csv") else out.name
    wide, mapping = wide_table(long)
    # the long table keeps 10 significant digits, so that a check against it is not fooled by rounding
    written = [atomic.write_text(out, long.to_csv(index=False, float_format="%.10g"))]
    written.append(atomic.write_text(out.with_name(f"{stem}.wide.csv"), wide.to_csv(index=False, float_format="%.6g")))
    records = json.loads(wide.to_json(orient="records", double_precision=6))
    written.append(atomic.write_text(out.with_name(f"{stem}.wide.json"),
                                     json.dumps({"columns": mapping, "rows": records}, indent=1) + "\n"))
    written.append(atomic.write_text(out.with_name(f"{stem}.wide.md"), _markdown(wide)))
    return written


# ------------------------------------------------------------------------------------------------ suite manifest


def write_suite_manifest(out_dir: str | Path, *, name: str, suite_file: str | Path, budget: str, scale: float = 1.0,
                         overrides: Sequence[str] = (), run_dirs: Sequence[Path] = (), label: str = "",
                         description: str = "", banner: Sequence[str] = (), notes: Sequence[str] = (),
                         references: Sequence[str | Path] = (), wall_seconds: float | None = None) -> Path:
    """Record what a suite folder holds in ``OUT/suite.json``, so that ``gan-bench report`` and
    ``gan-bench leaderboard`` can rebuild its page later (name, budget, scale, every override, the
    run folders of this configuration, banner lines, notes and the reference tables' paths).

    Args:
        out_dir: the suite's ``--out`` folder.
        name: the suite's name. suite_file: the YAML file it came from. budget: the budget trained per run.
        scale: ``--scale``. overrides: the ``key=value`` overrides. run_dirs: this configuration's run folders.
        label, description, banner, notes: texts shown on the suite's page.
        references: published-result CSVs. wall_seconds: the suite's wall time.
    """
    from datetime import datetime, timezone

    record = {
        "name": name, "suite_file": str(suite_file), "budget": budget, "scale": float(scale),
        "overrides": list(map(str, overrides)), "runs": [Path(p).name for p in run_dirs], "label": label,
        "description": description, "banner": list(banner), "notes": list(notes),
        "references": [str(Path(p).resolve()) for p in references], "wall_seconds": wall_seconds,
        "written": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    return atomic.write_text(Path(out_dir) / SUITE_MANIFEST, json.dumps(record, indent=1) + "\n")

