"""Every implemented variant on real MNIST images: one step on the CPU, and 20 steps through the CLI.

The variants are the same registry entries as on the 2-D mixtures; only the architecture changes:
``dcgan`` for all of them and, for the variants of Lucic et al. 2018, the ``infogan`` arch too.
Nets are kept narrow (``net.width``, ``net.fc_dim``) so the whole file runs in well under a minute.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from gan_bench.data.base import ArrayDataset
from gan_bench.registry import VARIANTS
from gan_bench.train.resolve import ResolvedRun, resolve
from gan_bench.train.trainer import build_variant
from gan_bench.variants.base import Variant

# Variants of unconditional or labelled images; those that declare other data (super-resolution
# pairs) have their own tests.
IMPLEMENTED = [e.name for e in VARIANTS if not e.meta.get("planned") and not e.meta.get("requires_data")]
# The models of "Are GANs Created Equal?" (baselines/lucic2018.yaml), run on its InfoGAN-style nets.
LUCIC = ["gan-mm", "gan-ns", "lsgan", "wgan", "wgan-gp", "dragan", "began", "vae"]
GRADIENT_PENALTY = ["wgan-gp", "dragan"]
SMALL_NETS = {"dcgan": ["net.width=8"], "infogan": ["net.width=8", "net.fc_dim=32"]}
BATCH = 8
NUM_EXAMPLES = 64
CASES = [(v, "dcgan") for v in IMPLEMENTED] + [(v, "infogan") for v in LUCIC if v in IMPLEMENTED]


def build(name: str, arch: str, dataset: ArrayDataset, extra: tuple[str, ...] = ()) -> tuple[ResolvedRun, Variant]:
    resolved = resolve(flags={"variant": name, "dataset": "mnist", "arch": arch, "batch_size": BATCH},
                       overrides=[f"data.num_examples={NUM_EXAMPLES}", *SMALL_NETS[arch], *extra])
    return resolved, build_variant(resolved, dataset, torch.device("cpu"))


def test_every_lucic_variant_is_implemented():
    assert set(LUCIC) <= set(IMPLEMENTED)
    assert {"dcgan", "ebgan", "gman", "mad-gan"} <= set(IMPLEMENTED)


@pytest.mark.parametrize("name,arch", CASES, ids=[f"{v}-{a}" for v, a in CASES])
def test_one_step_on_mnist_moves_every_net(name: str, arch: str, mnist: ArrayDataset):
    resolved, variant = build(name, arch, mnist)
    assert resolved.cfg.arch == arch
    before = {k: p.detach().clone() for k, p in variant.nets.named_parameters()}
    n_real = resolved.variant.obj.real_batches(resolved.model_opts)
    batches = [mnist.batch(torch.arange(i * BATCH, (i + 1) * BATCH) % NUM_EXAMPLES) for i in range(n_real)]
    assert batches[0]["x"].shape == (BATCH, 1, 28, 28)
    out = variant.step(batches)

    assert any(k.startswith("loss/") for k in out), f"{name}: no loss logged: {sorted(out)}"
    for key, value in out.items():
        assert math.isfinite(float(value)), f"{name}/{arch}: {key} = {value}"
    params = dict(variant.nets.named_parameters())
    for net in variant.nets:
        if net.endswith(("_ema", "_avg")):  # averaged copies (EMA generators, Triple-GAN's averaged C) move by averaging
            continue
        keys = [k for k, p in params.items() if k.startswith(net + ".") and p.requires_grad]
        assert keys, f"{name}/{arch}: net {net!r} has no trainable parameters"
        moved = [k for k in keys if not torch.equal(before[k], params[k].detach())]
        assert moved, f"{name}/{arch}: no parameter of net {net!r} changed in one step"
    if name == "wgan":  # Arjovsky et al.: RMSProp, and every critic weight clipped after its step
        assert all(isinstance(o, torch.optim.RMSprop) for o in variant.optimizers.values())
        clip = resolved.model_opts.clip
        assert all(p.abs().max() <= clip for p in variant.nets["D"].parameters())

    samples = torch.cat([s.x for s in variant.sample(10, seed=0, batch_size=4)])
    assert samples.shape == (10, 1, 28, 28)
    assert torch.isfinite(samples).all() and samples.min() >= -1.0 and samples.max() <= 1.0  # tanh output
    again = torch.cat([s.x for s in variant.sample(10, seed=0, batch_size=10)])
    assert torch.allclose(samples, again, atol=1e-5)  # fixed z, eval-mode nets: batching does not matter


def _critic_gradients(critic: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x)
    return grad


def _gradient_is_per_example(critic: torch.nn.Module, x: torch.Tensor) -> bool:
    """Whether d D(x_0) / d x_0 is unaffected by the other examples of the batch.

    The gradient penalties of WGAN-GP and DRAGAN are per-example terms, which batch norm in the
    critic breaks (Gulrajani et al. 2017, section 4); layer norm or no norm keeps them valid.
    """
    critic.train()
    first = _critic_gradients(critic, x)[0]
    others = x.clone()
    others[1:] = torch.flip(x[1:], dims=[0]) * 0.5
    return torch.allclose(first, _critic_gradients(critic, others)[0], atol=1e-6)


@pytest.mark.parametrize("arch", ["dcgan", "infogan"])
@pytest.mark.parametrize("name", GRADIENT_PENALTY)
@pytest.mark.parametrize("d_norm", ["layer", "none"])
def test_penalised_critic_is_per_example_with_layer_or_no_norm(name: str, arch: str, d_norm: str, mnist: ArrayDataset):
    _, variant = build(name, arch, mnist, extra=(f"net.d_norm={d_norm}",))
    x = mnist.batch(torch.arange(BATCH))["x"]
    assert _gradient_is_per_example(variant.nets["D"], x)


@pytest.mark.parametrize("arch", ["dcgan", "infogan"])
@pytest.mark.parametrize("name", GRADIENT_PENALTY)
def test_penalised_critic_defaults_to_a_per_example_norm(name: str, arch: str, mnist: ArrayDataset):
    _, variant = build(name, arch, mnist)
    x = mnist.batch(torch.arange(BATCH))["x"]
    assert _gradient_is_per_example(variant.nets["D"], x)


# --------------------------------------------------------------------------- 20 steps through the CLI

# What each variant must log besides loss/* (the "convergence measure logged", the pull-away term, ...).
EXTRA_KEYS: dict[str, tuple[str, ...]] = {
    "began": ("began/k", "began/convergence"),
    "ebgan": ("penalty/pt",),
    "wgan-gp": ("penalty/gp",),
    "dragan": ("penalty/dragan",),
    "vae": ("vae/nll", "vae/kl"),
}


def _rows(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("name", IMPLEMENTED)
def test_twenty_steps_through_the_cli(name: str, tmp_path: Path, data_root: Path, run_cli):
    out = tmp_path / name
    code, stdout, stderr = run_cli(
        "train", "--variant", name, "--dataset", "mnist", "--arch", "dcgan", "--budget", "20steps", "--out", out,
        "--no-progress",
        "data.num_examples=512", "eval.num_samples=64", "batch_size=16", "log_every=5", *SMALL_NETS["dcgan"],
    )
    assert code == 0, stdout + stderr
    assert (out / "status").read_text().strip() == "done"
    summary = json.loads((out / "summary.json").read_text())
    n_real = VARIANTS.get(name).real_batches(VARIANTS.get(name).Options())
    assert summary["arch"] == "dcgan" and summary["status"] == "done"
    assert summary["consumed"]["steps"] == 20
    assert summary["consumed"]["images"] == 20 * 16 * n_real

    train = [r for r in _rows(out) if r["kind"] == "train"]
    assert [r["step"] for r in train] == [5, 10, 15, 20]
    for row in train:
        losses = {k: v for k, v in row.items() if k.startswith("loss/")}
        assert losses and all(math.isfinite(v) for v in losses.values()), row
        for key in EXTRA_KEYS.get(name, ()):
            assert key in row and math.isfinite(row[key]), f"{name}: {key} not logged in {row}"
    if name == "began":
        assert all(0.0 <= r["began/k"] <= 1.0 for r in train)

    with np.load(out / "samples" / "final.npz") as npz:
        x = npz["x"]
    assert x.shape == (64, 28, 28, 1) and x.dtype == np.uint8
    assert (out / "checkpoints" / "final.pt").exists()


def test_mad_gan_shares_all_but_the_last_layer_on_an_image_architecture(mnist: ArrayDataset):
    _, shared = build("mad-gan", "dcgan", mnist)
    g0, g1 = shared.nets["G"][0].net, shared.nets["G"][1].net
    convs = [i for i, m in enumerate(g0) if isinstance(m, torch.nn.ConvTranspose2d)]
    assert all(g1[i] is g0[i] for i in convs[:-1]) and g1[convs[-1]] is not g0[convs[-1]]
    _, independent = build("mad-gan", "dcgan", mnist, ("model.share_layers=false",))
    assert independent.nets["G"][1].net[0] is not independent.nets["G"][0].net[0]
    assert sum(p.numel() for p in shared.nets["G"].parameters()) < sum(
        p.numel() for p in independent.nets["G"].parameters())
