"""Suites: expand, validate, run in workers, skip finished runs, write leaderboard and report."""

from pathlib import Path

import pandas as pd
import pytest

from gan_bench.config import ConfigError
from gan_bench.suite import load_suite, scaled_budget

SUITE = """
name: tiny
budget: 6steps
seeds: [0, 1, 2]
datasets: [ring8]
variants: [gan-ns, mad-gan]
config:
  data: {num_points: 500}
  eval: {num_samples: 100}
  net: {width: 16}
  log_every: 2
per_variant:
  mad-gan: {model: {num_generators: 2}}
references: [mode_coverage_2d.csv]
notes: ["a note"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


def test_suite_runs_skips_done_and_publishes(tmp_path: Path, run_cli):
    suite = write(tmp_path, SUITE)
    out = tmp_path / "out"
    code, stdout, _ = run_cli("suite", suite, "--out", out, "--jobs", "2", "--no-progress", "--publish", tmp_path / "pub")
    assert code == 0, stdout
    assert "wall time" in stdout and "6 runs (0 reused, 0 resumed, 6 new; 0 diverged, 0 failed)" in stdout

    board = pd.read_csv(out / "leaderboard.csv")
    assert sorted(board["variant"]) == ["gan-ns", "mad-gan"]
    row = board.set_index("variant").loc["gan-ns"]
    assert row["seeds"] == 3 and row["seed_list"] == "0 1 2" and row["status"] == "3/3 done"
    assert row["steps_mean"] == 6 and row["images_mean"] == 600
    for metric in ("modes", "high_quality_pct", "reverse_kl"):
        assert f"{metric}_mean" in board and f"{metric}_std" in board
    html = (out / "index.html").read_text()
    assert "tiny" in html and "Srivastava" in html  # the published rows sit beside ours
    banner = html[: html.index("<main>")]  # the budget is stated at the top, not only in the notes
    assert "Budget trained: 6steps per run, 3 seeds" in banner
    assert (tmp_path / "pub" / "leaderboards" / "tiny.csv").exists()
    assert (tmp_path / "pub" / "reports" / "tiny" / "index.html").exists()

    # A second invocation finds every run done and only rebuilds the tables.
    code, stdout, _ = run_cli("suite", suite, "--out", out, "--no-progress")
    assert code == 0 and "6 reused" in stdout
    assert pd.read_csv(out / "leaderboard.csv").equals(board)


def test_suite_resumes_after_a_kill(tmp_path: Path, run_cli):
    one_variant = SUITE.replace("variants: [gan-ns, mad-gan]", "variants: [gan-ns]")
    suite = write(tmp_path, one_variant.replace("  mad-gan: {model: {num_generators: 2}}\n", "").replace("per_variant:\n", ""))
    out = tmp_path / "out"
    assert run_cli("suite", suite, "--out", out, "--no-progress")[0] == 0
    # Simulate a killed suite: one run never finished.
    (victim,) = (out / "runs").glob("gan-ns__ring8__s1__*")
    (victim / "status").write_text("running\n")
    code, stdout, _ = run_cli("suite", suite, "--out", out, "--no-progress")
    assert code == 0 and "2 reused, 1 resumed, 0 new" in stdout


@pytest.mark.parametrize("change,needle", [
    ("seeds: [0, 1, 2]", "seeds: [0, 1]"),
    ("variants: [gan-ns, mad-gan]", "variants: [gan-ns, nope]"),
    ("name: tiny", "name: tiny\nbogus: 1"),
    ("name: tiny", "name: ../escaped"),
    ("name: tiny", "name: /tmp/escaped"),
    ("variants: [gan-ns, mad-gan]", "variants: []"),
    ("references: [mode_coverage_2d.csv]", "references: [/etc/passwd]"),
    ("references: [mode_coverage_2d.csv]", "references: [../../secrets.csv]"),
])
def test_bad_suites_exit_2_and_write_nothing(tmp_path: Path, run_cli, change, needle):
    suite = write(tmp_path, SUITE.replace(change, needle))
    code, _, stderr = run_cli("suite", suite, "--out", tmp_path / "out", "--no-progress", "--publish", tmp_path / "pub")
    assert code == 2 and len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "pub").exists()
    assert not Path("/tmp/escaped").exists() and not (tmp_path.parent / "escaped").exists()


def test_load_suite_messages(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"at least 3 distinct seeds.*suite.yaml"):
        load_suite(write(tmp_path, SUITE.replace("seeds: [0, 1, 2]", "seeds: [0, 0, 1]")))
    with pytest.raises(ConfigError, match=r"per_variant.wgan"):
        load_suite(write(tmp_path, SUITE.replace("per_variant:\n", "per_variant:\n  wgan: {}\n")))


def test_scaled_budget():
    assert scaled_budget("2000steps", 0.05) == "100steps"
    assert scaled_budget("50kimg", 0.1) == "5000img"
    assert scaled_budget("300s", 0.5) == "150s"
    assert scaled_budget("10steps", 0.001) == "1steps"


def test_shipped_suites_are_valid():
    from gan_bench.suite import plan

    root = Path(__file__).resolve().parents[1] / "baselines"
    for name in ("quickstart.yaml", "mixtures.yaml"):
        suite = load_suite(root / name)
        runs = plan(suite, root / name, Path("/nonexistent"))
        assert len(runs) == len(suite.variants) * len(suite.datasets) * len(suite.seeds)


def test_runs_copied_from_elsewhere_are_reused_and_no_wall_time_is_made_up(tmp_path: Path, run_cli):
    import shutil

    suite = write(tmp_path, SUITE)
    code, stdout, _ = run_cli("suite", suite, "--out", tmp_path / "a", "--no-progress", "--seeds", "0")
    assert code == 0, stdout
    shutil.copytree(tmp_path / "a" / "runs", tmp_path / "b" / "runs")
    code, stdout, _ = run_cli("suite", suite, "--out", tmp_path / "b", "--no-progress", "--seeds", "0")
    assert code == 0 and "2 reused" in stdout
    header = (tmp_path / "b" / "index.html").read_text().split("<main>")[0]
    assert "total wall time not recorded" in header  # trained in another folder: its time is not ours
    assert "total wall time not recorded" not in (tmp_path / "a" / "index.html").read_text()


def test_overrides_after_the_suite_file_apply_to_every_run(tmp_path: Path, run_cli):
    suite = write(tmp_path, SUITE)
    out = tmp_path / "out"
    code, stdout, _ = run_cli("suite", suite, "--out", out, "--no-progress", "budget=3steps", "net.width=8")
    assert code == 0, stdout
    board = pd.read_csv(out / "leaderboard.csv")
    assert (board["steps_mean"] == 3).all()
    banner = (out / "index.html").read_text().split("<main>")[0]
    assert "overrides budget=3steps net.width=8" in banner
    with pytest.raises(SystemExit) as info:  # argparse rejects unknown flags with exit code 2
        run_cli("suite", suite, "--out", tmp_path / "o2", "--bogus-flag")
    assert info.value.code == 2
