"""Claims from the literature, checked against a leaderboard and stated honestly in the report.

A suite file may list claims such as "MAD-GAN covers more modes than the plain GAN on grid25";
each is evaluated on our mean over seeds and reported as holding or not, with the numbers, so a
report never implies a pattern our runs did not show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from gan_bench.config import Choice


@dataclass
class Claim:
    """``variant``'s mean ``metric`` on ``dataset`` is higher/lower than ``than`` (another variant's
    mean) or than ``value`` (a number)."""

    text: str
    variant: str
    dataset: str
    metric: str
    direction: str = field(default="higher", metadata=Choice("higher", "lower"))
    than: str = ""
    value: float | None = None
    source: str = ""


def _mean_std(board: pd.DataFrame, variant: str, dataset: str, metric: str) -> tuple[float, float] | None:
    rows = board[(board["variant"] == variant) & (board["dataset"] == dataset)]
    if rows.empty or f"{metric}_mean" not in rows:
        return None
    row = rows.iloc[0]
    return float(row[f"{metric}_mean"]), float(row.get(f"{metric}_std", float("nan")))


def _fmt(ms: tuple[float, float]) -> str:
    mean, std = ms
    return f"{mean:.3g}" if math.isnan(std) else f"{mean:.3g} ± {std:.2g}"


def check_claim(claim: Claim, board: pd.DataFrame) -> str:
    """One sentence: the claim, whether it holds in this leaderboard, and the numbers behind it."""
    ours = _mean_std(board, claim.variant, claim.dataset, claim.metric)
    source = f" ({claim.source})" if claim.source else ""
    if ours is None:
        return f"Claim{source}: {claim.text} — not checked: no {claim.variant} / {claim.dataset} {claim.metric} in this run."
    spread = ours[1]
    if claim.than:
        other = _mean_std(board, claim.than, claim.dataset, claim.metric)
        if other is None:
            return f"Claim{source}: {claim.text} — not checked: no {claim.than} / {claim.dataset} in this run."
        reference, described = other[0], f"{claim.than} {_fmt(other)}"
        spread = max(ours[1], other[1])
    elif claim.value is not None:
        reference, described = claim.value, f"{claim.value:g}"
    else:
        return f"Claim{source}: {claim.text} — not checked: the claim names neither 'than' nor 'value'."
    holds = ours[0] > reference if claim.direction == "higher" else ours[0] < reference
    verdict = "holds in this run" if holds else "does NOT hold in this run"
    # A gap smaller than the seeds' spread is no evidence either way; say so rather than rank.
    weak = "; the gap is within one standard deviation" if abs(ours[0] - reference) < spread else ""
    return (f"Claim{source}: {claim.text} — {verdict}: {claim.variant} {claim.metric} = {_fmt(ours)} "
            f"vs {described} (mean ± std over seeds, {claim.dataset}){weak}.")
