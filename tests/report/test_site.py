"""The report site (gan-bench report): index + pages sharing one plotly.js, offline, escaped, and a
headless-Chromium test that opens it from file:// (skipped, with the reason, when no browser exists)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gan_bench.report._figures import metric_bar_chart, metric_bounds
from gan_bench.report.html import best_per_dataset
from gan_bench.report.tidy import write_suite_manifest

REFERENCES = Path(__file__).resolve().parents[2] / "baselines" / "references"
EVIL = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def fake_run(root: Path, variant: str, dataset: str, seed: int, modes: float, kl: float, status: str = "done") -> Path:
    """A finished 2-D mixture run folder with curves, evaluations during training and samples."""
    run = root / "runs" / f"{re.sub(r'[^a-z0-9-]', '_', variant)}__{dataset}__s{seed}__00"
    (run / "samples").mkdir(parents=True)
    summary = {"variant": variant, "dataset": dataset, "arch": "mlp", "seed": seed, "budget": "40steps",
               "status": status, "protocol": f"PacGAN protocol {EVIL}", "config_hash": "h",
               "consumed": {"steps": 40, "images": 4000, "seconds": 1.0}, "wall_seconds": 1.2,
               "metrics": {"modes": modes, "reverse_kl": kl, "high_quality_pct": 50.0 + seed}}
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "env.json").write_text(json.dumps({"device": "cpu", "gan_bench": "0.1.0", "git_sha": "0123456789abcdef",
                                              "packages": {"torch": "2.9.0"}}))
    rows = []
    for step in range(0, 40, 4):
        rows.append({"kind": "train", "step": step, "images_seen": 100 * step, "seconds": 0.1 * step,
                     "loss/d": 1.0 / (step + 1), "loss/g": 0.5, "began/k": 0.01 * step})
        if step % 20 == 0:
            rows.append({"kind": "eval", "step": step, "images_seen": 100 * step, "seconds": 0.1 * step,
                         "modes": modes, "reverse_kl": kl})
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    rng = np.random.default_rng(seed)
    a = 2 * np.pi * np.arange(8) / 8
    centres = np.stack([np.cos(a), np.sin(a)], 1).astype(np.float32)
    x = centres[rng.integers(0, 8, 300)] + 0.01 * rng.standard_normal((300, 2)).astype(np.float32)
    np.savez(run / "samples" / "final.npz", x=x, modes=centres)
    return run


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two suites, one with a variant and a note that carry markup; the site written by the CLI."""
    from gan_bench.cli import main

    root = tmp_path_factory.mktemp("site")
    one = root / "suite-one"
    for seed in range(3):
        fake_run(one, "gan-ns", "ring8", seed, modes=8.0, kl=0.01 * (seed + 1))
        fake_run(one, EVIL, "ring8", seed, modes=2.0 + seed, kl=1.0 + 0.1 * seed)
    write_suite_manifest(one, name="one", suite_file="one.yaml", budget="40steps", scale=0.5,
                         overrides=["net.width=8"], banner=[f"Budget trained: 40steps {EVIL}"], notes=[EVIL],
                         references=[REFERENCES / "mode_coverage_2d.csv"])
    two = root / "suite-two"
    for seed in range(3):
        fake_run(two, "lsgan", "grid25", seed, modes=20.0 + seed, kl=0.5)
    out = root / "out"
    assert main(["report", str(one), str(two), "-o", str(out)]) == 0
    return out


