"""Speed records (counted FLOPs, images/s, MFU) and ``compile=true``: the numbers are measured,
the weights are those of the eager run, and a net that cannot compile falls back to eager."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from gan_bench.atomic import read_jsonl
from gan_bench.config import to_dict
from gan_bench.report._runs import load_run
from gan_bench.report.speed import section_speed
from gan_bench.train.checkpoint import load_checkpoint
from gan_bench.train.identity import config_hash
from gan_bench.train.resolve import resolve
from gan_bench.train.speed import count_flops, speed_of
from gan_bench.train.trainer import Trainer

SMALL = ["data.num_points=2000", "eval.num_samples=200", "net.width=16", "log_every=5"]


def _run(out: Path, variant: str, extra: tuple[str, ...] = ()) -> dict:
    # 20 steps: the first 16 are FLOP-counted (eager), compilation starts after them.
    resolved = resolve(flags={"variant": variant, "dataset": "ring8", "budget": "20steps"}, overrides=[*SMALL, *extra])
    assert Trainer(resolved, out, progress=False).run().status == "done"
    return json.loads((out / "summary.json").read_text())


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "checkpoints" / "final.pt")["nets"]


def test_flop_count_of_a_linear_layer_and_its_backward():
    layer = nn.Linear(32, 16)
    x = torch.randn(8, 32, requires_grad=True)
    _, forward = count_flops(lambda: layer(x))
    assert forward == 2 * 8 * 32 * 16
    _, both = count_flops(lambda: layer(x).sum().backward())
    assert both == 3 * forward  # grad wrt input and wrt weight: two more matmuls of the same size


@pytest.mark.parametrize("groups", [1, 4])
def test_flop_count_of_a_convolution_and_its_backward(groups: int):
    conv = nn.Conv2d(8, 16, 3, padding=1, groups=groups)
    x = torch.randn(2, 8, 6, 6, requires_grad=True)
    _, forward = count_flops(lambda: conv(x))
    assert forward == 2 * 2 * 16 * 6 * 6 * (8 // groups) * 9  # every output: in/groups x 3x3 multiply-adds
    out = conv(x)
    _, backward = count_flops(lambda: out.sum().backward())
    assert backward == 2 * forward  # grad wrt input and wrt weight, one forward's worth each


def test_speed_arithmetic():
    s = speed_of(images=1000, steps=10, seconds=2.0, flops_per_step=4 * 10**12, peak=(40.0, "test"))
    assert s.images_per_s == 500 and s.steps_per_s == 5 and s.tflops_per_s == 20 and s.mfu == 0.5
    assert speed_of(1000, 10, 2.0, 0, (40.0, "test")).mfu is None  # nothing counted: no MFU
    assert speed_of(1000, 10, 2.0, 10, (float("nan"), "unknown GPU")).mfu is None


def test_run_records_its_speed(tmp_path: Path):
    summary = _run(tmp_path / "r", "gan-ns")
    speed = summary["speed"]
    assert speed["flops_per_step"] > 0 and speed["images_per_s"] > 0 and speed["peak_tflops"] > 0
    assert 0 < speed["mfu"] < 1 and speed["compile"] == "off" and speed["device"] == "cpu"
    rows = [r for r in read_jsonl(tmp_path / "r" / "metrics.jsonl") if r["kind"] == "train"]
    assert rows and all(r["images_per_s"] > 0 for r in rows)
    # The report's speed table shows the run, with its MFU, and escapes what it shows.
    html = section_speed([load_run(tmp_path / "r")])
    assert "gan-ns" in html and f"{100 * speed['mfu']:.2f}%" in html and "measured cpu" in html
    assert "not measured" not in html and "<script" not in html


def test_compile_is_hash_neutral_when_off():
    cfg = resolve(flags={"variant": "gan-ns", "dataset": "ring8"}, overrides=SMALL).cfg
    assert to_dict(cfg)["compile"] is False
    on = resolve(flags={"variant": "gan-ns", "dataset": "ring8"}, overrides=[*SMALL, "compile=true"]).cfg
    assert config_hash(on) != config_hash(cfg)  # a compiled run is a run of its own
    # Folders published before the key existed keep their names: the hash leaves it out at false.
    import hashlib

    old = {k: v for k, v in to_dict(cfg).items()
           if k not in {"device", "data_root", "log_every", "checkpoint_every", "sample_every", "compile"}}
    assert config_hash(cfg) == hashlib.sha256(json.dumps(old, sort_keys=True, default=str).encode()).hexdigest()[:16]


def test_compiled_run_matches_eager_and_double_backward_falls_back(tmp_path: Path):
    _run(tmp_path / "eager", "gan-ns")
    compiled = _run(tmp_path / "compiled", "gan-ns", ("compile=true",))
    assert compiled["speed"]["compile"] == "on"
    # Same function, to float tolerance. (Weights are not compared one by one: a bias followed by
    # batch norm has a zero gradient up to rounding, which Adam's normalisation turns into steps of
    # size lr in either direction, cancelled by the norm's running mean.)
    eager_x = np.load(tmp_path / "eager" / "samples" / "final.npz")["x"]
    compiled_x = np.load(tmp_path / "compiled" / "samples" / "final.npz")["x"]
    np.testing.assert_allclose(compiled_x, eager_x, atol=2e-3)
    assert np.abs(eager_x).max() > 0.1  # the comparison is not of near-zero outputs

    # WGAN-GP's penalty differentiates D twice, which compiled graphs do not support: the trainer
    # restores the state before the failed step and continues eagerly, bit for bit the eager run.
    _run(tmp_path / "gp-eager", "wgan-gp")
    gp = _run(tmp_path / "gp-compiled", "wgan-gp", ("compile=true",))
    assert gp["speed"]["compile"].startswith("fallback:")
    eager_w, fallback_w = _weights(tmp_path / "gp-eager"), _weights(tmp_path / "gp-compiled")
    assert all(torch.equal(fallback_w[k], v) for k, v in eager_w.items())
