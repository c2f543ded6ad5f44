"""The structured variants (CoGAN, LAPGAN, StackGAN) on real data: one CPU step each (shapes, finite
losses, every net moves), their building blocks (pyramid, domain transforms, pair metric), a CLI
smoke run each, and StackGAN's embedding-file errors. Tiny nets, so the file runs in seconds."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_bench.config import ConfigError
from gan_bench.data.base import ArrayDataset, load_dataset
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import build_variant
from gan_bench.variants.base import Sample, Variant
from gan_bench.variants.coupled import edges, negative, pixel_agreement
from gan_bench.variants.pyramid import laplacian_pyramid, reconstruct

BATCH = 8
NUM = 64
TINY = {"cogan": ["net.width=8"], "lapgan": ["net.width=8", "model.hidden=64"],
        "stackgan": ["net.width=8", "model.c_dim=8", "z_dim=24"]}
DATASET = {"cogan": "mnist", "lapgan": "cifar10", "stackgan": "cifar10"}


@pytest.fixture(scope="module")
def datasets() -> dict[str, ArrayDataset]:
    root = Path(os.environ["GAN_BENCH_DATA"])
    if not (root / "mnist").exists() or not (root / "cifar10").exists():
        pytest.skip(f"MNIST / CIFAR-10 not found under {root}; set GAN_BENCH_DATA")
    return {name: load_dataset(name, options={"num_examples": NUM}) for name in ("mnist", "cifar10")}


def build(name: str, dataset: ArrayDataset, *extra: str) -> Variant:
    resolved = resolve(flags={"variant": name, "dataset": dataset.name, "batch_size": BATCH},
                       overrides=[f"data.num_examples={NUM}", *TINY[name], *extra])
    return build_variant(resolved, dataset, torch.device("cpu"))


def one_step(variant: Variant, dataset: ArrayDataset) -> dict[str, float]:
    before = {k: p.detach().clone() for k, p in variant.nets.named_parameters()}
    out = {k: float(v) for k, v in variant.step([dataset.batch(torch.arange(BATCH))]).items()}
    assert {"loss/d", "loss/g"} <= set(out)
    assert all(math.isfinite(v) for v in out.values()), out
    params = dict(variant.nets.named_parameters())
    for net in variant.nets:
        keys = [k for k in params if k.startswith(net + ".")]
        assert keys and any(not torch.equal(before[k], params[k].detach()) for k in keys), f"{net} did not move"
    return out


@pytest.mark.parametrize("name", ["cogan", "lapgan", "stackgan"])
def test_one_step_moves_every_net_and_samples_have_the_data_shape(name: str, datasets):
    data = datasets[DATASET[name]]
    variant = build(name, data)
    one_step(variant, data)
    sample = Sample.cat(variant.sample(10, seed=0, batch_size=4))
    assert sample.x.shape == (10, *data.spec.shape)
    assert torch.isfinite(sample.x).all() and sample.x.abs().max() <= 1.0
    again = Sample.cat(variant.sample(10, seed=0, batch_size=10))
    assert torch.allclose(sample.x, again.x, atol=1e-5)  # a function of the fixed z, whatever the batching
    if name == "stackgan":
        assert torch.equal(sample.y, torch.arange(10) % 10)  # balanced labels
    if name == "cogan":
        assert sample.pair is not None and sample.pair.shape == sample.x.shape


def test_cogan_shares_the_generator_trunk_and_the_discriminator_tail(datasets):
    variant = build("cogan", datasets["mnist"])
    G, D = variant.nets["G"], variant.nets["D"]
    # one set of shared weights: a change to the trunk changes both domains' outputs
    z = torch.randn(4, variant.z_dim)
    G.eval()
    a0, b0 = G(z)
    with torch.no_grad():
        next(G.shared.parameters()).mul_(2.0)
    a1, b1 = G(z)
    assert not torch.allclose(a0, a1) and not torch.allclose(b0, b1)
    assert not any(p is q for p in G.head_a.parameters() for q in G.head_b.parameters())
    assert len(list(D.head_a.parameters())) > 0 and len(list(D.shared.parameters())) > 0


def test_cogan_without_sharing_is_two_independent_gans(datasets):
    """g_unshared / d_unshared = every block: the paper's no-sharing baseline; anything more is refused."""
    variant = build("cogan", datasets["mnist"], "model.g_unshared=3", "model.d_unshared=3")
    G, D = variant.nets["G"], variant.nets["D"]
    assert not list(G.shared.parameters()) and not list(D.shared.parameters())
    z = torch.randn(4, variant.z_dim)
    G.eval()
    a0, b0 = G(z)
    with torch.no_grad():
        next(G.head_a.parameters()).mul_(2.0)  # domain A's generator alone: domain B is untouched
    a1, b1 = G(z)
    assert not torch.allclose(a0, a1) and torch.equal(b0, b1)
    one_step(variant, datasets["mnist"])
    with pytest.raises(ConfigError, match="g_unshared must be in 1..3"):
        build("cogan", datasets["mnist"], "model.g_unshared=4")


def test_cogan_pair_metric_scores_the_transform():
    x = torch.rand(6, 1, 28, 28) * 2 - 1
    assert torch.allclose(pixel_agreement(x, negative(x), "negative"), torch.ones(6))
    assert pixel_agreement(x, x, "negative").max() < 0.1  # x is its own negative nowhere (almost)
    e = edges(x)
    assert e.shape == x.shape and e.min() >= -1 and e.max() <= 1
    flat = -torch.ones(1, 1, 8, 8)
    assert torch.equal(edges(flat), flat)  # no edges in a flat image


