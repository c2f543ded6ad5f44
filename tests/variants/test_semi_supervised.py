"""Semi-supervised variants (improved-gan, triple-gan) on real MNIST: the labelled subset, one step
of each, a smoke run through the CLI, and an interrupted triple-gan run resumed bitwise.

Nets are the paper's semi-mlp at ``net.width=16`` (16-8-4-4-4 D, 8-8 G) on a 512-image subset;
Triple-GAN's CNN classifier at ``model.classifier_width=4``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from gan_bench.config import ConfigError
from gan_bench.data.base import ArrayDataset, DataSpec
from gan_bench.registry import VARIANTS
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import Trainer, build_variant
from gan_bench.variants.base import Variant
from gan_bench.variants.semi_supervised import LabelledSubset, labelled_index

NUM_EXAMPLES = 512
BATCH = 16
SMALL = ["arch=semi-mlp", f"data.num_examples={NUM_EXAMPLES}", "net.width=16", "z_dim=8", "model.labels_per_class=3"]
VARIANT_NAMES = ["improved-gan", "triple-gan"]
OWN = {"improved-gan": [], "triple-gan": ["model.classifier_width=4"]}  # each variant's small options


def build(name: str, dataset: ArrayDataset, extra: tuple[str, ...] = ()) -> Variant:
    resolved = resolve(flags={"variant": name, "dataset": "mnist", "batch_size": BATCH},
                       overrides=[*SMALL, *OWN[name], *extra])
    return build_variant(resolved, dataset, torch.device("cpu"))


# ------------------------------------------------------------------ the labelled subset


def test_labelled_subset_is_balanced_and_deterministic(mnist: ArrayDataset):
    index = labelled_index(mnist.y, 5, 10, seed=0)
    assert index.numel() == 50 and index.unique().numel() == 50
    assert torch.bincount(mnist.y[index], minlength=10).tolist() == [5] * 10
    assert torch.equal(index, labelled_index(mnist.y, 5, 10, seed=0))
    assert not torch.equal(index, labelled_index(mnist.y, 5, 10, seed=1))  # the seed chooses them
    # More labels per class extend, not reshuffle, the subset (one permutation, first of each class).
    assert set(index.tolist()) <= set(labelled_index(mnist.y, 7, 10, seed=0).tolist())


def test_labelled_batches_stay_in_the_subset_and_follow_the_generator(mnist: ArrayDataset):
    subset = LabelledSubset(mnist, 3, seed=0)
    assert len(subset) == 30
    batch = subset.batch(40, torch.Generator().manual_seed(5))
    assert batch["x"].shape == (40, 1, 28, 28) and batch["y"].shape == (40,)
    rows = (mnist.x[subset.index].float().div(127.5).sub(1.0)).flatten(1)
    match = (batch["x"].flatten(1)[:, None, :] == rows[None]).all(2)
    assert match.any(1).all(), "a labelled batch drew an example outside the subset"
    assert torch.equal(mnist.y[subset.index][match.float().argmax(1)], batch["y"])
    again = subset.batch(40, torch.Generator().manual_seed(5))
    assert torch.equal(batch["x"], again["x"])


def test_unlabelled_data_is_refused():
    data = ArrayDataset("blank", torch.zeros(4, 1, 28, 28, dtype=torch.uint8), DataSpec((1, 28, 28), "image"))
    with pytest.raises(ConfigError, match="labelled"):
        LabelledSubset(data, 10)


def test_semi_supervised_variants_are_registered_not_planned():
    for name in VARIANT_NAMES:
        entry = VARIANTS.entry(name)
        assert not entry.meta.get("planned"), name
    assert VARIANTS.entry("triple-gan").obj.conditional


# ------------------------------------------------------------------ one step


@pytest.mark.parametrize("name,extra", [
    ("improved-gan", ()),
    ("improved-gan", ("model.feature_matching=false", "model.minibatch_kernels=6", "model.label_smoothing=0.1",
                      "model.historical_weight=0.01", "model.data_init=true")),
    ("triple-gan", ()),
    ("triple-gan", ("model.classifier=mlp", "model.data_init=true", "model.g_loss=minimax", "model.pseudo_label=sample",
                    "model.d_pseudo_real=false", "model.classifier_ema=0", "model.d_labelled=16")),
], ids=["improved-gan", "improved-gan-all-techniques", "triple-gan", "triple-gan-options"])
def test_one_step_moves_every_net(name: str, extra: tuple[str, ...], mnist: ArrayDataset):
    variant = build(name, mnist, extra)
    roles = {"improved-gan": {"G", "D"}, "triple-gan": {"G", "D", "C"}}[name]
    if name == "triple-gan" and not extra:
        roles = roles | {"C_avg"}  # the running average of C that is scored
    assert set(variant.nets) == roles
    before = {k: p.detach().clone() for k, p in variant.nets.named_parameters()}
    batches = [mnist.batch(torch.arange(i * BATCH, (i + 1) * BATCH)) for i in range(variant.real_batches(variant.opts))]
    out = variant.train_step(batches, 0, 0.0)
    assert {"loss/d", "loss/g"} <= set(out)
    for key, value in out.items():
        assert math.isfinite(float(value)), f"{name}: {key} = {value}"
    for role in roles:
        moved = [k for k, p in variant.nets[role].named_parameters() if not torch.equal(before[f"{role}.{k}"], p)]
        assert moved, f"{name}: no parameter of {role} changed"

    samples = [s for s in variant.sample(10, seed=0, batch_size=4)]
    x = torch.cat([s.x for s in samples])
    assert x.shape == (10, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    if name == "triple-gan":  # class-conditional: balanced labels i mod K
        assert torch.equal(torch.cat([s.y for s in samples]), torch.arange(10) % 10)
    else:
        assert samples[0].y is None
    error = variant.own_metrics()["test_error"]
    assert 0.0 <= error <= 100.0


def test_minibatch_discrimination_sees_the_batch(mnist: ArrayDataset):
    """With minibatch discrimination an example's logits depend on the rest of the batch."""
    variant = build("improved-gan", mnist, ("model.minibatch_kernels=6",))
    D = variant.nets["D"].eval()
    x = mnist.batch(torch.arange(8))["x"]
    others = x.clone()
    others[1:] = x[1:].flip(0) * 0.5
    assert not torch.allclose(D(x)[0], D(others)[0])
    plain = build("improved-gan", mnist).nets["D"].eval()
    assert torch.allclose(plain(x)[0], plain(others)[0], atol=1e-6)


