"""Hyperparameter search under a fixed budget: Lucic et al. 2018's protocol, with Optuna.

Lucic et al. 2018 ("Are GANs Created Equal? A Large-Scale Study", NeurIPS 2018) compare GANs by the
distribution of the best score a model reaches within a budget of hyperparameter trials, every
trial trained under the same fixed budget (their figure 4: the minimum FID against the number of
trials, bootstrapped). ``gan-bench search SUITE --trials N`` does that for each entry x dataset of a
suite file: N trials, each a normal run (the suite's config plus the sampled values, trained by the
same :class:`~gan_bench.train.trainer.Trainer`, in ``OUT/runs/`` under a folder named by its config
hash), then ``OUT/trials.csv`` and a report (:mod:`gan_bench.report.search_figures`).

The search space is the paper's wide range as released in its code, compare_gan v1
(github.com/google/compare_gan, ``compare_gan/src/params.py``, ``GetDefaultWideRange`` and the
per-model ``*HyperParams``, sampled by ``generate_tasks_lib.GetSample``):

=============  ======================  ================================================================
name           config key(s)           range (source)
=============  ======================  ================================================================
lr             optim.g_lr, optim.d_lr  log-uniform [1e-5, 1e-2]; one rate for G and D
                                       (``learning_rate``: 10^U[-5, -2])
beta1          optim.beta1             uniform [0, 1] (``beta1``)
n_critic       model.n_critic          {1, 5} (``disc_iters``: ``random.choice([1, 5])``, every model
                                       that has critic steps)
d_norm         net.d_norm              {batch, none} (``discriminator_batchnorm`` True/False)
lambda         model.gp_weight         log-uniform [0.1, 100] (``lambda`` of WGAN-GP and DRAGAN:
                                       10^U[-1, 2])
clip           model.clip              log-uniform [1e-3, 1] (WGAN ``weight_clipping``: 10^U[-3, 0])
gamma          model.gamma             uniform [0, 1] (BEGAN ``gamma``)
lambda_k       model.lambda_k          log-uniform [1e-4, 1e-2] (BEGAN ``lambda``: 10^U[-4, -2])
=============  ======================  ================================================================

A parameter is searched only where the run has it (``model.n_critic`` in the variant's options,
``net.d_norm`` in the architecture's; ``gamma``/``lambda_k`` for BEGAN only). Adam's beta2 is not
searched: compare_gan keeps TensorFlow's default 0.999 (its ``AdamOptimizer`` gets only
``beta1``), so beta2 stays at the suite's value. As in ``TuneParams`` ("always include default
params"), trial 0 of each study is the suite's own setting when it lies inside the space.

Sampling is Optuna's: ``random`` (the paper's random search, the default) or ``tpe``. Each study
(entry x dataset) is an in-memory study seeded from ``--seed``, the entry and the dataset, and is
rebuilt on every invocation: the seeded sampler asks the same values again, so each trial maps to
the same config hash, the finished run folder is reused without training and its score is told to
the study again (a TPE study therefore sees the same history). Reuse never depends on that
determinism: a folder is reused only for exactly the same config. Raising ``--trials`` keeps the
earlier trials and adds new ones.

The objective is one metric of the final evaluation (default: the dataset's offline-classifier
FID, ``fid[<dataset>-classifier]``), minimised or maximised by its direction
(:func:`gan_bench.report._format.lower_is_better`). A diverged or failed run, or one without the
metric, is a FAIL trial in the study: never a score.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import logging
import math
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from gan_bench import atomic
from gan_bench.config import ConfigError, parse_override
from gan_bench.report._format import lower_is_better
from gan_bench.suite import (
    PlannedRun,
    SuiteConfig,
    check_entries,
    load_suite,
    plan,
    recorded_wall_time,
    scaled_budget,
    variant_of,
)
from gan_bench.train.lock import FolderLock
from gan_bench.train.runs import read_summary
from gan_bench.train.trainer import Trainer, read_status

log = logging.getLogger("gan_bench.search")

INSTALL_HINT = "optuna is not installed; install the search extra: pip install 'gan-bench[search]'"
TRIALS_FILE = "trials.csv"
MANIFEST = "search.json"
SAMPLERS = ("random", "tpe")
DEFAULT_METRIC = "fid"  # the dataset's fid[...] column (its offline classifier's protocol)


class SearchDependencyError(ConfigError):
    """Optuna is missing (the ``search`` extra)."""


def import_optuna() -> Any:
    """The ``optuna`` module, or :class:`SearchDependencyError` naming the extra to install."""
    try:
        import optuna
    except ImportError:
        raise SearchDependencyError(INSTALL_HINT) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


@dataclass(frozen=True)
class Param:
    """One searched hyperparameter: a float range (``low``..``high``, ``log``) or ``choices``.

    ``keys`` are the dotted config keys it sets (``lr`` sets both learning rates); ``when`` is the
    option that must exist for the parameter to apply (``model.n_critic``: the variant has critic
    steps); ``variants`` restricts it to some variants (empty: any)."""

    name: str
    keys: tuple[str, ...]
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: tuple[Any, ...] = ()
    when: str = ""
    variants: tuple[str, ...] = ()
    source: str = ""

    def describe(self) -> str:
        """The range as text: ``log-uniform [1e-05, 0.01]``, ``{1, 5}``."""
        if self.choices:
            return "{" + ", ".join(str(c) for c in self.choices) + "}"
        return f"{'log-uniform' if self.log else 'uniform'} [{self.low:g}, {self.high:g}]"

    def contains(self, value: Any) -> bool:
        """True when ``value`` lies in the range (or is one of the choices)."""
        if self.choices:
            return value in self.choices
        return isinstance(value, (int, float)) and not isinstance(value, bool) and self.low <= value <= self.high


#: Lucic et al. 2018's wide range (compare_gan v1, params.py; see the module docstring).
PAPER_SPACE: tuple[Param, ...] = (
    Param("lr", ("optim.g_lr", "optim.d_lr"), 1e-5, 1e-2, log=True,
          source="params.GetDefaultWideRange: learning_rate 10^U[-5,-2]"),
    Param("beta1", ("optim.beta1",), 0.0, 1.0, source="params.GetDefaultWideRange: beta1 U[0,1]"),
    Param("n_critic", ("model.n_critic",), choices=(1, 5), when="model.n_critic",
          source="params.GetDefaultWideRange: disc_iters, discrete [1, 5] (random.choice)"),
    Param("d_norm", ("net.d_norm",), choices=("batch", "none"), when="net.d_norm",
          source="params.GetDefaultWideRange: discriminator_batchnorm {True, False}"),
    Param("lambda", ("model.gp_weight",), 0.1, 100.0, log=True, when="model.gp_weight",
          source="params.WGANGPHyperParams / DRAGANHyperParams: lambda 10^U[-1,2]"),
    Param("clip", ("model.clip",), 1e-3, 1.0, log=True, when="model.clip", variants=("wgan",),
          source="params.WGANHyperParams: weight_clipping 10^U[-3,0]"),
    Param("gamma", ("model.gamma",), 0.0, 1.0, when="model.gamma", variants=("began",),
          source="params.BEGANHyperParams: gamma U[0,1]"),
    Param("lambda_k", ("model.lambda_k",), 1e-4, 1e-2, log=True, when="model.lambda_k", variants=("began",),
          source="params.BEGANHyperParams: lambda 10^U[-4,-2]"),
)


def _option(run: PlannedRun, key: str) -> tuple[bool, Any]:
    """(present, value) of a dotted key in a planned run's resolved config and option objects."""
    section, _, name = key.partition(".")
    resolved = run.resolved
    holder = {"model": resolved.model_opts, "net": resolved.net_opts, "optim": resolved.cfg.optim}.get(section)
    if holder is None or not hasattr(holder, name):
        return False, None
    return True, getattr(holder, name)


