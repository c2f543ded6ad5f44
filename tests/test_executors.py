"""Executors: the same suite through local worker processes and through Ray gives the same
leaderboard; Ray runs waves in order, reuses finished runs and resumes interrupted ones; without
Ray, ``--executor ray`` is one line and exit code 2."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from gan_bench.executors import LocalExecutor, RayExecutor, make_executor

# The quickstart's shape at a tiny size: 2 variants x ring8 x 2 seeds.
SUITE = """
name: tiny-ray
budget: 30steps
seeds: [0, 1]
min_seeds: 2
datasets: [ring8]
variants: [gan-ns, wgan-gp]
config:
  data: {num_points: 1000}
  eval: {num_samples: 200}
  net: {width: 8}
  log_every: 10
"""
METRICS = ["modes_mean", "high_quality_pct_mean", "reverse_kl_mean", "steps_mean", "status"]


def write(tmp_path: Path) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE)
    return path


def summaries(out: Path) -> dict[str, int]:
    """Each run folder's summary modification time (nanoseconds): changes only when a run trains."""
    return {p.parent.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*/summary.json")}


@pytest.fixture
def ray_session():
    """A local Ray session opened by the caller (as in a notebook): the executor uses it and leaves
    it open; one Ray start serves every suite invocation of a test (each start costs ~15 s here)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def test_ray_gives_the_local_leaderboard_then_reuses_and_resumes(tmp_path: Path, run_cli, ray_session):
    suite = write(tmp_path)
    code, stdout, _ = run_cli("suite", suite, "--out", tmp_path / "local", "--no-progress")
    assert code == 0, stdout
    out = tmp_path / "ray"
    code, stdout, _ = run_cli("suite", suite, "--out", out, "--no-progress", "--executor", "ray", "--jobs", "2",
                            "--cpus-per-run", "1")
    assert code == 0 and "4 runs (0 reused, 0 resumed, 4 new; 0 diverged, 0 failed)" in stdout, stdout

    local = pd.read_csv(tmp_path / "local" / "leaderboard.csv").set_index("variant")
    remote = pd.read_csv(out / "leaderboard.csv").set_index("variant")
    assert sorted(remote.index) == ["gan-ns", "wgan-gp"]
    assert (remote["status"] == "2/2 done").all()
    # Same seeds, same code, one torch thread per run on both sides: the same numbers.
    pd.testing.assert_frame_equal(local[METRICS].sort_index(), remote[METRICS].sort_index(), rtol=1e-6)

    assert ray_session.is_initialized()  # the caller's session stays open

    # A rerun through Ray finds every run finished: nothing retrains.
    trained = summaries(out)
    assert len(trained) == 4
    code, stdout, _ = run_cli("suite", suite, "--out", out, "--no-progress", "--executor", "ray")
    assert code == 0 and "4 reused, 0 resumed, 0 new" in stdout, stdout
    assert summaries(out) == trained

    # A driver killed mid-run leaves one run interrupted: Ray resumes it, the others are reused.
    (victim,) = (out / "runs").glob("gan-ns__ring8__s1__*")
    (victim / "status").write_text("running\n")
    code, stdout, _ = run_cli("suite", suite, "--out", out, "--no-progress", "--executor", "ray")
    assert code == 0 and "3 reused, 1 resumed, 0 new" in stdout, stdout
    after = summaries(out)
    assert {k for k in after if after[k] != trained[k]} == {victim.name}
    assert pd.read_csv(out / "leaderboard.csv").set_index("variant")[METRICS].equals(remote[METRICS])


def test_ray_runs_waves_in_order_and_asks_for_resources(tmp_path: Path):
    ray = pytest.importorskip("ray")
    from types import SimpleNamespace

    from gan_bench.suite import PlannedRun

    def run(name: str, needs: list[Path] = ()) -> PlannedRun:
        resolved = SimpleNamespace(cfg=SimpleNamespace(device="cpu"))
        return PlannedRun(name, tmp_path / name, resolved, entry=name, needs=list(needs))  # type: ignore[arg-type]

    def record(job: list) -> list[tuple[str, str]]:  # a stand-in job (pickled by value for the workers)
        import time

        import ray
        import torch

        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
        outcomes = []
        for r in job:  # fails unless the folders it starts from exist, then writes its own ("a" late)
            time.sleep(2.0 if r.name == "a" else 0.0)
            missing = [p for p in r.needs if not p.exists()]
            if not missing:
                r.run_dir.mkdir(parents=True)
            outcomes.append((r.name, f"{'failed: missing' if missing else 'done'} {cpus} {torch.get_num_threads()}"))
        return outcomes

    first = [run("a"), run("b")]
    second = run("c", [tmp_path / "a", tmp_path / "b"])  # starts from both: the next wave
    executor = RayExecutor(jobs=2)
    with executor:
        outcomes = list(executor.run([[[first[0]], [first[1]]], [[second]]], record))
    assert not ray.is_initialized()  # the executor shut down the Ray it started
    n = executor.cpus_per_run  # each task holds the CPUs it asked for, as torch threads
    assert sorted(outcomes[:2]) == [("a", f"done {n:.1f} {n}"), ("b", f"done {n:.1f} {n}")]
    assert outcomes[2] == ("c", f"done {n:.1f} {n}")


def test_gpu_request_follows_the_device(monkeypatch):
    ray = pytest.importorskip("ray")
    from types import SimpleNamespace

    def job(device: str) -> list:
        return [SimpleNamespace(resolved=SimpleNamespace(cfg=SimpleNamespace(device=device)))]

    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0})
    executor = RayExecutor()
    assert [executor._gpus(job(d)) for d in ("cpu", "cuda", "auto")] == [0.0, 1.0, 0.0]
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0, "GPU": 1.0})
    assert executor._gpus(job("auto")) == 1.0
    assert RayExecutor(gpus_per_run=0.25)._gpus(job("cuda")) == 0.25


def test_missing_ray_is_one_line_and_exit_2(tmp_path: Path, run_cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    code, _, stderr = run_cli("suite", write(tmp_path), "--out", tmp_path / "out", "--executor", "ray")
    assert code == 2 and len(stderr.strip().splitlines()) == 1
    assert "pip install 'gan-bench[ray]'" in stderr
    assert not (tmp_path / "out").exists()


def test_ray_options_need_the_ray_executor(tmp_path: Path, run_cli):
    assert isinstance(make_executor("local", jobs=2), LocalExecutor)
    code, _, stderr = run_cli("suite", write(tmp_path), "--out", tmp_path / "out", "--gpus-per-run", "0.5")
    assert code == 2 and "--gpus-per-run applies to --executor ray only" in stderr
    assert not (tmp_path / "out").exists()
