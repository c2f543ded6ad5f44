"""srgan on the SR contract: LR conditions in, SR out, scored against HR; both stages step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gan_bench.cli import main
from gan_bench.data.base import DataError
from gan_bench.registry import VARIANTS
from gan_bench.train.checkpoint import load_checkpoint
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import Trainer

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
pytestmark = pytest.mark.skipif(not (SHARED / "t91" / "SHA256SUMS").is_file(), reason="../shared/data not here")
TINY = ["net.width=8", "net.blocks=2", "net.d_width=4", "batch_size=4", "data.patch_size=32", "data.num_patches=32",
        "data.verify=false", "eval.num_samples=8", f"data_root={SHARED}"]


def run(tmp: Path, budget: str, extra: list[str], on_step=None):
    resolved = resolve(flags={"variant": "srgan", "dataset": "t91", "budget": budget}, overrides=[*TINY, *extra])
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
