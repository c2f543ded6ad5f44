"""Age-cGAN on real UTKFace faces (32 px, tiny nets): the paper's six age groups, one CPU step that
moves G, D and E, the IcGAN conditioning of the nets, the identity-preserving optimisation, and a
CLI smoke run whose evaluation ages real faces."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_bench import losses
from gan_bench.config import ConfigError
from gan_bench.data.base import ArrayDataset, load_dataset
from gan_bench.data.utkface import age_to_bin
from gan_bench.registry import VARIANTS
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import build_variant
from gan_bench.variants.age_cgan import AgeCGAN, identity_preserving_latent
from gan_bench.variants.base import Sample

BATCH = 8
NUM = 64
DATA = ["data.age_bins=true", "data.image_size=32", f"data.num_examples={NUM}"]
TINY = ["arch=faces-dcgan", "net.width=8", "z_dim=16"]


@pytest.fixture(scope="module")
def faces() -> ArrayDataset:
    root = Path(os.environ["GAN_BENCH_DATA"])
    if not (root / "utkface").exists():
        pytest.skip(f"UTKFace not found under {root}; set GAN_BENCH_DATA")
    return load_dataset("utkface", options={"age_bins": True, "image_size": 32, "num_examples": NUM})


def build(dataset: ArrayDataset, *extra: str) -> AgeCGAN:
    resolved = resolve(flags={"variant": "age-cgan", "dataset": "utkface", "batch_size": BATCH},
                       overrides=[*DATA, *TINY, *extra])
    variant = build_variant(resolved, dataset, torch.device("cpu"))
    assert isinstance(variant, AgeCGAN)
    return variant


def test_the_papers_six_age_groups():
    ages = np.array([0, 18, 19, 29, 30, 39, 40, 49, 50, 59, 60, 90, 116])
    assert age_to_bin(ages).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5]


def test_registered_not_planned():
    entry = VARIANTS.entry("age-cgan")
    assert not entry.meta.get("planned") and entry.obj.conditional


def test_one_step_moves_g_d_and_e(faces: ArrayDataset):
    variant = build(faces)
    assert set(variant.nets) == {"G", "D", "E"}
    before = {k: p.detach().clone() for k, p in variant.nets.named_parameters()}
    out = {k: float(v) for k, v in variant.step([faces.batch(torch.arange(BATCH))]).items()}
    assert {"loss/d", "loss/g", "loss/e"} <= set(out)
    assert all(math.isfinite(v) for v in out.values()), out
    params = dict(variant.nets.named_parameters())
    for net in ("G", "D", "E"):
        keys = [k for k in params if k.startswith(net + ".")]
        assert any(not torch.equal(before[k], params[k].detach()) for k in keys), f"{net} did not move"
    assert variant.nets["E"](faces.batch(torch.arange(4))["x"]).shape == (4, variant.z_dim)
    sample = Sample.cat(variant.sample(12, seed=0, batch_size=5))
    assert sample.x.shape == (12, 3, 32, 32) and sample.x.abs().max() <= 1.0
    assert torch.equal(sample.y, torch.arange(12) % 6)  # balanced over the six age groups


def test_the_label_enters_g_and_ds_first_feature_maps(faces: ArrayDataset):
    variant = build(faces)
    G, D = variant.nets["G"].eval(), variant.nets["D"].eval()
    z, x = torch.randn(3, variant.z_dim), faces.batch(torch.arange(3))["x"]
    y0, y5 = torch.zeros(3, dtype=torch.long), torch.full((3,), 5)
    with torch.no_grad():
        assert not torch.allclose(G(z, y0), G(z, y5))
        assert not torch.allclose(D(x, y0), D(x, y5))
    assert type(D).__name__ == "FacesDiscriminator"
    assert D.first[0].in_channels == 3 and D.rest[0].in_channels == 8 + 6  # width + K label maps
    with pytest.raises(ValueError, match="pass y"):
        D(x)


def test_utkface_in_years_is_refused(faces: ArrayDataset):
    years = load_dataset("utkface", options={"image_size": 32, "num_examples": NUM})
    resolved = resolve(flags={"variant": "age-cgan", "dataset": "utkface"},
                       overrides=["data.image_size=32", f"data.num_examples={NUM}", *TINY])
    with pytest.raises(ConfigError, match="age_bins"):
        build_variant(resolved, years, torch.device("cpu"))


def calibrate_batch_norm(G: torch.nn.Module, z_dim: int) -> None:
    """Set G's batch-norm running statistics to those of one fixed batch of 64 latents."""
    gen = torch.Generator().manual_seed(0)
    z, y = torch.randn(64, z_dim, generator=gen), torch.arange(64) % 6
    for m in G.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # a cumulative average: after one batch, exactly its statistics
    G.train()
    with torch.no_grad():
        G(z, y)