def space_for(run: PlannedRun, space: Sequence[Param] = PAPER_SPACE) -> list[Param]:
    """The parameters of ``space`` that apply to ``run`` (a planned run of the suite's own settings)."""
    variant = run.resolved.cfg.variant
    return [p for p in space
            if (not p.when or _option(run, p.when)[0]) and (not p.variants or variant in p.variants)]


def default_point(run: PlannedRun, params: Sequence[Param]) -> dict[str, Any] | None:
    """The suite's own values of ``params`` (compare_gan's trial 0), or None when one lies outside
    the space (or the suite gives G and D different learning rates, which one ``lr`` cannot say)."""
    point: dict[str, Any] = {}
    for p in params:
        values = [_option(run, k)[1] for k in p.keys]
        if any(v != values[0] for v in values[1:]) or not p.contains(values[0]):
            return None
        point[p.name] = values[0]
    return point


def distributions(params: Sequence[Param]) -> dict[str, Any]:
    """Optuna distributions of ``params``."""
    optuna = import_optuna()
    out: dict[str, Any] = {}
    for p in params:
        if p.choices:
            out[p.name] = optuna.distributions.CategoricalDistribution(list(p.choices))
        else:
            out[p.name] = optuna.distributions.FloatDistribution(p.low, p.high, log=p.log)
    return out


