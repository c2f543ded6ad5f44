"""srgan and esrgan on the SR contract: LR conditions in, SR out, scored against HR; both stages step."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from gan_bench.cli import main
from gan_bench.config import ConfigError
from gan_bench.data.base import DataError, DataSpec, load_dataset
from gan_bench.nets.rrdb import RRDBNet, VGGStyleDiscriminator
from gan_bench.registry import VARIANTS
from gan_bench.train.checkpoint import load_checkpoint
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import Trainer, build_variant
from gan_bench.variants import sr

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
pytestmark = pytest.mark.skipif(not (SHARED / "t91" / "SHA256SUMS").is_file(), reason="../shared/data not here")
TINY = ["net.width=8", "net.blocks=2", "net.d_width=4", "batch_size=4", "data.patch_size=32", "data.num_patches=32",
        "data.verify=false", "eval.num_samples=8", f"data_root={SHARED}"]


RRDB_TINY = [*TINY, "net.blocks=1", "net.growth=4"]


def run(tmp: Path, budget: str, extra: list[str], on_step=None, variant: str = "srgan"):
    tiny = RRDB_TINY if variant == "esrgan" else TINY
    resolved = resolve(flags={"variant": variant, "dataset": "t91", "budget": budget}, overrides=[*tiny, *extra])
    return Trainer(resolved, tmp, progress=False, on_step=on_step).run()


def test_srgan_is_implemented_with_srresnet():
    entry = VARIANTS.entry("srgan")
    assert not entry.meta.get("planned") and entry.meta["default_arch"] == {"image": "srresnet"}


def test_psnr_stage_steps_and_scores_against_hr(tmp_path: Path):
    seen = []
    result = run(tmp_path / "r", "2steps", ["model.stage=psnr", "model.eval_set=none"],
                 on_step=lambda s, v: seen.append(sorted(v.nets.keys())))
    assert result.status == "done" and seen[0] == ["G"]
    m = result.metrics
    assert 0 < m["psnr[y-crop4]"] < 40 and 0 < m["ssim[y-crop4]"] <= 1
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert "stage=psnr" in summary["protocol"] and "border crop 4" in summary["protocol"]


def test_mse_training_beats_its_start(tmp_path: Path):
    """A few MSE steps on one patch lower the error: the step optimises SR(LR) towards HR."""
    losses = []

    @torch.no_grad()
    def record(step, v):
        batch = v.ctx.data.batch(torch.arange(4))
        losses.append(float(torch.nn.functional.mse_loss(v.nets["G"](batch["cond"]), batch["x"])))

    run(tmp_path / "r", "12steps", ["model.stage=psnr", "model.eval_set=none", "data.num_patches=4",
                                      "optim.g_lr=1e-3"], on_step=record)
    assert losses[-1] < losses[0]


def test_gan_stage_falls_back_to_mse_content_and_says_so(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("gan_bench.variants.sr.find_vgg19", lambda explicit="": None)
    result = run(tmp_path / "g", "2steps", ["model.stage=gan", "model.eval_set=none"])
    assert result.status == "done"
    state = load_checkpoint(tmp_path / "g" / "checkpoints" / "final.pt")["nets"]
    assert any(k.startswith("D.") for k in state)
    summary = json.loads((tmp_path / "g" / "summary.json").read_text())
    assert "content=mse" in summary["protocol"]
    rows = [json.loads(line) for line in (tmp_path / "g" / "metrics.jsonl").read_text().splitlines()]
    assert {"loss/d", "g/adv", "g/content"} <= set(next(r for r in rows if r["kind"] == "train"))
    with pytest.raises(DataError, match="vgg19"):
        run(tmp_path / "v", "1steps", ["model.stage=gan", "model.content=vgg54", "model.eval_set=none"])


def test_gan_stage_starts_from_the_psnr_run(tmp_path: Path):
    run(tmp_path / "p", "2steps", ["model.stage=psnr", "model.eval_set=none"])
    seen = {}

    def grab(step, v):
        seen.setdefault("first", {k: t.clone() for k, t in v.nets["G"].state_dict().items()})

    pre = load_checkpoint(tmp_path / "p" / "checkpoints" / "final.pt")["nets"]
    resolved = resolve(flags={"variant": "srgan", "dataset": "t91", "budget": "1steps"},
                       overrides=[*TINY, "model.stage=gan", "model.eval_set=none", "model.content=mse",
                                  f"model.init_from={tmp_path / 'p'}", "optim.g_lr=0"])
    Trainer(resolved, tmp_path / "g", progress=False, on_step=grab).run()
    weights = [k for k in seen["first"] if k.endswith("weight")]
    assert all(torch.equal(seen["first"][k], pre[f"G.{k}"]) for k in weights)


def test_set5_scores_and_cli_smoke(tmp_path: Path, capsys):
    out = tmp_path / "cli"
    code = main(["train", "--variant", "srgan", "--dataset", "t91", "--budget", "1steps", "--seed", "0",
                 "--out", str(out), "--no-progress", *TINY, "net.blocks=1"])
    assert code == 0
    metrics = json.loads((out / "summary.json").read_text())["metrics"]
    assert 5 < metrics["set5_psnr[y-crop4]"] < 40 and "set5_ssim[y-crop4]" in metrics
    capsys.readouterr()
    assert main(["sr-eval", "--hr", str(SHARED / "set5" / "HR"), "--scale", "4", "--run", str(out),
                 "--no-niqe", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    # sr-eval of the run and the run's own Set5 evaluation are the same protocol on the same net
    assert result["psnr"] == pytest.approx(metrics["set5_psnr[y-crop4]"], abs=1e-6)
    assert main(["sr-eval", "--hr", str(SHARED / "set5" / "HR"), "--scale", "2", "--run", str(out), "--no-niqe"]) == 2


# --------------------------------------------------------------------------- esrgan


def test_esrgan_is_implemented_with_rrdb():
    entry = VARIANTS.entry("esrgan")
    assert not entry.meta.get("planned") and entry.meta["default_arch"] == {"image": "rrdb"}
    assert entry.meta["requires_data"] == VARIANTS.entry("srgan").meta["requires_data"]


def test_rrdb_is_the_papers_net():
    """23 RRDBs of 64 channels, growth 32: the 16,697,987 parameters of the authors' RRDB_ESRGAN_x4;
    no batch norm in G; D's VGG-style body ends at side / 32."""
    g = RRDBNet(3, 4)
    assert sum(p.numel() for p in g.parameters()) == 16_697_987
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in g.modules())
    small = RRDBNet(3, 4, width=8, blocks=1, growth=4)
    assert small(torch.zeros(2, 3, 8, 8)).shape == (2, 3, 32, 32)
    assert RRDBNet(3, 3, width=8, blocks=1, growth=4)(torch.zeros(1, 3, 5, 6)).shape == (1, 3, 15, 18)
    d = VGGStyleDiscriminator(DataSpec(shape=(3, 128, 128), kind="image"), width=4)
    assert d.features(torch.zeros(2, 3, 128, 128)).shape == (2, 32, 4, 4) and d(torch.zeros(2, 3, 128, 128)).shape == (2, 1)
    with pytest.raises(ConfigError, match="at least 32"):
        VGGStyleDiscriminator(DataSpec(shape=(3, 24, 24), kind="image"))


