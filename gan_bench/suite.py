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
    only: {cyclegan: [young2old]}              # an entry that runs on some datasets only (unpaired data)
    budgets: {srgan@gan: 1000steps}            # an entry with its own budget (--scale applies to it too)
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

Entries: one variant may appear more than once as ``variant@label`` (``srgan``, ``srgan@gan``),
each with its own ``per_variant`` block and its own leaderboard row. A string value that is
exactly ``"@<entry>"`` stands for the folder of that entry's run on the same dataset and seed, so
one run can start from another (``per_variant: {srgan@gan: {model: {init_from: "@srgan"}}}``);
such a run starts only once the run it names has finished.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from gan_bench import atomic
from gan_bench.budget import Budget
from gan_bench.config import ConfigError, Range, from_mapping, load_yaml
from gan_bench.executors import Executor, LocalExecutor
from gan_bench.plugins import load_plugins
from gan_bench.report.claims import Claim, check_claim
from gan_bench.report.leaderboard import aggregate, read_references, runs_frame, write_csv
from gan_bench.report.site import publish_suite
from gan_bench.report.tidy import write_suite_manifest
from gan_bench.train.identity import config_hash
from gan_bench.train.lock import FolderLock
from gan_bench.train.resolve import ResolvedRun, resolve
from gan_bench.train.runs import read_summary
from gan_bench.train.trainer import Trainer, read_status

log = logging.getLogger("gan_bench.suite")
REFERENCE_DIR = Path(__file__).resolve().parent.parent / "baselines" / "references"
# A suite's name becomes a folder under --publish: a plain name, never a path.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
ENTRY_PATTERN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:@([A-Za-z0-9][A-Za-z0-9._-]*))?")


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
    only: dict[str, list[str]] = field(default_factory=dict)  # entry -> the datasets it runs on (default: all)
    budgets: dict[str, str] = field(default_factory=dict)  # entry -> its own budget (default: budget)
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
    entry: str = ""  # the suite entry (``variant`` or ``variant@label``) the run belongs to
    needs: list[Path] = field(default_factory=list)  # run folders that must finish first ("@entry" values)


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
    for entry in suite.variants:
        if not isinstance(entry, str) or not ENTRY_PATTERN.fullmatch(entry):
            raise ConfigError(f"variants: {entry!r} is not a variant name or variant@label (in {path})", "variants")
    if len(set(suite.variants)) != len(suite.variants):
        raise ConfigError(f"variants: an entry is listed twice; name repeats variant@label (in {path})", "variants")
    for key in ("per_variant", "per_dataset"):
        names = suite.variants if key == "per_variant" else suite.datasets
        for name in getattr(suite, key):
            if name not in names:
                raise ConfigError(f"{key}.{name}: {name!r} is not in the suite's {key[4:]}s (in {path})", key)
    for entry, datasets in suite.only.items():
        if entry not in suite.variants:
            raise ConfigError(f"only.{entry}: {entry!r} is not in the suite's variants (in {path})", "only")
        unknown = [d for d in datasets if d not in suite.datasets]
        if unknown or not datasets:
            raise ConfigError(f"only.{entry}: {unknown[0] if unknown else '[]'!r} is not a dataset of the suite "
                              f"(in {path})", "only")
    for entry, budget in suite.budgets.items():
        if entry not in suite.variants:
            raise ConfigError(f"budgets.{entry}: {entry!r} is not in the suite's variants (in {path})", "budgets")
        try:
            Budget.parse(str(budget))
        except ConfigError as exc:
            raise ConfigError(f"budgets.{entry}: {exc} (in {path})", "budgets") from None
    entry_order(suite, path)  # unknown or circular "@entry" references fail here, before any run
    for entry in suite.variants:
        for ref in _references(suite.per_variant.get(entry, {})):
            missing = set(suite.only.get(entry, suite.datasets)) - set(suite.only.get(ref, suite.datasets))
            if missing:
                raise ConfigError(f"per_variant.{entry}: starts from {ref!r}, which does not run on {sorted(missing)[0]} "
                                  f"(see only:) (in {path})", "only")
    return suite


def variant_of(entry: str) -> str:
    """The registered variant of a suite entry (``srgan@gan`` -> ``srgan``)."""
    return entry.split("@", 1)[0]


def _references(value: Any) -> list[str]:
    """The entries named by ``"@entry"`` strings anywhere in a config block."""
    if isinstance(value, dict):
        return [r for v in value.values() for r in _references(v)]
    if isinstance(value, list):
        return [r for v in value for r in _references(v)]
    return [value[1:]] if isinstance(value, str) and value.startswith("@") else []