def test_cogan_own_metrics(datasets):
    variant = build("cogan", datasets["mnist"], "model.domain_b=edges")
    scores = variant.own_metrics()
    assert set(scores) == {"pair_consistency", "pair_l1"}
    assert 0.0 <= scores["pair_consistency"] <= 1.0 and scores["pair_l1"] >= 0.0


def test_laplacian_pyramid_reconstructs_exactly(datasets):
    x = datasets["cifar10"].batch(torch.arange(4))["x"]
    lows, residuals = laplacian_pyramid(x, 3)
    assert [t.shape[-1] for t in lows] == [32, 16, 8] and [t.shape[-1] for t in residuals] == [32, 16]
    assert torch.allclose(reconstruct(lows[-1], residuals), x, atol=1e-5)


def test_lapgan_levels_and_roles(datasets):
    variant = build("lapgan", datasets["cifar10"])
    assert {"G0", "D0", "G1", "D1", "G2", "D2"} == set(variant.nets)
    assert variant.sides == [8, 16, 32]
    with pytest.raises(ConfigError, match="z_dim"):
        build("lapgan", datasets["cifar10"], "z_dim=32", "model.noise_dim=16")


@pytest.mark.parametrize("stage", ["1", "2"])
def test_stackgan_single_stage_trains_only_its_nets(stage: str, datasets, tmp_path: Path):
    from gan_bench.train.checkpoint import FINAL, save_checkpoint

    data = datasets["cifar10"]
    extra = []
    if stage == "2":  # stage II starts from a finished stage-I run's G1 and D1
        with pytest.raises(ConfigError, match="model.init_from"):
            build("stackgan", data, "model.stage=2")
        first = build("stackgan", data, "model.stage=1")
        first.step([data.batch(torch.arange(BATCH))])
        save_checkpoint(tmp_path / "checkpoints" / FINAL, {"nets": first.nets.state_dict()})
        extra = [f"model.init_from={tmp_path}"]
    variant = build("stackgan", data, f"model.stage={stage}", *extra)
    if stage == "2":
        for key, value in first.nets["G1"].state_dict().items():
            assert torch.equal(variant.nets["G1"].state_dict()[key], value), key
    before = {k: p.detach().clone() for k, p in variant.nets.named_parameters()}
    variant.step([data.batch(torch.arange(BATCH))])
    moved = {k.split(".")[0] for k, p in variant.nets.named_parameters() if not torch.equal(before[k], p.detach())}
    assert moved == ({"G1", "D1"} if stage == "1" else {"G2", "D2"})
    assert Sample.cat(variant.sample(4, seed=0)).x.shape == (4, 3, 32, 32)


def test_stackgan_refuses_an_unknown_stage(datasets):
    with pytest.raises(ConfigError, match="model.stage"):
        build("stackgan", datasets["cifar10"], "model.stage=3")


def test_stackgan_reads_a_users_embedding_file(tmp_path: Path, datasets):
    data = datasets["cifar10"]
    path = tmp_path / "emb.npz"
    np.savez(path, embeddings=np.random.default_rng(0).normal(size=(NUM, 5)).astype(np.float32))
    variant = build("stackgan", data, f"model.embeddings={path}")
    one_step(variant, data)
    # the condition of each real image is its own row's embedding (the batch carries its rows)
    rows = torch.tensor([5, 3, 60])
    batch = data.batch(rows)
    assert torch.equal(variant.phi(batch.get("y"), batch["index"]), variant.embeddings[rows])
    sample = Sample.cat(variant.sample(6, seed=0))
    assert sample.x.shape == (6, 3, 32, 32) and torch.equal(sample.y, data.y[:6].long())


@pytest.mark.parametrize("content,match", [
    (None, "not found"),
    ({"vectors": np.zeros((NUM, 4))}, "has no key 'embeddings'"),
    ({"embeddings": np.zeros((NUM - 1, 4))}, r"shape \(63, 4\)"),
    ({"embeddings": np.zeros(NUM)}, r"shape \(64,\)"),
    ("garbage", "not a readable .npz"),
])
def test_stackgan_embedding_file_errors_are_one_clear_line(content, match: str, tmp_path: Path, datasets):
    path = tmp_path / "emb.npz"
    if isinstance(content, dict):
        np.savez(path, **content)
    elif content == "garbage":
        path.write_text("not an npz")
    with pytest.raises(ConfigError, match=match) as info:
        build("stackgan", datasets["cifar10"], f"model.embeddings={path}")
    message = str(info.value)
    assert "\n" not in message and str(path) in message and "'embeddings'" in message


@pytest.mark.parametrize("name", ["cogan", "lapgan", "stackgan"])
def test_smoke_run_through_the_cli(name: str, tmp_path: Path, data_root: Path, run_cli):
    out = tmp_path / name
    code, stdout, stderr = run_cli(
        "train", "--variant", name, "--dataset", DATASET[name], "--budget", "4steps", "--out", out, "--no-progress",
        "--data-root", data_root, f"data.num_examples={NUM}", "eval.num_samples=32", "batch_size=8", "log_every=2",
        *TINY[name],
    )
    assert code == 0, stdout + stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "done" and summary["consumed"]["steps"] == 4
    metrics = summary["metrics"]
    column = "fid[mnist-classifier]" if name == "cogan" else "fid[cifar10-classifier]"
    assert math.isfinite(metrics[column])
    if name == "cogan":
        assert 0.0 <= metrics["pair_consistency"] <= 1.0
    with np.load(out / "samples" / "final.npz") as npz:
        side = 28 if name == "cogan" else 32
        assert npz["x"].shape[1:3] == (side, side)
