"""Suites: variants x datasets x seeds under one budget, run in worker processes, then one
leaderboard and one HTML report.

A suite file (YAML)::

    name: quickstart
    budget: 1500steps
    seeds: [0, 1, 2]
    datasets: [ring8, grid25]
    variants: [gan-mm, gan-ns, wgan-gp]
    config: {eval: {num_samples: 2500}}       # applied to every run
    per_variant: {wgan: {model: {n_critic: 5}}}
    per_dataset: {grid25: {net: {width: 128}}}
    references: [mode_coverage_2d.csv]         # beside the suite file, or in baselines/references/
    plugins: [my_gan.py]                       # a researcher's own variants, relative to the suite file
    notes: ["free text shown in the report"]
    claims:                                    # checked on our means; the report says if each holds
      - {text: "MAD-GAN covers more modes than GAN", variant: mad-gan, than: gan-ns, dataset: grid25, metric: modes}

Each run's folder is named by its variant, dataset, seed and a hash of its whole resolved config
(budget and overrides included): ``runs/gan-ns__ring8__s0__1a2b3c4d``. A rerun reuses the folders
that finished with exactly that config, resumes interrupted ones, and trains the rest; folders of
other configurations (another ``--scale``, override or suite edit) are left untouched and never
reported under the new labels. The suite folder and each run folder are locked while written.
A run that diverges keeps its last finite checkpoint, is shown as diverged and left out of means.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from gan_bench import atomic
from gan_bench.budget import Budget
from gan_bench.config import ConfigError, Range, from_mapping, load_yaml
from gan_bench.plugins import load_plugins
from gan_bench.report.claims import Claim, check_claim
from gan_bench.report.leaderboard import aggregate, read_references, runs_frame, write_csv
from gan_bench.train.identity import config_hash
from gan_bench.train.lock import FolderLock
from gan_bench.train.resolve import ResolvedRun, resolve
from gan_bench.train.runs import read_summary
from gan_bench.train.trainer import Trainer, read_status

log = logging.getLogger("gan_bench.suite")
REFERENCE_DIR = Path(__file__).resolve().parent.parent / "baselines" / "references"
# A suite's name becomes a folder under --publish: a plain name, never a path.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass
class SuiteConfig:
    """A suite file, validated like a run config."""

    name: str
    variants: list[str]
    datasets: list[str]
    budget: str
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    description: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    per_variant: dict[str, Any] = field(default_factory=dict)
    per_dataset: dict[str, Any] = field(default_factory=dict)
    references: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    plugins: list[str] = field(default_factory=list)
    label: str = ""  # what kind of pass the suite file is (e.g. "CPU pass: 5% of the paper's budget"), shown on top
    min_seeds: int = field(default=3, metadata=Range(1, 1000))


@dataclass
class PlannedRun:
    name: str
    run_dir: Path
    resolved: ResolvedRun
    plugins: list[str] = field(default_factory=list)


@dataclass
class SuiteResult:
    out: Path
    leaderboard: Path
    report: Path | None
    runs: int
    skipped: int  # reused: finished earlier with exactly this config
    failed: int
    wall_seconds: float
    resumed: int = 0
    diverged: int = 0
    stale: int = 0  # folders of other configurations left untouched


def load_suite(path: str | Path) -> SuiteConfig:
    """Read and validate a suite file; errors name the key and the file."""
    try:
        suite: SuiteConfig = from_mapping(SuiteConfig, load_yaml(path))
    except ConfigError as exc:
        if str(exc).endswith(")") and f"in {path}" in str(exc):
            raise
        raise ConfigError(f"{exc} (in {path})", exc.key) from None
    if not NAME_PATTERN.fullmatch(suite.name) or ".." in suite.name:
        raise ConfigError(f"name: {suite.name!r} must be a plain name (letters, digits, '.', '_', '-'; it names the "
                          f"published folder) (in {path})", "name")
    for key in ("variants", "datasets", "seeds"):
        if not getattr(suite, key):
            raise ConfigError(f"{key}: a suite needs at least one (in {path})", key)
    if len(set(suite.seeds)) < suite.min_seeds:
        raise ConfigError(f"seeds: a suite needs at least {suite.min_seeds} distinct seeds (in {path})", "seeds")
    for key in ("per_variant", "per_dataset"):
        names = suite.variants if key == "per_variant" else suite.datasets
        for name in getattr(suite, key):
            if name not in names:
                raise ConfigError(f"{key}.{name}: {name!r} is not in the suite's {key[4:]}s (in {path})", key)
    return suite


def scaled_budget(text: str, scale: float) -> str:
    """``text`` times ``scale`` (at least one step/image/second), for quick passes of long suites."""
    if scale == 1.0:
        return text
    b = Budget.parse(text)
    amount = max(b.amount * scale, 1.0)
    unit = {"steps": "steps", "images": "img", "seconds": "s"}[b.unit]
    return f"{amount:.0f}{unit}" if b.unit != "seconds" else f"{amount:g}s"


def plan(suite: SuiteConfig, suite_path: Path, out: Path, scale: float = 1.0,
         overrides: tuple[str, ...] = (), plugins: tuple[str, ...] = ()) -> list[PlannedRun]:
    """Every run of the suite, each fully validated before any is started; ``plugins`` (files
    given on the command line) are loaded with the suite file's own."""
    files = list(plugins) + [str((suite_path.parent / p) if not Path(p).is_absolute() else p) for p in suite.plugins]
    loaded = load_plugins(files)
    budget = scaled_budget(suite.budget, scale)
    runs = []
    for dataset in suite.datasets:
        for variant in suite.variants:
            for seed in suite.seeds:
                layers = [(suite.config, f"in {suite_path}: config")]
                layers.append((suite.per_dataset.get(dataset, {}), f"in {suite_path}: per_dataset.{dataset}"))
                layers.append((suite.per_variant.get(variant, {}), f"in {suite_path}: per_variant.{variant}"))
                flags = {"variant": variant, "dataset": dataset, "seed": seed, "budget": budget}
                resolved = resolve(extra_layers=layers, flags=flags, overrides=overrides)
                name = f"{variant}__{dataset}__s{seed}"
                folder = f"{name}__{config_hash(resolved.cfg)[:8]}"
                runs.append(PlannedRun(name, out / "runs" / folder, resolved, loaded))
    return runs