def _substitute(value: Any, folders: dict[str, Path]) -> Any:
    """``value`` with every ``"@entry"`` string replaced by that entry's run folder."""
    if isinstance(value, dict):
        return {k: _substitute(v, folders) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, folders) for v in value]
    if isinstance(value, str) and value.startswith("@"):
        return str(folders[value[1:]].resolve())
    return value


def entry_order(suite: SuiteConfig, path: str | Path = "") -> list[str]:
    """The suite's entries, each after the entries its ``"@entry"`` values name (listed order otherwise)."""
    needs = {}
    for entry in suite.variants:
        refs = _references(suite.per_variant.get(entry, {}))
        for ref in refs:
            if ref not in suite.variants:
                raise ConfigError(f"per_variant.{entry}: {'@' + ref!r} names no entry of the suite (in {path})",
                                  "per_variant")
        needs[entry] = refs
    order: list[str] = []
    visiting: set[str] = set()

    def visit(entry: str) -> None:
        if entry in order:
            return
        if entry in visiting:
            raise ConfigError(f"per_variant.{entry}: its \"@entry\" references form a cycle (in {path})", "per_variant")
        visiting.add(entry)
        for ref in needs[entry]:
            visit(ref)
        order.append(entry)

    for entry in suite.variants:
        visit(entry)
    return order


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
    runs = []
    for dataset in suite.datasets:
        for seed in suite.seeds:
            folders: dict[str, Path] = {}  # entry -> run folder, for "@entry" values
            for entry in entry_order(suite, suite_path):
                if dataset not in suite.only.get(entry, suite.datasets):
                    continue
                block = suite.per_variant.get(entry, {})
                needs = [folders[ref] for ref in _references(block)]
                layers = [(suite.config, f"in {suite_path}: config")]
                layers.append((suite.per_dataset.get(dataset, {}), f"in {suite_path}: per_dataset.{dataset}"))
                layers.append((_substitute(block, folders), f"in {suite_path}: per_variant.{entry}"))
                budget = scaled_budget(str(suite.budgets.get(entry, suite.budget)), scale)
                flags = {"variant": variant_of(entry), "dataset": dataset, "seed": seed, "budget": budget}
                resolved = resolve(extra_layers=layers, flags=flags, overrides=overrides)
                name = f"{entry}__{dataset}__s{seed}"
                folders[entry] = out / "runs" / f"{name}__{config_hash(resolved.cfg)[:8]}"
                runs.append(PlannedRun(name, folders[entry], resolved, loaded, entry=entry, needs=needs))
    order = {entry: i for i, entry in enumerate(suite.variants)}
    return sorted(runs, key=lambda r: (suite.datasets.index(r.resolved.cfg.dataset), order[r.entry],
                                       suite.seeds.index(r.resolved.cfg.seed)))


def _run_one(run: PlannedRun) -> tuple[str, str]:
    missing = [p.name for p in run.needs if not _finished(read_status(p))]
    if missing:
        return run.name, f"failed: it starts from {', '.join(missing)}, which did not finish"
    try:
        entry = run.entry if run.entry != run.resolved.cfg.variant else ""
        result = Trainer(run.resolved, run.run_dir, progress=False, plugins=run.plugins, entry=entry).run()
        return run.name, result.status
    except Exception as exc:  # a failed run must not stop the suite; its status file says why
        return run.name, f"failed: {type(exc).__name__}: {exc}"


def _groups(todo: list[PlannedRun], runs: list[PlannedRun], vectorize: str) -> list[list[PlannedRun]]:
    """The runs to train together: with ``vectorize="auto"``, the runs of one entry that differ
    only in seed and data and can be stacked (:func:`gan_bench.train.vectorized.why_not`); every
    other run alone."""
    from gan_bench.train.vectorized import group_key, why_not

    groups: dict[tuple[str, ...], list[PlannedRun]] = {}
    for r in todo:
        alone = vectorize == "off" or r.needs or _depth(r, runs) or why_not(r.resolved) is not None
        key = ("alone", r.name) if alone else ("group", r.entry, group_key(r.resolved), *r.plugins)
        groups.setdefault(key, []).append(r)
    return list(groups.values())


