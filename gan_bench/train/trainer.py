"""The one training loop every variant runs in.

The trainer knows no variant by name: it builds the registered variant on the registered
architecture and dataset, feeds it real batches until the budget is used up, logs what the step
returns, evaluates on a fixed z, checkpoints atomically and resumes from the last checkpoint.

Run directory::

    config.yaml        resolved configuration
    run.json           what the folder holds: variant, dataset, arch, seed, budget, config hashes
    env.json           package versions, device, git sha, seed
    status             running | done | diverged at step N | failed: reason
    .lock              held by the one process writing the folder
    metrics.jsonl      {"kind": "train"|"eval", "step", "images_seen", "seconds", ...} per row
    checkpoints/       latest.pt (periodic, always finite) and final.pt
    samples/           final.npz (x: float32 points or uint8 NHWC images; modes for mixtures;
                       cond/target/mask/pair: the inputs, ground truths, masks or coupled images
                       of the first images, where the variant has them)
    summary.json       variant, dataset, seed, budget, status, consumed, final metrics, protocol
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from tqdm import tqdm

from gan_bench import atomic
from gan_bench.budget import Budget, Consumed
from gan_bench.config import ConfigError, to_dict
from gan_bench.data.base import ArrayDataset, load_dataset
from gan_bench.registry import METRICS
from gan_bench.train import distributed, identity
from gan_bench.train.checkpoint import FINAL, LATEST, CheckpointError, load_checkpoint, save_checkpoint
from gan_bench.train.compiled import compile_nets, uncompile_nets
from gan_bench.train.distributed import SINGLE, World
from gan_bench.train.environment import cpu_has_bf16, environment_record, resolve_device, seed_everything
from gan_bench.train.lock import FolderLock
from gan_bench.train.resolve import ResolvedRun
from gan_bench.train.sampler import EpochSampler
from gan_bench.train.speed import count_flops, peak_tflops, speed_of
from gan_bench.variants.base import BuildContext, Sample, Variant

log = logging.getLogger("gan_bench.train")

# Keys that may change between an interrupted run and its resumption.
RESUMABLE_CHANGES = identity.RESUMABLE
SAMPLE_IMAGES = 64  # images kept in samples/*.npz for reports
FLOP_COUNT_STEPS = 16  # steps whose FLOPs are counted (a multiple of every lazy-regularisation interval)


@dataclass
class RunResult:
    """What a finished (or stopped) run reports."""

    run_dir: Path
    status: str
    consumed: Consumed
    metrics: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0
    reused: bool = False  # the folder already held this finished run; nothing was trained


def read_status(run_dir: Path) -> str | None:
    """The run's status line, or None when it has none."""
    path = Path(run_dir) / "status"
    return path.read_text().strip() if path.exists() else None


def build_variant(resolved: ResolvedRun, dataset: ArrayDataset, device: torch.device, world: World = SINGLE) -> Variant:
    """The variant's nets and optimisers on ``device`` (weights initialised from the run's seed);
    data-parallel over ``world`` when it has several ranks (see :mod:`gan_bench.train.distributed`)."""
    cfg = resolved.cfg
    seed_everything(cfg.seed)
    arch = resolved.arch.obj(dataset.spec, resolved.net_opts)
    noise = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    ctx = BuildContext(spec=dataset.spec, arch=arch, cfg=cfg, device=device, noise=noise, data=dataset,
                       world_size=world.size, rank=world.rank)
    variant = resolved.variant.obj(ctx, resolved.model_opts)
    distributed.attach(variant, world)
    return variant


def evaluate(variant: Variant, dataset: ArrayDataset, num_samples: int, seed: int) -> tuple[dict[str, float], Sample]:
    """Every default metric registered for the dataset's kind, on samples from a fixed z, plus the
    variant's own scores.

    A metric's ``requires`` names dataset meta it needs (a mixture's modes); its ``needs`` names
    :class:`Sample` fields (``y`` for class accuracy): such a metric gets the whole sample and runs
    only when the sample has them; every other metric gets the generated tensor."""
    sample = Sample.cat(variant.sample(num_samples, seed, data=dataset)).cpu()
    results: dict[str, float] = {}
    for entry in METRICS:
        if entry.meta.get("default") and dataset.spec.kind in entry.meta.get("kinds", ()):
            if entry.meta.get("requires") and not all(k in dataset.meta for k in entry.meta["requires"]):
                continue
            needs = entry.meta.get("needs", ())
            if needs and not sample.has(*needs):
                continue
            results.update(entry.obj(sample if needs else sample.x, dataset))
    results.update(variant.own_metrics())
    return results, sample