def _die_with_parent() -> None:
    """Linux: the worker gets SIGTERM when the suite process dies, even by SIGKILL, so no orphan
    keeps training (and holding run folders' locks) after its suite is gone."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the suite died before the call
        os._exit(1)


def _init_worker(threads: int, plugins: list[str]) -> None:
    import torch

    _die_with_parent()
    torch.set_num_threads(threads)
    logging.getLogger("gan_bench").setLevel(logging.WARNING)
    load_plugins(plugins)  # a spawned worker starts with the built-ins only


def _run_one(run: PlannedRun) -> tuple[str, str]:
    try:
        result = Trainer(run.resolved, run.run_dir, progress=False, plugins=run.plugins).run()
        return run.name, result.status
    except Exception as exc:  # a failed run must not stop the suite; its status file says why
        return run.name, f"failed: {type(exc).__name__}: {exc}"


def resolve_references(names: list[str], suite_path: Path) -> list[Path]:
    """Reference CSVs by name: beside the suite file, else in baselines/references/."""
    found = []
    for name in names:
        if Path(name).name != name or name in ("", ".", ".."):
            raise ConfigError(f"references: {name!r} must be a file name (the tables live beside the suite file, "
                              f"in its references/ folder or in {REFERENCE_DIR}), not a path", "references")
        for candidate in (suite_path.parent / name, suite_path.parent / "references" / name, REFERENCE_DIR / name):
            if candidate.exists():
                found.append(candidate)
                break
        else:
            raise ConfigError(f"references: {name!r} not found beside {suite_path} or in {REFERENCE_DIR}", "references")
    return found


def run_suite(suite_path: str | Path, out: str | Path, jobs: int = 1, scale: float = 1.0,
              overrides: tuple[str, ...] = (), progress: bool = True, publish: str | Path | None = None,
              variants: tuple[str, ...] = (), plugins: tuple[str, ...] = ()) -> SuiteResult:
    """Run (or continue) a suite and write ``out/leaderboard.csv`` and ``out/index.html``.

    ``variants`` restricts the run to some of the suite's variants. With ``publish`` (a folder, usually the repo root) the leaderboard is copied to
    ``publish/leaderboards/NAME.csv`` and the report to ``publish/reports/NAME/index.html``."""
    started = time.perf_counter()
    suite_path, out = Path(suite_path), Path(out)
    suite = load_suite(suite_path)
    if variants:
        unknown = [v for v in variants if v not in suite.variants]
        if unknown:
            raise ConfigError(f"--variants: {unknown[0]!r} is not in {suite_path} (it has {', '.join(suite.variants)})")
        suite.variants = [v for v in suite.variants if v in variants]
    references = resolve_references(suite.references, suite_path)
    runs = plan(suite, suite_path, out, scale, overrides, plugins)
    with FolderLock(out, f"suite {suite.name}"):
        return _run_planned(suite, suite_path, out, runs, references, jobs, scale, overrides, progress, publish,
                            variants, started)


def _finished(status: str | None) -> bool:
    return status is not None and (status == "done" or status.startswith("diverged"))


def _run_planned(suite: SuiteConfig, suite_path: Path, out: Path, runs: list[PlannedRun], references: list[Path],
                 jobs: int, scale: float, overrides: tuple[str, ...], progress: bool, publish: str | Path | None,
                 variants: tuple[str, ...], started: float) -> SuiteResult:
    todo = [r for r in runs if not _finished(read_status(r.run_dir))]
    skipped = len(runs) - len(todo)
    resumed = sum(1 for r in todo if (r.run_dir / "checkpoints").exists())
    planned_dirs = {r.run_dir.name for r in runs}
    stale = sorted(p.name for p in (out / "runs").glob("*__*") if p.is_dir() and p.name not in planned_dirs) \
        if (out / "runs").is_dir() else []
    log.info("suite %s: %d runs: %d reused (finished with exactly this config), %d resumed, %d new; %d job(s)",
             suite.name, len(runs), skipped, resumed, len(todo) - resumed, jobs)
    if stale:
        log.info("suite %s: %d run folders of other configurations in %s are left untouched and not reported",
                 suite.name, len(stale), out / "runs")

    statuses: dict[str, str] = {}
    bar = tqdm(total=len(runs), initial=skipped, desc=f"suite {suite.name}", unit="run", disable=not progress)
    if jobs <= 1 or len(todo) <= 1:
        for r in todo:
            name, status = _run_one(r)
            statuses[name] = status
            bar.update(1)
    else:
        threads = max(1, (os.cpu_count() or 1) // jobs)
        ctx = multiprocessing.get_context("spawn")  # fresh interpreters: no forked torch thread pools
        plugin_files = runs[0].plugins if runs else []
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                                 initargs=(threads, plugin_files)) as pool:
            futures = [pool.submit(_run_one, r) for r in todo]
            for fut in as_completed(futures):
                name, status = fut.result()
                statuses[name] = status
                bar.update(1)
    bar.close()
    failed = [n for n, s in statuses.items() if not _finished(s)]
    diverged = [r.name for r in runs if (read_status(r.run_dir) or "").startswith("diverged")]
    for name in failed:
        log.warning("run %s: %s", name, statuses[name])
    for name in diverged:
        log.warning("run %s: %s (shown as diverged, left out of the means)", name, read_status(
            next(r.run_dir for r in runs if r.name == name)))

    summaries = [s for s in (read_summary(r.run_dir) for r in runs) if s is not None]
    board = aggregate(runs_frame(summaries))
    leaderboard = write_csv(board, out / "leaderboard.csv")
    wall = time.perf_counter() - started
    deviations = []
    if scale != 1.0 or overrides or variants:
        deviations.append(
            ("Short pass: " if scale < 1.0 else "")
            + f"This pass deviates from {suite_path.name}: budget {scaled_budget(suite.budget, scale)} "
            f"(--scale {scale:g} of {suite.budget})"
            + (f", overrides {' '.join(overrides)}" if overrides else "")
            + (f", variants limited to {', '.join(variants)}" if variants else "")
            + ". Compare its numbers with the published ones as a ranking at most.")
    banner = [f"Budget trained: {scaled_budget(suite.budget, scale)} per run"
              + (f" ({scale:g} x the suite file's {suite.budget})" if scale != 1.0 else "")
              + f", {len(suite.seeds)} seeds"]
    banner += ([suite.label] if suite.label else []) + deviations
    report = _write_report(suite, board, [r.run_dir for r in runs], references, out / "index.html",
                           _suite_wall_time(out, wall, ran=bool(todo)), deviations, banner)

    if publish is not None:
        root = Path(publish)
        write_csv(board, root / "leaderboards" / f"{suite.name}.csv")
        if report is not None:
            dest = root / "reports" / suite.name / "index.html"
            dest.parent.mkdir(parents=True, exist_ok=True)
            atomic.write_bytes(dest, report.read_bytes())
    return SuiteResult(out, leaderboard, report, len(runs), skipped, len(failed), wall,
                       resumed=resumed, diverged=len(diverged), stale=len(stale))


def _suite_wall_time(out: Path, wall: float, ran: bool) -> float:
    """The wall time of the invocation that last ran training; a rebuild of the tables keeps it."""
    path = out / "suite_time.json"
    if ran or not path.exists():
        atomic.write_json(path, {"wall_seconds": wall})
        return wall
    return float(json.loads(path.read_text())["wall_seconds"])


def _write_report(suite: SuiteConfig, board: Any, run_dirs: list[Path], references: list[Path],
                  out_html: Path, wall: float, deviations: list[str], banner: list[str]) -> Path | None:
    from gan_bench.report.html import write_report

    title = f"gan_bench suite: {suite.name}"
    notes = deviations + ([suite.description] if suite.description else []) + list(suite.notes)
    notes += [check_claim(claim, board) for claim in suite.claims]
    return write_report(out_html, title, board, run_dirs, read_references(references), notes=notes, wall_seconds=wall,
                        banner=banner)