def _run_group(group: list[PlannedRun]) -> list[tuple[str, str]]:
    """Train a group as one stacked model (one run: as :func:`_run_one`); (name, status) per run."""
    if len(group) == 1:
        return [_run_one(group[0])]
    from gan_bench.train.vectorized import GroupRun, train_group

    try:
        results = train_group([GroupRun(r.resolved, r.run_dir, r.plugins, r.entry if r.entry != r.resolved.cfg.variant
                                        else "") for r in group])
        return [(r.name, res.status) for r, res in zip(group, results)]
    except Exception as exc:  # each run then reports (or reuses) its own outcome
        log.warning("vectorized group of %d runs failed (%s: %s); running them one by one", len(group),
                    type(exc).__name__, exc)
        return [_run_one(r) for r in group]


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


def check_entries(suite: SuiteConfig, suite_path: Path, entries: tuple[str, ...] | list[str]) -> None:
    """A ConfigError naming the first of ``entries`` (``--variants``) that the suite does not list."""
    unknown = [v for v in entries if v not in suite.variants]
    if unknown:
        raise ConfigError(f"--variants: {unknown[0]!r} is not in {suite_path} (it has {', '.join(suite.variants)})")


def _restrict(flag: str, have: list[Any], wanted: tuple[Any, ...], suite_path: Path) -> list[Any]:
    """``have`` limited to ``wanted`` (all of it when nothing is wanted), in the suite's order; a
    wanted value the suite lacks is a ConfigError naming ``--flag``."""
    unknown = [w for w in wanted if w not in have]
    if unknown:
        raise ConfigError(f"--{flag}: {unknown[0]!r} is not among {suite_path}'s {flag} "
                          f"({', '.join(map(str, have))})")
    return [h for h in have if h in wanted] if wanted else have


def run_suite(suite_path: str | Path, out: str | Path, jobs: int = 1, scale: float = 1.0,
              overrides: tuple[str, ...] = (), progress: bool = True, publish: str | Path | None = None,
              variants: tuple[str, ...] = (), plugins: tuple[str, ...] = (), seeds: tuple[int, ...] = (),
              vectorize: str = "off", executor: Executor | None = None,
              datasets: tuple[str, ...] = ()) -> SuiteResult:
    """Run (or continue) a suite and write ``out/leaderboard.csv`` and ``out/index.html``.

    ``variants``, ``seeds`` and ``datasets`` restrict the run to some of the suite's entries, seeds
    and datasets (a deviation the report states). ``vectorize="auto"`` trains the runs that differ only in seed and
    data as one stacked model each (:mod:`gan_bench.train.vectorized`), ``"off"`` one by one. With ``publish`` (a folder, usually the repo root) the leaderboard is copied to
    ``publish/leaderboards/NAME.csv`` and the report to ``publish/reports/NAME/index.html``.
    ``executor`` (:mod:`gan_bench.executors`) runs the jobs; default: ``LocalExecutor(jobs)``."""
    started = time.perf_counter()
    suite_path, out = Path(suite_path), Path(out)
    suite = load_suite(suite_path)
    if variants:
        check_entries(suite, suite_path, variants)
        keep = set(variants)
        for entry in reversed(entry_order(suite, suite_path)):  # with the runs they start from
            if entry in keep:
                keep.update(_references(suite.per_variant.get(entry, {})))
        suite.variants = [v for v in suite.variants if v in keep]
    suite.seeds = _restrict("seeds", suite.seeds, seeds, suite_path)
    suite.datasets = _restrict("datasets", suite.datasets, datasets, suite_path)
    references = resolve_references(suite.references, suite_path)
    runs = plan(suite, suite_path, out, scale, overrides, plugins)
    with FolderLock(out, f"suite {suite.name}"):
        return _run_planned(suite, suite_path, out, runs, references, jobs, scale, overrides, progress, publish,
                            variants, started, seeds, vectorize, executor or LocalExecutor(jobs), datasets)


def _finished(status: str | None) -> bool:
    return status is not None and (status == "done" or status.startswith("diverged"))


def _depth(run: PlannedRun, runs: list[PlannedRun]) -> int:
    """How many runs deep the chain of runs this one starts from is (0: it starts from none)."""
    by_dir = {r.run_dir: r for r in runs}
    return max((1 + _depth(by_dir[p], runs) for p in run.needs if p in by_dir), default=0)


