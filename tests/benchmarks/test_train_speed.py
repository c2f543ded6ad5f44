"""The training-speed benchmark runs end to end through the trainer (its numbers are not tested:
speed is not a test); only that it measures what it says and refuses a window that would time
the FLOP-counted steps."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "train_speed.py"


def _module():
    spec = importlib.util.spec_from_file_location("train_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_speed"] = module
    spec.loader.exec_module(module)
    return module


def test_measures_images_per_second_and_mfu(tmp_path: Path, data_root: Path):
    bench = _module()
    out = tmp_path / "speed.json"
    code = bench.main(["--models", "dcgan", "--dataset", "mnist", "--data-root", str(data_root), "--steps", "2",
                       "--warmup", "18", "--batch-size", "8", "--width-scale", "0.25",
                       "--settings", "fp32-eager,bf16-eager", "--json", str(out)])
    assert code == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["setting"] for r in rows] == ["fp32 eager", "bf16 eager"]
    for row in rows:
        assert row["status"] == "done" and row["images_per_s"] > 0 and row["gflop_per_step"] > 0
        assert row["mfu"] is not None and row["mfu"] > 0
    assert rows[0]["ratio_vs_fp32_eager"] == pytest.approx(1.0)
    assert rows[1]["gflop_per_step"] == pytest.approx(rows[0]["gflop_per_step"])  # same model, same FLOPs


def test_refuses_a_window_inside_the_counted_steps(capsys):
    assert _module().main(["--warmup", "3"]) == 2
    assert "--warmup must be at least 18" in capsys.readouterr().err
