"""Small HTML and number formatting helpers shared by the report modules."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

#: Metrics where a smaller number is better. Matched on the metric name or its prefix (``fid_clean``).
LOWER_IS_BETTER = ("reverse_kl", "fid", "kid", "kl_to_uniform", "lpips", "test_error", "identity_dist", "niqe")


def esc(value: Any) -> str:
    """HTML-escape ``str(value)`` (quotes included, so it is safe inside attributes too)."""
    return html.escape("" if value is None else str(value), quote=True)


def lower_is_better(metric: str) -> bool:
    """True when smaller values of ``metric`` are better."""
    name = metric.lower()
    return any(name == m or name.startswith((m + "_", m + "[")) for m in LOWER_IS_BETTER)


def direction_label(metric: str) -> str:
    """Axis/column suffix telling the reader which way is better."""
    return "lower is better" if lower_is_better(metric) else "higher is better"


def is_missing(value: Any) -> bool:
    """True for None, NaN and pandas NA-like values."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN and pd.NA compare unequal to themselves
    except (TypeError, ValueError):
        return False


def to_float(value: Any) -> float | None:
    """``float(value)`` if it is a finite number, else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def fmt_num(value: Any, digits: int = 4) -> str:
    """Compact number: integers without decimals, floats to ``digits`` significant digits, '—' when missing."""
    if is_missing(value):
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}" if abs(int(value)) >= 1000 else str(int(value))
    f = to_float(value)
    if f is None:
        try:
            float(value)
        except (TypeError, ValueError):
            return esc(value)  # not a number at all: show the text
        return esc(value)  # inf / -inf
    if f == int(f) and abs(f) < 1e12:
        return f"{int(f):,}" if abs(f) >= 1000 else str(int(f))
    return f"{f:.{digits}g}"


def fmt_mean_std(mean: Any, std: Any) -> str:
    """'mean ± std' (std omitted when missing)."""
    if is_missing(mean):
        return "—"
    if is_missing(std) or to_float(std) is None:
        return fmt_num(mean)
    return f"{fmt_num(mean)} ± {fmt_num(std, 3)}"


def fmt_duration(seconds: float | None) -> str:
    """Human duration such as '1 h 02 min 03 s (3723 s)'; 'not recorded' when None."""
    s = to_float(seconds)
    if s is None:
        return "not recorded"
    whole = int(round(s))
    h, rem = divmod(whole, 3600)
    m, sec = divmod(rem, 60)
    if h:
        text = f"{h} h {m:02d} min {sec:02d} s"
    elif m:
        text = f"{m} min {sec:02d} s"
    else:
        return f"{s:.1f} s"
    return f"{text} ({s:.0f} s)"


def html_table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    row_classes: Sequence[str] | None = None,
    table_class: str = "data",
) -> str:
    """Build a table from already-escaped cell HTML (callers escape user text with :func:`esc`)."""
    out = [f'<table class="{table_class}"><thead><tr>']
    out += [f"<th>{h}</th>" for h in header]
    out.append("</tr></thead><tbody>")
    for i, row in enumerate(rows):
        cls = row_classes[i] if row_classes is not None and i < len(row_classes) else ""
        out.append(f'<tr class="{cls}">' if cls else "<tr>")
        out += [f"<td>{cell}</td>" for cell in row]
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)