def _run_planned(suite: SuiteConfig, suite_path: Path, out: Path, runs: list[PlannedRun], references: list[Path],
                 jobs: int, scale: float, overrides: tuple[str, ...], progress: bool, publish: str | Path | None,
                 variants: tuple[str, ...], started: float, seeds: tuple[int, ...] = (),
                 vectorize: str = "off", executor: Executor | None = None,
                 datasets: tuple[str, ...] = ()) -> SuiteResult:
    executor = executor or LocalExecutor(jobs)
    todo = [r for r in runs if not _finished(read_status(r.run_dir))]
    skipped = len(runs) - len(todo)
    resumed = sum(1 for r in todo if (r.run_dir / "checkpoints").exists())
    planned_dirs = {r.run_dir.name for r in runs}
    stale = sorted(p.name for p in (out / "runs").glob("*__*") if p.is_dir() and p.name not in planned_dirs) \
        if (out / "runs").is_dir() else []
    log.info("suite %s: %d runs: %d reused (finished with exactly this config), %d resumed, %d new; executor %s",
             suite.name, len(runs), skipped, resumed, len(todo) - resumed, executor.description)
    if stale:
        log.info("suite %s: %d run folders of other configurations in %s are left untouched and not reported",
                 suite.name, len(stale), out / "runs")

    statuses: dict[str, str] = {}
    bar = tqdm(total=len(runs), initial=skipped, desc=f"suite {suite.name}", unit="run", disable=not progress)
    groups = _groups(todo, runs, vectorize)  # a group (one job) trains as one stacked model
    depths = sorted({_depth(g[0], runs) for g in groups})  # waves: runs that start from others wait
    waves = [[g for g in groups if _depth(g[0], runs) == depth] for depth in depths]
    with executor:
        for name, status in executor.run(waves, _run_group):
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
    if scale != 1.0 or overrides or variants or seeds or datasets:
        deviations.append(
            ("Short pass: " if scale < 1.0 else "")
            + f"This pass deviates from {suite_path.name}: budget {scaled_budget(suite.budget, scale)} "
            f"(--scale {scale:g} of {suite.budget})"
            + (f", overrides {' '.join(overrides)}" if overrides else "")
            + (f", variants limited to {', '.join(variants)}" if variants else "")
            + (f", seeds limited to {', '.join(map(str, seeds))}" if seeds else "")
            + (f", datasets limited to {', '.join(datasets)}" if datasets else "")
            + ". Compare its numbers with the published ones as a ranking at most.")
    banner = [f"Budget trained: {scaled_budget(suite.budget, scale)} per run"
              + (f" ({scale:g} x the suite file's {suite.budget})" if scale != 1.0 else "")
              + "".join(f"; {e}: {scaled_budget(str(b), scale)}" for e, b in suite.budgets.items() if e in suite.variants)
              + f", {len(suite.seeds)} seed{'' if len(suite.seeds) == 1 else 's'}"]
    banner += ([suite.label] if suite.label else []) + deviations
    suite_wall = recorded_wall_time(out / "suite_time.json", wall, ran=bool(todo))
    report = _write_report(suite, board, [r.run_dir for r in runs], references, out / "index.html",
                           suite_wall, deviations, banner)
    # what the folder holds, so `gan-bench report` / `leaderboard` can rebuild its page and tables later
    write_suite_manifest(
        out, name=suite.name, suite_file=suite_path, budget=scaled_budget(suite.budget, scale), scale=scale,
        overrides=overrides, run_dirs=[r.run_dir for r in runs], label=suite.label, description=suite.description,
        banner=banner, notes=deviations + ([suite.description] if suite.description else []) + list(suite.notes)
        + [check_claim(claim, board) for claim in suite.claims], references=references, wall_seconds=suite_wall)
    if publish is not None:
        publish_suite(publish, out)
    return SuiteResult(out, leaderboard, report, len(runs), skipped, len(failed), wall,
                       resumed=resumed, diverged=len(diverged), stale=len(stale))


def recorded_wall_time(path: Path, wall: float, ran: bool) -> float | None:
    """The wall time of the invocation that last ran training, kept in ``path``; a rerun that only
    reuses finished runs (a rebuild of the tables) reports that one, not its own few seconds, and
    a folder whose runs were all trained elsewhere (copied in) has none: None, "not recorded"."""
    if ran:
        atomic.write_json(path, {"wall_seconds": wall})
        return wall
    if not path.exists():
        return None
    return float(json.loads(path.read_text())["wall_seconds"])


def _write_report(suite: SuiteConfig, board: Any, run_dirs: list[Path], references: list[Path],
                  out_html: Path, wall: float, deviations: list[str], banner: list[str]) -> Path | None:
    from gan_bench.report.html import write_report

    title = f"gan_bench suite: {suite.name}"
    notes = deviations + ([suite.description] if suite.description else []) + list(suite.notes)
    notes += [check_claim(claim, board) for claim in suite.claims]
    return write_report(out_html, title, board, run_dirs, read_references(references), notes=notes, wall_seconds=wall,
                        banner=banner)
