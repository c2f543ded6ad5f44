"""BigGAN on real CIFAR-10 images at a tiny width: one step (4 D steps, hinge, orthogonal reg.),
sampling from the EMA generator, the truncation trick, and a smoke run through the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from gan_bench.data.base import ArrayDataset
from gan_bench.penalties import orthogonal_regularization
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import build_variant
from gan_bench.variants.biggan import orthogonal_weights, truncated_normal

BATCH = 8
NUM_EXAMPLES = 64
SMALL = ["net.width=4", "z_dim=32", f"data.num_examples={NUM_EXAMPLES}"]


def build(cifar: ArrayDataset, *extra: str):
    resolved = resolve(flags={"variant": "biggan", "dataset": "cifar10", "batch_size": BATCH},
                       overrides=[*SMALL, *extra])
    return resolved, build_variant(resolved, cifar, torch.device("cpu"))


def batches(cifar: ArrayDataset, n: int) -> list[dict[str, torch.Tensor]]:
    return [cifar.batch(torch.arange(i * BATCH, (i + 1) * BATCH) % NUM_EXAMPLES) for i in range(n)]


def test_defaults_are_studiogans_cifar10_config(cifar: ArrayDataset):
    resolved, variant = build(cifar)
    cfg = resolved.cfg
    assert cfg.arch == "biggan" and variant.num_classes == 10
    assert (cfg.optim.g_lr, cfg.optim.d_lr, cfg.optim.beta1, cfg.optim.beta2) == (2e-4, 2e-4, 0.0, 0.999)
    assert (cfg.ema.decay, cfg.ema.start) == (0.9999, 1000) and "G_ema" in variant.nets
    assert variant.real_batches(resolved.model_opts) == 4 and resolved.model_opts.ortho_weight == 1e-4


def test_one_step_moves_g_and_d_with_finite_losses(cifar: ArrayDataset):
    _, variant = build(cifar)
    before = {k: p.detach().clone() for k, p in variant.nets.named_parameters()}
    out = variant.step(batches(cifar, 4))
    assert {"loss/d", "loss/g", "penalty/ortho"} <= out.keys()
    assert all(math.isfinite(float(v)) for v in out.values())
    assert float(out["penalty/ortho"]) > 0
    for role in ("G", "D"):
        moved = [k for k, p in variant.nets.named_parameters()
                 if k.startswith(role + ".") and not torch.equal(before[k], p.detach())]
        assert moved, f"no parameter of {role} moved"


def test_orthogonal_regularization_is_the_off_diagonal_gram_norm():
    q = torch.linalg.qr(torch.randn(6, 6))[0][:4]  # orthonormal rows
    assert float(orthogonal_regularization([q * 3.0])) == pytest.approx(0.0, abs=1e-8)  # norms are free
    w = torch.randn(3, 2, 2, 2)
    rows = w.flatten(1)
    gram = rows @ rows.t()
    expected = sum(float(gram[i, j]) ** 2 for i in range(3) for j in range(3) if i != j)
    assert float(orthogonal_regularization([w])) == pytest.approx(expected, rel=1e-5)


def test_orthogonal_weights_skip_embeddings_and_biases(cifar: ArrayDataset):
    _, variant = build(cifar)
    weights = orthogonal_weights(variant.nets["G"])
    ids = {id(p) for p in weights}
    assert weights and all(p.dim() >= 2 for p in weights)
    assert id(variant.nets["G"].shared.weight) not in ids
    assert id(variant.nets["G"].blocks[0].c1.parametrizations.weight.original) in ids


def test_sampling_uses_the_ema_generator(cifar: ArrayDataset):
    _, variant = build(cifar, "ema.decay=0.5", "ema.start=0")
    variant.train_step(batches(cifar, 4), it=0, progress=0.0)
    variant.train_step(batches(cifar, 4), it=1, progress=0.5)
    sample = next(variant.sample(20, seed=3, batch_size=20))
    z = torch.randn(20, variant.z_dim, generator=torch.Generator().manual_seed(3))
    y = torch.arange(20) % 10
    assert torch.equal(sample.y, y)
    variant.nets.eval()
    with torch.no_grad():
        torch.testing.assert_close(sample.x, variant.nets["G_ema"](z, y))
        assert not torch.allclose(sample.x, variant.nets["G"](z, y), atol=1e-4)


def test_truncation_zero_is_the_mean_image_per_class(cifar: ArrayDataset):
    _, variant = build(cifar, "model.truncation=0", "ema.decay=0.5", "ema.start=0")
    variant.train_step(batches(cifar, 4), it=0, progress=0.0)
    x = next(variant.sample(20, seed=0)).x
    torch.testing.assert_close(x[:10], x[10:])  # the same image for every z of a class
    variant.nets.eval()
    with torch.no_grad():
        torch.testing.assert_close(x[:10], variant.nets["G_ema"](torch.zeros(10, variant.z_dim), torch.arange(10)))
    assert not torch.allclose(x[0], x[1])  # ... and one per class
    _, plain = build(cifar, "ema.decay=0.5", "ema.start=0")
    plain.train_step(batches(cifar, 4), it=0, progress=0.0)
    free = next(plain.sample(20, seed=0)).x
    assert not torch.allclose(free[:10], free[10:])


@pytest.mark.parametrize("t", [0.5, 1.0, 2.0])
def test_truncated_normal_has_the_truncated_distribution(t: float):
    z = torch.randn(200_000, generator=torch.Generator().manual_seed(0))
    out = truncated_normal(z, t)
    assert out.abs().max() <= t
    normal = torch.distributions.Normal(0.0, 1.0)
    alpha = float(torch.exp(normal.log_prob(torch.tensor(t))))
    mass = 2 * float(normal.cdf(torch.tensor(t))) - 1
    var = 1 - 2 * t * alpha / mass  # variance of N(0, 1) truncated to [-t, t]
    assert float(out.var()) == pytest.approx(var, rel=0.02)
    assert torch.equal(truncated_normal(z[:10], t), out[:10])  # elementwise: batching does not matter
    assert torch.equal(truncated_normal(z, 0.0), torch.zeros_like(z))


def test_two_steps_through_the_cli(tmp_path: Path, data_root: Path, run_cli):
    out = tmp_path / "biggan"
    code, stdout, stderr = run_cli(
        "train", "--variant", "biggan", "--dataset", "cifar10", "--budget", "2steps", "--out", out, "--no-progress",
        "net.width=8", "batch_size=16", "data.num_examples=256", "eval.num_samples=40", "log_every=1",
        "model.truncation=1.0",
    )
    assert code == 0, stdout + stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "done" and summary["arch"] == "biggan"
    assert summary["consumed"] == {"steps": 2, "images": 2 * 4 * 16, "seconds": summary["consumed"]["seconds"]}
    assert math.isfinite(summary["metrics"]["fid[cifar10-classifier]"])
    assert "class_acc[cifar10-classifier]" in summary["metrics"]  # class-conditional samples were scored
