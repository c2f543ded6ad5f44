"""Reliability: a run folder holds one run, a kill loses nothing, divergence keeps the last finite
state, one writer per folder, checkpoints of other runs are refused."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from gan_bench.atomic import read_jsonl
from gan_bench.train.checkpoint import load_checkpoint
from gan_bench.train.lock import FolderLock, FolderLockedError
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import Trainer

MIX = ["data.num_points=1000", "eval.num_samples=100", "net.width=16"]
IMG = ["batch_size=16", "net.width=8", "eval.num_samples=100", "data.num_examples=512"]

KILLER = """
import os, signal, sys
import torch
torch.set_num_threads(1)
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import Trainer
variant, dataset, budget, out, kill_at, *overrides = sys.argv[1:]
def hook(step, variant):
    if step == int(kill_at):
        os.kill(os.getpid(), signal.SIGKILL)
resolved = resolve(flags={"variant": variant, "dataset": dataset, "budget": budget}, overrides=overrides)
Trainer(resolved, out, progress=False, on_step=hook).run()
"""


def train(out: Path, variant: str, dataset: str, budget: str, extra: list[str], on_step=None):
    resolved = resolve(flags={"variant": variant, "dataset": dataset, "budget": budget}, overrides=extra)
    return Trainer(resolved, out, progress=False, on_step=on_step).run()


def tree_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"}


def nets_of(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "checkpoints" / "final.pt")["nets"]


@pytest.mark.parametrize("variant,dataset,budget,extra", [
    ("wgan-gp", "ring8", "20steps", [*MIX, "checkpoint_every=4", "log_every=1"]),
    ("dcgan", "mnist", "12steps", [*IMG, "checkpoint_every=3", "log_every=1"]),
])
def test_sigkill_at_a_random_step_then_resume_is_bitwise_equal(tmp_path: Path, variant, dataset, budget, extra, data_root):
    total = int(budget.removesuffix("steps"))
    kill_at = random.randint(2, total - 1)
    killed = tmp_path / "killed"
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    proc = subprocess.run([sys.executable, str(script), variant, dataset, budget, str(killed), str(kill_at), *extra],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert (killed / "status").read_text().strip() == "running"

    resumed = train(killed, variant, dataset, budget, extra)
    straight = train(tmp_path / "straight", variant, dataset, budget, extra)
    assert resumed.status == straight.status == "done"
    a, b = nets_of(killed), nets_of(tmp_path / "straight")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs after a SIGKILL at step {kill_at}"
    steps = [r["step"] for r in read_jsonl(killed / "metrics.jsonl") if r["kind"] == "train"]
    assert steps == list(range(1, total + 1)), f"killed at {kill_at}: {steps}"


def test_killed_before_the_first_checkpoint_logs_each_step_once(tmp_path: Path, interrupt_at):
    extra = [*MIX, "log_every=1", "checkpoint_every=100"]
    with pytest.raises(interrupt_at.error):
        train(tmp_path / "r", "gan-ns", "ring8", "6steps", extra, on_step=interrupt_at(3))
    assert len(read_jsonl(tmp_path / "r" / "metrics.jsonl")) == 3
    train(tmp_path / "r", "gan-ns", "ring8", "6steps", extra)
    steps = [r["step"] for r in read_jsonl(tmp_path / "r" / "metrics.jsonl") if r["kind"] == "train"]
    assert steps == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("change", [
    ["--variant", "gan-mm"], ["--seed", "1"], ["--dataset", "grid25"], ["optim.g_lr=0.001"],
])
def test_a_finished_folder_is_never_reused_for_another_run(tmp_path: Path, run_cli, change):
    out = tmp_path / "r"
    base = ["train", "--variant", "gan-ns", "--dataset", "ring8", "--seed", "0", "--budget", "4steps", "--out", out,
            "--no-progress", *MIX]
    assert run_cli(*base)[0] == 0
    before = tree_hashes(out)
    args = list(base)
    if change[0].startswith("--"):
        args[args.index(change[0]) + 1] = change[1]
    else:
        args.append(change[0])
    code, out_text, err = run_cli(*args)
    assert code == 2, out_text
    assert "holds" in err and "use another --out" in err and len(err.strip().splitlines()) == 1
    assert tree_hashes(out) == before
    code, out_text, _ = run_cli(*base)  # the same run again: nothing to do
    assert code == 0 and "already done" in out_text


def test_a_smaller_budget_on_a_finished_run_is_refused(tmp_path: Path, run_cli):
    out = tmp_path / "r"
    base = ["train", "--variant", "gan-ns", "--dataset", "ring8", "--out", out, "--no-progress", *MIX]
    assert run_cli(*base, "--budget", "6steps")[0] == 0
    before = tree_hashes(out)
    code, _, err = run_cli(*base, "--budget", "4steps")
    assert code == 2 and "cannot be reached" in err
    assert tree_hashes(out) == before
    assert json.loads((out / "summary.json").read_text())["budget"] == "6steps"
    code, _, _ = run_cli(*base, "--budget", "8steps")  # a larger one continues it
    assert code == 0 and json.loads((out / "summary.json").read_text())["consumed"]["steps"] == 8


def test_a_checkpoint_of_another_variant_is_refused(tmp_path: Path, run_cli, interrupt_at):
    other = tmp_path / "other"
    train(other, "lsgan", "ring8", "4steps", MIX)
    run = tmp_path / "r"
    with pytest.raises(interrupt_at.error):
        train(run, "gan-ns", "ring8", "4steps", [*MIX, "checkpoint_every=1"], on_step=interrupt_at(2))
    (run / "checkpoints" / "latest.pt").write_bytes((other / "checkpoints" / "latest.pt").read_bytes())
    before = tree_hashes(run)
    code, _, err = run_cli("train", "--variant", "gan-ns", "--dataset", "ring8", "--budget", "4steps", "--out", run,
                           "--no-progress", *MIX, "checkpoint_every=1")
    assert code == 2 and "checkpoint of another run" in err
    assert tree_hashes(run) == before


def test_resuming_on_another_device_continues_with_a_fresh_noise_stream(tmp_path: Path, caplog, interrupt_at):
    run = tmp_path / "r"
    with pytest.raises(interrupt_at.error):
        train(run, "gan-ns", "ring8", "4steps", [*MIX, "checkpoint_every=1"], on_step=interrupt_at(2))
    state = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    state["device"] = "cuda"  # as written by a CUDA run: its noise state is not a CPU generator's
    state["rng"]["noise"] = torch.zeros(16, dtype=torch.uint8)
    torch.save(state, run / "checkpoints" / "latest.pt")
    result = train(run, "gan-ns", "ring8", "4steps", [*MIX, "checkpoint_every=1"])
    assert result.status == "done" and result.consumed.steps == 4
    assert "noise stream restarts" in caplog.text


def test_divergence_keeps_the_last_finite_checkpoint(tmp_path: Path):
    def poison(step, variant):
        if step == 5:
            with torch.no_grad():
                next(variant.nets["G"].parameters()).fill_(float("nan"))

    run = tmp_path / "r"
    result = train(run, "gan-ns", "ring8", "20steps", [*MIX, "checkpoint_every=4"], on_step=poison)
    assert result.status.startswith("diverged at step")
    assert (run / "status").read_text().startswith("diverged at step")
    state = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert state["consumed"]["steps"] == 4
    assert all(torch.isfinite(t).all() for t in state["nets"].values() if t.is_floating_point())
    assert not (run / "checkpoints" / "final.pt").exists()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == result.status and summary["metrics"] == {}
    # Running it again changes nothing: the run is finished as diverged.
    before = tree_hashes(run)
    again = train(run, "gan-ns", "ring8", "20steps", [*MIX, "checkpoint_every=4"])
    assert again.reused and again.status == result.status
    assert tree_hashes(run) == before


HOLDER = """
import sys, time
from gan_bench.train.lock import FolderLock
with FolderLock(sys.argv[1], "test holder"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_writer_is_refused_naming_the_holder(tmp_path: Path, run_cli):
    run = tmp_path / "r"
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    holder = subprocess.Popen([sys.executable, str(script), str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code, _, err = run_cli("train", "--variant", "gan-ns", "--dataset", "ring8", "--budget", "2steps",
                               "--out", run, "--no-progress", *MIX)
        assert code == 2 and f"pid {holder.pid}" in err and "test holder" in err
        assert not (run / "config.yaml").exists()
    finally:
        holder.kill()
        holder.wait()
    # The kernel released the dead holder's lock: the folder is usable again.
    assert run_cli("train", "--variant", "gan-ns", "--dataset", "ring8", "--budget", "2steps",
                   "--out", run, "--no-progress", *MIX)[0] == 0


SUITE = """
name: tiny
budget: 4steps
seeds: [0, 1, 2]
datasets: [ring8]
variants: [gan-ns, lsgan]
config:
  data: {num_points: 500}
  eval: {num_samples: 100}
  net: {width: 16}
"""


def test_a_suite_rerun_with_other_settings_never_reports_old_numbers(tmp_path: Path, run_cli):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    out = tmp_path / "out"
    assert run_cli("suite", suite, "--out", out, "--no-progress")[0] == 0
    first = pd.read_csv(out / "leaderboard.csv")
    old_runs = tree_hashes(out / "runs")

    code, stdout, _ = run_cli("suite", suite, "--out", out, "--no-progress", "--scale", "2")
    assert code == 0 and "0 reused, 0 resumed, 6 new" in stdout and "6 folders of other configurations" in stdout
    second = pd.read_csv(out / "leaderboard.csv")
    assert (second["steps_mean"] == 8).all() and (first["steps_mean"] == 4).all()
    assert (second["budget"] == "8steps").all()
    # The earlier runs are still there, untouched.
    now = tree_hashes(out / "runs")
    assert all(now[k] == v for k, v in old_runs.items())

    code, stdout, _ = run_cli("suite", suite, "--out", out, "--no-progress", "--scale", "2", "optim.g_lr=1e-3")
    assert code == 0 and "0 reused" in stdout and "6 new" in stdout
    code, stdout, _ = run_cli("suite", suite, "--out", out, "--no-progress", "--scale", "2")
    assert code == 0 and "6 reused" in stdout
    assert pd.read_csv(out / "leaderboard.csv").equals(second)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_suite_killed_midway_finishes_the_rest(tmp_path: Path, run_cli, jobs: str):
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.replace("4steps", "300steps"))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "gan_bench.cli", "suite", str(suite), "--out", str(out),
                             "--no-progress", "--jobs", jobs], env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("runs/*/summary.json"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # No worker outlives its suite: nothing is written after a moment, and every run folder's lock is free.
    time.sleep(0.5)
    snapshot = tree_hashes(out)
    time.sleep(2)
    assert tree_hashes(out) == snapshot, "a worker kept training after its suite was killed"
    deadline = time.time() + 10
    while True:
        try:
            for run in out.glob("runs/*"):
                with FolderLock(run, "test"):
                    pass
            break
        except FolderLockedError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)
    done_before = len(list(out.glob("runs/*/summary.json")))
    assert 2 <= done_before < 6
    code, stdout, _ = run_cli("suite", suite, "--out", out, "--no-progress")
    assert code == 0 and f"{done_before} reused" in stdout
    board = pd.read_csv(out / "leaderboard.csv")
    assert (board["status"] == "3/3 done").all()
    for run in out.glob("runs/*"):
        steps = [r["step"] for r in read_jsonl(run / "metrics.jsonl") if r["kind"] == "train"]
        assert len(steps) == len(set(steps)) and steps == sorted(steps)
