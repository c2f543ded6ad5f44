"""Literature claims are checked against our numbers and reported honestly."""

import pandas as pd

from gan_bench.report.claims import Claim, check_claim

BOARD = pd.DataFrame([
    {"variant": "gan-ns", "dataset": "grid25", "modes_mean": 20.0, "modes_std": 2.0},
    {"variant": "mad-gan", "dataset": "grid25", "modes_mean": 13.3, "modes_std": 2.5},
])


def test_claim_that_does_not_hold_says_so_with_numbers():
    text = check_claim(Claim("MAD-GAN covers more", "mad-gan", "grid25", "modes", than="gan-ns"), BOARD)
    assert "does NOT hold" in text and "13.3 ± 2.5" in text and "gan-ns 20 ± 2" in text


def test_claim_against_a_value_and_lower_direction():
    text = check_claim(Claim("GAN drops modes", "gan-ns", "grid25", "modes", direction="lower", value=25), BOARD)
    assert "holds in this run" in text and "NOT" not in text


def test_missing_rows_are_not_checked():
    assert "not checked" in check_claim(Claim("x", "wgan", "grid25", "modes", than="gan-ns"), BOARD)
    assert "not checked" in check_claim(Claim("x", "gan-ns", "grid25", "modes", than="began"), BOARD)


def test_a_gap_within_the_spread_is_flagged():
    board = pd.DataFrame([
        {"variant": "gan-ns", "dataset": "grid25", "modes_mean": 20.0, "modes_std": 1.0},
        {"variant": "gman", "dataset": "grid25", "modes_mean": 20.7, "modes_std": 2.9},
    ])
    text = check_claim(Claim("GMAN covers more", "gman", "grid25", "modes", than="gan-ns"), board)
    assert "holds in this run" in text and "within one standard deviation" in text
    clear = check_claim(Claim("GMAN covers more", "gman", "grid25", "modes", than="gan-ns"),
                        board.assign(modes_std=[0.1, 0.1]))
    assert "within one standard deviation" not in clear
