"""pix2pix and CycleGAN on the translation contract: input images in, G(input) out, scored on held-out
inputs against the ground truth; one step moves every net; the image pool resumes exactly."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from gan_bench.cli import main
from gan_bench.config import ConfigError
from gan_bench.data.base import load_dataset
from gan_bench.nets.cyclegan import ResnetGenerator
from gan_bench.nets.unet import PatchGAN, UNetGenerator
from gan_bench.registry import VARIANTS
from gan_bench.train.checkpoint import load_checkpoint
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import Trainer, build_variant
from gan_bench.variants.translation import ImagePool

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
pytestmark = pytest.mark.skipif(not (SHARED / "utkface" / "labels.csv").is_file(), reason="../shared/data not here")
P2P_TINY = ["net.width=8", "net.d_width=8", "batch_size=4", "data.num_examples=48", "eval.num_samples=16",
            f"data_root={SHARED}"]
CYC_TINY = ["net.width=4", "net.blocks=1", "net.d_width=8", "batch_size=2", "data.num_examples=24",
            "eval.num_samples=16", f"data_root={SHARED}"]


def test_pix2pix_and_cyclegan_are_implemented():
    assert VARIANTS.entry("pix2pix").meta["default_arch"] == {"image": "unet"}
    assert VARIANTS.entry("cyclegan").meta["default_arch"] == {"image": "cyclegan-resnet"}
    assert not VARIANTS.entry("pix2pix").meta.get("planned") and not VARIANTS.entry("cyclegan").meta.get("planned")


def test_nets_are_the_papers_shapes():
    """The U-Net reaches 1 x 1 (6 levels at 64 px); the 3-layer PatchGAN sees 70 x 70 patches;
    the ResNet generator keeps the image's size."""
    g = UNetGenerator(3, 3, 64, width=8)
    assert len(g.down) == 6 and g(torch.zeros(2, 3, 64, 64)).shape == (2, 3, 64, 64)
    assert PatchGAN.receptive_field(3) == 70 and PatchGAN.receptive_field(1) == 16
    assert PatchGAN(6, 8)(torch.zeros(2, 6, 64, 64)).shape == (2, 1, 6, 6)
    assert ResnetGenerator(3, 3, width=4, blocks=2)(torch.zeros(1, 3, 64, 64)).shape == (1, 3, 64, 64)


def test_pix2pix_dropout_is_its_noise_and_stays_on_when_sampling():
    g = UNetGenerator(3, 3, 16, width=4).eval()
    x = torch.randn(2, 3, 16, 16)
    a = g(x, torch.Generator().manual_seed(0))
    assert torch.equal(a, g(x, torch.Generator().manual_seed(0)))  # the masks come from the generator given
    assert not torch.equal(a, g(x, torch.Generator().manual_seed(1)))  # and differ in eval mode too
    g0 = UNetGenerator(3, 3, 16, width=4, p=0.0).eval()
    assert torch.equal(g0(x, torch.Generator().manual_seed(0)), g0(x, torch.Generator().manual_seed(1)))


@pytest.fixture(scope="module")
def edges():
    return load_dataset("utkface-edges2faces", root=str(SHARED), options={"num_examples": 48})


@pytest.fixture(scope="module")
def young_old():
    return load_dataset("utkface-young2old", root=str(SHARED), options={"num_examples": 12})


def one_step(variant: str, dataset_name: str, data, extra: list[str]):
    tiny = P2P_TINY if variant == "pix2pix" else CYC_TINY
    bs = 4 if variant == "pix2pix" else 2
    resolved = resolve(flags={"variant": variant, "dataset": dataset_name, "batch_size": bs}, overrides=[*tiny, *extra])
    v = build_variant(resolved, data, torch.device("cpu"))
    before = {k: p.detach().clone() for k, p in v.nets.named_parameters()}
    batch = data.batch(torch.arange(bs))
    assert batch["x"].shape == batch["cond"].shape == (bs, 3, 64, 64)
    out = v.train_step([batch], 0, 0.0)
    assert all(math.isfinite(float(t)) for t in out.values()), out
    params = dict(v.nets.named_parameters())
    for net in v.nets:
        assert any(not torch.equal(before[k], p.detach()) for k, p in params.items() if k.startswith(net + ".")), net
    return v, out, batch


