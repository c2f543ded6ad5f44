"""Tolerant loading of run directories (``summary.json``, ``metrics.jsonl``, ``samples/final.npz``).

A report is most needed when runs went wrong, so nothing here raises on a missing or broken file: each
problem becomes a sentence in ``RunData.problems`` that the report prints.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SUMMARY = "summary.json"
METRICS = "metrics.jsonl"
SAMPLES = Path("samples") / "final.npz"

# Columns of metrics.jsonl rows that are bookkeeping, not curves.
_ROW_META = {"kind", "step", "images_seen", "seconds"}


@dataclass
class RunData:
    """What could be read from one run directory."""

    path: Path
    variant: str | None = None
    dataset: str | None = None
    seed: int | None = None
    summary: dict[str, Any] | None = None
    train_rows: list[dict[str, Any]] = field(default_factory=list)
    eval_rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """The run's status string, or a note that it is unknown."""
        if self.summary and isinstance(self.summary.get("status"), str):
            return self.summary["status"]
        return "unknown (no summary.json)" if self.summary is None else "unknown"

    @property
    def seed_label(self) -> str:
        return "?" if self.seed is None else str(self.seed)


@dataclass
class Samples:
    """Final samples of a run: 2-D points (with optional true mode centres) or NHWC uint8 images."""

    kind: str  # "points" | "images"
    x: np.ndarray
    modes: np.ndarray | None = None
    # per-image companions of image samples (NHWC uint8, same N as x): the input a variant was
    # given (``cond``), the ground truth (``target``), a mask, or a coupled image (``pair``)
    companions: dict[str, np.ndarray] = field(default_factory=dict)