def protocol_of(dataset: ArrayDataset, num_samples: int) -> str:
    """A one-line description of how the run's numbers were measured.

    A metric's ``protocol`` meta is a string, or a callable of (dataset, num_samples) when the
    protocol depends on the data."""
    if "means" in dataset.meta:
        return (f"mode coverage (PacGAN): {num_samples} fixed-z samples, nearest mode, "
                f"high quality within 3 std (std {dataset.meta['std']:g}); reverse_kl over the high-quality "
                "samples (PacGAN's), reverse_kl_all over all samples")
    parts = []
    for e in METRICS:
        if e.meta.get("default") and dataset.spec.kind in e.meta.get("kinds", ()):
            p = e.meta.get("protocol", e.name)
            parts.append(p(dataset, num_samples) if callable(p) else p)
    return "; ".join(p for p in parts if p)


def _as_float(value: torch.Tensor | float) -> float:
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


def nets_are_finite(variant: Variant) -> bool:
    """True when every parameter and buffer is finite (one device sync)."""
    flags = [t.isfinite().all() for t in (*variant.nets.parameters(), *variant.nets.buffers()) if t.is_floating_point()]
    return bool(torch.stack(flags).all()) if flags else True


def _samples_array(samples: torch.Tensor, kind: str) -> np.ndarray:
    if kind == "image":
        imgs = samples[:SAMPLE_IMAGES].clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
        return imgs.permute(0, 2, 3, 1).numpy()
    return samples.float().numpy()