def test_pix2pix_step_is_cgan_plus_100_l1(edges):
    v, out, batch = one_step("pix2pix", "utkface-edges2faces", edges, [])
    assert sorted(v.nets) == ["D", "G"] and v.opts.l1_weight == 100
    assert float(out["loss/g"]) == pytest.approx(float(out["g/adv"] + 100 * out["g/l1"]), rel=1e-5)
    assert v.nets["D"].net[0].in_channels == 6  # D sees the (input, output) pair
    o = v.cfg.optim
    assert (o.g_lr, o.d_lr, o.beta1) == (2e-4, 2e-4, 0.5)


def test_pix2pix_samples_carry_held_out_inputs_and_ground_truth(edges):
    v, _, _ = one_step("pix2pix", "utkface-edges2faces", edges, [])
    s = list(v.sample(6, seed=3, batch_size=4))
    test = v.eval_data()
    assert test.meta["split"] == "test" and set(test.meta["filenames"]).isdisjoint(edges.meta["filenames"])
    b = test.batch(torch.arange(6))
    assert torch.equal(torch.cat([p.cond for p in s]), b["cond"]) and torch.equal(torch.cat([p.target for p in s]), b["x"])
    again = list(v.sample(6, seed=3, batch_size=4))
    assert torch.equal(torch.cat([p.x for p in s]), torch.cat([p.x for p in again]))  # seeded test-time dropout
    other = torch.cat([p.x for p in v.sample(6, seed=4, batch_size=4)])
    assert not torch.equal(torch.cat([p.x for p in s]), other)


def test_pix2pix_refuses_unpaired_data(young_old):
    resolved = resolve(flags={"variant": "pix2pix", "dataset": "utkface-young2old"}, overrides=P2P_TINY)
    with pytest.raises(ConfigError, match="needs paired translation data"):
        build_variant(resolved, young_old, torch.device("cpu"))


def test_cyclegan_step_moves_all_four_nets(young_old):
    v, out, batch = one_step("cyclegan", "utkface-young2old", young_old, [])
    assert sorted(v.nets) == ["D_A", "D_B", "G_AB", "G_BA"]
    assert {"loss/d_a", "loss/d_b", "loss/g", "g/adv", "g/cycle", "g/identity"} <= set(out)
    o = v.opts
    expected = out["g/adv"] + 10 * out["g/cycle"] + 5 * out["g/identity"]  # identity 0.5 x cycle weight 10
    assert (o.cycle_weight, o.identity_weight, o.pool_size) == (10, 0.5, 50)
    assert float(out["loss/g"]) == pytest.approx(float(expected), rel=1e-5)
    assert v.cfg.lr_schedule.name == "linear" and v.cfg.lr_schedule.start == 0.5 and v.cfg.lr_schedule.final == 0
    assert len(v.pools["A"].images) == len(v.pools["B"].images) == 2
    s = next(v.sample(4, seed=0, data=young_old))
    assert s.target is None and torch.equal(s.cond, v.eval_data().inputs(torch.arange(4)))


def test_cyclegan_ema_averages_both_generators(young_old):
    v, _, _ = one_step("cyclegan", "utkface-young2old", young_old, ["ema.decay=0.9"])
    assert {"G_AB_ema", "G_BA_ema"} <= set(v.nets) and not any(k.startswith("D_A_ema") for k in v.nets)


def test_image_pool_is_the_authors_history():
    gen = torch.Generator().manual_seed(0)
    pool = ImagePool(3)
    first = torch.arange(3.0).view(3, 1)
    assert torch.equal(pool.query(first, gen), first)  # filling: each new image is returned
    new = torch.arange(10.0, 30.0).view(20, 1)
    out = pool.query(new, gen)
    swapped = (out != new).flatten()
    assert swapped.any() and not swapped.all()  # about half come from the history
    stored = set(torch.cat(pool.images).flatten().tolist())
    assert len(pool.images) == 3 and all(v in stored | set(first.flatten().tolist()) | set(new.flatten().tolist())
                                         for v in out.flatten().tolist())