def test_historical_average_is_the_running_mean(mnist: ArrayDataset):
    variant = build("improved-gan", mnist, ("model.historical_weight=0.1",))
    seen = [[p.detach().clone() for p in variant.nets["D"].parameters()]]
    for i in range(3):
        variant.train_step([mnist.batch(torch.arange(i * BATCH, (i + 1) * BATCH))], i, 0.0)
        seen.append([p.detach().clone() for p in variant.nets["D"].parameters()])
    for j, avg in enumerate(variant.history["D"]):
        assert torch.allclose(avg, torch.stack([s[j] for s in seen]).mean(0), atol=1e-6)


# ------------------------------------------------------------------ through the trainer


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_smoke_run_through_the_cli(name: str, tmp_path: Path, run_cli):
    out = tmp_path / name
    code, stdout, stderr = run_cli("train", "--variant", name, "--dataset", "mnist", "--budget", "10steps",
                                   "--seed", "0", "--out", out, "--no-progress", "batch_size=16",
                                   "eval.num_samples=64", *SMALL, *OWN[name])
    assert code == 0, stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "done" and summary["arch"] == "semi-mlp"
    assert 0.0 <= summary["metrics"]["test_error"] <= 100.0
    assert "test_error=" in stdout


class _Stop(Exception):
    pass


def _trainer(run_dir: Path, on_step=None) -> Trainer:
    resolved = resolve(flags={"variant": "triple-gan", "dataset": "mnist", "batch_size": BATCH, "budget": "8steps"},
                       overrides=[*SMALL, *OWN["triple-gan"], "checkpoint_every=3", "eval.num_samples=32"])
    return Trainer(resolved, run_dir, progress=False, on_step=on_step)


def test_triple_gan_resumes_bitwise(tmp_path: Path):
    """Pseudo-labels, generated labels, labelled batches and noise layers all draw from the run's
    noise generator: killed after step 4 (checkpoint at 3) and resumed, the weights are the same."""
    _trainer(tmp_path / "whole").run()

    def stop_after_4(steps: int, _variant: Variant) -> None:
        if steps == 4:
            raise _Stop

    with pytest.raises(_Stop):
        _trainer(tmp_path / "split", stop_after_4).run()
    _trainer(tmp_path / "split").run()
    whole = torch.load(tmp_path / "whole" / "checkpoints" / "final.pt", weights_only=False)["nets"]
    split = torch.load(tmp_path / "split" / "checkpoints" / "final.pt", weights_only=False)["nets"]
    assert whole.keys() == split.keys()
    for key in whole:
        assert torch.equal(whole[key], split[key]), key