def config_block(params: Sequence[Param], values: dict[str, Any]) -> dict[str, Any]:
    """A nested config mapping that sets every key of each parameter to its value."""
    block: dict[str, Any] = {}
    for p in params:
        for key in p.keys:
            section, _, name = key.partition(".")
            block.setdefault(section, {})[name] = values[p.name]
    return block


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


# ---------------------------------------------------------------------------------------------- figure 4


@dataclass
class BestOfK:
    """The distribution of the best score among k trials, k = 1..n (Lucic et al. 2018, figure 4)."""

    k: np.ndarray
    mean: np.ndarray
    low: np.ndarray  # 5th percentile over resamples
    high: np.ndarray  # 95th percentile


def best_of_k(scores: Sequence[float], minimize: bool = True, resamples: int = 500, seed: int = 0) -> BestOfK:
    """Bootstrap the best of k trials drawn without replacement from ``scores``, for k = 1..n.

    Each resample is a random order of the n scores, and its best-of-k is the running best of its
    first k: the k trials of a resample are a subset of its k+1, so every curve (mean and band) is
    monotone in k by construction (no Monte-Carlo wiggle), and at k = n every resample holds all n,
    so the curve ends at the overall best."""
    values = np.asarray([float(s) for s in scores], dtype=np.float64)
    n = len(values)
    if n == 0:
        empty = np.zeros(0)
        return BestOfK(np.zeros(0, dtype=int), empty, empty, empty)
    if not np.all(np.isfinite(values)):
        raise ValueError("best_of_k: scores must be finite (failed trials are left out before)")
    signed = values if minimize else -values
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((resamples, n)), axis=1)  # one random permutation per resample
    running = np.minimum.accumulate(signed[order], axis=1)  # (resamples, n): best of the first k
    mean = running.mean(axis=0)
    settled = running.min(axis=0) == running.max(axis=0)  # every resample agrees (k = n): no rounding of a sum
    mean[settled] = running[0, settled]
    low, high = np.percentile(running, [5.0, 95.0], axis=0)
    if not minimize:
        mean, low, high = -mean, -high, -low
    return BestOfK(np.arange(1, n + 1), mean, low, high)


# ---------------------------------------------------------------------------------------------- the search


@dataclass
class TrialRow:
    """One row of ``trials.csv``."""

    entry: str
    dataset: str
    trial: int
    origin: str  # "suite default" (trial 0, compare_gan's convention) or "sampled"
    params: dict[str, Any]
    metric: str
    score: float | None
    state: str  # COMPLETE or FAIL (Optuna's trial state)
    status: str  # the run's status: done, diverged at step N, failed: ...
    reused: bool
    seconds: float | None  # training wall time of the run
    run: str  # the run folder, relative to OUT


@dataclass
class SearchResult:
    out: Path
    trials_csv: Path
    report: Path | None
    rows: list[TrialRow]
    trained: int
    reused: int
    failed: int
    wall_seconds: float
    direction: str = "minimize"


@dataclass
class _Study:
    entry: str
    dataset: str
    base: PlannedRun
    params: list[Param]
    study: Any
    dists: dict[str, Any]
    default: dict[str, Any] | None


def study_seed(seed: int, entry: str, dataset: str) -> int:
    """The sampler seed of one study: stable across runs, independent of the other entries."""
    return zlib.crc32(f"{seed}:{entry}:{dataset}".encode()) & 0x7FFFFFFF


def _sampler(name: str, seed: int) -> Any:
    optuna = import_optuna()
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    raise ConfigError(f"--sampler: {name!r} is not one of {', '.join(SAMPLERS)}")


def resolve_direction(metric: str, direction: str = "auto") -> str:
    """``minimize`` or ``maximize``: the metric's own direction unless ``direction`` names one."""
    if direction in ("minimize", "maximize"):
        return direction
    if direction != "auto":
        raise ConfigError(f"--direction: {direction!r} is not auto, minimize or maximize")
    return "minimize" if lower_is_better(metric) else "maximize"


def pick_score(metrics: dict[str, Any], metric: str) -> tuple[str, float | None]:
    """(metric name, its finite value or None) from a run's final metrics. ``fid`` (the default)
    picks the run's ``fid[...]`` column, the offline classifier's when there are several."""
    if metric == DEFAULT_METRIC:
        names = [k for k in metrics if k.startswith("fid[")]
        names = [k for k in names if "classifier" in k] or names
        if not names:
            return metric, None
        metric = sorted(names)[0]
    value = metrics.get(metric)
    try:
        f = float(value)
    except (TypeError, ValueError):
        return metric, None
    return metric, f if math.isfinite(f) else None


