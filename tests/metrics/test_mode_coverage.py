"""Mode-coverage metrics on constructed samples."""

import math

import pytest
import torch

from gan_bench.data.mixtures import grid_means, ring_means
from gan_bench.metrics.mode_coverage import mode_coverage

MEANS = ring_means(8, 1.0)
STD = 0.01


def test_ring_and_grid_modes():
    assert MEANS.shape == (8, 2)
    assert torch.unique(MEANS.round(decimals=4), dim=0).shape[0] == 8  # no duplicated mode
    assert torch.allclose(MEANS[2], torch.tensor([0.0, 1.0]), atol=1e-6)
    grid = grid_means(5, 2.0)
    assert sorted(set(grid[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert grid.shape == (25, 2)


def test_all_modes_covered_evenly():
    samples = MEANS.repeat(100, 1) + 0.5 * STD * torch.randn(800, 2, generator=torch.Generator().manual_seed(0))
    result = mode_coverage(samples, MEANS, STD)
    assert result["modes"] == 8
    assert result["high_quality_pct"] > 99.0
    assert result["reverse_kl"] == pytest.approx(0.0, abs=1e-9)


def test_one_mode_only():
    samples = MEANS[3].repeat(2500, 1)
    result = mode_coverage(samples, MEANS, STD)
    assert result["modes"] == 1
    assert result["high_quality_pct"] == 100.0
    assert result["reverse_kl"] == pytest.approx(math.log(8))


def test_off_mode_samples_are_not_high_quality():
    # At the origin every sample is 1.0 from each mode: far beyond 3 std.
    samples = torch.zeros(100, 2)
    result = mode_coverage(samples, MEANS, STD)
    assert result["modes"] == 0
    assert result["high_quality_pct"] == 0.0


def test_half_on_mode_half_off():
    on = MEANS[:2].repeat(50, 1)  # 100 samples on modes 0 and 1
    off = MEANS[:2].repeat(50, 1) + torch.tensor([0.05, 0.0])  # 5 std away
    result = mode_coverage(torch.cat([on, off]), MEANS, STD)
    assert result["modes"] == 2
    assert result["high_quality_pct"] == pytest.approx(50.0)
    # histogram {0: .5, 1: .5}: KL to uniform over 8 = log(8 / 2)
    assert result["reverse_kl"] == pytest.approx(math.log(4))


def test_threshold_is_three_std():
    inside = MEANS[0] + torch.tensor([2.9 * STD, 0.0])
    outside = MEANS[0] + torch.tensor([3.1 * STD, 0.0])
    assert mode_coverage(inside[None], MEANS, STD)["modes"] == 1
    assert mode_coverage(outside[None], MEANS, STD)["modes"] == 0


def test_non_finite_samples_count_as_low_quality():
    samples = torch.cat([MEANS[:1], torch.full((1, 2), float("nan"))])
    result = mode_coverage(samples, MEANS, STD)
    assert result["modes"] == 1
    assert result["high_quality_pct"] == pytest.approx(50.0)


def test_reverse_kl_is_pacgans_over_high_quality_samples_only():
    # PacGAN's MetricLogger histograms only the samples within 3 std of their nearest mode.
    good = MEANS[:2].repeat(100, 1)  # 200 high-quality samples, balanced over modes 0 and 1
    poor = MEANS[2].repeat(600, 1) + torch.tensor([0.05, 0.0])  # nearest mode 2, but 5 std off it
    result = mode_coverage(torch.cat([good, poor]), MEANS, STD)
    assert result["modes"] == 2
    assert result["high_quality_pct"] == pytest.approx(25.0)
    assert result["reverse_kl"] == pytest.approx(math.log(8 / 2))  # over the 200 good samples
    p = torch.tensor([0.125, 0.125, 0.75], dtype=torch.float64)  # all 800 samples' nearest modes
    assert result["reverse_kl_all"] == pytest.approx(float((p * torch.log(8 * p)).sum()))


def test_reverse_kl_without_any_high_quality_sample_is_log_k():
    # PacGAN's normalisation would be 0/0 here; gan_bench reports the value of total collapse.
    samples = MEANS.repeat(10, 1) + torch.tensor([0.05, 0.0])  # every mode, all 5 std off
    result = mode_coverage(samples, MEANS, STD)
    assert result["modes"] == 0
    assert result["reverse_kl"] == pytest.approx(math.log(8))
    assert result["reverse_kl_all"] == pytest.approx(0.0, abs=1e-9)  # balanced over all 8 modes


def test_both_reverse_kls_are_registered_and_lower_is_better():
    from gan_bench.registry import METRICS
    from gan_bench.report._format import lower_is_better

    keys = METRICS.entry("mode-coverage").meta["keys"]
    assert {"reverse_kl", "reverse_kl_all"} <= set(keys)
    assert lower_is_better("reverse_kl") and lower_is_better("reverse_kl_all")
