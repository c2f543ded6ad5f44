"""Vectorized runs: a stacked group equals its sequential runs and writes the same folders."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import torch

from gan_bench.atomic import read_jsonl
from gan_bench.registry import VARIANTS
from gan_bench.train import vectorized
from gan_bench.train.checkpoint import load_checkpoint
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import Trainer
from gan_bench.train.vectorized import GroupRun, group_key, train_group, why_not
from gan_bench.variants.adversarial import NonSaturatingGAN

SMALL = ["data.num_points=512", "eval.num_samples=200", "net.width=8", "batch_size=16", "log_every=5",
         "checkpoint_every=10"]
RUNS = [("ring8", 0), ("ring8", 1), ("grid25", 2)]  # seeds and mixtures side by side
# Without batch norm every weight has a real gradient. With it, the bias before each batch norm
# (and so its running mean) has none in exact arithmetic: Adam scales the rounding noise of that
# zero gradient up to lr per step, in stacked and sequential runs alike (see the batch-norm test).
NO_BN = ("net.g_batchnorm=false",)


def _resolved(variant: str, extra: tuple[str, ...] = (), budget: str = "20steps") -> list:
    return [resolve(flags={"variant": variant, "dataset": d, "budget": budget, "seed": s}, overrides=[*SMALL, *extra])
            for d, s in RUNS]


def _both(tmp_path: Path, variant: str, extra: tuple[str, ...] = ()) -> tuple[list, list]:
    resolved = _resolved(variant, extra)
    stacked = train_group([GroupRun(r, tmp_path / f"v{i}") for i, r in enumerate(resolved)])
    sequential = [Trainer(r, tmp_path / f"s{i}", progress=False).run() for i, r in enumerate(resolved)]
    return stacked, sequential


def _files(run: Path) -> set[str]:
    return {str(p.relative_to(run)) for p in run.rglob("*") if p.is_file() and p.name != ".lock"}


def _assert_close_states(a: dict, b: dict, skip: tuple[str, ...] = ()) -> None:
    for key, value in b["nets"].items():
        if not key.endswith(skip):
            torch.testing.assert_close(a["nets"][key], value, atol=1e-5, rtol=1e-4, msg=key)
    for name, opt in b["optimizers"].items():
        assert a["optimizers"][name]["param_groups"] == opt["param_groups"]
        for index, state in opt["state"].items():
            for k, v in state.items():
                torch.testing.assert_close(a["optimizers"][name]["state"][index][k], v, atol=1e-5, rtol=1e-4)
    assert torch.equal(a["rng"]["noise"], b["rng"]["noise"])  # each run drew exactly its own noise
    assert a["sampler"]["pos"] == b["sampler"]["pos"] and torch.equal(a["sampler"]["perm"], b["sampler"]["perm"])
    assert a["consumed"]["steps"] == b["consumed"]["steps"] and a["consumed"]["images"] == b["consumed"]["images"]


@pytest.mark.parametrize("variant", ["gan-ns", "wgan-gp"])  # wgan-gp: 5 critic batches, a penalty drawing noise
def test_stacked_group_equals_sequential_runs(tmp_path: Path, variant: str):
    stacked, sequential = _both(tmp_path, variant, NO_BN)
    for i, (v, s) in enumerate(zip(stacked, sequential)):
        assert v.status == s.status == "done"
        va, sa = tmp_path / f"v{i}", tmp_path / f"s{i}"
        assert _files(va) == _files(sa)
        _assert_close_states(load_checkpoint(va / "checkpoints" / "final.pt"),
                             load_checkpoint(sa / "checkpoints" / "final.pt"))
        assert v.metrics == pytest.approx(s.metrics, rel=1e-4, abs=1e-6) and v.metrics
        summary_v, summary_s = (json.loads((p / "summary.json").read_text()) for p in (va, sa))
        assert summary_v["vectorized"] == 3 and summary_v["config_hash"] == summary_s["config_hash"]
        assert summary_v["metrics"] == pytest.approx(summary_s["metrics"], rel=1e-4, abs=1e-6)
        rows_v, rows_s = read_jsonl(va / "metrics.jsonl"), read_jsonl(sa / "metrics.jsonl")
        assert [(r["kind"], r["step"]) for r in rows_v] == [(r["kind"], r["step"]) for r in rows_s]
        assert set(rows_v[0]) == set(rows_s[0])
        assert (va / "config.yaml").read_text() == (sa / "config.yaml").read_text()
        run_v = json.loads((va / "run.json").read_text())
        assert run_v.pop("vectorized") == 3 and run_v == json.loads((sa / "run.json").read_text())


def test_batch_norm_group_matches_up_to_its_gradient_free_biases(tmp_path: Path):
    stacked, sequential = _both(tmp_path, "gan-ns")
    for i in range(len(RUNS)):
        va, sa = tmp_path / f"v{i}", tmp_path / f"s{i}"
        a, b = (load_checkpoint(p / "checkpoints" / "final.pt") for p in (va, sa))
        pre_bn = tuple(f"G.net.{k}.bias" for k in (0, 3, 6)) + ("running_mean",)
        _assert_close_states(a, b, skip=pre_bn)
        xa, xb = (torch.from_numpy(__import__("numpy").load(p / "samples" / "final.npz")["x"]) for p in (va, sa))
        torch.testing.assert_close(xa, xb, atol=2e-3, rtol=0)  # the shift cancels in the output


def test_stacked_folders_resume_and_reuse_in_the_trainer(tmp_path: Path):
    resolved = _resolved("gan-ns", NO_BN, budget="10steps")[:2]
    train_group([GroupRun(r, tmp_path / f"v{i}") for i, r in enumerate(resolved)])
    assert Trainer(resolved[0], tmp_path / "v0", progress=False).run().reused
    longer = resolve(flags={"variant": "gan-ns", "dataset": "ring8", "budget": "15steps", "seed": 0},
                     overrides=[*SMALL, *NO_BN])
    resumed = Trainer(longer, tmp_path / "v0", progress=False).run()
    straight = Trainer(longer, tmp_path / "s0", progress=False).run()
    assert resumed.consumed.steps == 15 and not resumed.reused
    _assert_close_states(load_checkpoint(tmp_path / "v0" / "checkpoints" / "final.pt"),
                         load_checkpoint(tmp_path / "s0" / "checkpoints" / "final.pt"))
    assert resumed.metrics == pytest.approx(straight.metrics, rel=1e-4, abs=1e-6)


def test_why_not_and_group_key():
    ring, grid = (resolve(flags={"variant": "gan-ns", "dataset": d, "budget": "5steps", "seed": s})
                  for d, s in (("ring8", 0), ("grid25", 1)))
    assert why_not(ring) is None and group_key(ring) == group_key(grid)
    assert group_key(ring) != group_key(resolve(flags={"variant": "gan-ns", "dataset": "ring8", "budget": "6steps"}))
    assert "vectorizable" in why_not(resolve(flags={"variant": "began", "dataset": "ring8"}))
    assert "seconds" in why_not(resolve(flags={"variant": "gan-ns", "dataset": "ring8", "budget": "5s"}))


@dataclass
class _Probe:
    nan_at: int = -1  # the step whose losses turn NaN (-1: never)
    stray_noise: bool = False  # draw from ctx.noise directly, bypassing latent()


PROBE = _Probe()


@VARIANTS.register("test-vectorized-probe", description="gan-ns that misbehaves on request (tests only)")
class _ProbeGAN(NonSaturatingGAN):
    def step(self, batches):
        out = super().step(batches)
        if PROBE.stray_noise:
            torch.rand(1, generator=self.ctx.noise)
        if self.it == PROBE.nan_at:
            out["loss/d"] = torch.tensor(float("nan"))
        return out


@pytest.fixture
def probe(monkeypatch):
    monkeypatch.setattr(vectorized, "SUPPORTED", vectorized.SUPPORTED | {"test-vectorized-probe"})
    monkeypatch.setattr(PROBE, "nan_at", -1)
    monkeypatch.setattr(PROBE, "stray_noise", False)
    return PROBE


def test_divergence_stops_the_group_and_each_run_continues_alone(tmp_path: Path, probe, caplog):
    probe.nan_at = 12  # after the checkpoint at step 10: each run continues from it on its own
    resolved = _resolved("test-vectorized-probe", NO_BN)
    results = train_group([GroupRun(r, tmp_path / f"v{i}") for i, r in enumerate(resolved)])
    assert "non-finite" in caplog.text and "sequentially" in caplog.text
    assert [r.status for r in results] == ["diverged at step 13"] * 3
    alone = Trainer(resolved[0], tmp_path / "s0", progress=False).run()
    assert alone.status == "diverged at step 13"
    assert [r["step"] for r in read_jsonl(tmp_path / "v0" / "metrics.jsonl")] == \
        [r["step"] for r in read_jsonl(tmp_path / "s0" / "metrics.jsonl")]


def test_randomness_outside_the_runs_generators_falls_back(tmp_path: Path, probe, caplog):
    probe.stray_noise = True
    resolved = _resolved("test-vectorized-probe", NO_BN, budget="3steps")[:2]
    results = train_group([GroupRun(r, tmp_path / f"v{i}") for i, r in enumerate(resolved)])
    assert "draws randomness outside" in caplog.text
    assert [r.status for r in results] == ["done", "done"]
    assert "vectorized" not in json.loads((tmp_path / "v0" / "summary.json").read_text())


SUITE = """
name: vec
budget: 8steps
seeds: [0, 1, 2]
datasets: [ring8, grid25]
variants: [gan-ns, wgan-gp]
config:
  data: {num_points: 500}
  eval: {num_samples: 200}
  net: {width: 8, g_batchnorm: false}
  batch_size: 16
  log_every: 4
"""


def test_suite_gives_the_same_leaderboard_vectorized_or_not(tmp_path: Path, run_cli):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    boards = {}
    for mode in ("auto", "off"):
        code, stdout, _ = run_cli("suite", suite, "--out", tmp_path / mode, "--no-progress", "--vectorize", mode)
        assert code == 0 and "12 new; 0 diverged, 0 failed" in stdout, stdout
        boards[mode] = pd.read_csv(tmp_path / mode / "leaderboard.csv")
        stacked = [json.loads(p.read_text()).get("vectorized") for p in (tmp_path / mode).glob("runs/*/summary.json")]
        assert stacked == ([6] * 12 if mode == "auto" else [None] * 12)
    auto, off = boards["auto"], boards["off"]
    timing = [c for c in auto if any(w in c for w in ("wall", "seconds", "per_s", "speed", "mfu"))]
    pd.testing.assert_frame_equal(auto.drop(columns=timing), off.drop(columns=timing), check_exact=False, rtol=1e-4)