def test_image_pool_resumes_exactly(tmp_path: Path, interrupt_at):
    """Stopped after step 4 and resumed, a run ends bitwise equal to an uninterrupted one: the pools
    (full from step 2 with pool_size=3, batch 2) and their draws are in the checkpoint."""
    extra = [*CYC_TINY, "model.pool_size=3", "checkpoint_every=2", "log_every=1", "eval.num_samples=4"]
    flags = {"variant": "cyclegan", "dataset": "utkface-young2old", "budget": "6steps"}
    pools = {}

    def keep(step, v):
        pools[step] = torch.cat(v.pools["B"].images).clone()

    straight = Trainer(resolve(flags=flags, overrides=extra), tmp_path / "s", progress=False, on_step=keep).run()
    with pytest.raises(interrupt_at.error):
        Trainer(resolve(flags=flags, overrides=extra), tmp_path / "r", progress=False, on_step=interrupt_at(4)).run()
    extra_state = load_checkpoint(tmp_path / "r" / "checkpoints" / "latest.pt")["extra"]
    assert torch.equal(extra_state["pool_B"], pools[4])
    resumed = Trainer(resolve(flags=flags, overrides=extra), tmp_path / "r", progress=False).run()
    assert straight.status == resumed.status == "done"
    a = load_checkpoint(tmp_path / "s" / "checkpoints" / "final.pt")
    b = load_checkpoint(tmp_path / "r" / "checkpoints" / "final.pt")
    for key in a["nets"]:
        assert torch.equal(a["nets"][key], b["nets"][key]), key
    assert torch.equal(a["extra"]["pool_A"], b["extra"]["pool_A"]) and torch.equal(a["extra"]["pool_B"], b["extra"]["pool_B"])


def test_pix2pix_cli_smoke_scores_against_ground_truth(tmp_path: Path):
    out = tmp_path / "cli"
    code = main(["train", "--variant", "pix2pix", "--dataset", "utkface-edges2faces", "--budget", "3steps",
                 "--seed", "0", "--out", str(out), "--no-progress", *P2P_TINY])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    m = summary["metrics"]
    assert 0 < m["l1[rgb]"] < 255 and 0 < m["psnr[rgb]"] < 60 and -1 <= m["ssim[rgb]"] <= 1
    assert "fid[utkface-classifier]" in m and "held-out test split" in summary["protocol"]


def test_cyclegan_cli_smoke_scores_age(tmp_path: Path):
    out = tmp_path / "cli"
    code = main(["train", "--variant", "cyclegan", "--dataset", "utkface-young2old", "--budget", "2steps",
                 "--seed", "0", "--out", str(out), "--no-progress", *CYC_TINY])
    assert code == 0
    m = json.loads((out / "summary.json").read_text())["metrics"]
    assert 0 <= m["old_frac[utkface-classifier]"] <= 1 and m["old_frac_input[utkface-classifier]"] < 0.5
    assert m["l1_to_input[rgb]"] > 0 and "l1[rgb]" not in m  # no ground truth on unpaired data


def test_missing_data_is_a_one_line_error(tmp_path: Path, run_cli):
    code, _, err = run_cli("train", "--variant", "pix2pix", "--dataset", "facades", "--budget", "1steps",
                           "--out", tmp_path / "f", "--no-progress", f"data_root={tmp_path}")
    assert code != 0 and "facades/train/" in err and "put it in" in err
    lines = [line for line in err.splitlines() if "facades" in line]
    assert len(lines) == 1


def test_paired_scores_against_the_ground_truth():
    from gan_bench.metrics.translation import paired_scores

    target = torch.randint(0, 246, (2, 16, 16, 3), generator=torch.Generator().manual_seed(0)).to(torch.uint8).numpy()
    same = paired_scores(target, target)
    assert same["l1"] == 0 and same["psnr"] == 100.0 and same["ssim"] == pytest.approx(1.0)  # capped, not inf
    shifted = paired_scores(target + 10, target)  # a uniform offset of 10 grey levels
    assert shifted["l1"] == pytest.approx(10.0) and shifted["psnr"] == pytest.approx(10 * math.log10(255**2 / 100))


def test_age_score_skips_without_the_classifier(monkeypatch, young_old):
    from gan_bench.metrics import translation as M
    from gan_bench.metrics.errors import WeightsMissingError
    from gan_bench.variants.base import Sample

    def missing(*args, **kwargs):
        raise WeightsMissingError("utkface-classifier.safetensors is missing")

    monkeypatch.setattr("gan_bench.metrics.conditional.classify", missing)
    x = torch.zeros(2, 3, 64, 64)
    assert M.evaluate_age(Sample(x=x, cond=x), young_old) == {}
