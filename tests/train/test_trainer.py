"""The trainer: budgets stop exactly, run directories are complete, a killed run resumes exactly."""

import json
from pathlib import Path

import pytest
import torch
import yaml

from gan_bench.atomic import read_jsonl
from gan_bench.train.checkpoint import load_checkpoint
from gan_bench.train.environment import cpu_has_bf16
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import Trainer

SMALL = ["data.num_points=2000", "eval.num_samples=200", "net.width=32"]


def train(out: Path, variant: str = "gan-ns", budget: str = "12steps", extra: tuple[str, ...] = (), on_step=None):
    resolved = resolve(flags={"variant": variant, "dataset": "ring8", "budget": budget}, overrides=[*SMALL, *extra])
    return Trainer(resolved, out, progress=False, on_step=on_step).run()


def test_step_budget_and_run_directory(tmp_path: Path):
    result = train(tmp_path / "r", budget="12steps", extra=("log_every=5",))
    assert result.status == "done"
    assert result.consumed.steps == 12 and result.consumed.images == 12 * 100
    run = tmp_path / "r"
    for name in ("config.yaml", "env.json", "status", "metrics.jsonl", "summary.json",
                 "checkpoints/latest.pt", "checkpoints/final.pt", "samples/final.npz"):
        assert (run / name).exists(), name
    assert (run / "status").read_text().strip() == "done"
    assert yaml.safe_load((run / "config.yaml").read_text())["variant"] == "gan-ns"
    env = json.loads((run / "env.json").read_text())
    assert env["seed"] == 0 and env["device"] == "cpu" and env["packages"]["torch"]
    rows = read_jsonl(run / "metrics.jsonl")
    train_rows = [r for r in rows if r["kind"] == "train"]
    assert [r["step"] for r in train_rows] == [5, 10, 12]
    assert all({"images_seen", "seconds", "loss/d", "loss/g"} <= set(r) for r in train_rows)
    evals = [r for r in rows if r["kind"] == "eval"]
    assert evals[-1]["step"] == 12 and {"modes", "high_quality_pct", "reverse_kl"} <= set(evals[-1])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["consumed"]["steps"] == 12 and summary["metrics"] == result.metrics


def test_image_budget_is_exact_with_several_critic_batches(tmp_path: Path):
    # WGAN draws 5 real batches per generator step; 1234 is not a multiple of 500.
    result = train(tmp_path / "r", variant="wgan", budget="1234img")
    assert result.consumed.images == 1234
    assert result.consumed.steps == 3


def test_seconds_budget_records_time(tmp_path: Path):
    result = train(tmp_path / "r", budget="0.5s")
    assert result.status == "done"
    assert result.consumed.seconds >= 0.5
    assert result.consumed.steps > 0


class Killed(Exception):
    pass


@pytest.mark.parametrize("variant", ["wgan-gp", "began", "vae", "mad-gan"])
def test_killed_run_resumes_to_the_same_weights(tmp_path: Path, variant: str):
    extra = ("checkpoint_every=10",)
    straight = train(tmp_path / "a", variant, budget="30steps", extra=extra)

    def kill_at_25(step: int, variant) -> None:
        if step == 25:
            raise Killed()

    with pytest.raises(Killed):
        train(tmp_path / "b", variant, budget="30steps", extra=extra, on_step=kill_at_25)
    assert (tmp_path / "b" / "status").read_text().startswith("failed")
    assert load_checkpoint(tmp_path / "b" / "checkpoints" / "latest.pt")["consumed"]["steps"] == 20
    resumed = train(tmp_path / "b", variant, budget="30steps", extra=extra)
    assert resumed.consumed.steps == straight.consumed.steps == 30

    a = load_checkpoint(tmp_path / "a" / "checkpoints" / "final.pt")["nets"]
    b = load_checkpoint(tmp_path / "b" / "checkpoints" / "final.pt")["nets"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert resumed.metrics == straight.metrics
    # the log holds each step once: rows after the checkpoint were dropped and written again
    steps = [r["step"] for r in read_jsonl(tmp_path / "b" / "metrics.jsonl") if r["kind"] == "train"]
    assert steps == sorted(set(steps))


def test_a_larger_budget_continues_a_finished_run(tmp_path: Path):
    straight = train(tmp_path / "a", budget="20steps")
    train(tmp_path / "b", budget="8steps")
    continued = train(tmp_path / "b", budget="20steps")
    assert continued.consumed.steps == 20 and continued.metrics == straight.metrics


def test_resume_refuses_a_different_config(tmp_path: Path):
    from gan_bench.config import ConfigError

    train(tmp_path / "r", budget="3steps")
    with pytest.raises(ConfigError, match="different 'optim'"):
        train(tmp_path / "r", budget="6steps", extra=("optim.g_lr=0.01",))


def test_divergence_is_recorded(tmp_path: Path):
    # Poison the critic after step 3: the next step's losses are NaN and the run stops there.
    def poison(step: int, variant) -> None:
        if step == 3:
            with torch.no_grad():
                for p in variant.nets["D"].parameters():
                    p.fill_(float("nan"))

    resolved = resolve(flags={"variant": "gan-ns", "dataset": "ring8", "budget": "20steps"}, overrides=SMALL)
    result = Trainer(resolved, tmp_path / "r", progress=False, on_step=poison).run()
    assert result.status == "diverged at step 4"
    assert (tmp_path / "r" / "status").read_text().strip() == "diverged at step 4"
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["status"] == "diverged at step 4"


def test_checkpoints_load_with_weights_only(tmp_path: Path):
    train(tmp_path / "r", budget="2steps")
    state = torch.load(tmp_path / "r" / "checkpoints" / "final.pt", weights_only=True)
    assert state["consumed"]["steps"] == 2


def test_amp_and_channels_last_options_train(tmp_path: Path, data_root: Path):
    # On the CPU autocast runs in bfloat16 too: the options must work end to end, not only on GPUs.
    resolved = resolve(flags={"variant": "wgan-gp", "dataset": "mnist", "budget": "2steps", "batch_size": 8},
                       overrides=["data.num_examples=64", "eval.num_samples=16", "amp=true", "channels_last=true"])
    result = Trainer(resolved, tmp_path / "r", progress=False).run()
    assert result.status == "done" and result.consumed.steps == 2
    env = json.loads((tmp_path / "r" / "env.json").read_text())
    # env.json says whether bfloat16 was native here: an amp timing means nothing without it
    assert env["cpu"]["bf16"] is cpu_has_bf16() and env["cpu"]["capability"]
