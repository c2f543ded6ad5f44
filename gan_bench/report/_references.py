"""The "Published results" section: reference tables from papers/peer projects with our matching rows.

Reference CSVs use "same" in ``protocol``/``source`` for "as the row above"; some amend it ("same; 100k
steps"), which we resolve to the text above plus the amendment so each block states its full protocol.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from gan_bench.report._format import esc, fmt_mean_std, fmt_num, html_table, is_missing, lower_is_better

#: Published model names -> gan_bench variant names (keys lower-cased). Names not listed here are matched to
#: a variant of exactly the same (case-insensitive) name; anything else is shown as a peer only.
MODEL_TO_VARIANTS: dict[str, tuple[str, ...]] = {
    "gan": ("gan-ns", "gan-mm"),
    "dcgan": ("dcgan",),
    "lsgan": ("lsgan",),
    "wgan": ("wgan",),
    "wgan (clipping)": ("wgan",),
    "wgan-gp": ("wgan-gp",),
    "mm gan": ("gan-mm",),
    "ns gan": ("gan-ns",),
    "dragan": ("dragan",),
    "began": ("began",),
    "vae": ("vae",),
    "biggan": ("biggan",),
    "stylegan2": ("stylegan2",),
    "srgan": ("srgan",),
    "esrgan": ("esrgan",),
    "rrdb (esrgan psnr-oriented)": ("esrgan",),
}

_TEXT_COLS = ("model", "method", "dataset", "protocol", "source", "ours")
_SAME = re.compile(r"^\s*same\b(\s+protocol\b)?[\s;,:.\-]*", re.IGNORECASE)


def _norm(name: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def resolve_same(values: pd.Series) -> pd.Series:
    """Replace "same" by the previous row's resolved value; "same; extra" becomes "<previous> (amended: extra)"."""
    out: list[Any] = []
    prev: Any = None
    for v in values.tolist():
        if isinstance(v, str) and _SAME.match(v):
            rest = _SAME.sub("", v, count=1).strip()
            if prev is None:
                v = rest or v  # "same" on the first row has nothing to refer to: keep what we can
            else:
                v = f"{prev} (amended: {rest})" if rest else prev
        if not is_missing(v):
            prev = v
        out.append(v)
    return pd.Series(out, index=values.index, dtype=object)


