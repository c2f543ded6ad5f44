"""Image-to-image runs keep each output's input and ground truth, and the report shows them in rows."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from gan_bench.data.base import ArrayDataset, DataSpec
from gan_bench.report._runs import load_samples
from gan_bench.report.html import build_report_html
from gan_bench.train.trainer import Trainer
from gan_bench.variants.base import Sample


def _dataset() -> ArrayDataset:
    spec = DataSpec(shape=(3, 8, 8), kind="image")
    return ArrayDataset(name="pairs", x=torch.zeros(4, 3, 8, 8, dtype=torch.uint8), spec=spec)


def test_trainer_saves_conditions_beside_the_outputs(tmp_path: Path):
    trainer = Trainer.__new__(Trainer)  # only the sample writer is exercised
    trainer.run_dir = tmp_path
    lr = torch.linspace(-1, 1, 4 * 3 * 2 * 2).view(4, 3, 2, 2)  # an LR input, smaller than the output
    mask = torch.zeros(4, 1, 8, 8)
    mask[:, :, 2:6, 2:6] = 1
    sample = Sample(x=torch.zeros(4, 3, 8, 8), cond=lr, target=torch.ones(4, 3, 8, 8), mask=mask)
    trainer._write_samples(sample, _dataset(), "final.npz")
    with np.load(tmp_path / "samples" / "final.npz") as npz:
        assert sorted(npz.files) == ["cond", "mask", "target", "x"]
        assert npz["cond"].shape == (4, 2, 2, 3) and npz["cond"].dtype == np.uint8
        assert npz["cond"][0, 0, 0, 0] == 0 and npz["cond"][-1, -1, -1, -1] == 255
        assert (npz["target"] == 255).all()
        assert npz["mask"][0, 3, 3, 0] == 255 and npz["mask"][0, 0, 0, 0] == 0


def _decoded_images(html: str) -> list[Image.Image]:
    images = []
    for part in html.split("data:image/png;base64,")[1:]:
        images.append(Image.open(io.BytesIO(base64.b64decode(part.split("'")[0]))))
    return images


def test_report_shows_input_output_and_ground_truth_in_rows(tmp_path: Path):
    run = tmp_path / "runs" / "pix__pairs__s0"
    (run / "samples").mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"variant": "pix<b>", "dataset": "pairs", "seed": 0,
                                                  "status": "done", "metrics": {}}))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    np.savez(run / "samples" / "final.npz", x=x, cond=rng.integers(0, 256, (5, 4, 4, 3), dtype=np.uint8),
             target=rng.integers(0, 256, (5, 16, 16, 3), dtype=np.uint8))
    samples, problem = load_samples(run)
    assert problem is None and sorted(samples.companions) == ["cond", "target"]
    board = pd.DataFrame([{"variant": "pix<b>", "dataset": "pairs", "protocol": "p"}])
    html = build_report_html("t", board, [run], [])
    assert "inputs and outputs" in html and "columns: input | output | ground truth" in html
    assert "pix<b>" not in html and "pix&lt;b&gt;" in html
    triplets = _decoded_images(html[html.index("inputs and outputs"):])[0]
    # five rows of three 16 px tiles (the 4 px input enlarged to the output's size), 2 px gaps
    assert triplets.size == (3 * 18 + 2, 5 * 18 + 2)


def test_malformed_companions_are_dropped_and_the_outputs_still_shown(tmp_path: Path):
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    x = np.zeros((3, 8, 8, 1), dtype=np.uint8)
    np.savez(run / "samples" / "final.npz", x=x, cond=np.zeros((2, 8, 8, 1), dtype=np.uint8),
             target=np.zeros((3, 8, 8), dtype=np.float32))
    samples, problem = load_samples(run)
    assert problem is None and samples.companions == {} and samples.x.shape == (3, 8, 8, 1)