def test_site_layout_shares_one_plotly(site: Path) -> None:
    assert (site / "plotly.min.js").stat().st_size > 1_000_000
    pages = [site / "one" / "index.html", site / "suite-two" / "index.html"]
    index = (site / "index.html").read_text()
    for page in pages:
        text = page.read_text()
        assert '<script type="text/javascript" src="../plotly.min.js"></script>' in text
        assert "* plotly.js v" not in text and len(text) < 1_000_000  # the bundle is not inlined
        assert f'href="{page.parent.name}/index.html"' in index
        # no external resource anywhere, the cloud button is off in every figure's config
        for tag in re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", text, flags=re.IGNORECASE):
            assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", tag), tag
        n_figs = text.count('class="plotly-graph-div"')
        assert n_figs >= 3 and text.count('"showSendToCloud": false') == n_figs
        assert text.count('"displaylogo": false') == n_figs
    assert "40steps (--scale 0.5)" in index and "net.width=8" in index and "PacGAN protocol" in index
    assert (site / "one" / "leaderboard.wide.csv").is_file()
    # our rows beside the published ones state the budget they were trained with
    refs = (site / "one" / "index.html").read_text()
    assert "trained: 40steps per run, seeds 0 1 2" in refs


def test_every_user_string_is_escaped(site: Path) -> None:
    for page in [site / "index.html", site / "one" / "index.html"]:
        text = page.read_text()
        assert "<script>alert(1)" not in text and "alert(1)</script>" not in text, page
        assert ESCAPED in text, page
    text = (site / "one" / "index.html").read_text()
    n_figs = text.count('class="plotly-graph-div"')
    assert text.count("<script") == 2 + n_figs  # the plotly.js tag, one per figure, the page script


def _board(rows: list[tuple[str, float, float]], metric: str = "modes") -> pd.DataFrame:
    return pd.DataFrame([{"variant": v, "dataset": "d", f"{metric}_mean": m, f"{metric}_std": s} for v, m, s in rows])


def test_best_only_when_separated_beyond_seed_spread() -> None:
    # 10 ± 1 vs 7 ± 1: the intervals [9, 11] and [6, 8] do not overlap -> bold
    assert best_per_dataset(_board([("a", 10.0, 1.0), ("b", 7.0, 1.0)]), ["modes"]) == {(0, "modes")}
    # 10 ± 2 vs 7 ± 2 overlap -> no bold; a single seed (std NaN) -> no bold; lower-is-better metrics flip
    assert best_per_dataset(_board([("a", 10.0, 2.0), ("b", 7.0, 2.0)]), ["modes"]) == set()
    assert best_per_dataset(_board([("a", 10.0, float("nan")), ("b", 1.0, 0.1)]), ["modes"]) == set()
    assert best_per_dataset(_board([("a", 10.0, 1.0), ("b", 7.0, 1.0)], "fid"), ["fid"]) == {(1, "fid")}
    # never a std column, even if a metric list names one
    for spread in ("kid_std", "kid_std[mnist-classifier]"):
        board = _board([("a", 10.0, 1.0), ("b", 7.0, 1.0)], spread)
        assert best_per_dataset(board, [spread]) == set()
    assert best_per_dataset(_board([("a", 10.0, 1.0), ("b", 7.0, 1.0)], "kid[x]"), ["kid[x]"]) == {(1, "kid[x]")}


def test_error_bars_are_clipped_to_the_metric_range_and_seeds_drawn() -> None:
    assert metric_bounds("high_quality_pct") == (0.0, 100.0) and metric_bounds("reverse_kl") == (0.0, None)
    board = pd.DataFrame([{"variant": "a", "dataset": "d", "reverse_kl_mean": 0.05, "reverse_kl_std": 0.2},
                          {"variant": "b", "dataset": "d", "reverse_kl_mean": 2.0, "reverse_kl_std": 0.1}])
    seeds = {("a", "d", "reverse_kl"): [("0", 0.01), ("1", 0.09)]}
    fig = metric_bar_chart(board, "reverse_kl", {}, seeds)
    bar_a = next(t for t in fig.data if t.type == "bar" and t.name == "a")
    assert list(bar_a.error_y.arrayminus) == [pytest.approx(0.05)] and list(bar_a.error_y.array) == [0.2]
    dots = [t for t in fig.data if t.type == "scatter"]
    assert len(dots) == 1 and list(dots[0].y) == [0.01, 0.09]
    assert fig.layout.yaxis.type == "log"  # 0.01 .. 2.1 spans two decades
    pct = pd.DataFrame([{"variant": "a", "dataset": "d", "high_quality_pct_mean": 99.0, "high_quality_pct_std": 5.0}])
    bar = metric_bar_chart(pct, "high_quality_pct", {}).data[0]
    assert list(bar.error_y.array) == [pytest.approx(1.0)] and fig.layout.yaxis.type == "log"