def _norm(name: str) -> str:
    """Normalise names for loose matching ('Fashion-MNIST' == 'fashion_mnist')."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _guess_from_path(path: Path, candidates: Iterable[str]) -> str | None:
    """The candidate whose normalised name equals a path component (deepest component wins)."""
    by_norm = {_norm(c): c for c in candidates}
    for part in reversed(path.parts):
        hit = by_norm.get(_norm(part))
        if hit is not None:
            return hit
    return None


def _finite_or_none(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def load_run(path: Path, known_variants: Iterable[str] = (), known_datasets: Iterable[str] = ()) -> RunData:
    """Read a run directory. When ``summary.json`` is missing, variant/dataset/seed are guessed from the path
    components (matched against the leaderboard's names) so that the run still lands in the right section."""
    path = Path(path)
    run = RunData(path=path)
    if not path.is_dir():
        run.problems.append("run directory does not exist")
    summary_path = path / SUMMARY
    if summary_path.is_file():
        try:
            loaded = json.loads(summary_path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                run.summary = loaded
            else:
                run.problems.append(f"{SUMMARY} is not a JSON object")
        except (OSError, ValueError) as err:
            run.problems.append(f"{SUMMARY} unreadable ({type(err).__name__})")
    elif path.is_dir():
        run.problems.append(f"{SUMMARY} missing")

    s = run.summary or {}
    label = s.get("entry") or s.get("variant")  # a suite entry (srgan@gan) is shown by its entry name
    run.variant = str(label) if label is not None else _guess_from_path(path, known_variants)
    run.dataset = str(s["dataset"]) if s.get("dataset") is not None else _guess_from_path(path, known_datasets)
    seed = s.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        run.seed = seed
    else:
        m = re.search(r"seed[_\-=]?(\d+)", path.name) or re.search(r"seed[_\-=]?(\d+)", str(path))
        run.seed = int(m.group(1)) if m else None

    _load_metrics(run)
    if path.is_dir() and not (path / SAMPLES).is_file():
        run.problems.append(f"{SAMPLES.as_posix()} missing")
    return run


def _load_metrics(run: RunData) -> None:
    metrics_path = run.path / METRICS
    if not metrics_path.is_file():
        if run.path.is_dir():
            run.problems.append(f"{METRICS} missing")
        return
    bad = 0
    try:
        with metrics_path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    row = json.loads(line)  # accepts NaN/Infinity, which diverged runs write
                except ValueError:
                    bad += 1  # typically a truncated last line of a killed run
                    continue
                if not isinstance(row, dict):
                    bad += 1
                    continue
                (run.eval_rows if row.get("kind") == "eval" else run.train_rows).append(row)
    except OSError as err:
        run.problems.append(f"{METRICS} unreadable ({type(err).__name__})")
        return
    if bad:
        run.problems.append(f"{bad} unreadable line(s) in {METRICS} skipped")


def curve_keys(rows: list[dict[str, Any]], prefix: str | None = None) -> list[str]:
    """Numeric keys present in ``rows`` (optionally only those starting with ``prefix``), in first-seen order."""
    keys: dict[str, None] = {}
    for row in rows:
        for k, v in row.items():
            if k in _ROW_META or (prefix is not None and not k.startswith(prefix)):
                continue
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                keys.setdefault(k, None)
    return list(keys)


def curve(rows: list[dict[str, Any]], key: str, x_key: str = "step") -> tuple[np.ndarray, np.ndarray]:
    """(x, value) arrays for ``key``, x from ``x_key`` (``step``, ``images_seen`` or ``seconds``); rows
    without the key are skipped, non-finite values become NaN (so a divergence shows as a gap rather
    than breaking the plot). Falls back to the row index when a row has no x."""
    xs: list[float] = []
    ys: list[float] = []
    for i, row in enumerate(rows):
        if key not in row:
            continue
        step = _finite_or_none(row.get(x_key))
        xs.append(float(i) if step is None else step)
        v = _finite_or_none(row[key])
        ys.append(math.nan if v is None else v)
    return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)


COMPANIONS = ("cond", "mask", "target", "pair")  # the order of a triplet's columns around the output


def load_samples(path: Path) -> tuple[Samples | None, str | None]:
    """Read ``samples/final.npz``; returns (samples, None) or (None, reason it could not be shown)."""
    f = Path(path) / SAMPLES
    if not f.is_file():
        return None, f"{SAMPLES.as_posix()} missing"
    try:
        with np.load(f, allow_pickle=False) as npz:
            if "x" not in npz.files:
                return None, f"{SAMPLES.as_posix()} has no array 'x'"
            x = np.asarray(npz["x"])
            modes = np.asarray(npz["modes"]) if "modes" in npz.files else None
            companions = {k: np.asarray(npz[k]) for k in COMPANIONS if k in npz.files}
    except Exception as err:
        return None, f"{SAMPLES.as_posix()} unreadable ({type(err).__name__})"
    if x.ndim == 2 and x.shape[1] == 2:
        if modes is not None and not (modes.ndim == 2 and modes.shape[1] == 2):
            modes = None
        return Samples("points", x.astype(np.float32, copy=False), modes), None
    if x.ndim == 3:  # N,H,W greyscale without channel axis
        x = x[..., None]
    if x.ndim == 4:
        if x.shape[-1] not in (1, 3, 4) and x.shape[1] in (1, 3, 4):
            x = np.transpose(x, (0, 2, 3, 1))  # tolerate NCHW
        if x.shape[-1] in (1, 3, 4) and x.shape[0] > 0:
            kept = {k: v for k, v in companions.items()  # malformed companions are dropped, x still shown
                    if v.ndim == 4 and v.dtype == np.uint8 and len(v) == len(x) and v.shape[-1] in (1, 3, 4)}
            return Samples("images", x, companions=kept), None
    return None, f"{SAMPLES.as_posix()}: unsupported sample array shape {tuple(x.shape)}"


def group_runs(runs: list[RunData]) -> tuple[dict[tuple[str, str], list[RunData]], list[RunData]]:
    """Group runs by (variant, dataset), each group ordered by seed (unknown seeds last, input order kept).
    Runs whose variant or dataset cannot be determined are returned separately."""
    groups: dict[tuple[str, str], list[RunData]] = {}
    orphans: list[RunData] = []
    for run in runs:
        if run.variant is None or run.dataset is None:
            orphans.append(run)
        else:
            groups.setdefault((run.variant, run.dataset), []).append(run)
    for members in groups.values():
        members.sort(key=lambda r: (r.seed is None, r.seed if r.seed is not None else 0))
    return dict(sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0]))), orphans
