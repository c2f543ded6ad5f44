"""StyleGAN2 on real CIFAR-10 images at a tiny width: one step with both lazy regularisers, the
lazy-regularisation correction of Adam, sampling from the EMA generator, truncation in W, exact
resume of the path-length mean, and a smoke run through the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from gan_bench.data.base import ArrayDataset
from gan_bench.train.checkpoint import load_checkpoint
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import Trainer, build_variant
from gan_bench.variants.stylegan2 import lazy_adam_factor

BATCH = 8
NUM_EXAMPLES = 64
SMALL = ["net.width=8", "net.mapping_layers=2", "z_dim=16", f"data.num_examples={NUM_EXAMPLES}"]


def build(cifar: ArrayDataset, *extra: str):
    resolved = resolve(flags={"variant": "stylegan2", "dataset": "cifar10", "batch_size": BATCH},
                       overrides=[*SMALL, *extra])
    return resolved, build_variant(resolved, cifar, torch.device("cpu"))


def batch(cifar: ArrayDataset, i: int = 0) -> list[dict[str, torch.Tensor]]:
    return [cifar.batch(torch.arange(i * BATCH, (i + 1) * BATCH) % NUM_EXAMPLES)]


def test_lazy_regularisation_corrects_adam(cifar: ArrayDataset):
    resolved, variant = build(cifar)
    assert resolved.cfg.arch == "stylegan2" and variant.num_classes == 0 and variant.gamma == 0.01  # ADA's CIFAR-10
    d, g = variant.optimizers["D"].param_groups[0], variant.optimizers["G"].param_groups[0]
    assert lazy_adam_factor(16) == 16 / 17 and lazy_adam_factor(1) == 1.0
    assert d["lr"] == pytest.approx(2e-3 * 16 / 17) and d["betas"] == pytest.approx((0.0, 0.99 ** (16 / 17)))
    assert g["lr"] == pytest.approx(2e-3 * 4 / 5) and g["betas"] == pytest.approx((0.0, 0.99 ** (4 / 5)))
    _, plain = build(cifar, "model.pl_weight=0", "model.r1_gamma=0")
    assert plain.optimizers["G"].param_groups[0]["lr"] == pytest.approx(2e-3)
    assert plain.optimizers["D"].param_groups[0]["betas"] == pytest.approx((0.0, 0.99))


def test_one_step_with_both_regularisers_moves_g_and_d(cifar: ArrayDataset):
    _, variant = build(cifar, "model.conditional=true")
    assert variant.num_classes == 10
    before = {k: p.detach().clone() for k, p in variant.nets.named_parameters()}
    w_avg = variant.nets["G"].mapping.w_avg.clone()
    variant.it = 0  # step 0 takes the R1 and the path-length phases
    out = variant.step(batch(cifar))
    assert {"loss/d", "loss/g", "penalty/r1", "penalty/pl", "pl/mean"} <= out.keys()
    assert all(math.isfinite(float(v)) for v in out.values()) and float(out["pl/mean"]) > 0
    for role in ("G", "D"):
        moved = [k for k, p in variant.nets.named_parameters()
                 if k.startswith(role + ".") and not torch.equal(before[k], p.detach())]
        assert moved, f"no parameter of {role} moved"
    assert not torch.equal(variant.nets["G"].mapping.w_avg, w_avg)  # w_avg tracks w
    variant.it = 1  # lazy: neither regulariser at step 1
    assert not {"penalty/r1", "penalty/pl"} & variant.step(batch(cifar, 1)).keys()


def test_sampling_uses_the_ema_generator(cifar: ArrayDataset):
    _, variant = build(cifar, "ema.decay=0.5")
    for it in range(2):
        variant.train_step(batch(cifar, it), it=it, progress=it / 2)
    x = next(variant.sample(6, seed=5)).x
    z = torch.randn(6, variant.z_dim, generator=torch.Generator().manual_seed(5))
    variant.nets.eval()
    with torch.no_grad():
        torch.testing.assert_close(x, variant.nets["G_ema"](z))
        assert not torch.allclose(x, variant.nets["G"](z), atol=1e-4)
    assert torch.equal(variant.nets["G_ema"].mapping.w_avg, variant.nets["G"].mapping.w_avg)  # a buffer: copied


def test_truncation_zero_is_the_image_of_w_avg(cifar: ArrayDataset):
    _, variant = build(cifar, "model.truncation=0", "ema.decay=0.5")
    variant.train_step(batch(cifar), it=0, progress=0.0)
    G = variant.nets["G_ema"]
    assert float(G.mapping.w_avg.abs().sum()) > 0
    x = next(variant.sample(4, seed=0)).x
    variant.nets.eval()
    with torch.no_grad():
        mean = G.synthesis(G.mapping.w_avg.view(1, 1, -1).expand(4, G.num_ws, -1)).clamp(-1, 1)
    torch.testing.assert_close(x, mean)
    _, plain = build(cifar, "ema.decay=0.5")
    plain.train_step(batch(cifar), it=0, progress=0.0)
    free = next(plain.sample(4, seed=0)).x
    assert not torch.allclose(free[0], free[1])


def _run(out: Path, budget: str, on_step=None) -> None:
    extra = [*SMALL, "batch_size=8", "model.r1_every=2", "model.pl_every=3", "checkpoint_every=3",
             "eval.num_samples=16", "log_every=1"]
    resolved = resolve(flags={"variant": "stylegan2", "dataset": "cifar10", "budget": budget}, overrides=extra)
    Trainer(resolved, out, progress=False, on_step=on_step).run()


def test_resume_is_exact_with_the_lazy_regularisers(tmp_path: Path, data_root: Path, interrupt_at):
    with pytest.raises(interrupt_at.error):
        _run(tmp_path / "a", "8steps", on_step=interrupt_at(4))  # last checkpoint at step 3
    _run(tmp_path / "a", "8steps")
    _run(tmp_path / "b", "8steps")
    a = load_checkpoint(tmp_path / "a" / "checkpoints" / "final.pt")
    b = load_checkpoint(tmp_path / "b" / "checkpoints" / "final.pt")
    assert a["extra"]["pl_mean"] > 0 and torch.equal(a["extra"]["pl_mean"], b["extra"]["pl_mean"])
    assert a["nets"].keys() == b["nets"].keys() and "G.mapping.w_avg" in a["nets"]
    assert all(torch.equal(a["nets"][k], b["nets"][k]) for k in a["nets"])


def test_two_steps_through_the_cli(tmp_path: Path, data_root: Path, run_cli):
    out = tmp_path / "stylegan2"
    code, stdout, stderr = run_cli(
        "train", "--variant", "stylegan2", "--dataset", "cifar10", "--budget", "2steps", "--out", out,
        "--no-progress", "net.width=8", "net.mapping_layers=2", "batch_size=16", "data.num_examples=256",
        "eval.num_samples=40", "log_every=1", "model.truncation=0.7",
    )
    assert code == 0, stdout + stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "done" and summary["arch"] == "stylegan2"
    assert summary["consumed"]["steps"] == 2 and summary["consumed"]["images"] == 32
    assert math.isfinite(summary["metrics"]["fid[cifar10-classifier]"])
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert "penalty/r1" in rows[0] and "penalty/pl" in rows[0] and "penalty/r1" not in rows[1]
