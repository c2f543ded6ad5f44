"""The tidy leaderboard (gan-bench leaderboard) and the regression check (gan-bench check)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from gan_bench.report.check import compare, parse_tolerances
from gan_bench.report.tidy import (
    LONG_COLUMNS,
    ReportInputError,
    column_name,
    find_run_dirs,
    long_table,
    wide_table,
    write_suite_manifest,
)

FID = "fid[mnist-classifier]"


def fake_run(root: Path, variant: str, dataset: str, seed: int, metrics: dict[str, float], status: str = "done",
             sha: str = "abc123") -> Path:
    """A run folder as the trainer writes it (summary.json, run.json, env.json), without training."""
    run = root / "runs" / f"{variant}__{dataset}__s{seed}__0000"
    run.mkdir(parents=True)
    summary = {"variant": variant, "dataset": dataset, "arch": "mlp", "seed": seed, "budget": "100steps",
               "status": status, "config_hash": f"h{seed}", "protocol": "p",
               "consumed": {"steps": 100, "images": 6400, "seconds": 1.5}, "wall_seconds": 2.0, "metrics": metrics}
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "run.json").write_text(json.dumps({"variant": variant, "dataset": dataset, "seed": seed}))
    (run / "env.json").write_text(json.dumps({"device": "cpu", "gan_bench": "0.1.0", "git_sha": sha,
                                              "packages": {"torch": "2.9"}}))
    return run


@pytest.fixture
def suite_dir(tmp_path: Path) -> Path:
    root = tmp_path / "suite"
    for seed, (fid, modes) in enumerate([(10.0, 8.0), (12.0, 7.0), (14.0, 8.0)]):
        fake_run(root, "dcgan", "mnist", seed, {FID: fid, "modes": modes})
        fake_run(root, "wgan", "mnist", seed, {FID: 30.0 + seed, "modes": 5.0})
    write_suite_manifest(root, name="t", suite_file="t.yaml", budget="100steps", scale=0.5,
                         overrides=["net.width=8", "amp=true"])
    return root


def test_column_names_are_queryable() -> None:
    assert column_name(FID) == "fid__mnist_classifier"
    assert column_name("loss/d") == "loss_d" and column_name("2x") == "m_2x"
    assert column_name("Reverse KL") == "reverse_kl"


def test_long_table_holds_every_seed_and_provenance(suite_dir: Path) -> None:
    runs = find_run_dirs([suite_dir])
    assert len(runs) == 6
    long = long_table(runs)
    assert list(long.columns) == LONG_COLUMNS and len(long) == 12
    row = long[(long["variant"] == "dcgan") & (long["metric"] == FID) & (long["seed"] == 1)].iloc[0]
    assert row["value"] == 12.0 and row["git_sha"] == "abc123" and row["device"] == "cpu"
    assert row["torch_version"] == "2.9" and row["steps"] == 100 and row["wall_seconds"] == 2.0
    assert row["scale"] == 0.5 and row["overrides"] == "net.width=8 amp=true" and row["config_hash"] == "h1"


def test_wide_view_and_files(suite_dir: Path, run_cli) -> None:
    out = suite_dir.parent / "lb" / "x.csv"
    code, stdout, _ = run_cli("leaderboard", suite_dir, "-o", out)
    assert code == 0 and "6 runs" in stdout
    wide = pd.read_csv(out.with_name("x.wide.csv"))
    best = wide.query("fid__mnist_classifier__mean < 20")
    assert list(best["variant"]) == ["dcgan"]
    row = best.iloc[0]
    assert row["fid__mnist_classifier__mean"] == 12.0 and math.isclose(row["fid__mnist_classifier__std"], 2.0)
    assert row["fid__mnist_classifier__n"] == 3 and row["seed_list"] == "0 1 2" and row["status"] == "3/3 done"
    mapping = json.loads(out.with_name("x.wide.json").read_text())["columns"]
    assert mapping["fid__mnist_classifier"] == FID
    md = out.with_name("x.wide.md").read_text()
    assert md.startswith("| variant | dataset |") and "| dcgan | mnist |" in md
    assert len(pd.read_csv(out)) == 12


def test_failed_runs_stay_visible_and_out_of_the_means(tmp_path: Path) -> None:
    fake_run(tmp_path, "gan-ns", "ring8", 0, {"modes": 8.0})
    fake_run(tmp_path, "gan-ns", "ring8", 1, {}, status="failed: boom")
    fake_run(tmp_path, "gan-ns", "ring8", 2, {"modes": 2.0}, status="diverged at step 5")
    long = long_table(find_run_dirs([tmp_path]))
    assert "failed: boom" in set(long["status"])
    wide, _ = wide_table(long)
    row = wide.iloc[0]
    assert row["modes__mean"] == 8.0 and row["modes__n"] == 1 and row["status"] == "1/3 done, 1 diverged"


def _long(values: dict[tuple[str, str], list[float]], status: str = "done") -> pd.DataFrame:
    rows = []
    for (variant, metric), vals in values.items():
        for seed, v in enumerate(vals):
            rows.append({"variant": variant, "dataset": "d", "metric": metric, "seed": seed, "value": v,
                         "status": status, "run": f"{variant}{seed}"})
    return pd.DataFrame(rows)


def test_compare_directions_and_tolerances() -> None:
    base = _long({("a", "fid"): [10.0, 11.0, 12.0], ("a", "modes"): [20.0, 20.0, 20.0]})
    same = compare(base, base)
    assert set(same["verdict"]) == {"ok"}
    # fid rising by 5 (std 1 -> default tolerance 3) regresses; modes rising is an improvement.
    worse = _long({("a", "fid"): [15.0, 16.0, 17.0], ("a", "modes"): [24.0, 24.0, 24.0]})
    result = compare(base, worse).set_index("metric")
    assert result.loc["fid", "verdict"] == "REGRESSED" and math.isclose(result.loc["fid", "worse_by"], 5.0)
    assert result.loc["modes", "verdict"] == "improved"
    assert compare(base, worse, parse_tolerances(["fid=abs:6"])).set_index("metric").loc["fid", "verdict"] == "ok"
    assert compare(base, worse, parse_tolerances(["*=rel:0.6"])).set_index("metric").loc["fid", "verdict"] == "ok"
    # modes (no spread) dropping by 2 of 20 is within the default 10%; by 3 it is not.
    assert compare(base, _long({("a", "modes"): [18.0] * 3}), metrics=["modes"])["verdict"].item() == "ok"
    assert compare(base, _long({("a", "modes"): [17.0] * 3}), metrics=["modes"])["verdict"].item() == "REGRESSED"


def test_compare_flags_missing_and_failed_seeds() -> None:
    base = _long({("a", "fid"): [10.0, 11.0, 12.0], ("b", "fid"): [5.0, 5.0, 5.0]})
    partial = _long({("a", "fid"): [10.0, 11.0]})
    result = compare(base, partial).set_index("variant")
    assert result.loc["a", "verdict"] == "FEWER SEEDS" and result.loc["b", "verdict"] == "MISSING"
    assert set(compare(base, _long({("a", "fid"): [1.0] * 3, ("b", "fid"): [1.0] * 3}, status="failed: x"))["verdict"]) == {"MISSING"}


@pytest.mark.parametrize("text", ["fid", "fid=abs:", "fid=pct:1", "fid=rel:-1", "fid=abs:nan", "=abs:1x"])
def test_bad_tolerances_are_refused(text: str) -> None:
    with pytest.raises(ReportInputError):
        parse_tolerances([text])


def test_check_cli_exit_codes(suite_dir: Path, tmp_path: Path, run_cli) -> None:
    baseline = tmp_path / "base.csv"
    assert run_cli("leaderboard", suite_dir, "-o", baseline)[0] == 0
    code, stdout, _ = run_cli("check", suite_dir, "--baseline", baseline)
    assert code == 0 and "all 4 comparisons within tolerance" in stdout
    worse = tmp_path / "worse"
    for seed in range(3):
        fake_run(worse, "dcgan", "mnist", seed, {FID: 40.0, "modes": 8.0})
        fake_run(worse, "wgan", "mnist", seed, {FID: 30.0 + seed, "modes": 5.0})
    code, stdout, _ = run_cli("check", worse, "--baseline", baseline)
    assert code == 1
    lines = [line for line in stdout.splitlines() if "REGRESSED" in line]
    assert len(lines) == 1 and "dcgan" in lines[0] and FID in lines[0] and "+28" in lines[0]
    # bad input: one line on stderr, exit 2
    text = tmp_path / "not_a_table.csv"
    text.write_text("a,b\n1,2\n")
    for argv in (["check", worse, "--baseline", tmp_path / "nope.csv"],
                 ["check", worse, "--baseline", text],
                 ["check", tmp_path / "no-runs-here", "--baseline", baseline],
                 ["check", worse, "--baseline", baseline, "--tolerance", "fid=bogus"],
                 ["check", worse, "--baseline", baseline, "--metric", "nope"]):
        code, _, stderr = run_cli(*argv)
        assert code == 2 and len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr, (argv, stderr)
    (tmp_path / "empty").mkdir()
    code, _, stderr = run_cli("leaderboard", tmp_path / "empty", "-o", tmp_path / "x.csv")
    assert code == 2 and "holds no run folder" in stderr


TINY_SUITE = """
name: tiny-gate
budget: 300steps
seeds: [0, 1, 2]
datasets: [ring8]
variants: [gan-ns]
config:
  device: cpu
  data: {num_points: 2000}
  eval: {num_samples: 500}
  net: {width: 32}
  log_every: 50
