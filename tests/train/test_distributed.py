"""Data-parallel training (gan_bench.train.distributed): two gloo processes on the CPU train the run
one process trains with the same global batch, resume exactly, and write one run folder.

The ranks are started the way torchrun starts them (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR and
MASTER_PORT in the environment), running this file as a script; one test goes through the real
``torchrun ... -m gan_bench train`` command.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gan_bench.budget import Budget, Consumed
from gan_bench.config import ConfigError
from gan_bench.train import distributed
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import Trainer

# A GAN without batch norm (per-rank batch statistics would differ from one process's by design).
FLAGS = {"variant": "gan-ns", "dataset": "ring8", "seed": 0}
OVERRIDES = ["batch_size=32", "data.num_points=512", "eval.num_samples=100", "net.width=16",
             "net.g_batchnorm=false", "checkpoint_every=4", "log_every=1"]
STEPS = 8
INTERRUPT = 6  # after step 6: the run resumes from the checkpoint at step 4


class Interrupted(Exception):
    """The stop of a run killed after some step."""


def _trainer(out: str, budget: str, on_step=None) -> Trainer:
    resolved = resolve(flags={**FLAGS, "budget": budget}, overrides=OVERRIDES)
    return Trainer(resolved, out, progress=False, on_step=on_step)


def _rank_main(jobs: list[dict[str, object]]) -> None:
    """One rank: run ``jobs`` ({"out", "budget", "interrupt"}) in order in one process group."""
    torch.set_num_threads(1)
    for job in jobs:
        stop = job.get("interrupt")

        def hook(step: int, variant: object, stop: object = stop) -> None:
            if step == stop:
                raise Interrupted(f"stopped after step {step}")

        try:
            _trainer(str(job["out"]), str(job["budget"]), hook if stop else None).run()
        except Interrupted:
            pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(jobs: list[dict[str, object]], world: int = 2, timeout: float = 120) -> None:
    """Start ``world`` ranks of this file as torchrun would, and wait for all of them."""
    port = str(_free_port())
    procs = []
    for rank in range(world):
        env = {**os.environ, "WORLD_SIZE": str(world), "RANK": str(rank), "LOCAL_RANK": str(rank),
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen([sys.executable, __file__, json.dumps(jobs)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=timeout)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]


def _nets(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "final.pt", weights_only=True)["nets"]


def _train_rows(run_dir: Path) -> list[dict[str, object]]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    drop = {"seconds", "images_per_s"}
    return [{k: v for k, v in r.items() if k not in drop} for r in rows if r["kind"] == "train"]


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two ranks: an uninterrupted run, and one stopped after step 6 then resumed (same processes)."""
    root = tmp_path_factory.mktemp("ddp")
    budget = f"{STEPS}steps"
    _launch([{"out": str(root / "full"), "budget": budget},
             {"out": str(root / "resumed"), "budget": budget, "interrupt": INTERRUPT},
             {"out": str(root / "resumed"), "budget": budget}])
    return root


def test_two_ranks_train_what_one_process_trains(ddp_runs: Path, tmp_path: Path) -> None:
    _trainer(str(tmp_path / "one"), f"{STEPS}steps").run()
    one, two = _nets(tmp_path / "one"), _nets(ddp_runs / "full")
    assert one.keys() == two.keys()
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=1e-5, atol=1e-6, msg=key)
    # The same losses, averaged over the ranks, logged once per step by rank 0 alone.
    rows_one, rows_two = _train_rows(tmp_path / "one"), _train_rows(ddp_runs / "full")
    assert [r["step"] for r in rows_two] == list(range(1, STEPS + 1))
    assert [r["images_seen"] for r in rows_two] == [r["images_seen"] for r in rows_one]
    for a, b in zip(rows_one, rows_two):
        for key in a:
            if key.startswith("loss/"):
                assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-6)
    summary = json.loads((ddp_runs / "full" / "summary.json").read_text())
    assert summary["status"] == "done" and summary["consumed"]["images"] == STEPS * 32
    assert summary["distributed"] == {"world_size": 2, "backend": "gloo"}
    assert json.loads((ddp_runs / "full" / "env.json").read_text())["distributed"]["world_size"] == 2


def test_resumed_ddp_run_equals_uninterrupted(ddp_runs: Path) -> None:
    full, resumed = _nets(ddp_runs / "full"), _nets(ddp_runs / "resumed")
    for key in full:
        assert torch.equal(full[key], resumed[key]), key
    assert _train_rows(ddp_runs / "resumed") == _train_rows(ddp_runs / "full")
    assert (ddp_runs / "resumed" / "status").read_text().strip() == "done"


def test_torchrun_cli_writes_one_run_folder(tmp_path: Path) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun not found")
    out = tmp_path / "run"
    cmd = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "gan_bench", "train",
           "--variant", "gan-ns", "--dataset", "ring8", "--budget", "96img", "--seed", "1", "--out", str(out),
           "--no-progress", *OVERRIDES]
    proc = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert proc.stdout.count(f"{out}: done") == 1, proc.stdout  # one report, from rank 0
    for name in ("config.yaml", "run.json", "env.json", "status", "metrics.jsonl", "summary.json",
                 "checkpoints/latest.pt", "checkpoints/final.pt", "samples/final.npz"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "done"
    assert summary["consumed"] == {**summary["consumed"], "images": 96, "steps": 3}  # global images
    assert summary["distributed"] == {"world_size": 2, "backend": "gloo"}
    assert json.loads((out / "run.json").read_text())["distributed"]["world_size"] == 2
    assert sum(1 for r in _train_rows(out)) == 3 and "reverse_kl" in summary["metrics"]


def test_batch_not_divisible_by_world_size_is_one_clear_error(run_cli, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    out = tmp_path / "run"
    code, _, err = run_cli("train", "--variant", "gan-ns", "--dataset", "ring8", "--budget", "4steps",
                           "--out", out, "batch_size=33", "data.num_points=512")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "batch_size=33" in err and "2 data-parallel" in err
    assert not out.exists()  # refused before anything is written or any rank waits


def test_image_budget_splits_evenly_over_ranks() -> None:
    world = distributed.World(size=4, rank=1)
    budget, used, sizes_seen = Budget.parse("1000img"), Consumed(), []
    while not budget.exhausted(used):
        sizes = distributed.batch_sizes(budget, used, 2, 64, world)
        assert all(s % 4 == 0 and s // 4 >= 2 for s in sizes), sizes
        used.steps, used.images = used.steps + 1, used.images + sum(sizes)
        sizes_seen.append(sizes)
    assert used.images == 1000 and sizes_seen[0] == [64, 64]
    with pytest.raises(ConfigError, match="divisible"):
        distributed.check_divisible(world, 64, Budget.parse("1001img"))
    rows = torch.arange(12)
    assert torch.equal(distributed.shard(rows, world), torch.tensor([3, 4, 5]))


if __name__ == "__main__":  # a rank started by _launch
    _rank_main(json.loads(sys.argv[1]))
