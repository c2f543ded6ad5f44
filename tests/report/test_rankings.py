"""Published vs our model rankings: matched models, rank direction, correlations, escaping."""

import math

import pandas as pd
import pytest

from gan_bench.report.html import build_report_html
from gan_bench.report.rankings import compare_rankings, describe, render_rankings

REFERENCE = pd.DataFrame({
    "model": ["NS GAN", "WGAN", "LSGAN", "BEGAN", "CoolGAN"],
    "dataset": ["mnist"] * 5,
    "fid_mean": [6.8, 6.7, 7.8, 13.1, 1.0],
    "fid_std": [0.5, 0.4, 0.6, 1.0, 0.1],
    "protocol": ["Inception FID"] + ["same"] * 4,
    "source": ["paper"] + ["same"] * 4,
})


def board(fids: dict[str, float], column: str = "fid[mnist-classifier]", dataset: str = "mnist") -> pd.DataFrame:
    return pd.DataFrame([{"variant": v, "dataset": dataset, f"{column}_mean": f, f"{column}_std": 1.0}
                         for v, f in fids.items()])


def test_protocol_qualified_column_is_ranked_against_the_published_metric():
    # published order (lower FID is better): WGAN, NS GAN, LSGAN, BEGAN; ours swaps the middle two
    ours = board({"wgan": 100.0, "gan-ns": 300.0, "lsgan": 200.0, "began": 400.0, "vae": 50.0})
    (cmp,) = compare_rankings(REFERENCE, ours, "lucic.csv")
    assert (cmp.metric, cmp.our_column, cmp.dataset, cmp.n) == ("fid", "fid[mnist-classifier]", "mnist", 4)
    assert list(cmp.table["variant"]) == ["wgan", "gan-ns", "lsgan", "began"]  # the peer and the VAE drop out
    assert list(cmp.table["rank_ours"]) == [1, 3, 2, 4]
    assert cmp.spearman == pytest.approx(0.8)  # 1 - 6 * 2 / (4 * 15)
    assert cmp.kendall == pytest.approx(2 / 3)  # 5 concordant, 1 discordant pair of 6
    assert cmp.best_agrees and not cmp.same_metric


def test_reversed_order_and_higher_is_better_metrics():
    reference = pd.DataFrame({"model": ["WGAN", "LSGAN", "BEGAN"], "dataset": ["mnist"] * 3, "modes": [10, 20, 30]})
    ours = pd.DataFrame({"variant": ["wgan", "lsgan", "began"], "dataset": ["mnist"] * 3,
                         "modes_mean": [30.0, 20.0, 10.0]})
    (cmp,) = compare_rankings(reference, ours)
    assert list(cmp.table["rank_theirs"]) == [1, 2, 3]  # more modes is better: BEGAN first
    assert list(cmp.table["variant"]) == ["began", "lsgan", "wgan"]
    assert cmp.spearman == pytest.approx(-1.0) and not cmp.best_agrees
    assert "disagree" in describe(cmp) and "best model differs" in describe(cmp)


def test_nothing_to_compare():
    assert compare_rankings(REFERENCE, board({"wgan": 1.0, "lsgan": 2.0})) == []  # two models only
    assert compare_rankings(REFERENCE, board({"wgan": 1, "lsgan": 2, "began": 3}, dataset="cifar10")) == []
    assert compare_rankings(REFERENCE, board({"wgan": 1, "lsgan": 2, "began": 3}, column="modes")) == []
    assert compare_rankings(REFERENCE.drop(columns="dataset"), board({"wgan": 1, "lsgan": 2, "began": 3})) == []
    assert "No published table" in render_rankings([])


def test_constant_ranking_is_reported_not_crashed():
    (cmp,) = compare_rankings(REFERENCE, board({"wgan": 5.0, "gan-ns": 5.0, "lsgan": 5.0}))
    assert math.isnan(cmp.spearman)
    assert "cannot be correlated" in describe(cmp)


def test_report_section_escapes_names():
    reference = REFERENCE.assign(dataset="<b>mnist</b>")
    ours = board({"wgan": 1.0, "gan-ns": 2.0, "lsgan": 3.0}, dataset="<b>mnist</b>")
    reference.attrs["name"] = "<script>x</script>.csv"
    page = build_report_html("t", ours, [], [reference])
    assert 'id="rankings"' in page and "Spearman rho = +1.00" in page
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;.csv" in page
    assert "<b>mnist</b>" not in page


def test_rows_under_different_protocols_are_not_ranked_together():
    other = REFERENCE.assign(protocol="another paper", fid_mean=[60.0, 70.0, 50.0, 40.0, 1.0])
    ours = board({"wgan": 100.0, "gan-ns": 300.0, "lsgan": 200.0, "began": 400.0})
    first, second = compare_rankings(pd.concat([REFERENCE, other], ignore_index=True), ours)
    assert list(first.table["theirs"]) == [6.7, 6.8, 7.8, 13.1]
    assert list(second.table["variant"]) == ["began", "lsgan", "gan-ns", "wgan"]