def test_data_init_standardises_the_first_layer(mnist: ArrayDataset):
    """Weight norm's data-dependent init: the first layer's pre-activations on the init batch have
    mean 0 and variance 1 per unit."""
    from gan_bench.variants.semi_supervised import init_batch

    D = build("improved-gan", mnist, ("model.data_init=true",)).nets["D"]
    x = init_batch(mnist)["x"]
    pre = D.layers[0]((x.flatten(1) + 1.0) * 0.5).detach()
    assert torch.allclose(pre.mean(0), torch.zeros(pre.shape[1]), atol=1e-4)
    assert torch.allclose(pre.std(0), torch.ones(pre.shape[1]), atol=1e-3)


# ------------------------------------------------------------------ Triple-GAN's classifier terms


def test_classifier_unlabelled_terms():
    """Entropy is log K for a uniform prediction and ~0 for a confident one; the class-balance
    term is log K when the batch's mean prediction is uniform and grows when it collapses."""
    from gan_bench import losses

    K = 10
    assert math.isclose(float(losses.prediction_entropy(torch.zeros(4, K))), math.log(K), rel_tol=1e-6)
    assert float(losses.prediction_entropy(20.0 * torch.eye(K))) < 1e-5
    balanced, collapsed = 20.0 * torch.eye(K), 20.0 * torch.eye(K)[[0] * K]
    assert math.isclose(float(losses.class_balance(balanced)), math.log(K), rel_tol=1e-4)
    assert float(losses.class_balance(collapsed)) > 2 * math.log(K)


def test_classifier_adversarial_term_favours_labels_d_accepts():
    """-p_c log D: the gradient raises p_c where D believes the pair, and reaches only p_c."""
    from gan_bench import losses

    prob = torch.tensor([0.5, 0.5], requires_grad=True)
    d_logits = torch.tensor([3.0, -3.0], requires_grad=True)
    losses.triple_c_nonsaturating(prob, d_logits.detach(), 0.5).backward()
    assert prob.grad[1] > prob.grad[0] > 0  # descending lowers p most where D rejects the pair
    assert d_logits.grad is None


def test_cnn_classifier_dropout_follows_the_generator():
    from gan_bench.nets.semi import SemiCNNClassifier, attach_noise

    C = SemiCNNClassifier(DataSpec((1, 28, 28), "image", num_classes=10), 10, width=4)
    x = torch.rand(6, 1, 28, 28) * 2 - 1
    gen = torch.Generator()
    attach_noise(C, gen)
    outs = []
    for _ in range(2):
        gen.manual_seed(3)
        outs.append(C(x))
    assert outs[0].shape == (6, 10) and torch.equal(outs[0], outs[1])
    assert not torch.equal(C(x), outs[0])  # the next draw differs
    C.eval()
    assert torch.equal(C(x), C(x))


def test_triple_gan_scores_the_running_average_of_c(mnist: ArrayDataset):
    variant = build("triple-gan", mnist)
    C, avg = variant.nets["C"], variant.nets["C_avg"]
    old = [p.detach().clone() for p in avg.parameters()]
    variant.train_step([mnist.batch(torch.arange(i * BATCH, (i + 1) * BATCH)) for i in range(2)], 0, 0.0)
    for a, o, p in zip(avg.parameters(), old, C.parameters()):
        assert torch.allclose(a, 0.99 * o + 0.01 * p, atol=1e-6)
    assert variant.own_protocol().startswith("test_error") and "C_avg" in variant.own_protocol()


def test_recomputed_batch_norm_statistics_are_those_of_the_images():
    from gan_bench.nets.semi import SemiCNNClassifier
    from gan_bench.variants.semi_supervised import recompute_batch_norm

    C = SemiCNNClassifier(DataSpec((1, 28, 28), "image", num_classes=10), 10, width=4)
    x = torch.rand(40, 1, 28, 28) * 2 - 1
    fresh = recompute_batch_norm(C, x, batch_size=20)  # two batches, one cumulative average
    assert not fresh.training and C.body[1].running_mean.abs().sum() == 0  # the original is untouched
    with torch.no_grad():
        pre = fresh.body[0]((x + 1.0) * 0.5)
    assert torch.allclose(fresh.body[1].running_mean, pre.mean((0, 2, 3)), atol=1e-5)