@pytest.mark.parametrize("fr", ["classifier", "pixel"])
def test_identity_preserving_optimisation_reduces_the_fr_distance(faces: ArrayDataset, fr: str):
    variant = build(faces, f"model.fr={fr}")
    features, protocol = variant._face_recognition()
    assert protocol == {"classifier": "utkface-classifier", "pixel": "pixel-l2"}[fr]
    G = variant.nets["G"]
    calibrate_batch_norm(G, variant.z_dim)  # an untrained G in eval mode barely depends on z otherwise
    variant.nets.eval()
    batch = faces.batch(torch.arange(6))
    x, y = batch["x"], batch["y"]
    with torch.no_grad():
        z0 = variant.nets["E"](x)
    grads_before = [p.grad for p in G.parameters()]
    z_star = identity_preserving_latent(G, features, x, y, z0, steps=15, lr=0.05)
    again = identity_preserving_latent(G, features, x, y, z0, steps=15, lr=0.05)
    assert torch.equal(z_star, again)  # deterministic
    assert [p.grad for p in G.parameters()] == grads_before  # only z moved; no gradient left on G
    with torch.no_grad():
        target = features(x)
        before = losses.identity_distance(features(G(z0, y)), target)
        after = losses.identity_distance(features(G(z_star, y)), target)
    # an untrained G moves little, but every face must get closer to itself in FR space
    assert (after < before).all() and after.mean() < 0.995 * before.mean(), (before, after)


def test_cli_smoke_run_ages_real_faces(tmp_path: Path, data_root: Path):
    from gan_bench.cli import main

    out = tmp_path / "age"
    code = main(["train", "--variant", "age-cgan", "--dataset", "utkface", "--budget", "6steps", "--out", str(out),
                 "--no-progress", *DATA, *TINY, "batch_size=16", "eval.num_samples=24", "model.eval_faces=12",
                 "model.ip_steps=4", "log_every=3"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "done" and summary["arch"] == "faces-dcgan"
    metrics = summary["metrics"]
    for key in ("age_acc", "identity_dist_before", "identity_dist_after", "recon_identity_dist_before",
                "recon_identity_dist_after", "class_acc"):
        value = metrics[f"{key}[utkface-classifier]"]
        assert math.isfinite(value), (key, value)
    assert 0.0 <= metrics["age_acc[utkface-classifier]"] <= 1.0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    assert all(math.isfinite(r["loss/e"]) for r in rows if r["kind"] == "train")


def test_fake_labels_follow_the_training_groups_when_asked(faces: ArrayDataset):
    """model.fake_labels=data draws y' with the training set's group frequencies (so D cannot call a
    face fake from its label alone); the default stays uniform."""
    counts = torch.bincount(faces.y.long(), minlength=6).float()
    drawn = torch.bincount(build(faces, "model.fake_labels=data").labels(60_000), minlength=6).float()
    assert torch.allclose(drawn / drawn.sum(), counts / counts.sum(), atol=0.01)
    uniform = torch.bincount(build(faces).labels(60_000), minlength=6).float()
    assert torch.allclose(uniform / uniform.sum(), torch.full((6,), 1 / 6), atol=0.01)
    assert (counts / counts.sum() - 1 / 6).abs().max() > 0.05  # the groups are unbalanced: the test can fail
