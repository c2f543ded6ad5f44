"""Where a suite's jobs run: worker processes on this machine, or tasks on a Ray cluster.

A *job* is one run, or one vectorized group of runs (:mod:`gan_bench.train.vectorized`) that
trains as one stacked model. The suite hands an executor its jobs in *waves*: a wave starts only
once every job of the waves before it has finished, so a run that starts from another run's folder
(an ``"@entry"`` value) finds that folder finished. The executor yields ``(run name, status)`` as
runs finish. Each job runs the same code everywhere (``work``, the suite's ``_run_group``): the
trainer writes its own run folder under the suite's ``--out``, so the results, the resume rules
and the leaderboard do not depend on the executor.

- :class:`LocalExecutor` (``--executor local``, the default): one job at a time in this process
  with ``--jobs 1``, else a pool of ``--jobs`` spawned worker processes.
- :class:`RayExecutor` (``--executor ray``): each job is a Ray task (``ray.remote``) that asks for
  ``num_cpus`` (the torch threads of a run) and ``num_gpus`` (fractional allowed, e.g. 0.25 for
  four small models per GPU). A local Ray instance by default; ``--address`` connects to a
  cluster, whose nodes then need the same gan-bench installed and the suite's ``--out``, the data
  (``GAN_BENCH_DATA``) and any plugin files on a shared filesystem at the same paths.

A driver that dies leaves finished runs finished (each run folder is complete once its status
says so) and interrupted runs with their last checkpoint: rerunning the suite, with either
executor, reuses the former and resumes the latter.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

from gan_bench.config import ConfigError
from gan_bench.plugins import load_plugins

if TYPE_CHECKING:
    from gan_bench.suite import PlannedRun

log = logging.getLogger("gan_bench.executors")

Job = Sequence["PlannedRun"]  # one run, or a vectorized group trained as one stacked model
Outcome = tuple[str, str]  # (run name, status: "done", "diverged: ...", "failed: ...")
Work = Callable[[Job], list[Outcome]]  # what a job does: the suite's _run_group
EXECUTORS = ("local", "ray")
RAY_HINT = "pip install 'gan-bench[ray]'"


class ExecutorError(ConfigError):
    """The executor cannot start as asked (Ray missing, no node fits a run); one line, exit code 2."""


def default_threads(jobs: int) -> int:
    """The torch threads of each run when ``jobs`` run at once on this machine."""
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


class Executor:
    """Runs waves of jobs; a context manager that releases its workers on exit."""

    description = "executor"

    def run(self, waves: Sequence[Sequence[Job]], work: Work) -> Iterator[Outcome]:
        """Run every job of each wave (waves in order), yielding ``(name, status)`` per run as jobs finish."""
        raise NotImplementedError

    def close(self) -> None:
        """Release workers (a no-op by default)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


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


class LocalExecutor(Executor):
    """``--jobs 1`` (or a single job): in this process, wave by wave; otherwise a pool of ``jobs``
    spawned worker processes with ``cpu_count // jobs`` torch threads each."""

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = jobs
        self.description = f"local, {jobs} job(s)"

    def run(self, waves: Sequence[Sequence[Job]], work: Work) -> Iterator[Outcome]:
        jobs = [job for wave in waves for job in wave]
        if self.jobs <= 1 or len(jobs) <= 1:
            for job in jobs:  # waves in order: a run after the runs it starts from
                yield from work(job)
            return
        ctx = multiprocessing.get_context("spawn")  # fresh interpreters: no forked torch thread pools
        plugin_files = list(jobs[0][0].plugins)
        with ProcessPoolExecutor(max_workers=self.jobs, mp_context=ctx, initializer=_init_worker,
                                 initargs=(default_threads(self.jobs), plugin_files)) as pool:
            for wave in waves:  # runs that start from others wait for the wave before
                futures = [pool.submit(work, job) for job in wave]
                for fut in as_completed(futures):
                    yield from fut.result()


def _ray_job(work: Work, job: Job, threads: int, plugins: list[str]) -> list[Outcome]:
    """A job inside a Ray worker (a reused process): the pool worker's setup, then the work."""
    import torch

    torch.set_num_threads(threads)
    logging.getLogger("gan_bench").setLevel(logging.WARNING)
    load_plugins(plugins)
    return work(job)


def _absolute(run: PlannedRun) -> PlannedRun:
    """``run`` with absolute folders: a Ray worker's working directory is not the driver's."""
    return replace(run, run_dir=run.run_dir.resolve(), needs=[p.resolve() for p in run.needs])


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ExecutorError(f"--executor ray needs Ray, which is not installed: {RAY_HINT}") from None
    return ray


