"""The variant contract every family builds on: conditions, step index, nets by role from several
architectures, parameter groups, an EMA generator and LR schedules, all in the base and trainer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_bench import losses
from gan_bench.config import ScheduleConfig
from gan_bench.data.base import DataSpec
from gan_bench.registry import METRICS, VARIANTS
from gan_bench.train.checkpoint import load_checkpoint
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import Trainer
from gan_bench.variants.adversarial import NonSaturatingGAN
from gan_bench.variants.base import Sample, lr_factor

IMG = ["batch_size=16", "net.width=8", "eval.num_samples=40", "data.num_examples=256"]
MIX = ["data.num_points=500", "eval.num_samples=100", "net.width=16"]
SEEN: dict[str, list] = {"it": [], "labels": []}


class ContractCGAN(NonSaturatingGAN):
    conditional = True

    def build(self) -> None:
        self.add_net("G", self.ctx.arch.generator(self.z_dim, num_classes=self.num_classes))
        self.add_net("D", self.ctx.arch.discriminator(out_dim=1, num_classes=self.num_classes))
        # a second architecture for another role, on another spec
        other = self.architecture("mlp", DataSpec(shape=(2,), kind="points"), width=8)
        self.add_net("C", other.discriminator(out_dim=3))
        self.add_optimizer("G", [{"params": self.nets["G"].parameters()},
                                 {"params": self.nets["C"].parameters(), "lr": 1e-5}], self.cfg.optim.g_lr)
        self.add_optimizer("D", self.nets["D"].parameters(), self.cfg.optim.d_lr)

    def step(self, batches):
        SEEN["it"].append(self.it)
        real, y = batches[0]["x"], batches[0]["y"]
        SEEN["labels"].append(y)
        G, D = self.nets["G"], self.nets["D"]
        fake = G(self.latent(real.shape[0]), y)
        d_loss = losses.d_minimax(D(real, y), D(fake.detach(), y))
        self.update("D", d_loss)
        g_loss = losses.g_nonsaturating(D(fake, y))
        self.update("G", g_loss)
        return {"loss/d": d_loss.detach(), "loss/g": g_loss.detach()}


def _label_histogram(sample: Sample, dataset) -> dict[str, float]:
    counts = torch.bincount(sample.y, minlength=dataset.spec.num_classes)
    return {"contract/label_spread": float(counts.max() - counts.min()), "contract/n": float(len(sample.y))}


@pytest.fixture(autouse=True, scope="module")
def _test_entries():
    """Registered for this module only, so no other test sees them."""
    VARIANTS.register("contract-cgan", description="test only: a conditional NS GAN recording its inputs")(ContractCGAN)
    METRICS.register("contract-labels", kinds=("image",), default=True, needs=("y",),
                     description="test only: sees the labels of conditional samples")(_label_histogram)
    yield
    del VARIANTS._entries["contract-cgan"], METRICS._entries["contract-labels"]


def run(tmp: Path, variant: str, dataset: str, budget: str, extra: list[str], on_step=None):
    resolved = resolve(flags={"variant": variant, "dataset": dataset, "budget": budget}, overrides=extra)
    return Trainer(resolved, tmp, progress=False, on_step=on_step).run()


def test_conditions_step_index_roles_and_label_metrics(tmp_path: Path, data_root):
    SEEN["it"].clear()
    SEEN["labels"].clear()
    result = run(tmp_path / "r", "contract-cgan", "mnist", "4steps", IMG)
    assert SEEN["it"] == [0, 1, 2, 3]
    assert all(y.dtype == torch.long and y.shape == (16,) for y in SEEN["labels"])
    # evaluation asked for balanced labels (40 samples over 10 classes) and ran the label metric
    assert result.metrics["contract/n"] == 40 and result.metrics["contract/label_spread"] == 0
    final = np.load(tmp_path / "r" / "samples" / "final.npz")
    assert final["y"].tolist()[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    # parameter groups keep their own rates
    state = load_checkpoint(tmp_path / "r" / "checkpoints" / "final.pt")
    groups = state["optimizers"]["G"]["param_groups"]
    assert [g["lr"] for g in groups] == [2e-4, 1e-5]


def test_label_metrics_skip_unconditional_samples(tmp_path: Path):
    result = run(tmp_path / "r", "gan-ns", "ring8", "2steps", MIX)
    assert "contract/n" not in result.metrics


def test_ema_generator_is_averaged_saved_and_used_for_sampling(tmp_path: Path):
    result = run(tmp_path / "r", "gan-ns", "ring8", "10steps", [*MIX, "ema.decay=0.9", "ema.start=3"])
    state = load_checkpoint(tmp_path / "r" / "checkpoints" / "final.pt")["nets"]
    live = {k[2:]: v for k, v in state.items() if k.startswith("G.")}
    ema = {k[6:]: v for k, v in state.items() if k.startswith("G_ema.")}
    assert live.keys() == ema.keys() and live
    assert any(not torch.equal(live[k], ema[k]) for k in live if live[k].is_floating_point())
    plain = run(tmp_path / "plain", "gan-ns", "ring8", "10steps", MIX)
    plain_state = load_checkpoint(tmp_path / "plain" / "checkpoints" / "final.pt")["nets"]
    # EMA changes sampling only: the live weights are those of the run without it
    assert all(torch.equal(plain_state[f"G.{k}"], v) for k, v in live.items())
    assert result.metrics != plain.metrics

    # the average by hand: before start a copy, then ema = d * ema + (1 - d) * live
    trace = []
    run(tmp_path / "trace", "gan-ns", "ring8", "6steps", [*MIX, "ema.decay=0.9", "ema.start=3"],
        on_step=lambda step, v: trace.append((next(v.nets["G"].parameters()).detach().clone(),
                                              next(v.nets["G_ema"].parameters()).detach().clone())))
    expected = trace[2][0]
    for live_p, ema_p in trace[3:]:
        expected = 0.9 * expected + 0.1 * live_p
        torch.testing.assert_close(ema_p, expected)


def test_ema_and_schedule_resume_bitwise(tmp_path: Path, interrupt_at):
    extra = [*MIX, "ema.decay=0.95", "lr_schedule.name=linear", "lr_schedule.start=0.5", "checkpoint_every=3"]
    with pytest.raises(interrupt_at.error):
        run(tmp_path / "a", "gan-ns", "ring8", "12steps", extra, on_step=interrupt_at(7))
    run(tmp_path / "a", "gan-ns", "ring8", "12steps", extra)
    run(tmp_path / "b", "gan-ns", "ring8", "12steps", extra)
    a = load_checkpoint(tmp_path / "a" / "checkpoints" / "final.pt")
    b = load_checkpoint(tmp_path / "b" / "checkpoints" / "final.pt")
    assert all(torch.equal(a["nets"][k], b["nets"][k]) for k in a["nets"])
    assert a["optimizers"]["G"]["param_groups"][0]["lr"] == b["optimizers"]["G"]["param_groups"][0]["lr"]


def test_linear_schedule_decays_over_the_second_half(tmp_path: Path):
    lrs = []
    run(tmp_path / "r", "gan-ns", "ring8", "10steps", [*MIX, "lr_schedule.name=linear", "lr_schedule.start=0.5"],
        on_step=lambda step, v: lrs.append(v.optimizers["G"].param_groups[0]["lr"]))
    g_lr = json.loads(json.dumps(lrs))
    assert g_lr[:6] == [1e-4] * 6 or g_lr[:6] == [2e-4] * 6  # constant until half the budget
    assert g_lr[6:] == sorted(g_lr[6:], reverse=True) and g_lr[-1] < g_lr[0] * 0.25


@pytest.mark.parametrize("schedule,progress,expected", [
    (ScheduleConfig(), 0.7, 1.0),
    (ScheduleConfig(name="linear", start=0.5, final=0.0), 0.25, 1.0),
    (ScheduleConfig(name="linear", start=0.5, final=0.0), 0.75, 0.5),
    (ScheduleConfig(name="linear", start=0.0, final=0.1), 1.0, 0.1),
    (ScheduleConfig(name="cosine", start=0.0, final=0.0), 0.5, 0.5),
    (ScheduleConfig(name="cosine", start=0.0, final=0.0), 1.0, 0.0),
    (ScheduleConfig(name="step", milestones=[0.5, 0.75], gamma=0.1), 0.8, 0.01),
])
def test_lr_factor(schedule: ScheduleConfig, progress: float, expected: float):
    assert lr_factor(schedule, progress) == pytest.approx(expected, abs=1e-12)


def test_sample_concatenation_keeps_conditions():
    a = Sample(x=torch.zeros(2, 3), y=torch.tensor([0, 1]))
    b = Sample(x=torch.ones(1, 3), y=torch.tensor([2]))
    both = Sample.cat([a, b])
    assert both.x.shape == (3, 3) and both.y.tolist() == [0, 1, 2] and both.has("y") and not both.has("cond")