def _finished(status: str | None) -> bool:
    return status is not None and (status == "done" or status.startswith("diverged"))


def _train(run: PlannedRun) -> str:
    """Train (or resume) one trial's run; a failure is the trial's status, not the search's end."""
    try:
        entry = run.entry if run.entry != run.resolved.cfg.variant else ""
        return Trainer(run.resolved, run.run_dir, progress=False, plugins=run.plugins, entry=entry).run().status
    except Exception as exc:  # a failed trial must not stop the search; its row says why
        return f"failed: {type(exc).__name__}: {exc}"


def _plan_one(suite: SuiteConfig, suite_path: Path, out: Path, entry: str, dataset: str, seed: int, scale: float,
              overrides: tuple[str, ...], plugins: tuple[str, ...], block: dict[str, Any] | None = None) -> PlannedRun:
    """The run of ``entry`` on ``dataset`` with the suite's layers plus ``block`` (a trial's values)."""
    per_variant = dict(suite.per_variant)
    if block:
        per_variant[entry] = _merge(per_variant.get(entry, {}), block)
    one = dataclasses.replace(suite, variants=[entry], datasets=[dataset], seeds=[seed], per_variant=per_variant)
    (run,) = plan(one, suite_path, out, scale, overrides, plugins)
    return run


def run_search(suite_path: str | Path, out: str | Path, trials: int, *, seed: int | None = None,
               variants: tuple[str, ...] = (), scale: float = 1.0, overrides: tuple[str, ...] = (),
               metric: str = DEFAULT_METRIC, direction: str = "auto", sampler: str = "random",
               plugins: tuple[str, ...] = (), publish: str | Path | None = None,
               train: Callable[[PlannedRun], str] = _train) -> SearchResult:
    """Run (or continue) ``trials`` trials per entry x dataset of a suite file; write
    ``out/trials.csv``, ``out/search.json`` and ``out/index.html`` (and publish them under
    ``publish``: see :func:`gan_bench.report.search_figures.publish_search`).

    Trials run in lockstep over the studies (trial i of every entry before trial i+1), so an
    interrupted search leaves every entry with the same count. ``seed`` seeds the samplers and is
    the training seed of every trial (default: the suite's first seed). ``train`` trains one
    planned run and returns its status (tests replace it)."""
    started = time.perf_counter()
    if trials < 1:
        raise ConfigError("--trials must be at least 1")
    if sampler not in SAMPLERS:
        raise ConfigError(f"--sampler: {sampler!r} is not one of {', '.join(SAMPLERS)}")
    optuna = import_optuna()
    suite_path, out = Path(suite_path), Path(out)
    suite = load_suite(suite_path)
    check_entries(suite, suite_path, variants)
    entries = [v for v in suite.variants if not variants or v in variants]
    seed = suite.seeds[0] if seed is None else seed
    searched_keys = {k for p in PAPER_SPACE for k in p.keys}
    for text in overrides:
        key, _ = parse_override(text)
        if key in searched_keys:
            raise ConfigError(f"override {key}: the search samples it; leave it out (or narrow the suite instead)")
    study_direction = resolve_direction("fid[]" if metric == DEFAULT_METRIC else metric, direction)

    studies: list[_Study] = []
    for dataset in suite.datasets:
        for entry in entries:
            if dataset not in suite.only.get(entry, suite.datasets):
                continue
            base = _plan_one(suite, suite_path, out, entry, dataset, seed, scale, overrides, plugins)
            params = space_for(base)
            study = optuna.create_study(direction=study_direction,
                                        sampler=_sampler(sampler, study_seed(seed, entry, dataset)))
            default = default_point(base, params)
            if default is not None:
                study.enqueue_trial(default)
            studies.append(_Study(entry, dataset, base, params, study, distributions(params), default))
    if not studies:
        raise ConfigError(f"{suite_path}: no entry x dataset to search")

    rows: list[TrialRow] = []
    trained = reused = 0
    with FolderLock(out, f"search {suite.name}"):
        for number in range(trials):
            for s in studies:
                trial = s.study.ask(s.dists)
                values = {p.name: trial.params[p.name] for p in s.params}
                run = _plan_one(suite, suite_path, out, s.entry, s.dataset, seed, scale, overrides, plugins,
                                config_block(s.params, values))
                was_finished = _finished(read_status(run.run_dir)) and read_summary(run.run_dir) is not None
                status = read_status(run.run_dir) if was_finished else train(run)
                reused += was_finished
                trained += not was_finished
                summary = read_summary(run.run_dir) or {}
                name, score = pick_score(summary.get("metrics") or {}, metric)
                ok = status == "done" and score is not None
                if ok:
                    s.study.tell(trial, score)
                else:
                    s.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    if status == "done":
                        status = f"done, but no finite {name} (pick another --metric)"
                seconds = (summary.get("consumed") or {}).get("seconds")
                rows.append(TrialRow(
                    s.entry, s.dataset, number, "suite default" if number == 0 and s.default is not None else "sampled",
                    values, name, score if ok else None, "COMPLETE" if ok else "FAIL", str(status), was_finished,
                    float(seconds) if isinstance(seconds, (int, float)) else None, str(run.run_dir.relative_to(out))))
                log.info("trial %d/%d %s on %s: %s -> %s%s", number + 1, trials, s.entry, s.dataset,
                         ", ".join(f"{k}={_fmt(v)}" for k, v in values.items()),
                         f"{name}={score:.4g}" if ok else status, " (reused)" if was_finished else "")
                write_trials_csv(rows, out / TRIALS_FILE, [p.name for p in PAPER_SPACE])
        wall = time.perf_counter() - started
        wall = recorded_wall_time(out / "search_time.json", wall, ran=trained > 0)
        manifest = _manifest(out, suite, suite_path, studies, trials, seed, scale, overrides, metric, study_direction,
                             sampler, rows, wall)
        atomic.write_json(out / MANIFEST, manifest)
        from gan_bench.report.search_figures import publish_search, write_search_report

        report = write_search_report(out)
        if publish is not None:
            publish_search(publish, out)
    failed = sum(r.state != "COMPLETE" for r in rows)
    return SearchResult(out, out / TRIALS_FILE, report, rows, trained, reused, failed, time.perf_counter() - started,
                        study_direction)