"""


def test_check_passes_on_the_baseline_and_fails_with_generator_lr_0(tmp_path: Path, run_cli) -> None:
    """Real training: the gate's own logic, on a suite small enough for a test (a few seconds)."""
    suite = tmp_path / "tiny.yaml"
    suite.write_text(TINY_SUITE)
    good, bad, baseline = tmp_path / "good", tmp_path / "bad", tmp_path / "baseline.csv"
    assert run_cli("suite", suite, "--out", good, "--no-progress")[0] == 0
    assert run_cli("leaderboard", good, "-o", baseline)[0] == 0
    code, stdout, _ = run_cli("check", good, "--baseline", baseline)
    assert code == 0, stdout
    assert run_cli("suite", suite, "--out", bad, "--no-progress", "optim.g_lr=0")[0] == 0
    code, stdout, _ = run_cli("check", bad, "--baseline", baseline)
    assert code == 1 and "REGRESSED" in stdout and "reverse_kl" in stdout, stdout


def test_committed_ci_baseline_matches_the_ci_suite() -> None:
    """leaderboards/ci.csv holds every run of baselines/ci.yaml (regenerate both together: bash .ci/gate --update)."""
    from gan_bench.report.tidy import read_long_table
    from gan_bench.suite import load_suite

    repo = Path(__file__).resolve().parents[2]
    suite = load_suite(repo / "baselines" / "ci.yaml")
    base = read_long_table(repo / "leaderboards" / "ci.csv")
    have = {(r.variant, r.dataset, int(r.seed)) for r in base.itertuples() if r.status == "done"}
    want = {(v, d, s) for v in suite.variants for d in suite.datasets for s in suite.seeds}
    assert have == want
    assert set(base["budget"]) == {suite.budget}
    assert {"modes", "reverse_kl"} <= set(base["metric"])