def prepare_reference(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``frame`` with ``method`` renamed to ``model`` (SR tables) and "same" resolved."""
    df = frame.copy()
    df.columns = [str(c).strip() for c in df.columns]
    if "model" not in df.columns and "method" in df.columns:
        df = df.rename(columns={"method": "model"})
    for col in ("protocol", "source"):
        if col in df.columns:
            df[col] = resolve_same(df[col])
    return df


def value_columns(df: pd.DataFrame) -> list[tuple[str, str | None]]:
    """Display columns as (metric, std column or None): ``x_mean``/``x_std`` pairs collapse into one ``x``."""
    cols = [c for c in df.columns if c not in _TEXT_COLS]
    out: list[tuple[str, str | None]] = []
    for c in cols:
        if c.endswith("_std") and c[: -len("_std")] + "_mean" in cols:
            continue
        if c.endswith("_mean") and c[: -len("_mean")] + "_std" in cols:
            out.append((c[: -len("_mean")], c[: -len("_mean")] + "_std"))
        else:
            out.append((c, None))
    return out


def _ours(ours: Any) -> tuple[str, ...] | None:
    """A reference row's own ``ours`` column: our suite entries (space-separated) that it corresponds
    to (``srgan`` for SRResNet, ``srgan@gan`` for SRGAN), which overrides the name mapping."""
    return None if is_missing(ours) else tuple(str(ours).lower().split())


def map_model(model: Any, our_variants: list[str], ours: Any = None) -> list[str]:
    """Our variants or suite entries (present in the leaderboard) that a published model corresponds to."""
    if is_missing(model) and _ours(ours) is None:
        return []
    key = str(model).strip().lower()
    by_lower = {v.lower(): v for v in our_variants}
    targets = _ours(ours) or MODEL_TO_VARIANTS.get(key, (key,))
    return [by_lower[t] for t in targets if t in by_lower]


def is_known_model(model: Any, ours: Any = None) -> bool:
    """True when a published model name has a gan_bench counterpart (whether or not this suite ran it)."""
    return bool(_ours(ours)) or (not is_missing(model) and str(model).strip().lower() in MODEL_TO_VARIANTS)


def _implicit_dataset(name: str, our_datasets: list[str]) -> str | None:
    """For tables without a dataset column (``stacked_mnist.csv``, ``cifar10_peers.csv``): our dataset named by
    a leading run of the table name's ``_``-separated words ("cifar10_peers" -> cifar10). Plain substring
    matching would wrongly file Stacked MNIST under mnist."""
    words = [w for w in re.split(r"[_\-\s.]+", name) if w]
    prefixes = {_norm("".join(words[: k + 1])) for k in range(len(words))}
    hits = [d for d in our_datasets if _norm(d) in prefixes]
    return max(hits, key=lambda d: len(_norm(d))) if hits else None


def _our_value(row: pd.Series, metric: str) -> str:
    if f"{metric}_mean" in row.index:
        std = row[f"{metric}_std"] if f"{metric}_std" in row.index else None
        return fmt_mean_std(row[f"{metric}_mean"], std)
    if metric in row.index and metric not in _TEXT_COLS:
        return fmt_num(row[metric])
    return "—"


def render_references(references: list[pd.DataFrame], board: pd.DataFrame) -> str:
    """HTML for all reference frames: one block per (frame, protocol), our matching rows interleaved."""
    intro = (
        '<p class="caveat"><strong>Numbers are comparable only under the same protocol.</strong> Each table states '
        "the protocol and source of the published numbers, and our own protocol beside it. Highlighted rows are "
        "gan_bench's (mean ± std over seeds). Where the protocols differ (sample counts, Inception port, "
        "thresholds, training length), read the pair as context, not as a ranking. Published models without a "
        "gan_bench counterpart are marked <em>peer</em>; a <em>published</em> row without a gan_bench row beside "
        "it is a model this suite did not run on that dataset.</p>"
    )
    if not references:
        return intro + "<p class='muted'>No reference tables were given.</p>"
    has = set(board.columns)
    our_variants = sorted(board["variant"].astype(str).unique()) if "variant" in has else []
    our_datasets = sorted(board["dataset"].astype(str).unique()) if "dataset" in has else []
    parts = [intro]
    for i, frame in enumerate(references):
        name = str(frame.attrs.get("name") or f"reference table {i + 1}")
        try:
            parts.append(_render_frame(name, prepare_reference(frame), board, our_variants, our_datasets))
        except Exception as err:
            parts.append(f"<h3>{esc(name)}</h3><p class='problem'>Could not render this table: "
                         f"{esc(type(err).__name__)}: {esc(err)}</p>")
    return "".join(parts)


def _render_frame(
    name: str, df: pd.DataFrame, board: pd.DataFrame, our_variants: list[str], our_datasets: list[str]
) -> str:
    out = [f'<h3 id="ref-{esc(_norm(name))}">{esc(name)}</h3>']
    if df.empty:
        return out[0] + "<p class='muted'>Empty table.</p>"
    metrics = value_columns(df)
    has_dataset = "dataset" in df.columns
    implicit = None if has_dataset else _implicit_dataset(name, our_datasets)
    protocols = df["protocol"] if "protocol" in df.columns else pd.Series(["not stated"] * len(df), index=df.index)
    protocols = protocols.where(protocols.notna(), "not stated").astype(str)

    for protocol in dict.fromkeys(protocols.tolist()):
        block = df[protocols == protocol]
        sources = [str(s) for s in dict.fromkeys(block["source"].dropna().tolist())] if "source" in block else []
        per_row_source = len(sources) > 1
        header = ["", "model"] + (["dataset"] if has_dataset else [])
        header += [f"{esc(m)}{' ↓' if lower_is_better(m) else ''}" for m, _ in metrics]
        header += (["source"] if per_row_source else []) + ["protocol"]
        rows: list[list[str]] = []
        classes: list[str] = []
        our_protocols: list[str] = []
        shown: set[tuple[str, str]] = set()
        for _, ref in block.iterrows():
            variants = map_model(ref.get("model"), our_variants, ref.get("ours"))
            known = variants or is_known_model(ref.get("model"), ref.get("ours"))
            cells = ["published" if known else '<span class="peer">peer</span>',
                     f'<span class="wrap">{esc(ref.get("model", ""))}</span>']
            if "dataset" in header:
                cells.append(esc(ref["dataset"]) if has_dataset and not is_missing(ref["dataset"]) else "—")
            for m, std in metrics:
                cells.append(fmt_mean_std(ref[m + "_mean"], ref[std]) if std else fmt_num(ref[m]))
            if per_row_source:
                cells.append(f'<span class="wrap">{esc(ref.get("source", ""))}</span>')
            cells.append('<span class="muted">theirs, above</span>')
            rows.append(cells)
            classes.append("ref" if known else "peer")
            for ours in _our_rows(board, variants, ref, has_dataset, implicit):
                key = (str(ours["variant"]), str(ours["dataset"]))
                if key in shown:
                    continue
                shown.add(key)
                proto = str(ours["protocol"]) if "protocol" in ours.index and not is_missing(ours["protocol"]) else "not recorded"
                our_protocols.append(proto)
                cells = ['<span class="badge">gan_bench</span>', esc(ours["variant"])]
                if "dataset" in header:
                    cells.append(esc(ours["dataset"]))
                cells += [_our_value(ours, m) for m, _ in metrics]
                if per_row_source:
                    seeds = ours.get("seed_list", ours.get("seeds", ""))
                    cells.append(f"this suite (seeds {esc(seeds)})")
                budget = ours.get("budget")  # the budget trained stands on every row of ours
                trained = "" if is_missing(budget) or not str(budget) else (
                    f'<br><span class="muted">trained: {esc(budget)} per run, seeds {esc(ours.get("seed_list", ""))}</span>')
                cells.append(f'<span class="wrap">{esc(proto)}{trained}</span>')
                rows.append(cells)
                classes.append("ours")
        theirs = f"<dd>{esc(protocol)}</dd>"
        src = "".join(f"<dd>{esc(s)}</dd>" for s in sources) or "<dd>not stated</dd>"
        mine = "".join(f"<dd>{esc(p)}</dd>" for p in dict.fromkeys(our_protocols)) or (
            "<dd class='muted'>no gan_bench row matches these models/datasets</dd>"
        )
        if has_dataset:
            scope = ""
        elif implicit:
            scope = f"<dt>Dataset</dt><dd>{esc(implicit)} (from the table name)</dd>"
        else:
            scope = ("<dt>Dataset</dt><dd class='muted'>not stated, and the table name names none of our "
                     "datasets: no gan_bench rows are matched</dd>")
        out.append(
            '<div class="refblock"><dl class="protocols">'
            f"<div><dt>Their protocol</dt>{theirs}<dt>Source</dt>{src}{scope}</div>"
            f"<div><dt>Our protocol</dt>{mine}</div></dl>"
            f"{_table_details(html_table(header, rows, classes), len(block), len(our_protocols))}</div>"
        )
    return "".join(out)


def _table_details(table: str, n_published: int, n_ours: int) -> str:
    """Tables with our rows are open; published-only ones are folded so the comparisons stand out."""
    if n_ours:
        return f'<div class="scroll">{table}</div>'
    return (f"<details><summary>{n_published} published row(s), no gan_bench row to compare — show</summary>"
            f'<div class="scroll">{table}</div></details>')


def _our_rows(
    board: pd.DataFrame,
    variants: list[str],
    ref: pd.Series,
    has_dataset: bool,
    implicit: str | None,
) -> list[pd.Series]:
    """Leaderboard rows for ``variants`` on the reference row's dataset. A table whose dataset cannot be told
    (no column, name names none of ours) matches nothing: a number on another dataset would mislead."""
    if not variants or "variant" not in board.columns or "dataset" not in board.columns:
        return []
    cand = board[board["variant"].astype(str).isin(variants)]
    if has_dataset:
        if is_missing(ref["dataset"]):
            return []
        cand = cand[cand["dataset"].astype(str).map(_norm) == _norm(ref["dataset"])]
    elif implicit is not None:
        cand = cand[cand["dataset"].astype(str) == implicit]
    else:
        return []
    order = {v: i for i, v in enumerate(variants)}
    return [r for _, r in sorted(cand.iterrows(), key=lambda kv: (order.get(str(kv[1]["variant"]), 99), str(kv[1]["dataset"])))]
