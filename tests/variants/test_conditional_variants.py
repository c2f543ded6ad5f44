"""cgan, acgan, infogan and f-gan: one step on the CPU (shapes, finite losses, every net moves),
sampling with conditions, a smoke run through ``gan-bench train``, and their registry entries.

Nets are tiny (``net.width=8``, batch 16, 512 MNIST images) so the file runs in seconds; the
f-gan divergences' 1,000-step ring8 runs are marked slow (``pytest -m slow``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from gan_bench import losses
from gan_bench.data.base import ArrayDataset, load_dataset
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import build_variant
from gan_bench.variants.base import Variant
from gan_bench.variants.conditional import LabelChannels

BATCH = 16
NUM_EXAMPLES = 512
SMALL = {"dcgan": ["net.width=8"], "infogan": ["net.width=8", "net.fc_dim=32"]}
CASES = [("cgan", "dcgan", ()), ("cgan", "dcgan", ("model.d_cond=projection",)), ("acgan", "dcgan", ()),
         ("acgan", "dcgan", ("model.fake_class_weight=0",)),
         ("infogan", "dcgan", ()), ("infogan", "infogan", ()), ("cgan", "infogan", ()), ("acgan", "infogan", ())]
CASES += [("f-gan", "dcgan", (f"model.divergence={d}",)) for d in losses.F_DIVERGENCES]
NEW = ["cgan", "acgan", "infogan", "f-gan"]


def build(name: str, arch: str, data: ArrayDataset, extra: tuple[str, ...] = ()) -> Variant:
    resolved = resolve(flags={"variant": name, "dataset": "mnist", "arch": arch, "batch_size": BATCH},
                       overrides=[f"data.num_examples={NUM_EXAMPLES}", *SMALL[arch], *extra])
    return build_variant(resolved, data, torch.device("cpu"))


@pytest.mark.parametrize("name,arch,extra", CASES, ids=[f"{n}-{a}-{'-'.join(e) or 'default'}" for n, a, e in CASES])
def test_one_step_moves_every_net(name: str, arch: str, extra: tuple[str, ...], mnist: ArrayDataset):
    variant = build(name, arch, mnist, extra)
    before = {k: p.detach().clone() for k, p in variant.nets.named_parameters()}
    batch = mnist.batch(torch.arange(BATCH))
    assert batch["y"].shape == (BATCH,)
    out = variant.step([batch])
    assert any(k.startswith("loss/") for k in out)
    for key, value in out.items():
        assert math.isfinite(float(value)), f"{name}: {key} = {value}"
    params = dict(variant.nets.named_parameters())
    for net in variant.nets:
        keys = [k for k in params if k.startswith(net + ".")]
        assert any(not torch.equal(before[k], params[k].detach()) for k in keys), f"{name}: net {net} did not move"
    samples = list(variant.sample(10, seed=0, batch_size=4, data=mnist))
    x = torch.cat([s.x for s in samples])
    assert x.shape == (10, 1, 28, 28) and torch.isfinite(x).all()
    again = torch.cat([s.x for s in variant.sample(10, seed=0, batch_size=10, data=mnist)])
    assert torch.allclose(x, again, atol=1e-5)  # batching never matters (labels and codes by position)
    if name in ("cgan", "acgan"):
        assert torch.equal(torch.cat([s.y for s in samples]), torch.arange(10) % 10)
    else:
        assert all(s.y is None for s in samples)  # codes are not labels: no class metrics


def test_conditional_generator_follows_its_label(mnist: ArrayDataset):
    """Two labels for one z give two different images (the label reaches G)."""
    variant = build("cgan", "dcgan", mnist)
    G = variant.nets["G"].eval()
    z = torch.randn(1, variant.z_dim).expand(2, -1)
    x = G(z, torch.tensor([0, 1]))
    assert not torch.allclose(x[0], x[1])


def test_label_channels_feed_the_one_hot_label_to_d():
    seen = {}

    class Probe(torch.nn.Module):
        def forward(self, h: torch.Tensor) -> torch.Tensor:
            seen["h"] = h
            return h.sum((1, 2, 3))[:, None]

    D = LabelChannels(Probe(), 10)
    D(torch.zeros(2, 1, 4, 4), torch.tensor([3, 7]))
    h = seen["h"]
    assert h.shape == (2, 11, 4, 4)
    assert torch.equal(h[0, 1 + 3], torch.ones(4, 4)) and h[0, 1:].sum() == 16
    assert torch.equal(h[1, 1 + 7], torch.ones(4, 4)) and h[1, 1:].sum() == 16
    with pytest.raises(ValueError, match="pass y"):
        D(torch.zeros(2, 1, 4, 4))


def test_acgan_discriminator_has_source_and_class_outputs(mnist: ArrayDataset):
    variant = build("acgan", "dcgan", mnist)
    assert variant.nets["D"](mnist.batch(torch.arange(4))["x"]).shape == (4, 11)


def test_conditional_variant_refuses_unlabelled_data():
    from gan_bench.config import ConfigError

    ring = load_dataset("ring8", options={"num_points": 64})
    resolved = resolve(flags={"variant": "cgan", "dataset": "ring8"}, overrides=["data.num_points=64"])
    with pytest.raises(ConfigError, match="labelled"):
        build_variant(resolved, ring, torch.device("cpu"))


def test_infogan_codes_and_code_accuracy(mnist: ArrayDataset):
    variant = build("infogan", "dcgan", mnist, ("model.eval_per_code=5",))
    Q = variant.nets["Q"]
    assert Q.net[-1].out_features == 10 + 2
    cat, cont = variant.codes(1000)
    assert cat.min() == 0 and cat.max() == 9 and cont.shape == (1000, 2)
    assert cont.min() >= -1 and cont.max() <= 1 and cont.abs().max() > 0.9
    scores = variant.own_metrics()
    assert set(scores) == {"code_acc[mnist-classifier]"}
    assert 0.0 <= scores["code_acc[mnist-classifier]"] <= 1.0
    assert variant.nets.training  # own_metrics restores train mode


def test_smoke_runs_through_the_cli(tmp_path: Path, run_cli):
    for name, extra in [("cgan", []), ("acgan", []), ("infogan", ["model.eval_per_code=5"]),
                        ("f-gan", ["model.divergence=kl"])]:
        out = tmp_path / name
        code, _, err = run_cli("train", "--variant", name, "--dataset", "mnist", "--budget", "4steps", "--seed", "0",
                               "--out", out, "--no-progress", "net.width=8", "batch_size=16",
                               f"data.num_examples={NUM_EXAMPLES}", "eval.num_samples=40", *extra)
        assert code == 0, err
        summary = json.loads((out / "summary.json").read_text())
        assert summary["status"] == "done"
        keys = set(summary["metrics"])
        assert ("class_acc[mnist-classifier]" in keys) == (name in ("cgan", "acgan")), (name, keys)
        assert ("code_acc[mnist-classifier]" in keys) == (name == "infogan"), (name, keys)


def test_list_shows_none_of_them_as_planned(run_cli):
    code, out, _ = run_cli("list", "--json")
    assert code == 0
    listed = json.loads(out)
    text = json.dumps(listed)
    assert all(f'"{n}"' in text for n in NEW)
    planned = {e.name for e in __import__("gan_bench.registry", fromlist=["VARIANTS"]).VARIANTS if e.meta.get("planned")}
    assert not planned & set(NEW)


@pytest.mark.slow
@pytest.mark.parametrize("divergence", losses.F_DIVERGENCES)
def test_every_f_divergence_trains_on_ring8(divergence: str, tmp_path: Path, run_cli):
    """1,000 steps on ring8 at the defaults: no divergence, and samples gather near the ring."""
    out = tmp_path / divergence
    code, _, err = run_cli("train", "--variant", "f-gan", "--dataset", "ring8", "--budget", "1000steps", "--seed", "0",
                           "--out", out, "--no-progress", f"model.divergence={divergence}")
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "done", summary["status"]
    print(f"f-gan {divergence} ring8:", {k: round(v, 3) for k, v in summary["metrics"].items()})  # shown with -s
    assert summary["metrics"]["modes"] >= 1
