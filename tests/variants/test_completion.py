"""completion (Iizuka et al. 2017): the three training phases, compositing, triplet samples, resume, CLI."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_bench.config import ConfigError
from gan_bench.data.base import load_dataset
from gan_bench.data.images import image_dataset
from gan_bench.registry import VARIANTS
from gan_bench.train.checkpoint import load_checkpoint
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import Trainer, build_variant
from gan_bench.variants.completion import reconstruction_loss

ROOT = Path(os.environ["GAN_BENCH_DATA"])
pytestmark = pytest.mark.skipif(not (ROOT / "utkface" / "labels.csv").is_file(), reason="UTKFace not here")
TINY = ["net.width=8", "batch_size=8", "data.num_examples=512", "eval.num_samples=16"]


@pytest.fixture(scope="module", autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAN_BENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def faces():
    return load_dataset("utkface-masked", options={"num_examples": 512})


def build(dataset, extra: list[str] = ()):
    resolved = resolve(flags={"variant": "completion", "dataset": "utkface-masked"}, overrides=[*TINY, *extra])
    return build_variant(resolved, dataset, torch.device("cpu"))


def params(variant, role: str) -> dict[str, torch.Tensor]:
    return {k: p.detach().clone() for k, p in variant.nets[role].named_parameters()}


def moved(before: dict[str, torch.Tensor], variant, role: str) -> bool:
    return any(not torch.equal(before[k], p.detach()) for k, p in variant.nets[role].named_parameters())


def test_registered_with_its_nets_and_data():
    entry = VARIANTS.entry("completion")
    assert not entry.meta.get("planned") and entry.meta["default_arch"] == {"image": "completion"}
    assert "utkface-masked" in entry.meta["requires_data"]


def test_the_three_phases_update_the_papers_players(faces):
    """Algorithm 1: T_C steps of C alone, T_D of D alone, then both; finite losses throughout."""
    variant = build(faces, ["model.tc_steps=1", "model.td_steps=1"])
    batch = faces.batch(torch.arange(8))
    seen = []
    for it in range(3):
        g, d = params(variant, "G"), params(variant, "D")
        out = variant.train_step([batch], it, it / 3)
        assert all(math.isfinite(float(v)) for v in out.values()), out
        seen.append((int(out["phase"]), moved(g, variant, "G"), moved(d, variant, "D"), sorted(k for k in out if k.startswith("loss/"))))
    assert seen == [(1, True, False, ["loss/g_mse"]), (2, False, True, ["loss/d"]), (3, True, True, ["loss/d", "loss/g"])]


def test_phases_as_budget_fractions(faces):
    variant = build(faces)
    assert (variant.opts.tc, variant.opts.td, variant.opts.alpha) == (0.18, 0.02, 4e-4)  # 90k, 10k of 500k
    phases = []
    for it in range(100):
        variant.it, variant.progress = it, it / 100
        phases.append(variant.phase())
    assert phases == [1] * 18 + [2] * 2 + [3] * 80


def test_completion_keeps_the_known_pixels(faces):
    variant = build(faces)
    b = faces.batch(torch.arange(8))
    G = variant.nets["G"]
    out = G(b["cond"], b["mask"])
    assert out.shape == b["x"].shape
    known = (1 - b["mask"]).expand_as(out).bool()
    assert torch.equal(out[known], b["x"][known])
    assert not torch.equal(out[~known], b["cond"][~known])  # the hole is filled
    # the MSE of eq. 1 counts the hole only, on the [0, 1] scale
    x, m = b["x"], b["mask"]
    assert float(reconstruction_loss(x + 0.2 * (1 - m), x, m)) == 0.0
    assert float(reconstruction_loss(x + 0.2, x, m)) == pytest.approx(0.01 * float(m.mean()), rel=1e-5)


def test_joint_step_loss_is_mse_plus_alpha_adversarial(faces):
    variant = build(faces, ["model.tc_steps=0", "model.td_steps=0", "model.alpha=0.5"])
    out = variant.train_step([faces.batch(torch.arange(8))], 0, 0.0)
    assert float(out["loss/g"]) == pytest.approx(float(out["g/mse"] + 0.5 * out["g/adv"]), rel=1e-5)


def test_samples_complete_held_out_faces_with_their_ground_truth(faces):
    variant = build(faces)
    test = load_dataset("utkface-masked", "test", None, {"num_examples": 512})
    assert variant.eval_data().meta["filenames"] == test.meta["filenames"]
    sample = next(variant.sample(6, seed=0, data=faces))
    assert sample.has("cond", "mask", "target")
    b = test.batch(torch.arange(6))
    assert torch.equal(sample.target, b["x"]) and torch.equal(sample.cond, b["cond"]) and torch.equal(sample.mask, b["mask"])
    assert sample.x.shape == (6, 3, 64, 64)
    later = next(variant.sample(2, seed=0, batch_size=2, data=faces))  # rows by position
    assert torch.equal(later.target, b["x"][:2])
    assert "held-out faces (split test)" in variant.own_protocol()


def test_refusals(faces):
    with pytest.raises(ConfigError, match="face-parsing"):
        build(faces, ["model.parsing_weight=1"])
    with pytest.raises(ConfigError, match="together"):
        build(faces, ["model.tc_steps=5"])
    plain = image_dataset("utkface", torch.zeros(4, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(ConfigError, match="masked-image dataset"):
        build(plain)


def run(out: Path, budget: str, extra: list[str] = (), on_step=None):
    resolved = resolve(flags={"variant": "completion", "dataset": "utkface-masked", "budget": budget},
                       overrides=[*TINY, "model.tc_steps=2", "model.td_steps=1", "checkpoint_every=2", *extra])
    return Trainer(resolved, out, progress=False, on_step=on_step).run()


def test_resume_is_bitwise(tmp_path: Path, interrupt_at):
    with pytest.raises(interrupt_at.error):
        run(tmp_path / "a", "6steps", on_step=interrupt_at(3))
    a = run(tmp_path / "a", "6steps")
    b = run(tmp_path / "b", "6steps")
    sa = load_checkpoint(tmp_path / "a" / "checkpoints" / "final.pt")["nets"]
    sb = load_checkpoint(tmp_path / "b" / "checkpoints" / "final.pt")["nets"]
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a.metrics == b.metrics


def test_cli_smoke_and_missing_data(tmp_path: Path, run_cli):
    out = tmp_path / "cli"
    code, _, err = run_cli("train", "--variant", "completion", "--dataset", "utkface-masked", "--budget", "3steps",
                           "--seed", "0", "--out", out, "--no-progress", *TINY, "data.mask=center")
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    m = summary["metrics"]
    assert summary["arch"] == "completion" and "fid[utkface-classifier]" in m
    assert 5 < m["psnr[rgb]"] < 60 and 0 < m["ssim[rgb]"] <= 1 and 0 <= m["l1_hole[rgb]"] <= 255
    assert "completion (center holes)" in summary["protocol"]
    with np.load(out / "samples" / "final.npz") as npz:
        assert npz["x"].shape == npz["cond"].shape == npz["target"].shape == (16, 64, 64, 3)
        assert npz["mask"].shape == (16, 64, 64, 1)
    code, _, err = run_cli("train", "--variant", "completion", "--dataset", "utkface-masked", "--budget", "1steps",
                           "--out", tmp_path / "none", "--no-progress", "--data-root", tmp_path / "empty", *TINY)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "crop_part1" in err
