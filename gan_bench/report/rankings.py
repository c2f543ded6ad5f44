"""Rank agreement between a published table and our leaderboard.

When our score is not the paper's (a domain-classifier FID where the paper used Inception FID, a
3% budget where the paper trained to convergence), the numbers cannot be set against each other,
but the *order* of the models can: does our run rank the models as the paper did? For every
(reference metric, dataset, our column) with at least three models in common, we rank both sides
and report Spearman's rho and Kendall's tau with their p-values and whether the best model agrees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
from scipy import stats

from gan_bench.report._format import (
    esc,
    fmt_mean_std,
    html_table,
    is_missing,
    lower_is_better,
)
from gan_bench.report._references import map_model, prepare_reference, value_columns

MIN_MODELS = 3  # fewer models make any rank correlation meaningless


@dataclass
class RankComparison:
    """Published and our ranking of the same models on one dataset.

    ``table`` has one row per model in common: ``model`` (published name), ``variant`` (ours),
    ``theirs``/``theirs_std``, ``ours``/``ours_std`` and the ranks ``rank_theirs``/``rank_ours``
    (1 = best; ties share the mean rank).
    """

    reference: str
    dataset: str
    metric: str  # the published metric, e.g. "fid"
    our_column: str  # our metric, e.g. "fid[mnist-classifier]"
    table: pd.DataFrame
    spearman: float
    spearman_p: float
    kendall: float
    kendall_p: float

    @property
    def n(self) -> int:
        return len(self.table)

    @property
    def same_metric(self) -> bool:
        return self.metric == self.our_column

    @property
    def best_agrees(self) -> bool:
        """True when some model ranked best by the paper is also ranked best by us."""
        best_theirs = set(self.table.loc[self.table["rank_theirs"] == self.table["rank_theirs"].min(), "variant"])
        best_ours = set(self.table.loc[self.table["rank_ours"] == self.table["rank_ours"].min(), "variant"])
        return bool(best_theirs & best_ours)


def _our_columns(board: pd.DataFrame, metric: str) -> list[str]:
    """Our metrics that measure ``metric``: the same name, or the same name under a protocol (``fid[...]``)."""
    pattern = re.compile(rf"^{re.escape(metric)}(\[[^\]]+\])?_mean$")
    return [c[: -len("_mean")] for c in map(str, board.columns) if pattern.match(c)]


def compare_rankings(reference: pd.DataFrame, board: pd.DataFrame, name: str = "") -> list[RankComparison]:
    """Every rank comparison between one published table and a leaderboard.

    Args:
        reference: a published-results table with ``model`` (or ``method``) and ``dataset`` columns and
            value columns (``x`` or ``x_mean``/``x_std``).
        board: our leaderboard (``variant``, ``dataset``, ``<metric>_mean``/``_std``).
        name: the reference table's name, kept in the result.

    Returns:
        One comparison per (published metric, dataset, our matching column) with at least
        ``MIN_MODELS`` models on both sides; an empty list when nothing can be compared.
    """
    ref = prepare_reference(reference)
    if not {"model", "dataset"} <= set(ref.columns) or not {"variant", "dataset"} <= set(board.columns):
        return []
    our_variants = sorted(board["variant"].astype(str).unique())
    # Numbers measured under different protocols (one table may quote two papers) are never ranked together.
    protocols = ref["protocol"].astype(str) if "protocol" in ref.columns else pd.Series("", index=ref.index)
    out: list[RankComparison] = []
    for metric, std_col in value_columns(ref):
        value_col = f"{metric}_mean" if std_col else metric
        for protocol in dict.fromkeys(protocols):
            block = ref[protocols == protocol]
            for dataset in dict.fromkeys(block["dataset"].dropna().astype(str)):
                ours_ds = board[board["dataset"].astype(str) == dataset]
                theirs_ds = block[block["dataset"].astype(str) == dataset]
                for our_col in _our_columns(board, metric):
                    rows = _pairs(theirs_ds, ours_ds, our_variants, value_col, std_col, our_col)
                    if len(rows) >= MIN_MODELS:
                        out.append(_compare(name, dataset, metric, our_col, pd.DataFrame(rows)))
    return out


def _pairs(theirs: pd.DataFrame, ours: pd.DataFrame, our_variants: list[str], value_col: str,
           std_col: str | None, our_col: str) -> list[dict]:
    """Models present on both sides with a number on both; each of our variants is used once."""
    rows, used = [], set()
    for _, ref_row in theirs.iterrows():
        value = pd.to_numeric(ref_row.get(value_col), errors="coerce")
        if is_missing(value):
            continue
        for variant in map_model(ref_row.get("model"), our_variants, ref_row.get("ours")):
            if variant in used:
                continue
            match = ours[ours["variant"].astype(str) == variant]
            if match.empty or is_missing(match.iloc[0].get(f"{our_col}_mean")):
                continue
            row = match.iloc[0]
            used.add(variant)
            rows.append({
                "model": str(ref_row["model"]), "variant": variant,
                "theirs": float(value),
                "theirs_std": pd.to_numeric(ref_row.get(std_col), errors="coerce") if std_col else float("nan"),
                "ours": float(row[f"{our_col}_mean"]),
                "ours_std": pd.to_numeric(row.get(f"{our_col}_std"), errors="coerce"),
            })
            break
    return rows


def _compare(name: str, dataset: str, metric: str, our_col: str, table: pd.DataFrame) -> RankComparison:
    table["rank_theirs"] = table["theirs"].rank(ascending=lower_is_better(metric), method="average")
    table["rank_ours"] = table["ours"].rank(ascending=lower_is_better(our_col), method="average")
    table = table.sort_values(["rank_theirs", "rank_ours"]).reset_index(drop=True)
    if table["rank_theirs"].nunique() < 2 or table["rank_ours"].nunique() < 2:
        nan = float("nan")  # one side ranks every model equal: no correlation is defined
        return RankComparison(name, dataset, metric, our_col, table, nan, nan, nan, nan)
    rho, rho_p = stats.spearmanr(table["rank_theirs"], table["rank_ours"])
    tau, tau_p = stats.kendalltau(table["rank_theirs"], table["rank_ours"])
    return RankComparison(name, dataset, metric, our_col, table, float(rho), float(rho_p), float(tau), float(tau_p))


def describe(cmp: RankComparison) -> str:
    """One sentence on how far the two rankings agree (plain text; escape it for HTML)."""
    if pd.isna(cmp.spearman):
        agreement = "cannot be correlated (one side ranks every model equal)"
    else:
        rho = cmp.spearman
        strength = ("agree" if rho >= 0.5 else "agree weakly" if rho > 0.2 else
                    "show no relation" if rho >= -0.2 else "disagree")
        significant = "significant" if cmp.spearman_p < 0.05 else "not significant"
        agreement = (f"{strength}: Spearman rho = {cmp.spearman:+.2f} (p = {cmp.spearman_p:.2g}, {significant} "
                     f"at 5% with {cmp.n} models), Kendall tau = {cmp.kendall:+.2f} (p = {cmp.kendall_p:.2g})")
    best = "the same model is best on both sides" if cmp.best_agrees else "the best model differs"
    return f"{cmp.dataset}, published {cmp.metric} vs our {cmp.our_column}: the rankings {agreement}; {best}."


def render_rankings(comparisons: list[RankComparison]) -> str:
    """HTML: one sentence and one rank table per comparison."""
    if not comparisons:
        return ("<p class='muted'>No published table shares at least three models and a dataset with this "
                "leaderboard, so no rankings are compared.</p>")
    parts = [(
        '<p class="caveat">Where our metric or budget is not the paper\'s, compare the <strong>order</strong> of '
        "the models, not the numbers. Rank 1 is the best model on each side; ties share the mean rank.</p>"
    )]
    for cmp in comparisons:
        header = ["model (published)", "gan_bench variant", f"{esc(cmp.metric)} (published)", "rank",
                  f"{esc(cmp.our_column)} (ours)", "rank"]
        rows = [[esc(r.model), esc(r.variant), fmt_mean_std(r.theirs, r.theirs_std), f"{r.rank_theirs:g}",
                 fmt_mean_std(r.ours, r.ours_std), f"{r.rank_ours:g}"] for r in cmp.table.itertuples()]
        parts.append(f"<h3>{esc(cmp.reference)}: {esc(cmp.dataset)}</h3><p>{esc(describe(cmp))}</p>"
                     f'<div class="scroll">{html_table(header, rows, ["ours"] * len(rows))}</div>')
    return "".join(parts)