class Trainer:
    """Runs one resolved configuration in ``run_dir``, resuming from its checkpoint if present."""

    def __init__(self, resolved: ResolvedRun, run_dir: str | Path, progress: bool = True,
                 on_step: Callable[[int, Variant], None] | None = None, plugins: list[str] | None = None,
                 entry: str = "") -> None:
        self.resolved = resolved
        self.cfg = resolved.cfg
        self.budget = resolved.budget
        self.run_dir = Path(run_dir)
        self.progress = progress
        self.plugins = list(plugins or [])  # recorded in run.json so the folder can be reopened
        self.on_step = on_step  # hook for tests and benchmarks: (steps done, the variant) after every step
        self.entry = entry  # a suite's name for this configuration (``srgan@gan``), shown instead of the variant
        self.world: World = SINGLE  # the data-parallel ranks under torchrun (set by run())
        self.device: torch.device | None = None

    # ------------------------------------------------------------------ setup

    def _finished(self) -> RunResult | None:
        """The folder's result when it already holds this run finished under this budget.

        A finished run asked for a smaller budget, or one in other units, cannot be reached from
        its checkpoint: refused rather than relabelled."""
        status = read_status(self.run_dir)
        summary_path = self.run_dir / "summary.json"
        if status is None or not (status == "done" or status.startswith("diverged")) or not summary_path.exists():
            return None
        summary = json.loads(summary_path.read_text())
        used = Consumed(**summary["consumed"])
        if summary.get("budget") == self.budget.text or status.startswith("diverged"):
            return RunResult(self.run_dir, status, used, summary.get("metrics") or {}, 0.0, reused=True)
        old = Budget.parse(summary["budget"]) if summary.get("budget") else None
        if old is None or old.unit != self.budget.unit or self.budget.exhausted(used):
            raise ConfigError(f"{self.run_dir} holds this run finished at budget {summary.get('budget')!r}; "
                              f"budget {self.budget.text!r} cannot be reached from it (use another --out)", "budget")
        return None  # a larger budget continues the run

    def _state(self, variant: Variant, sampler: EpochSampler, used: Consumed) -> dict[str, Any]:
        state: dict[str, Any] = {
            "nets": variant.nets.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in variant.optimizers.items()},
            "extra": variant.extra_state(),
            "consumed": asdict(used),
            "sampler": sampler.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "noise": variant.ctx.noise.get_state()},
            "variant": self.cfg.variant,
            "resume_hash": identity.resume_hash(self.cfg),
            "device": variant.device.type,
        }
        if torch.cuda.is_available() and variant.device.type == "cuda":
            state["rng"]["cuda"] = torch.cuda.get_rng_state(variant.device)
        return state

    def _restore(self, path: Path, variant: Variant, sampler: EpochSampler) -> Consumed:
        return self._load_state(load_checkpoint(path), path, variant, sampler)

    def _load_state(self, state: dict[str, Any], path: Path | str, variant: Variant, sampler: EpochSampler) -> Consumed:
        if state.get("variant") != self.cfg.variant or state.get("resume_hash", identity.resume_hash(self.cfg)) != identity.resume_hash(self.cfg):
            raise CheckpointError(f"{path} is a checkpoint of another run (variant {state.get('variant')!r}); "
                                  "use another --out")
        try:
            variant.nets.load_state_dict(state["nets"])
            for name, opt in variant.optimizers.items():
                opt.load_state_dict(state["optimizers"][name])
            variant.load_extra_state(state.get("extra", {}))
            sampler.load_state_dict(state["sampler"])
            torch.set_rng_state(state["rng"]["torch"])
            used = Consumed(**state["consumed"])
        except (KeyError, RuntimeError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path} does not match this run: {str(exc).splitlines()[0]}; use another --out") from None
        if state.get("device", variant.device.type) == variant.device.type:
            variant.ctx.noise.set_state(state["rng"]["noise"])
            if "cuda" in state["rng"] and variant.device.type == "cuda":
                torch.cuda.set_rng_state(state["rng"]["cuda"], variant.device)
        else:
            # A generator's state is device-specific: continue with a fresh stream seeded by the step.
            variant.ctx.noise.manual_seed(self.cfg.seed + 1 + used.steps)
            log.warning("%s: resumed on %s from a %s checkpoint; the noise stream restarts at step %d, so the "
                        "continuation is not bitwise equal to an uninterrupted run", self.run_dir,
                        variant.device.type, state.get("device"), used.steps)
        return used

    # ------------------------------------------------------------------ the loop

    def run(self) -> RunResult:
        """Train until the budget is used up (or the run diverges); returns the outcome.

        Refuses (ConfigError, nothing written) a folder that holds another run or is being
        written by another process; returns at once when the folder already holds this run
        finished (``reused``).

        Under torchrun every rank trains its shard and rank 0 alone writes the folder (see
        :mod:`gan_bench.train.distributed`); the other ranks return the status without metrics."""
        if distributed.world_from_env().distributed:
            self.world, self.device = distributed.setup(resolve_device(self.cfg.device), self.cfg.batch_size,
                                                        self.budget)
        identity.check_same_run(self.run_dir, self.cfg)  # read-only: every rank finds the same
        finished = self._finished()
        if finished is not None:
            return finished
        what = f"training {self.cfg.variant}/{self.cfg.dataset}/s{self.cfg.seed}"
        with distributed.on_main(self.world, lambda: FolderLock(self.run_dir, what)):
            identity.check_same_run(self.run_dir, self.cfg)  # another writer may have finished meanwhile
            finished = self._finished()
            return finished if finished is not None else self._train()

    def _train(self) -> RunResult:
        cfg = self.cfg
        world, main = self.world, self.world.main  # main: the rank that writes the folder
        device = self.device if self.device is not None else resolve_device(cfg.device)
        dataset = load_dataset(cfg.dataset, cfg.split, cfg.data_root or None, cfg.data).to(device)
        variant = build_variant(self.resolved, dataset, device, world)
        sampler = EpochSampler(len(dataset), seed=cfg.seed)
        if hasattr(dataset, "follow"):  # a streamed dataset reads the sampler's next batches ahead
            dataset.follow(sampler, rank=world.rank, world_size=world.size)
        n_real = self.resolved.variant.obj.real_batches(self.resolved.model_opts)
        if cfg.amp and device.type == "cpu" and not cpu_has_bf16():
            log.warning("amp=true on a CPU without native bfloat16 (AVX512-BF16/AMX): autocast is emulated "
                        "and usually slower than fp32")
        layout = torch.channels_last if cfg.channels_last and dataset.spec.kind == "image" else None
        if layout is not None:
            variant.nets.to(memory_format=layout)

        ckpt_dir = self.run_dir / "checkpoints"
        used = Consumed()
        latest = ckpt_dir / LATEST
        metrics_path = self.run_dir / "metrics.jsonl"
        if latest.exists():
            used = self._restore(latest, variant, sampler)  # optimisers move state to the params' device
            log.info("resuming %s from step %d", self.run_dir, used.steps)
            if main:  # rows logged after the checkpoint will be produced again
                rows = [r for r in atomic.read_jsonl(metrics_path) if r.get("step", 0) <= used.steps]
                atomic.write_jsonl(metrics_path, rows)
        elif metrics_path.exists() and main:
            atomic.write_jsonl(metrics_path, [])  # killed before its first checkpoint: starts over

        # How the run is trained, recorded only where it applies: one process's files stay as they were.
        how = {"distributed": world.record()} if world.distributed else {}
        if main:
            self._open_folder(device, how)
        wall_start = time.perf_counter()

        status = "done"
        bar = tqdm(total=100, desc=f"{cfg.variant}/{cfg.dataset}/s{cfg.seed}", unit="%",
                   disable=not self.progress or not main, leave=False, bar_format="{l_bar}{bar}| {n:.0f}/{total} [{elapsed}<{remaining}]")
        bar.update(100 * self.budget.fraction(used))
        check_every_step = device.type == "cpu"  # a float() per step would stall a GPU
        # Seconds mean GPU work done only if the clock waits for it; other budgets sync at log steps.
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        sync_every_step = self.budget.unit == "seconds"
        # FLOPs are counted (eagerly) on this process's first steps, enough of them to include the
        # periodic parts of a step (StyleGAN2's lazy R1 every 16 steps, path length every 4).
        flop_counts: list[int] = []
        compile_state = "off"  # off | probing (first compiled step) | on | fallback: reason
        snapshot: dict[str, Any] | None = None
        window = (used.images, used.seconds)  # images/s over each log interval
        scope = contextlib.ExitStack()  # closed in `finally`, with the progress bar
        scope.enter_context(distributed.shard_penalty_noise(variant.ctx.noise, world))
        try:
            while not self.budget.exhausted(used):
                if cfg.compile and compile_state == "off" and len(flop_counts) >= FLOP_COUNT_STEPS:
                    snapshot = copy.deepcopy(self._state(variant, sampler, used))
                    compile_nets(variant.nets)
                    compile_state = "probing"
                    log.info("%s: nets compiled with torch.compile (first compiled step compiles)", self.run_dir)
                t0 = time.perf_counter()
                sizes = distributed.batch_sizes(self.budget, used, n_real, cfg.batch_size, world)  # global
                batches = [dataset.batch(distributed.shard(sampler.next(s), world).to(device)) for s in sizes]
                if layout is not None:
                    batches = [{**b, "x": b["x"].contiguous(memory_format=layout)} for b in batches]

                def step(batches: list[dict[str, torch.Tensor]] = batches) -> dict[str, Any]:
                    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.amp):
                        return variant.train_step(batches, used.steps, self.budget.fraction(used))

                if len(flop_counts) < FLOP_COUNT_STEPS:
                    out, flops = count_flops(step)
                    flop_counts.append(flops)
                elif compile_state == "probing":
                    try:
                        out = step()
                    except Exception as exc:  # any compile failure falls back to eager
                        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
                        log.warning("%s: compile=true: the compiled step failed (%s); continuing eagerly",
                                    self.run_dir, reason)
                        uncompile_nets(variant.nets)
                        assert snapshot is not None
                        self._load_state(snapshot, "the state before the compiled step", variant, sampler)
                        compile_state, snapshot = f"fallback: {reason}", None
                        continue
                    compile_state, snapshot = "on", None
                else:
                    out = step()
                distributed.sync_buffers(variant, world)
                log_now = (used.steps + 1) % cfg.log_every == 0
                if sync_every_step or log_now:
                    sync()
                before = self.budget.fraction(used)
                used.steps += 1
                used.images += sum(sizes)
                took = time.perf_counter() - t0
                used.seconds += distributed.slowest(took, world) if sync_every_step else took
                bar.update(100 * (self.budget.fraction(used) - before))

                log_now = log_now or self.budget.exhausted(used)
                if check_every_step or log_now:
                    values = distributed.mean_values({k: _as_float(v) for k, v in out.items()}, world)
                    bad = [k for k, v in values.items() if k.startswith("loss/") and not math.isfinite(v)]
                    if bad:
                        status = f"diverged at step {used.steps}"
                        log.warning("%s: %s: %s is %s", self.run_dir, status, bad[0], values[bad[0]])
                        break
                    if log_now and main:
                        rate = (used.images - window[0]) / max(used.seconds - window[1], 1e-12)
                        window = (used.images, used.seconds)
                        atomic.append_jsonl(metrics_path, {"kind": "train", **self._counters(used),
                                                           "images_per_s": round(rate, 2), **values})
                if main and cfg.eval.every and used.steps % cfg.eval.every == 0 and not self.budget.exhausted(used):
                    self._evaluate(variant, dataset, used, final=False)
                if main and cfg.sample_every and used.steps % cfg.sample_every == 0:
                    self._save_samples(variant, dataset, f"step_{used.steps:07d}.npz")
                if used.steps % cfg.checkpoint_every == 0:
                    if not distributed.all_true(nets_are_finite(variant), world):  # never replace the last finite state
                        status = f"diverged at step {used.steps}"
                        log.warning("%s: %s: non-finite weights", self.run_dir, status)
                        break
                    if main:
                        save_checkpoint(latest, self._state(variant, sampler, used))
                if self.on_step is not None:
                    self.on_step(used.steps, variant)
        except Exception as exc:
            if main:
                atomic.write_text(self.run_dir / "status", f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}\n")
            raise
        finally:
            scope.close()
            bar.close()

        if status == "done" and not distributed.all_true(nets_are_finite(variant), world):
            status = f"diverged at step {used.steps}"
        flops_per_step = round(sum(flop_counts) / len(flop_counts)) if flop_counts else 0
        speed = self._speed(device, used, flops_per_step, compile_state if cfg.compile else "off")
        if not main:  # rank 0 saves, evaluates and writes the summary
            return RunResult(self.run_dir, status, used, {}, time.perf_counter() - wall_start)
        return self._finish(variant, dataset, sampler, used, status, speed, wall_start, how)

    # ------------------------------------------------------------------ the folder, opened and closed

    def _open_folder(self, device: torch.device, how: dict[str, Any] | None = None) -> None:
        """Write what the folder holds before training: config.yaml, run.json, env.json and the
        status ``running`` (``how``: keys recording how it is trained, e.g. data-parallel)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic.write_text(self.run_dir / "config.yaml", yaml.safe_dump(to_dict(self.cfg), sort_keys=False))
        identity.write_identity(self.run_dir, self.cfg, self.plugins, how)
        atomic.write_json(self.run_dir / "env.json", {**environment_record(device, self.cfg.seed), **(how or {})})
        atomic.write_text(self.run_dir / "status", "running\n")

    def _speed(self, device: torch.device, used: Consumed, flops_per_step: int, compiled: str) -> dict[str, Any]:
        """The ``speed`` record of summary.json (see :mod:`gan_bench.train.speed`), logged."""
        speed = speed_of(used.images, used.steps, used.seconds, flops_per_step, peak_tflops(device, self.cfg.amp)).as_dict()
        speed.update(device=device.type if device.type != "cuda" else torch.cuda.get_device_name(device),
                     amp=self.cfg.amp, channels_last=self.cfg.channels_last, compile=compiled)
        log.info("%s: %.1f images/s, %.3g GFLOP per step, MFU %s of %.3g TFLOP/s (%s)", self.run_dir,
                 speed["images_per_s"], flops_per_step / 1e9,
                 "unknown" if speed["mfu"] is None else f"{100 * speed['mfu']:.3f}%", speed["peak_tflops"],
                 speed["peak_source"])
        return speed

    def _finish(self, variant: Variant, dataset: ArrayDataset, sampler: EpochSampler, used: Consumed, status: str,
                speed: dict[str, Any], started: float, how: dict[str, Any] | None = None) -> RunResult:
        """Close the folder: final checkpoints and evaluation of a finished run (a diverged one keeps
        its last finite checkpoint and is scored nowhere), summary.json and the status line.
        ``started``: the perf_counter time the run's wall clock counts from."""
        metrics: dict[str, float] = {}
        if status == "done":
            state = self._state(variant, sampler, used)
            save_checkpoint(self.run_dir / "checkpoints" / LATEST, state)
            save_checkpoint(self.run_dir / "checkpoints" / FINAL, state)
            metrics = self._evaluate(variant, dataset, used, final=True)
        else:
            atomic.append_jsonl(self.run_dir / "metrics.jsonl", {"kind": "diverged", **self._counters(used)})
        wall = time.perf_counter() - started
        cfg = self.cfg
        atomic.write_json(self.run_dir / "summary.json", {
            "variant": cfg.variant, "dataset": cfg.dataset, "arch": cfg.arch, "seed": cfg.seed,
            "budget": self.budget.text, "status": status, "consumed": asdict(used), "metrics": metrics,
            "protocol": "; ".join(p for p in (protocol_of(dataset, cfg.eval.num_samples), variant.own_protocol()) if p),
            "wall_seconds": wall,
            "speed": speed,
            "config_hash": identity.config_hash(cfg),
            **({"entry": self.entry} if self.entry else {}),
            **(how or {}),
        })
        atomic.write_text(self.run_dir / "status", status + "\n")
        log.info("%s: %s after %d steps, %d images, %.1f s", self.run_dir, status, used.steps, used.images, used.seconds)
        return RunResult(self.run_dir, status, used, metrics, wall)

    # ------------------------------------------------------------------ evaluation

    def _counters(self, used: Consumed) -> dict[str, Any]:
        return {"step": used.steps, "images_seen": used.images, "seconds": round(used.seconds, 4)}

    def _evaluate(self, variant: Variant, dataset: ArrayDataset, used: Consumed, final: bool) -> dict[str, float]:
        metrics, sample = evaluate(variant, dataset, self.cfg.eval.num_samples, self.cfg.eval.seed)
        atomic.append_jsonl(self.run_dir / "metrics.jsonl", {"kind": "eval", **self._counters(used), **metrics})
        if final:
            self._write_samples(sample, dataset, "final.npz")
        return metrics

    def _save_samples(self, variant: Variant, dataset: ArrayDataset, name: str) -> None:
        n = SAMPLE_IMAGES if dataset.spec.kind == "image" else self.cfg.eval.num_samples
        self._write_samples(Sample.cat(variant.sample(n, self.cfg.eval.seed, data=dataset)).cpu(), dataset, name)

    def _write_samples(self, sample: Sample, dataset: ArrayDataset, name: str) -> None:
        arrays = {"x": _samples_array(sample.x, dataset.spec.kind)}
        if dataset.spec.kind == "image":  # the conditions beside each output: report triplets
            for name_ in ("cond", "target", "pair"):
                value = getattr(sample, name_)
                if value is not None and value.dim() == 4:
                    arrays[name_] = _samples_array(value, "image")
            if sample.mask is not None and sample.mask.dim() == 4:
                arrays["mask"] = _samples_array(sample.mask.float() * 2 - 1, "image")  # 0/1 -> 0/255
        if sample.y is not None:
            arrays["y"] = sample.y[: len(arrays["x"])].numpy().astype(np.int64)
        if "means" in dataset.meta:
            arrays["modes"] = dataset.meta["means"].numpy().astype(np.float32)
        atomic.atomic_write(self.run_dir / "samples" / name, lambda tmp: _savez(tmp, arrays))


def _savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as fh:  # a file object keeps numpy from appending ".npz" to the temp name
        np.savez_compressed(fh, **arrays)
