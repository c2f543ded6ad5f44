"""Regression check: runs against a baseline long table (``gan-bench check``).

Both sides are reduced to the mean and sample std over the seeds that finished as ``done``, per
(variant, dataset, metric). A metric *regressed* when it moved in the worse direction (lower for
FID, KL and the like, higher otherwise; see :func:`gan_bench.report._format.lower_is_better`) by
more than its tolerance. Improvements never fail. A baseline row with no counterpart, or with fewer
finished seeds than the baseline had, also fails: a crash must not pass as "no regression".

Default tolerance of a metric: ``max(3 x the baseline's std over seeds, 10% of |baseline mean|)``,
so that a change within the seed-to-seed noise of the baseline passes, while a real loss of quality
does not. ``METRIC=abs:X`` (absolute) or ``METRIC=rel:X`` (a fraction of ``|baseline mean|``)
replaces it for one metric; ``*=...`` for every metric not named otherwise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from gan_bench.report._format import lower_is_better
from gan_bench.report.tidy import ReportInputError

__all__ = ["DEFAULT_REL", "DEFAULT_STDS", "Tolerance", "compare", "format_table", "parse_tolerances"]

DEFAULT_STDS = 3.0
DEFAULT_REL = 0.10
_TOL = re.compile(r"^(?P<metric>.+)=(?P<kind>abs|rel):(?P<value>[0-9.eE+-]+)$")


@dataclass(frozen=True)
class Tolerance:
    """How far a metric may move in the worse direction: ``abs`` in the metric's units, ``rel`` as a
    fraction of ``|baseline mean|``."""

    kind: str  # "abs" | "rel"
    value: float

    def allowed(self, baseline_mean: float) -> float:
        """The allowed worsening for a baseline mean."""
        return self.value if self.kind == "abs" else self.value * abs(baseline_mean)

    def __str__(self) -> str:
        return f"{self.kind}:{self.value:g}"


def parse_tolerances(texts: Iterable[str]) -> dict[str, Tolerance]:
    """``["fid=rel:0.05", "modes=abs:1", "*=rel:0.2"]`` -> {metric: Tolerance}.

    Raises:
        ReportInputError: a text is not ``METRIC=abs:X`` or ``METRIC=rel:X`` with X a finite number >= 0.
    """
    out: dict[str, Tolerance] = {}
    for text in texts:
        m = _TOL.match(text.strip())
        value = None
        if m:
            try:
                value = float(m.group("value"))
            except ValueError:
                value = None
        if m is None or value is None or not math.isfinite(value) or value < 0:
            raise ReportInputError(f"--tolerance {text!r}: expected METRIC=abs:X or METRIC=rel:X with X >= 0")
        out[m.group("metric").strip()] = Tolerance(m.group("kind"), value)
    return out


def _reduce(long: pd.DataFrame) -> pd.DataFrame:
    """Per (variant, dataset, metric): mean, std, n over finished seeds; ``runs``/``done`` count the runs."""
    frame = long.copy()
    frame["metric"] = frame["metric"].fillna("").astype(str)
    runs = frame.drop_duplicates(["variant", "dataset", "run"] if "run" in frame.columns else ["variant", "dataset", "seed"])
    counts = runs.groupby(["variant", "dataset"]).agg(
        runs=("status", "size"), done=("status", lambda s: int((s.astype(str) == "done").sum())))
    scored = frame[(frame["status"].astype(str) == "done") & (frame["metric"] != "")]
    stats = scored.groupby(["variant", "dataset", "metric"])["value"].agg(
        mean="mean", std=lambda v: v.std(ddof=1) if v.notna().sum() > 1 else math.nan, n="count").reset_index()
    return stats.merge(counts.reset_index(), on=["variant", "dataset"], how="left")


def compare(baseline: pd.DataFrame, current: pd.DataFrame, tolerances: dict[str, Tolerance] | None = None,
            metrics: Iterable[str] | None = None) -> pd.DataFrame:
    """Compare two long tables (see :mod:`gan_bench.report.tidy`).

    Args:
        baseline: the reference runs. current: the runs under test.
        tolerances: per-metric tolerances (``"*"`` for all others); the default is described above.
        metrics: only these metrics (default: every metric of the baseline).

    Returns:
        One row per baseline (variant, dataset, metric): ``baseline_mean``, ``baseline_std``,
        ``baseline_n``, ``mean``, ``std``, ``n``, ``worse_by`` (positive = worse), ``allowed``,
        ``tolerance`` (text) and ``verdict``: ``ok``, ``improved``, ``REGRESSED``, ``MISSING``
        (no finished run of that row) or ``FEWER SEEDS`` (fewer finished seeds than the baseline).
    """
    tolerances = tolerances or {}
    base = _reduce(baseline)
    if metrics is not None:
        wanted = set(metrics)
        unknown = wanted - set(base["metric"])
        if unknown:
            raise ReportInputError(f"--metric: {sorted(unknown)[0]!r} is not in the baseline "
                                   f"(it has {', '.join(sorted(set(base['metric'])))})")
        base = base[base["metric"].isin(wanted)]
    if base.empty:
        raise ReportInputError("the baseline has no finished run with a metric to compare")
    cur = _reduce(current).set_index(["variant", "dataset", "metric"])
    rows = []
    for b in base.itertuples(index=False):
        key = (b.variant, b.dataset, b.metric)
        c = cur.loc[key] if key in cur.index else None
        mean = float(c["mean"]) if c is not None else math.nan
        n = int(c["n"]) if c is not None else 0
        tol = tolerances.get(b.metric) or tolerances.get("*")
        if tol is not None:
            allowed, tol_text = tol.allowed(b.mean), str(tol)
        else:
            spread = DEFAULT_STDS * b.std if not math.isnan(b.std) else 0.0
            allowed = max(spread, DEFAULT_REL * abs(b.mean))
            tol_text = f"default ({DEFAULT_STDS:g} std, {DEFAULT_REL:.0%})"
        worse_by = (mean - b.mean) if lower_is_better(b.metric) else (b.mean - mean)
        if n == 0 or math.isnan(mean):
            verdict = "MISSING"
        elif n < int(b.n):
            verdict = "FEWER SEEDS"
        elif worse_by > allowed + _rounding(b.mean):
            verdict = "REGRESSED"
        else:
            verdict = "improved" if worse_by < -allowed - _rounding(b.mean) else "ok"
        rows.append({
            "variant": b.variant, "dataset": b.dataset, "metric": b.metric,
            "better": "lower" if lower_is_better(b.metric) else "higher",
            "baseline_mean": b.mean, "baseline_std": b.std, "baseline_n": int(b.n),
            "mean": mean, "std": float(c["std"]) if c is not None else math.nan, "n": n,
            "worse_by": worse_by, "allowed": allowed, "tolerance": tol_text, "verdict": verdict,
        })
    return pd.DataFrame(rows)


FAILING = ("REGRESSED", "MISSING", "FEWER SEEDS")


def _rounding(mean: float) -> float:
    """A difference this small is the CSV's rounding (10 significant digits), never a change."""
    return 1e-9 * max(1.0, abs(mean))


def _ms(mean: float, std: float, n: int) -> str:
    if math.isnan(mean):
        return "—"
    return f"{mean:.4g}" + ("" if math.isnan(std) else f" ± {std:.2g}") + f" (n={n})"


def format_table(result: pd.DataFrame, only_failing: bool = True) -> str:
    """A plain-text table of the comparison (only the failing rows unless ``only_failing`` is False)."""
    rows = result[result["verdict"].isin(FAILING)] if only_failing else result
    header = ["variant", "dataset", "metric", "better", "baseline", "now", "worse by", "allowed", "verdict"]
    body = [[str(r.variant), str(r.dataset), str(r.metric), str(r.better), _ms(r.baseline_mean, r.baseline_std, r.baseline_n),
             _ms(r.mean, r.std, r.n), "—" if math.isnan(r.worse_by) else f"{r.worse_by:+.4g}", f"{r.allowed:.4g}",
             str(r.verdict)] for r in rows.itertuples(index=False)]
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in body]
    return "\n".join(line.rstrip() for line in lines)
