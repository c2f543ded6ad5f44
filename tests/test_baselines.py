"""The image suites in baselines/: they load, plan every run (fully validated), and say what they claim."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gan_bench.budget import Budget
from gan_bench.data.base import ArrayDataset, DataSpec
from gan_bench.suite import PlannedRun, SuiteConfig, load_suite, plan, resolve_references
from gan_bench.train.trainer import build_variant

BASELINES = Path(__file__).resolve().parents[1] / "baselines"
LUCIC = BASELINES / "lucic2018.yaml"
STACKED = BASELINES / "stacked_mnist.yaml"


def planned(path: Path, scale: float = 1.0) -> tuple[SuiteConfig, list[PlannedRun]]:
    suite = load_suite(path)
    return suite, plan(suite, path, Path("/nonexistent/out"), scale=scale)


def by_variant(runs: list[PlannedRun], dataset: str | None = None) -> dict[str, PlannedRun]:
    return {r.resolved.cfg.variant: r for r in runs if dataset is None or r.resolved.cfg.dataset == dataset}


def image_spec_dataset(shape: tuple[int, ...], num_classes: int) -> ArrayDataset:
    """A one-image stand-in with the real dataset's spec: building nets needs only the spec."""
    return ArrayDataset("spec-only", torch.zeros((1, *shape), dtype=torch.uint8), DataSpec(shape, "image", num_classes))


# --------------------------------------------------------------------------- lucic2018


def test_lucic2018_plans_every_model_on_both_datasets_with_three_seeds():
    suite, runs = planned(LUCIC)
    assert set(suite.variants) == {"gan-mm", "gan-ns", "lsgan", "wgan", "wgan-gp", "dragan", "began", "vae"}
    assert suite.datasets == ["mnist", "fashion_mnist"]
    assert len(set(suite.seeds)) >= 3
    assert len(runs) == 8 * 2 * len(suite.seeds)
    assert len({r.run_dir for r in runs}) == len(runs)
    assert [p.name for p in resolve_references(suite.references, LUCIC)] == ["lucic2018_fid.csv"]


def test_lucic2018_follows_the_papers_protocol():
    _, runs = planned(LUCIC)
    for run in runs:
        cfg = run.resolved.cfg
        assert (cfg.arch, cfg.batch_size, cfg.z_dim, cfg.optim.name) == ("infogan", 64, 64, "adam"), run.name
        assert (run.resolved.net_opts.width, run.resolved.net_opts.fc_dim) == (64, 1024), run.name
        # 20 "epochs" of 50k images at batch 64 = 15,625 critic steps (compare_gan's TuneParams)
        assert run.resolved.budget.unit == "images" and run.resolved.budget.amount == 20 * 50_000
        assert cfg.optim.g_lr == cfg.optim.d_lr, run.name  # compare_gan: one learning rate
    runs_of = by_variant(runs, "mnist")
    assert runs_of["wgan"].resolved.model_opts.n_critic == 5 and runs_of["wgan"].resolved.model_opts.clip == 0.01
    assert runs_of["wgan-gp"].resolved.model_opts.n_critic == 5
    for name in ("gan-mm", "gan-ns", "lsgan", "wgan", "vae"):
        assert runs_of[name].resolved.net_opts.d_norm == "batch", name
    for name in ("wgan-gp", "dragan", "began"):
        assert runs_of[name].resolved.net_opts.d_norm == "none", name  # compare_gan: no batch norm in D
    assert runs_of["began"].resolved.model_opts.gamma == 0.75
    assert runs_of["began"].resolved.model_opts.code_dim == 64


def test_lucic2018_scale_gives_a_short_pass():
    _, runs = planned(LUCIC, scale=0.05)
    assert {r.resolved.cfg.budget for r in runs} == {"50000img"}
    assert Budget.parse("50000img").amount // 64 == 781


def test_lucic2018_nets_build_at_full_size():
    _, runs = planned(LUCIC)
    mnist = image_spec_dataset((1, 28, 28), 10)
    for name, run in by_variant(runs, "mnist").items():
        variant = build_variant(run.resolved, mnist, torch.device("cpu"))
        z = torch.randn(2, run.resolved.cfg.z_dim)
        assert variant.nets["G"](z).shape == (2, 1, 28, 28), name


# --------------------------------------------------------------------------- stacked_mnist


def test_stacked_mnist_plans_dcgan_and_the_others():
    suite, runs = planned(STACKED)
    assert suite.datasets == ["stacked_mnist"]
    assert "dcgan" in suite.variants and len(suite.variants) >= 8
    assert len(set(suite.seeds)) >= 3
    assert len(runs) == len(suite.variants) * len(suite.seeds)
    assert [p.name for p in resolve_references(suite.references, STACKED)] == ["stacked_mnist.csv"]


def test_stacked_mnist_follows_pacgan():
    _, runs = planned(STACKED)
    for run in runs:
        cfg = run.resolved.cfg
        assert (cfg.arch, cfg.batch_size, cfg.z_dim) == ("dcgan", 64, 100), run.name
        assert run.resolved.data_opts.num_examples == 128_000
        assert cfg.eval.num_samples == 26_000
        # PacGAN: 50 epochs of 128k images
        assert run.resolved.budget.unit == "images" and run.resolved.budget.amount == 50 * 128_000
    dcgan = by_variant(runs)["dcgan"].resolved.cfg.optim
    assert (dcgan.name, dcgan.g_lr, dcgan.d_lr, dcgan.beta1) == ("adam", 2e-4, 2e-4, 0.5)
    for name in ("wgan-gp", "dragan"):
        assert by_variant(runs)[name].resolved.net_opts.d_norm in ("layer", "none"), name


def test_stacked_mnist_scale_and_nets():
    _, runs = planned(STACKED, scale=0.05)
    assert {r.resolved.cfg.budget for r in runs} == {"320000img"}
    stacked = image_spec_dataset((3, 28, 28), 1000)
    for name, run in by_variant(runs).items():
        variant = build_variant(run.resolved, stacked, torch.device("cpu"))
        samples = torch.cat([s.x for s in variant.sample(3, seed=0)])
        assert samples.shape == (3, 3, 28, 28), name


@pytest.mark.parametrize("path", [LUCIC, STACKED], ids=["lucic2018", "stacked_mnist"])
def test_suite_text_names_its_sources(path: Path):
    suite = load_suite(path)
    assert suite.description and suite.notes
    assert suite.name == path.stem
