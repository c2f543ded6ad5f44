"""``gan-bench search``: Lucic et al. 2018's budgeted hyperparameter search with Optuna."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from gan_bench.search import PAPER_SPACE, best_of_k, read_trials_csv, resolve_direction

SUITE = """\
name: tiny-search
budget: 4steps
seeds: [0]
min_seeds: 1
datasets: [mnist]
variants: [{variants}]
config:
  arch: dcgan
  batch_size: 16
  net: {{width: 8}}
  data: {{num_examples: 512}}
  eval: {{num_samples: 100}}
  checkpoint_every: 100
"""


def _suite(tmp_path: Path, variants: str = "gan-ns, wgan-gp") -> Path:
    path = tmp_path / "search.yaml"
    path.write_text(SUITE.format(variants=variants))
    return path


def _fake_train(statuses: dict[int, str] | None = None):
    """A trainer stand-in: writes the run's status and summary, the score a function of its lr, so
    the search logic is tested without training (every status in ``statuses`` by call number)."""
    calls: list = []

    def train(run) -> str:
        calls.append(run)
        status = (statuses or {}).get(len(calls) - 1, "done")
        run.run_dir.mkdir(parents=True, exist_ok=True)
        (run.run_dir / "status").write_text(status + "\n")
        lr = run.resolved.cfg.optim.g_lr
        summary = {"variant": run.resolved.cfg.variant, "dataset": run.resolved.cfg.dataset, "status": status,
                   "metrics": {"fid[mnist-classifier]": abs(math.log10(lr) + 3.5) * 10, "class_acc[x]": lr},
                   "consumed": {"seconds": 0.1}, "protocol": "fake protocol"}
        (run.run_dir / "summary.json").write_text(json.dumps(summary))
        return status

    train.calls = calls
    return train


def test_trials_sample_inside_the_paper_ranges_and_reach_the_runs(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    from gan_bench.search import run_search

    train = _fake_train()
    result = run_search(_suite(tmp_path), tmp_path / "out", 25, train=train)
    rows = read_trials_csv(result.trials_csv)
    assert len(rows) == 50 and len(train.calls) == 50
    space = {p.name: p for p in PAPER_SPACE}
    by_variant = {v: [r for r in rows if r["variant"] == v] for v in ("gan-ns", "wgan-gp")}
    assert "lambda" in space and all(r["lambda"] for r in by_variant["wgan-gp"])
    assert not any(r["lambda"] for r in by_variant["gan-ns"])  # no penalty weight where the variant has none
    for r in rows:
        for name, p in space.items():
            if r.get(name):
                inside = r[name] in map(str, p.choices) if p.choices else p.contains(float(r[name]))
                assert inside, (name, r[name])
    sampled = [float(r["lr"]) for r in rows if r["origin"] == "sampled"]
    assert len(set(sampled)) == len(sampled)  # real draws, not a fixed grid
    assert min(sampled) < 1e-4 and max(sampled) > 1e-3  # log-uniform over three decades
    # each trial is a run of exactly its sampled values: the planned config holds them
    for run, r in zip(train.calls, rows, strict=True):
        cfg = run.resolved.cfg
        assert cfg.optim.g_lr == cfg.optim.d_lr == float(r["lr"]) and cfg.optim.beta1 == float(r["beta1"])
        assert run.resolved.model_opts.n_critic == int(r["n_critic"])
        assert run.run_dir.parent == tmp_path / "out" / "runs"
    # trial 0 is the suite's own setting where it lies in the space (compare_gan's TuneParams)
    first = {r["variant"]: r for r in rows if r["trial"] == "0"}
    assert first["gan-ns"]["origin"] == "suite default" and float(first["gan-ns"]["lr"]) == 2e-4
    assert first["gan-ns"]["n_critic"] == "1" and first["gan-ns"]["d_norm"] == "batch"
    assert first["wgan-gp"]["origin"] == "sampled"  # its default critic norm, layer, is outside {batch, none}

def test_rerun_reuses_finished_trials_without_training(tmp_path: Path, data_root: Path) -> None:
    pytest.importorskip("optuna")
    from gan_bench.search import run_search

    suite, out = _suite(tmp_path, "gan-ns"), tmp_path / "out"
    first = run_search(suite, out, 2)  # real training: 2 tiny runs
    assert first.trained == 2 and first.reused == 0
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert len(runs) == 2 and all((out / "runs" / r / "summary.json").is_file() for r in runs)

    def must_not_train(run) -> str:
        raise AssertionError(f"retrained {run.run_dir}")

    again = run_search(suite, out, 3, train=_fake_train())  # one more trial; the first two are reused
    assert again.reused == 2 and again.trained == 1
    assert [r.score for r in again.rows[:2]] == [r.score for r in first.rows]
    third = run_search(suite, out, 3, train=must_not_train)
    assert third.reused == 3 and third.trained == 0
    assert (out / "index.html").is_file()


def test_diverged_trials_are_failures_not_scores(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    from gan_bench.search import run_search

    result = run_search(_suite(tmp_path, "gan-ns"), tmp_path / "out", 4,
                        train=_fake_train({1: "diverged at step 3", 2: "failed: RuntimeError: boom"}))
    states = [(r.state, r.score) for r in result.rows]
    assert states[1] == ("FAIL", None) and states[2] == ("FAIL", None)
    assert states[0][0] == states[3][0] == "COMPLETE" and result.failed == 2
    html = (tmp_path / "out" / "index.html").read_text()
    assert "2 failed or diverged" in html and "Budget trained: 4steps per trial" in html


def test_best_of_k_is_non_increasing_and_ends_at_the_best() -> None:
    rng = np.random.default_rng(3)
    scores = rng.lognormal(3.0, 1.0, size=17)
    curve = best_of_k(scores, minimize=True, resamples=300, seed=1)
    assert curve.k.tolist() == list(range(1, 18))
    for series in (curve.mean, curve.low, curve.high):
        assert np.all(np.diff(series) <= 0)
    assert curve.mean[-1] == scores.min()
    assert curve.low[-1] == curve.high[-1] == scores.min()
    assert curve.mean[0] == pytest.approx(scores.mean(), rel=0.15)  # best of 1 = a random trial
    up = best_of_k(scores, minimize=False, resamples=300, seed=1)  # accuracy-like: the best is the max
    assert np.all(np.diff(up.mean) >= 0) and np.all(np.diff(up.low) >= 0)
    assert up.mean[-1] == up.low[-1] == up.high[-1] == scores.max()
    assert resolve_direction("fid[mnist-classifier]") == "minimize"
    assert resolve_direction("class_acc[mnist-classifier]") == "maximize"


def test_publish_writes_the_leaderboard_and_the_report(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    from gan_bench.search import run_search

    run_search(_suite(tmp_path), tmp_path / "out", 3, publish=tmp_path / "root", train=_fake_train())
    board = tmp_path / "root" / "leaderboards" / "tiny-search-search.csv"
    page = tmp_path / "root" / "reports" / "tiny-search-search" / "index.html"
    assert board.is_file() and len(read_trials_csv(board)) == 6
    assert "tiny-search-search" in (tmp_path / "root" / "reports" / "index.html").read_text()
    assert "figure 4" in page.read_text() and (tmp_path / "root" / "reports" / "plotly.min.js").is_file()


def test_missing_optuna_is_one_line_exit_2(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    code, out, err = run_cli("search", _suite(tmp_path), "--trials", "2", "--out", tmp_path / "out")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "pip install 'gan-bench[search]'" in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("trials", ["0", "-3"])
def test_bad_trials_is_exit_2(tmp_path: Path, run_cli, trials: str) -> None:
    code, _, err = run_cli("search", _suite(tmp_path), "--trials", trials, "--out", tmp_path / "out")
    assert code == 2 and "--trials" in err and len(err.strip().splitlines()) == 1


def test_bad_arguments_are_exit_2(tmp_path: Path, run_cli) -> None:
    pytest.importorskip("optuna")
    with pytest.raises(SystemExit) as exc:
        run_cli("search", _suite(tmp_path), "--trials", "many", "--out", tmp_path / "out")
    assert exc.value.code == 2
    code, _, err = run_cli("search", _suite(tmp_path), "--trials", "2", "--out", tmp_path / "out", "optim.g_lr=0.1")
    assert code == 2 and "samples it" in err
    code, _, err = run_cli("search", _suite(tmp_path), "--trials", "2", "--out", tmp_path / "out", "--variants", "nope")
    assert code == 2 and "nope" in err


def test_the_published_search_suite_starts_from_compare_gans_defaults() -> None:
    pytest.importorskip("optuna")
    from gan_bench.search import default_point, space_for
    from gan_bench.suite import load_suite, plan

    path = Path(__file__).resolve().parents[1] / "baselines" / "search_mnist.yaml"
    suite = load_suite(path)
    runs = {r.resolved.cfg.variant: r for r in plan(suite, path, Path("/nonexistent"))}
    assert set(runs) == {"gan-ns", "wgan-gp"} and all(r.resolved.cfg.dataset == "mnist" for r in runs.values())
    assert [p.name for p in space_for(runs["wgan-gp"])] == ["lr", "beta1", "n_critic", "d_norm", "lambda"]
    assert "lambda" not in [p.name for p in space_for(runs["gan-ns"])]
    # compare_gan params.py defaults: GAN lr 5e-5 beta1 0; WGAN-GP lr 1e-4 beta1 0.5, 5 critic steps, lambda 10
    assert default_point(runs["gan-ns"], space_for(runs["gan-ns"])) == {
        "lr": 5e-5, "beta1": 0.0, "n_critic": 1, "d_norm": "batch"}
    assert default_point(runs["wgan-gp"], space_for(runs["wgan-gp"])) == {
        "lr": 1e-4, "beta1": 0.5, "n_critic": 5, "d_norm": "none", "lambda": 10.0}