def _fmt(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


TRIAL_COLUMNS = ["entry", "variant", "dataset", "trial", "origin"]
RESULT_COLUMNS = ["metric", "score", "state", "status", "reused", "seconds", "run"]


def write_trials_csv(rows: Sequence[TrialRow], path: Path, param_names: Sequence[str]) -> Path:
    """One row per trial: entry, variant, dataset, trial number, origin, every sampled parameter
    (empty where it does not apply), metric, score (empty for a failed trial), state, run status,
    reused, training seconds and run folder."""
    used = [n for n in param_names if any(n in r.params for r in rows)]

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(TRIAL_COLUMNS + used + RESULT_COLUMNS)
            for r in rows:
                w.writerow([r.entry, variant_of(r.entry), r.dataset, r.trial, r.origin]
                           + [r.params.get(n, "") for n in used]
                           + [r.metric, "" if r.score is None else repr(r.score), r.state, r.status, r.reused,
                              "" if r.seconds is None else f"{r.seconds:.2f}", r.run])

    return atomic.atomic_write(path, write)


def read_trials_csv(path: str | Path) -> list[dict[str, str]]:
    """``trials.csv`` as a list of rows (strings; ``score`` empty for failed trials)."""
    with Path(path).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _manifest(out: Path, suite: SuiteConfig, suite_path: Path, studies: list[_Study], trials: int, seed: int, scale: float,
              overrides: tuple[str, ...], metric: str, direction: str, sampler: str, rows: list[TrialRow],
              wall: float) -> dict[str, Any]:
    protocols: list[str] = []
    for r in rows:
        protocol = (read_summary(out / r.run) or {}).get("protocol")
        if protocol and protocol not in protocols:
            protocols.append(str(protocol))
    metrics_used = sorted({r.metric for r in rows})
    return {
        "name": suite.name,
        "suite_file": str(suite_path),
        "description": suite.description,
        "label": suite.label,
        "notes": list(suite.notes),
        "budget": scaled_budget(suite.budget, scale),
        "suite_budget": suite.budget,
        "scale": scale,
        "overrides": list(overrides),
        "trials": trials,
        "seed": seed,
        "sampler": sampler,
        "metric": metrics_used[0] if len(metrics_used) == 1 else metric,
        "direction": direction,
        "protocols": protocols,
        "studies": [{"entry": s.entry, "dataset": s.dataset, "default": s.default,
                     "space": [{"name": p.name, "keys": list(p.keys), "range": p.describe(), "source": p.source}
                               for p in s.params]} for s in studies],
        "wall_seconds": wall,
        "written": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