def test_vgg_cut_before_the_activation():
    """ESRGAN's perceptual loss takes conv5_4 before its ReLU; SRGAN's VGG54 the ReLU's output."""
    from torchvision.models.vgg import cfgs, make_layers

    features = make_layers(cfgs["E"])  # vgg19.features
    assert isinstance(features[sr.VGG54_PREACT_LAYERS - 1], torch.nn.Conv2d)
    assert isinstance(features[sr.VGG54_LAYERS - 1], torch.nn.ReLU)
    assert isinstance(features[sr.VGG54_LAYERS], torch.nn.MaxPool2d)


@pytest.fixture(scope="module")
def t91_tiny():
    return load_dataset("t91", root=str(SHARED), options={"patch_size": 32, "num_patches": 8, "verify": False})


def one_step(dataset, extra: list[str]):
    resolved = resolve(flags={"variant": "esrgan", "dataset": "t91", "batch_size": 4},
                       overrides=[*RRDB_TINY, "model.eval_set=none", *extra])
    variant = build_variant(resolved, dataset, torch.device("cpu"))
    before = {k: p.detach().clone() for k, p in variant.nets.named_parameters()}
    batch = dataset.batch(torch.arange(4))
    assert batch["x"].shape == (4, 3, 32, 32) and batch["cond"].shape == (4, 3, 8, 8)
    assert variant.nets["G"](batch["cond"]).shape == batch["x"].shape
    out = variant.step([batch])
    assert all(math.isfinite(float(v)) for v in out.values()), out
    params = dict(variant.nets.named_parameters())
    for net in variant.nets:
        assert any(not torch.equal(before[k], p.detach()) for k, p in params.items() if k.startswith(net + ".")), net
    return variant, out


def test_esrgan_psnr_stage_steps_on_l1(t91_tiny):
    variant, out = one_step(t91_tiny, ["model.stage=psnr"])
    assert sorted(variant.nets) == ["G"] and set(out) == {"loss/g_l1"}
    batch = t91_tiny.batch(torch.arange(4))
    with torch.no_grad():  # the logged loss is L1 on the [0, 1] scale: half the [-1, 1] one
        assert variant.pixel_loss(batch["x"] + 0.2, batch["x"])[1].item() == pytest.approx(0.1, abs=1e-6)
    assert "esrgan stage=psnr: RRDB-PSNR (L1)" in variant.own_protocol()