def test_report_cli_bad_input_exits_2(tmp_path: Path, run_cli) -> None:
    (tmp_path / "empty").mkdir()
    for argv in (["report", tmp_path / "nope", "-o", tmp_path / "o"], ["report", tmp_path / "empty", "-o", tmp_path / "o"]):
        code, _, stderr = run_cli(*argv)
        assert code == 2 and len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr


# ------------------------------------------------------------------------------------------------ browser


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)")


def test_site_in_headless_chromium(site: Path) -> None:
    """Opens the site from file://: no console error, no request leaving the machine, no alert, every plot
    drawn, the leaderboard sorts and filters, its variant column is sticky, the index leads to every page."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    executable = _chromium()
    errors: list[str] = []
    remote: list[str] = []
    dialogs: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

            def guard(route):  # record and refuse anything that is not a local file or inline data
                url = route.request.url
                if url.startswith(("file://", "data:", "blob:", "about:")):
                    route.continue_()
                else:
                    remote.append(url)
                    route.abort()

            page.route("**/*", guard)
            page.goto((site / "index.html").as_uri())
            links = page.eval_on_selector_all("main a[href$='/index.html']", "els => els.map(e => e.getAttribute('href'))")
            assert sorted(links) == ["one/index.html", "suite-two/index.html"]
            for href in links:
                page.goto((site / "index.html").as_uri())
                page.click(f"a[href='{href}']")
                page.wait_for_load_state("load")
                assert page.url == (site / href).as_uri()
                page.wait_for_function(
                    "() => Array.from(document.querySelectorAll('.plotly-graph-div'))"
                    ".every(d => d.querySelector('.main-svg') && d._fullLayout)", timeout=30_000)
                n = page.eval_on_selector_all(".plotly-graph-div", "els => els.length")
                assert n >= 3
                assert page.eval_on_selector_all("a.modebar-btn[data-title*='Cloud'], a.modebar-btn[data-title*='Chart Studio']",
                                                 "els => els.length") == 0
                # sort by the first metric column (modes): ascending, then descending
                header = page.locator("#leaderboard-table thead th", has_text="modes").first
                col = page.eval_on_selector_all("#leaderboard-table thead th", "hs => hs.map(h => h.textContent)")
                idx = next(i for i, h in enumerate(col) if h.startswith("modes"))
                values = f"() => Array.from(document.querySelectorAll('#leaderboard-table tbody tr')).map(r => Number(r.cells[{idx}].dataset.v))"
                header.click()
                up = page.evaluate(values)
                header.click()
                down = page.evaluate(values)
                assert up == sorted(up) and down == sorted(up, reverse=True), (up, down)
                sticky = page.eval_on_selector("#leaderboard-table tbody td", "td => getComputedStyle(td).position")
                assert sticky == "sticky"
                rows = "() => Array.from(document.querySelectorAll('#leaderboard-table tbody tr')).filter(r => r.style.display !== 'none').length"
                total = page.evaluate(rows)
                page.fill("input.filter", "zzz-no-such-row")
                assert page.evaluate(rows) == 0
                page.fill("input.filter", "")
                assert page.evaluate(rows) == total
        finally:
            browser.close()
    assert errors == [], errors
    assert remote == [], remote
    assert dialogs == [], dialogs


def test_index_keeps_earlier_suites_and_publish_writes_tables(site: Path, tmp_path: Path) -> None:
    from gan_bench.report.site import publish_suite

    extra = tmp_path / "three"
    for seed in range(3):
        fake_run(extra, "vae", "ring8", seed, modes=5.0, kl=0.3)
    write_suite_manifest(extra, name="three", suite_file="three.yaml", budget="40steps")
    written = publish_suite(tmp_path / "root", extra)
    assert tmp_path / "root" / "reports" / "three" / "index.html" in written
    assert (tmp_path / "root" / "leaderboards" / "three.csv").is_file()
    assert (tmp_path / "root" / "leaderboards" / "three.wide.md").is_file()
    # adding a suite to an existing site keeps the others in its index
    from gan_bench.report.site import load_suite_page, write_site

    write_site(site, [load_suite_page(extra)])
    index = (site / "index.html").read_text()
    for folder in ("one", "suite-two", "three"):
        assert f'href="{folder}/index.html"' in index


def test_curves_against_the_budget_diagnostics_and_run_details(site: Path) -> None:
    text = (site / "one" / "index.html").read_text()
    # evaluation curves switch between steps, images and seconds; non-loss training keys are plotted
    assert '"updatemenus"' in text and '"label":"real images seen"' in text and '"label":"training seconds"' in text
    assert "diagnostics logged during training" in text
    assert re.search(r'"text":"began(/|\\u002f)k"', text)  # the panel of BEGAN's k (plotly's JSON escapes '/')
    # each run's config and environment are shown (escaped), with its status
    assert text.count("status done: config, environment") == 6
    assert "0123456789abcdef" in text


def test_samples_of_every_seed(site: Path, tmp_path: Path) -> None:
    from gan_bench.report.html import build_report_html

    text = (site / "one" / "index.html").read_text()
    assert "seeds 1, 2: click their legend entries" in text
    assert text.count('"visible":"legendonly"') == 2 * 2  # two variants, two further seeds each
    runs = []
    for seed in range(3):
        run = tmp_path / f"img{seed}"
        (run / "samples").mkdir(parents=True)
        (run / "summary.json").write_text(json.dumps({"variant": "dcgan", "dataset": "mnist", "seed": seed,
                                                      "status": "done", "metrics": {}}))
        np.savez(run / "samples" / "final.npz", x=np.full((10, 8, 8, 1), 40 * seed, dtype=np.uint8))
        runs.append(run)
    page = build_report_html("t", pd.DataFrame([{"variant": "dcgan", "dataset": "mnist"}]), runs, [])
    assert page.count("src='data:image/png;base64,") == 3
    assert "alt='sample grid, seed 1'" in page and "alt='sample grid, seed 2'" in page


def test_protocol_split_metrics_share_one_column() -> None:
    from gan_bench.report.html import merged_metric_columns

    nan = float("nan")
    board = pd.DataFrame([
        {"variant": "a", "dataset": "mnist", "fid[mnist-c]_mean": 10.0, "fid[fashion-c]_mean": nan, "modes_mean": 1.0},
        {"variant": "a", "dataset": "fashion", "fid[mnist-c]_mean": nan, "fid[fashion-c]_mean": 20.0, "modes_mean": 2.0},
    ])
    assert merged_metric_columns(board, ["fid[mnist-c]", "fid[fashion-c]", "modes"]) == [
        ("fid[…]", ["fid[mnist-c]", "fid[fashion-c]"]), ("modes", ["modes"])]
    board.loc[0, "fid[fashion-c]_mean"] = 5.0  # a row scored under both protocols: they stay apart
    assert len(merged_metric_columns(board, ["fid[mnist-c]", "fid[fashion-c]", "modes"])) == 3


def test_two_suites_of_one_name_keep_a_page_each(tmp_path: Path, run_cli) -> None:
    for parent in ("a", "b"):
        for seed in range(3):
            fake_run(tmp_path / parent / "out", "gan-ns", "ring8", seed, modes=8.0, kl=0.1)
    code, _, _ = run_cli("report", tmp_path / "a" / "out", tmp_path / "b" / "out", "-o", tmp_path / "site")
    assert code == 0
    index = (tmp_path / "site" / "index.html").read_text()
    assert 'href="out/index.html"' in index and 'href="out-2/index.html"' in index
