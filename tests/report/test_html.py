"""Tests for the self-contained HTML report (gan_bench.report.html)."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import gan_bench
from gan_bench.report._figures import image_grid_png
from gan_bench.report._references import map_model, prepare_reference
from gan_bench.report._runs import load_samples
from gan_bench.report.html import metric_names, write_report

REFERENCES = Path(__file__).resolve().parents[2] / "baselines" / "references"
EVIL = "<script>alert(1)</script>"


# ------------------------------------------------------------------------------------------------ fixtures


def _ring(k: int = 8) -> np.ndarray:
    a = 2 * np.pi * np.arange(k) / k
    return np.stack([np.cos(a), np.sin(a)], 1).astype(np.float32)


def make_run(
    root: Path,
    variant: str,
    dataset: str,
    seed: int,
    *,
    kind: str = "points",
    status: str = "done",
    n_train: int = 40,
    metrics: dict[str, float] | None = None,
    write: tuple[str, ...] = ("summary", "metrics", "samples"),
) -> Path:
    """A run dir in the format the training loop writes; ``write`` picks which files exist."""
    run = root / variant / dataset / f"seed{seed}"
    run.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    if "summary" in write:
        summary = {
            "variant": variant, "dataset": dataset, "arch": "mlp", "seed": seed, "budget": "smoke", "status": status,
            "consumed": {"steps": n_train * 10, "images": n_train * 640, "seconds": 12.5},
            "metrics": metrics if metrics is not None else {"modes": 7.0, "high_quality_pct": 91.0, "reverse_kl": 0.2},
            "protocol": "PacGAN protocol, 2500 samples",
        }
        (run / "summary.json").write_text(json.dumps(summary))
    if "metrics" in write:
        lines = []
        for i in range(n_train):
            lines.append(json.dumps({"kind": "train", "step": i * 10, "images_seen": i * 640, "seconds": i * 0.1,
                                     "loss/d": 1.0 / (i + 1), "loss/g": 0.5 + 0.01 * i, "grad_norm": 1.0}))
            if i % 10 == 9:
                lines.append(json.dumps({"kind": "eval", "step": i * 10, "images_seen": i * 640, "seconds": i * 0.1,
                                         "modes": min(8, i // 5), "reverse_kl": 1.0 / (i + 1)}))
        (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    if "samples" in write:
        (run / "samples").mkdir()
        if kind == "points":
            modes = _ring()
            x = modes[rng.integers(0, 8, 5000)] + 0.02 * rng.standard_normal((5000, 2)).astype(np.float32)
            np.savez(run / "samples" / "final.npz", x=x.astype(np.float32), modes=modes)
        else:
            x = rng.integers(0, 256, (100, 32, 32, 3), dtype=np.uint8)
            np.savez(run / "samples" / "final.npz", x=x)
    return run


def make_board(rows: list[tuple[str, str]], metrics: tuple[str, ...] = ("modes", "high_quality_pct", "reverse_kl")) -> pd.DataFrame:
    records = []
    for k, (variant, dataset) in enumerate(rows):
        rec = {
            "variant": variant, "dataset": dataset, "arch": "mlp", "budget": "smoke", "seeds": 2, "seed_list": "0 1",
            "steps_mean": 400.0, "images_mean": 25600.0, "wall_seconds_mean": 12.5, "status": "2/2 done",
            "protocol": "PacGAN protocol, 2500 samples, 3 std",
        }
        for j, m in enumerate(metrics):
            rec[f"{m}_mean"] = 1.0 + k + j
            rec[f"{m}_std"] = 0.1
        records.append(rec)
    return pd.DataFrame.from_records(records)


def load_refs(*names: str) -> list[pd.DataFrame]:
    frames = []
    for name in names:
        df = pd.read_csv(REFERENCES / f"{name}.csv")
        df.attrs["name"] = name
        frames.append(df)
    return frames


def trace_names(page: str) -> set[str]:
    """Trace names of all figures (plotly's JSON escapes '/' and non-ASCII, so decode it)."""
    return {json.loads(m) for m in re.findall(r'"name":("(?:[^"\\]|\\.)*")', page)}


@pytest.fixture(scope="module")
def full_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One report over point and image runs, a failed run and the real reference CSVs (built once)."""
    root = tmp_path_factory.mktemp("runs")
    runs = [
        make_run(root, "gan-ns", "ring8", 0),
        make_run(root, "gan-ns", "ring8", 1),
        make_run(root, "wgan-gp", "ring8", 0, status="diverged at step 120"),
        make_run(root, "dcgan", "cifar10", 0, kind="images", metrics={"fid": 30.0}),
    ]
    board = pd.concat(
        [make_board([("gan-ns", "ring8"), ("wgan-gp", "ring8")]), make_board([("dcgan", "cifar10")], metrics=("fid",))],
        ignore_index=True,
    )
    out = root / "out" / "report.html"
    refs = load_refs("mode_coverage_2d", "stacked_mnist", "lucic2018_fid", "cifar10_peers", "sr_x4")
    result = write_report(out, "Suite", board, runs, refs, notes=["We do not match VEEGAN on grid25."], wall_seconds=3723.0)
    assert result == out
    return out, out.read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------------ tests


def test_single_plotly_bundle_and_no_external_resources(full_report: tuple[Path, str]) -> None:
    _, page = full_report
    assert page.count("* plotly.js v") == 1, "plotly.js must be inlined exactly once"
    # The bundle itself mentions a CDN default (topojson for geo maps, unused); nothing else may.
    bundle_end = page.index("</script>")
    assert "cdn.plot.ly" not in page[bundle_end:] and "mathjax" not in page[bundle_end:].lower()
    # No external script/link/img sources: everything is inline or a data: URI.
    for tag in re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", page, flags=re.IGNORECASE):
        assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", tag, flags=re.IGNORECASE), tag
    # One figure per metric chart plus samples + losses + evals per group; all ids unique.
    ids = re.findall(r'id="(fig\d+)" class="plotly-graph-div"', page)
    assert len(ids) == len(set(ids)) and len(ids) >= 4 + 3 * 2 + 2


def test_header_leaderboard_and_charts(full_report: tuple[Path, str]) -> None:
    _, page = full_report
    assert "<title>Suite</title>" in page
    assert f"gan_bench {gan_bench.__version__}" in page
    assert "1 h 02 min 03 s" in page
    # Sorted by dataset then variant: cifar10 row before ring8 rows, gan-ns before wgan-gp.
    table = page[page.index('id="leaderboard"'): page.index('id="metrics"')]
    assert table.index(">dcgan<") < table.index(">gan-ns<") < table.index(">wgan-gp<")
    assert "2 ± 0.1" in table  # mean ± std combined into one cell
    # Direction of better is stated on the bar-chart axes.
    assert "reverse_kl (lower is better)" in page
    assert "modes (higher is better)" in page
    assert "fid (lower is better)" in page
    # Status of the diverged run is visible.
    assert "diverged at step 120" in page


def test_point_and_image_samples_embedded(full_report: tuple[Path, str]) -> None:
    _, page = full_report
    assert "true modes" in page and "2,500 of 5,000 generated points" in page
    uris = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(uris) == 1
    img = Image.open(io.BytesIO(base64.b64decode(uris[0])))
    # 100 images are capped to 64 -> an 8x8 grid of 32 px RGB tiles with 2 px gaps.
    assert img.size == (8 * 32 + 9 * 2, 8 * 32 + 9 * 2) and img.mode == "RGB"
    assert "64 of 100 images" in page
    # Loss curves with both loss keys for both seeds, and eval curves.
    names = trace_names(page)
    assert {"loss/d · seed 0", "loss/g · seed 0", "loss/d · seed 1", "loss/g · seed 1"} <= names
    assert "evaluation during training" in page


def test_reference_rows_with_protocols_and_our_rows(full_report: tuple[Path, str]) -> None:
    _, page = full_report
    refs = page[page.index('id="published"'): page.index('id="runs"')]
    assert "comparable only under the same protocol" in refs
    for name in ("mode_coverage_2d", "stacked_mnist", "lucic2018_fid", "cifar10_peers", "sr_x4"):
        assert f">{name}</h3>" in refs
    # Both protocols of mode_coverage_2d appear as block labels; "same" was resolved, not printed.
    assert "VEEGAN protocol: 2500 samples" in refs and "PacGAN protocol: ring radius 1 std 0.01" in refs
    assert "Srivastava et al. 2017 (VEEGAN) Table 1" in refs
    assert "<dd>same</dd>" not in refs
    # "same; ..." amendments keep the protocol above and add the change.
    assert "(amended: 100k steps, n_dis=5, batch 64)" in refs
    # Our gan-ns ring8 row sits next to the published "GAN" ring8 rows, with our protocol beside theirs.
    ours = re.findall(r'<tr class="ours">(.*?)</tr>', refs)
    assert any(">gan-ns<" in r and ">ring8<" in r and "PacGAN protocol, 2500 samples, 3 std" in r for r in ours)
    assert "<dt>Our protocol</dt><dd>PacGAN protocol, 2500 samples, 3 std</dd>" in refs
    # cifar10_peers has no dataset column: its name says cifar10, so our dcgan/cifar10 row (fid 1 ± 0.1) is
    # matched; stacked_mnist names none of our datasets, so nothing is matched there (not even "mnist").
    peers = refs[refs.index(">cifar10_peers</h3>"): refs.index(">sr_x4</h3>")]
    assert re.search(r'<tr class="ours">.*?>dcgan<.*?<td>1 ± 0.1</td>', peers)
    assert "cifar10 (from the table name)" in peers
    stacked = refs[refs.index(">stacked_mnist</h3>"): refs.index(">lucic2018_fid</h3>")]
    assert '<tr class="ours">' not in stacked and "names none of our datasets" in stacked
    # Published models without a gan_bench counterpart are marked as peers.
    assert re.search(r'<tr class="peer"><td><span class="peer">peer</span></td><td><span class="wrap">VEEGAN</span></td>', refs)


def test_escapes_user_strings(tmp_path: Path) -> None:
    run = make_run(tmp_path, "gan-ns", "ring8", 0)
    summary = json.loads((run / "summary.json").read_text())
    summary.update(variant=EVIL, dataset=EVIL, protocol=EVIL, status=EVIL)
    (run / "summary.json").write_text(json.dumps(summary))
    board = make_board([(EVIL, EVIL)])
    board["protocol"] = EVIL
    board["arch"] = EVIL
    ref = pd.DataFrame({"model": [EVIL], "dataset": [EVIL], "modes": [1.0], "protocol": [EVIL], "source": [EVIL]})
    ref.attrs["name"] = EVIL
    out = write_report(tmp_path / EVIL.replace("/", "_"), EVIL, board, [run], [ref], notes=[EVIL], wall_seconds=1.0)
    page = out.read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page
    assert "alert(1)</script>" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 8  # title, table, refs, notes, run section...
    # Only our own script tags: the bundle, one per figure and the resize hook.
    n_figs = len(re.findall(r'class="plotly-graph-div"', page))
    assert page.count("<script") == 2 + n_figs


def test_missing_files_never_crash(tmp_path: Path) -> None:
    runs = [
        make_run(tmp_path, "gan-ns", "ring8", 0, write=("summary",), status="failed: CUDA OOM"),  # no curves, samples
        make_run(tmp_path, "gan-ns", "ring8", 1, write=("metrics", "samples")),  # no summary: guessed from path
        tmp_path / "does-not-exist",
    ]
    broken = make_run(tmp_path, "lsgan", "ring8", 0, write=())
    (broken / "summary.json").write_text("{not json")
    (broken / "metrics.jsonl").write_text('{"kind": "train", "step": 0, "loss/d": NaN}\n{"truncated": ')
    (broken / "samples").mkdir()
    (broken / "samples" / "final.npz").write_bytes(b"garbage")
    runs.append(broken)
    board = make_board([("gan-ns", "ring8"), ("lsgan", "ring8")])
    board.loc[0, "modes_mean"] = float("nan")
    out = write_report(tmp_path / "r.html", "Robust", board, runs, [], notes=None, wall_seconds=None)
    page = out.read_text(encoding="utf-8")
    assert "failed: CUDA OOM" in page
    assert "metrics.jsonl missing" in page and "samples/final.npz missing" in page
    assert "summary.json missing" in page and "summary.json unreadable" in page
    assert "1 unreadable line(s) in metrics.jsonl skipped" in page
    assert "samples/final.npz unreadable" in page
    assert "run directory does not exist" in page  # listed among unattributed runs
    # Seed 0 of gan-ns has no samples, so seed 1 (attributed from its path) is shown instead, with a warning.
    assert "First seed has no usable samples" in page and "(seed 1)" in page
    assert "total wall time not recorded" in page
    assert not list(tmp_path.glob(".r.html.*.tmp")), "temp file must be renamed away"


def test_empty_inputs_render(tmp_path: Path) -> None:
    out = write_report(tmp_path / "sub" / "empty.html", "Empty", pd.DataFrame(), [], [])
    page = out.read_text(encoding="utf-8")
    assert "The leaderboard is empty." in page and "No run directories were given." in page
    assert page.count("* plotly.js v") == 1


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "r.html"
    out.write_text("old report")

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    import gan_bench.atomic

    monkeypatch.setattr(gan_bench.atomic.os, "replace", boom)
    with pytest.raises(OSError):
        write_report(out, "T", make_board([("gan-ns", "ring8")]), [], [])
    assert out.read_text() == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_subsampling_limits(tmp_path: Path) -> None:
    run = make_run(tmp_path, "gan-ns", "ring8", 0, n_train=2000)
    x = np.random.default_rng(0).standard_normal((20000, 2)).astype(np.float32)
    np.savez(run / "samples" / "final.npz", x=x)
    out = write_report(tmp_path / "r.html", "T", make_board([("gan-ns", "ring8")]), [run], [])
    page = out.read_text(encoding="utf-8")
    assert "2,500 of 20,000 generated points" in page and "true mode centres not stored" in page
    assert "each point = mean of 4 logged rows" in page
    # No trace carries more than 2,500 points.
    for arr in re.findall(r'"x":\[([^\]]*)\]', page):
        assert arr.count(",") + 1 <= 2500


def test_reference_helpers() -> None:
    assert map_model("GAN", ["gan-mm", "gan-ns", "wgan"]) == ["gan-ns", "gan-mm"]
    assert map_model("WGAN (clipping)", ["wgan"]) == ["wgan"]
    assert map_model("RRDB (ESRGAN PSNR-oriented)", ["esrgan"]) == ["esrgan"]
    assert map_model("VEEGAN", ["gan-ns"]) == []
    assert map_model(float("nan"), ["gan-ns"]) == []
    df = prepare_reference(load_refs("sr_x4")[0])
    assert "model" in df.columns and df["protocol"].iloc[1].startswith("Y channel")
    assert not (df["protocol"] == "same").any() and not (df["source"] == "same").any()
    board = make_board([("gan-ns", "ring8")], metrics=("modes", "fid"))
    assert metric_names(board) == ["modes", "fid"]  # steps/images/wall_seconds means are bookkeeping


def test_sample_array_layouts(tmp_path: Path) -> None:
    """Tanh-range float NCHW images still become a grid; an unsupported shape is reported, not raised."""
    run = make_run(tmp_path, "dcgan", "cifar10", 0, write=("summary",))
    (run / "samples").mkdir()
    x = np.random.default_rng(0).uniform(-1, 1, (10, 3, 16, 16)).astype(np.float32)
    np.savez(run / "samples" / "final.npz", x=x)
    samples, problem = load_samples(run)
    assert problem is None and samples is not None and samples.kind == "images"
    _png, used, size = image_grid_png(samples.x)
    assert used == 10 and size == (4 * 16 + 5 * 2, 3 * 16 + 4 * 2)
    np.savez(run / "samples" / "final.npz", x=np.zeros((5, 3), np.float32))
    assert load_samples(run) == (None, "samples/final.npz: unsupported sample array shape (5, 3)")
    page = write_report(tmp_path / "r.html", "T", make_board([("dcgan", "cifar10")]), [run], []).read_text()
    assert "unsupported sample array shape (5, 3)" in page