class RayExecutor(Executor):
    """Each job a Ray task asking for ``cpus_per_run`` CPUs and ``gpus_per_run`` GPUs.

    ``address=None`` starts a local Ray instance with this machine's CPUs (``--jobs N`` then runs
    N jobs at once, each with ``cpu_count // N`` CPUs, as the local executor does); an address
    (``auto``, ``HOST:6379`` or ``ray://HOST:10001``) joins a running cluster. ``gpus_per_run=None``
    asks for one GPU for ``device=cuda`` runs, one for ``device=auto`` runs when the cluster has a
    GPU, and none otherwise (Ray then hides the GPUs, so an ``auto`` run trains on the CPU). Ray
    is started at the first wave (a rerun with nothing to train never starts it) and shut down at
    :meth:`close` if this executor started it."""

    def __init__(self, jobs: int = 1, address: str | None = None, gpus_per_run: float | None = None,
                 cpus_per_run: int | None = None, max_retries: int = 2) -> None:
        self.ray = _import_ray()  # fails here, before the suite touches its folder
        if gpus_per_run is not None and gpus_per_run < 0:
            raise ExecutorError(f"--gpus-per-run must be at least 0, not {gpus_per_run:g}")
        if cpus_per_run is not None and cpus_per_run < 1:
            raise ExecutorError(f"--cpus-per-run must be at least 1, not {cpus_per_run}")
        self.jobs = jobs
        self.address = address
        self.gpus_per_run = gpus_per_run
        self.cpus_per_run = cpus_per_run or default_threads(jobs)
        self.max_retries = max_retries  # a lost worker or node: the run resumes from its checkpoint
        self._started = False
        self.description = f"ray ({address or 'local'}), {self.cpus_per_run} CPU(s) per run"

    def _start(self) -> None:
        ray = self.ray
        if ray.is_initialized():  # a session the caller opened (a notebook, a test): use it as is
            return
        # Ray's own notices (token auth on a local instance, ...) stay quiet; workers log to their own files
        level = logging.ERROR if self.address is None else logging.WARNING
        quiet = {"log_to_driver": False, "logging_level": level, "configure_logging": True}
        if self.address is None:
            ray.init(num_cpus=max(os.cpu_count() or 1, self.cpus_per_run), include_dashboard=False, **quiet)
        else:
            data = os.environ.get("GAN_BENCH_DATA")
            runtime_env = {"env_vars": {"GAN_BENCH_DATA": data}} if data else None
            ray.init(address=self.address, runtime_env=runtime_env, **quiet)
        self._started = True

    def _gpus(self, job: Job) -> float:
        if self.gpus_per_run is not None:
            return self.gpus_per_run
        device = job[0].resolved.cfg.device
        if device == "auto":
            return 1.0 if self.ray.cluster_resources().get("GPU", 0) >= 1 else 0.0
        return 1.0 if str(device).startswith("cuda") else 0.0

    def _check_fits(self, cpus: float, gpus: float) -> None:
        """A task no node can hold would wait forever: say so instead (a warning on a cluster,
        whose autoscaler may still add such a node)."""
        nodes = [n.get("Resources", {}) for n in self.ray.nodes() if n.get("Alive")]
        if any(n.get("CPU", 0) >= cpus and n.get("GPU", 0) >= gpus for n in nodes):
            return
        largest = max(nodes, key=lambda n: (n.get("GPU", 0), n.get("CPU", 0)), default={})
        message = (f"no Ray node has {cpus:g} CPU(s) and {gpus:g} GPU(s) for a run (the largest has "
                   f"{largest.get('CPU', 0):g} CPU(s), {largest.get('GPU', 0):g} GPU(s)); "
                   "lower --cpus-per-run/--gpus-per-run or set device=cpu")
        if self.address is None:
            raise ExecutorError(message)
        log.warning("%s; the tasks wait until the cluster has such a node", message)

    def run(self, waves: Sequence[Sequence[Job]], work: Work) -> Iterator[Outcome]:
        if not any(waves):
            return
        ray = self.ray
        self._start()
        task = ray.remote(_ray_job)
        checked: set[float] = set()
        for wave in waves:  # a wave starts once the one before has finished
            pending: dict[Any, Job] = {}
            for job in wave:
                job = [_absolute(r) for r in job]
                gpus = self._gpus(job)
                if gpus not in checked:
                    self._check_fits(self.cpus_per_run, gpus)
                    checked.add(gpus)
                ref = task.options(num_cpus=self.cpus_per_run, num_gpus=gpus, max_retries=self.max_retries,
                                   name=job[0].name).remote(work, job, self.cpus_per_run, list(job[0].plugins))
                pending[ref] = job
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                job = pending.pop(done[0])
                try:
                    yield from ray.get(done[0])
                except Exception as exc:  # the worker died (memory, a lost node) past its retries
                    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    for r in job:
                        yield r.name, f"failed: ray task: {type(exc).__name__}: {reason}"

    def close(self) -> None:
        if self._started:
            self.ray.shutdown()
            self._started = False


def make_executor(kind: str = "local", jobs: int = 1, address: str | None = None,
                  gpus_per_run: float | None = None, cpus_per_run: int | None = None) -> Executor:
    """The executor named by ``--executor``; Ray-only options with ``local`` are an error."""
    if kind == "local":
        given = [flag for flag, value in (("--address", address), ("--gpus-per-run", gpus_per_run),
                                          ("--cpus-per-run", cpus_per_run)) if value is not None]
        if given:
            raise ExecutorError(f"{given[0]} applies to --executor ray only")
        return LocalExecutor(jobs)
    if kind == "ray":
        return RayExecutor(jobs, address, gpus_per_run, cpus_per_run)
    raise ExecutorError(f"--executor: {kind!r} is not one of {', '.join(EXECUTORS)}")