def test_esrgan_gan_stage_steps_both_players_on_ragan(t91_tiny, monkeypatch):
    monkeypatch.setattr("gan_bench.variants.sr.find_vgg19", lambda explicit="": None)
    variant, out = one_step(t91_tiny, ["model.stage=gan"])
    assert sorted(variant.nets) == ["D", "G"]
    assert {"loss/d", "loss/g", "g/content", "g/adv", "g/l1"} <= set(out)
    o = variant.opts
    assert (o.adv_weight, o.l1_weight) == (5e-3, 1e-2)
    # the step's G loss is L_percep + lambda L_G^Ra + eta L1 (eq. 3) of its logged terms
    expected = out["g/content"] + o.adv_weight * out["g/adv"] + o.l1_weight * out["g/l1"]
    assert float(out["loss/g"]) == pytest.approx(float(expected), rel=1e-5)
    assert "content=mse" in variant.own_protocol() and "RaGAN" in variant.own_protocol()


def test_esrgan_perceptual_loss_uses_the_features_before_activation(t91_tiny, monkeypatch, tmp_path):
    """With VGG19 on disk (a stand-in here) the content term is the L1 of features cut at conv5_4."""
    cuts = []

    class FakeVGG(torch.nn.Module):
        def __init__(self, weights, layers=sr.VGG54_LAYERS):
            super().__init__()
            cuts.append(layers)
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1).requires_grad_(False)

        def forward(self, x):
            return self.conv(x)

    monkeypatch.setattr("gan_bench.variants.sr.find_vgg19", lambda explicit="": tmp_path / "vgg19.pth")
    monkeypatch.setattr("gan_bench.variants.sr.VGGFeatures", FakeVGG)
    variant, out = one_step(t91_tiny, ["model.stage=gan"])
    assert cuts == [sr.VGG54_PREACT_LAYERS] and "content=vgg54-preact" in variant.own_protocol()
    batch = t91_tiny.batch(torch.arange(4))
    with torch.no_grad():
        sr_img = batch["x"] * 0.5
        want = torch.nn.functional.l1_loss(variant.vgg(sr_img), variant.vgg(batch["x"]))
        assert variant.content_loss(sr_img, batch["x"]).item() == pytest.approx(want.item(), rel=1e-6)


def test_esrgan_gan_stage_starts_from_its_psnr_run(tmp_path: Path):
    run(tmp_path / "p", "2steps", ["model.stage=psnr", "model.eval_set=none"], variant="esrgan")
    seen = {}

    def grab(step, v):
        seen.setdefault("first", {k: t.clone() for k, t in v.nets["G"].state_dict().items()})

    pre = load_checkpoint(tmp_path / "p" / "checkpoints" / "final.pt")["nets"]
    run(tmp_path / "g", "1steps", ["model.stage=gan", "model.eval_set=none", "model.content=mse",
                                   f"model.init_from={tmp_path / 'p'}", "optim.g_lr=0"], on_step=grab, variant="esrgan")
    assert seen["first"] and all(torch.equal(t, pre[f"G.{k}"]) for k, t in seen["first"].items())
    # an SRResNet checkpoint does not fit the RRDB generator: a one-line error, not a crash
    run(tmp_path / "s", "1steps", ["model.stage=psnr", "model.eval_set=none"])
    with pytest.raises(ConfigError, match="does not fit"):
        run(tmp_path / "x", "1steps", ["model.stage=gan", "model.content=mse", f"model.init_from={tmp_path / 's'}"],
            variant="esrgan")


def test_esrgan_cli_smoke(tmp_path: Path):
    out = tmp_path / "cli"
    code = main(["train", "--variant", "esrgan", "--dataset", "t91", "--budget", "3steps", "--seed", "0",
                 "--out", str(out), "--no-progress", *RRDB_TINY, "model.stage=gan", "model.content=mse"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["arch"] == "rrdb"
    assert 5 < summary["metrics"]["set5_psnr[y-crop4]"] < 40 and "esrgan stage=gan" in summary["protocol"]


def test_sr_suite_runs_each_gan_stage_from_its_psnr_run():
    """baselines/sr.yaml: four entries; each gan stage names its psnr run's folder in init_from and
    builds the same G (so the checkpoint loads), and both psnr rows share one budget and data."""
    from gan_bench.suite import load_suite, plan

    path = Path(__file__).resolve().parents[2] / "baselines" / "sr.yaml"
    suite = load_suite(path)
    assert suite.label and "CPU pass" in suite.label and "content=mse" in suite.label
    runs = {r.entry: r for r in plan(suite, path, Path("/nonexistent/out"))}
    assert set(runs) == {"srgan", "srgan@gan", "esrgan", "esrgan@gan"}
    for name in ("srgan", "esrgan"):
        psnr, gan = runs[name].resolved.cfg, runs[f"{name}@gan"].resolved.cfg
        assert psnr.model["stage"] == "psnr" and gan.model["stage"] == "gan"
        assert Path(gan.model["init_from"]) == runs[name].run_dir and runs[f"{name}@gan"].needs == [runs[name].run_dir]
        g_keys = ("width", "blocks", "growth", "batch_norm", "res_scale")
        assert {k: v for k, v in psnr.net.items() if k in g_keys} == {k: v for k, v in gan.net.items() if k in g_keys}
    assert runs["srgan"].resolved.cfg.budget == runs["esrgan"].resolved.cfg.budget
    assert runs["srgan"].resolved.cfg.data == runs["esrgan"].resolved.cfg.data
