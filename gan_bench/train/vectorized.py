"""Vectorized runs: runs that differ only in seed and data train as one stacked model.

The R runs of a group (the seeds of a suite entry, ring8 and grid25 side by side) are built exactly
as the trainer builds them, one variant each (same seeded initialisation). Their nets are then
fused role by role with :func:`torch.func.stack_module_state` into :class:`Stacked` modules whose
parameters carry a leading run dimension; a stacked net reshapes its input of ``R*B`` rows to
``[R, B, ...]`` and runs ``vmap(functional_call(net, run's params))``, so batch norm, penalties and
every other per-example computation stays within its run. One *fused* instance of the variant's
own class holds the stacked nets and runs its unchanged ``step`` on the concatenation of the runs'
batches (in run order); its optimisers are rebuilt over the stacked parameters with the same
hyperparameters. Adam, RMSProp and SGD are elementwise, so the stacked optimiser state is the
runs' states side by side (the functional optimiser state that :func:`_unstack` slices back).

What keeps each run equal to its sequential run (to float tolerance):

- every loss of a supported variant is a mean over the batch's rows, so a mean over ``R*B`` rows
  scales each run's gradient by ``1/R``: a hook multiplies the stacked gradients by ``R``;
- randomness: the fused ``latent(n)`` / ``uniform(n)`` draw ``n/R`` rows from each run's own noise
  generator and concatenate them, and the penalties' draws (``gan_bench.penalties``) are routed
  the same way while the group steps; a variant that draws from ``ctx.noise`` or the global
  generator in any other way is detected after its first step and the group falls back;
- data: each run keeps its dataset and its ``EpochSampler(seed)``.

Checkpoints, evaluations, samples and summaries are written per run, by the trainer's own methods
on the run's unstacked variant, in the normal (unstacked) format, so ``gan-bench train`` resumes
or reuses the folders. Train rows of ``metrics.jsonl`` hold the group's step values (each logged
loss is the mean over the group's runs, the only per-step values a fused step has); evaluation
rows, checkpoints, samples and summaries are each run's own.

Groups fall back to sequential runs, with a log line saying why, for variants outside
:data:`SUPPORTED`, seconds budgets (a shared clock cannot be split fairly), ``amp``/``compile``/
``channels_last``, nets with dropout, parametrizations or hooks, runs already started, and when
a run's losses go non-finite (the group stops; each run continues sequentially from its last
checkpoint, so its diverged status is the trainer's own).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from gan_bench import atomic, penalties
from gan_bench.budget import Consumed
from gan_bench.config import to_dict
from gan_bench.data.base import ArrayDataset, load_dataset
from gan_bench.train import identity
from gan_bench.train.checkpoint import LATEST, save_checkpoint
from gan_bench.train.environment import resolve_device
from gan_bench.train.lock import FolderLock
from gan_bench.train.resolve import ResolvedRun
from gan_bench.train.sampler import EpochSampler
from gan_bench.train.trainer import RunResult, Trainer, build_variant, nets_are_finite, read_status
from gan_bench.variants.base import Batch, Variant

log = logging.getLogger("gan_bench.vectorized")

# Variants whose step is a function of per-example rows with mean-reduced losses, whose
# randomness flows through latent()/uniform()/penalties, and which keep no extra state: the
# two-player GANs of gan_bench.variants.adversarial. DRAGAN is left out: its perturbation scale is
# the std of the whole real batch, which would mix the runs.
SUPPORTED = frozenset({"gan-mm", "gan-ns", "dcgan", "lsgan", "wgan", "wgan-gp"})
# Keys that may differ inside a group: each run keeps its own seed and data.
PER_RUN_KEYS = ("seed", "dataset", "data")
MAX_GROUP = 64  # runs stacked at most (memory grows with R)


class FallBack(Exception):
    """The group cannot (or can no longer) train stacked; its runs go sequential."""


@dataclass
class GroupRun:
    """One run of a group: what :class:`Trainer` takes."""

    resolved: ResolvedRun
    run_dir: Path
    plugins: list[str] = field(default_factory=list)
    entry: str = ""


# --------------------------------------------------------------------------- grouping


def group_key(resolved: ResolvedRun) -> str:
    """Runs with equal keys may train as one stacked model: the whole resolved config apart from
    the seed and the data (dataset name and its options)."""
    cfg = to_dict(resolved.cfg)
    return json.dumps({k: v for k, v in cfg.items() if k not in PER_RUN_KEYS}, sort_keys=True, default=str)


def why_not(resolved: ResolvedRun) -> str | None:
    """Why a run cannot train in a stacked group (None when it can), from its config alone."""
    cfg = resolved.cfg
    if cfg.variant not in SUPPORTED:
        return f"variant {cfg.variant!r} is not among the vectorizable ones ({', '.join(sorted(SUPPORTED))})"
    if resolved.budget.unit == "seconds":
        return "a seconds budget cannot be shared fairly between stacked runs"
    for key in ("amp", "compile", "channels_last"):
        if getattr(cfg, key, False):
            return f"{key}=true is not vectorized"
    return None


def _net_reason(role: str, module: nn.Module) -> str | None:
    """Why a net cannot be stacked: randomness outside the run's generators, or machinery that
    ``functional_call`` under ``vmap`` does not reproduce."""
    for name, m in module.named_modules():
        where = f"net {role}{'.' + name if name else ''}"
        if isinstance(m, nn.modules.dropout._DropoutNd):
            return f"{where} uses dropout (global randomness)"
        if torch.nn.utils.parametrize.is_parametrized(m):
            return f"{where} is parametrized"
        if m._forward_pre_hooks or m._forward_hooks or getattr(m, "_backward_hooks", None):
            return f"{where} has hooks (spectral norm, ...)"
    return None


# --------------------------------------------------------------------------- stacked nets


class Stacked(nn.Module):
    """R copies of one net as one module: parameters and buffers with a leading run dimension.

    ``forward`` takes the runs' inputs concatenated along dim 0 (``R*B`` rows, in run order),
    runs each run's copy on its ``B`` rows with ``vmap`` over :func:`functional_call`, and
    returns the outputs concatenated the same way. ``parameters()`` lists the stacked tensors in
    the copies' order, so optimisers, weight clipping and EMA updates written for one net work
    unchanged."""

    def __init__(self, modules: Sequence[nn.Module]) -> None:
        super().__init__()
        self.runs = len(modules)
        params, buffers = stack_module_state(list(modules))
        self.inner = copy.deepcopy(modules[0])  # the structure; its tensors are replaced by the stacks
        for name, tensor in params.items():
            owner, leaf = self._owner(name)
            setattr(owner, leaf, nn.Parameter(tensor.detach().clone(), requires_grad=tensor.requires_grad))
        for name, tensor in buffers.items():
            owner, leaf = self._owner(name)
            owner._buffers[leaf] = tensor.clone()

    def _owner(self, name: str) -> tuple[nn.Module, str]:
        path, _, leaf = name.rpartition(".")
        return self.inner.get_submodule(path), leaf

    def forward(self, *args: Any) -> torch.Tensor:
        r = self.runs
        params = dict(self.inner.named_parameters())
        buffers = dict(self.inner.named_buffers())

        def one_run(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], *inputs: Any) -> torch.Tensor:
            return functional_call(self.inner, (p, b), inputs)

        split = [a.reshape(r, a.shape[0] // r, *a.shape[1:]) if isinstance(a, torch.Tensor) else a for a in args]
        dims = tuple(0 if isinstance(a, torch.Tensor) else None for a in args)
        out = vmap(one_run, in_dims=(0, 0, *dims))(params, buffers, *split)
        return out.reshape(-1, *out.shape[2:])

    @torch.no_grad()
    def unstack_into(self, index: int, module: nn.Module) -> None:
        """Copy run ``index``'s parameters and buffers into ``module`` (one unstacked copy)."""
        mine = dict(self.inner.named_parameters()) | dict(self.inner.named_buffers())
        for name, t in (*module.named_parameters(), *module.named_buffers()):
            t.copy_(mine[name][index])


# --------------------------------------------------------------------------- the fused variant


def _fused_class(cls: type[Variant]) -> type[Variant]:
    """``cls`` with latent()/uniform() drawing each run's rows from that run's noise generator."""

    class Fused(cls):  # type: ignore[misc, valid-type]
        run_noise: list[torch.Generator]

        def _per_run(self, n: int, draw: Callable[[int, torch.Generator], torch.Tensor]) -> torch.Tensor:
            r = len(self.run_noise)
            if n % r:
                raise FallBack(f"a draw of {n} rows does not split over {r} runs")
            return torch.cat([draw(n // r, g) for g in self.run_noise])

        def latent(self, n: int) -> torch.Tensor:
            return self._per_run(n, lambda m, g: torch.randn(m, self.z_dim, generator=g, device=self.device))

        def uniform(self, n: int) -> torch.Tensor:
            return self._per_run(n, lambda m, g: torch.rand(m, generator=g, device=self.device))

    Fused.__name__ = Fused.__qualname__ = f"Vectorized{cls.__name__}"
    return Fused


def _penalty_noise(sentinel: torch.Generator, run_noise: list[torch.Generator]) -> contextlib.AbstractContextManager:
    """While the group steps, the penalties' draws from the fused variant's generator come from the
    runs' own generators, ``1/R`` of the rows each (as :meth:`Fused.latent` does)."""

    def per_run(shape: tuple[int, ...], like: torch.Tensor, _generator: torch.Generator) -> torch.Tensor:
        r = len(run_noise)
        if shape[0] % r:
            raise FallBack(f"a penalty draw of {shape[0]} rows does not split over {r} runs")
        return torch.cat([penalties.uniform((shape[0] // r, *shape[1:]), like, g) for g in run_noise])

    return penalties.drawn_by(sentinel, per_run)


def _fuse(variants: list[Variant], resolved: ResolvedRun, dataset: ArrayDataset, device: torch.device) -> Variant:
    """One instance of the runs' variant class whose nets are :class:`Stacked` over the runs' nets
    and whose optimisers are the runs' optimisers rebuilt over the stacked parameters."""
    cls = type(variants[0])
    template = build_variant(resolved, dataset, device)  # the same build: roles, optimisers, groups
    fused_cls = _fused_class(cls)
    fused = fused_cls.__new__(fused_cls)  # no second build: the template's state, stacked nets below
    fused.__dict__.update(template.__dict__)
    fused.ctx = copy.copy(template.ctx)
    fused.ctx.noise = torch.Generator(device=device).manual_seed(0)  # a sentinel: no draw may reach it
    fused.run_noise = [v.ctx.noise for v in variants]
    stacked: dict[int, nn.Parameter] = {}
    nets = nn.ModuleDict()
    for role, module in template.nets.items():
        nets[role] = Stacked([v.nets[role] for v in variants])
        mine = dict(nets[role].inner.named_parameters())
        for name, p in module.named_parameters():
            stacked[id(p)] = mine[name]
    fused.nets = nets
    r = len(variants)
    for p in nets.parameters():
        if p.requires_grad:  # a mean over R*B rows gives each run 1/R of its gradient
            p.register_hook(lambda g: g * r)
    fused.optimizers = {}
    for name, opt in template.optimizers.items():
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [stacked[id(p)] for p in g["params"]]}
                  for g in opt.param_groups]
        fused.optimizers[name] = type(opt)(groups, **opt.defaults)
    return fused


def _unstack(fused: Variant, variants: list[Variant]) -> None:
    """Copy every run's slice of the stacked nets and optimiser state into its own variant."""
    for role, module in fused.nets.items():
        for i, v in enumerate(variants):
            module.unstack_into(i, v.nets[role])
    for name, opt in fused.optimizers.items():
        state = opt.state_dict()
        shapes = {i: p.shape for i, p in enumerate(p for g in opt.param_groups for p in g["params"])}
        for i, v in enumerate(variants):
            sliced = {k: {key: (t[i].clone() if torch.is_tensor(t) and t.shape == shapes[k] else
                                (t.clone() if torch.is_tensor(t) else t)) for key, t in s.items()}
                      for k, s in state["state"].items()}
            v.optimizers[name].load_state_dict({"state": sliced, "param_groups": copy.deepcopy(state["param_groups"])})


def _as_float(value: torch.Tensor | float) -> float:
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


def _concat(parts: list[Batch]) -> Batch:
    keys = set(parts[0])
    if any(set(p) != keys for p in parts):
        raise FallBack("the runs' batches carry different fields")
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


# --------------------------------------------------------------------------- running a group


def train_group(runs: Sequence[GroupRun], progress: bool = False) -> list[RunResult]:
    """Train ``runs`` (equal :func:`group_key`) as stacked groups where they can, sequentially
    where they cannot; returns each run's result in order."""
    results: dict[int, RunResult] = {}
    stackable: list[int] = []
    for i, run in enumerate(runs):
        reason = why_not(run.resolved)
        if reason is None and _started(run.run_dir):
            reason = "its folder holds a started or finished run (the trainer resumes or reuses it)"
        if reason is not None:
            log.info("%s: sequential: %s", run.run_dir.name, reason)
            results[i] = _sequential(run, progress)
        else:
            stackable.append(i)
    for start in range(0, len(stackable), MAX_GROUP):
        chunk = stackable[start : start + MAX_GROUP]
        if len(chunk) == 1:
            results[chunk[0]] = _sequential(runs[chunk[0]], progress)
            continue
        try:
            done = _train_stacked([runs[i] for i in chunk])
        except FallBack as exc:
            log.warning("vectorized group of %d runs (%s): %s; training them sequentially", len(chunk),
                        runs[chunk[0]].resolved.cfg.variant, exc)
            done = [_sequential(runs[i], progress) for i in chunk]
        results.update(zip(chunk, done))
    return [results[i] for i in range(len(runs))]


def _started(run_dir: Path) -> bool:
    return read_status(run_dir) is not None or (run_dir / "checkpoints").exists()


def _trainer(run: GroupRun, progress: bool = False) -> Trainer:
    return Trainer(run.resolved, run.run_dir, progress=progress, plugins=run.plugins, entry=run.entry)


def _sequential(run: GroupRun, progress: bool) -> RunResult:
    return _trainer(run, progress).run()


def _train_stacked(runs: list[GroupRun]) -> list[RunResult]:
    keys = {group_key(r.resolved) for r in runs}
    if len(keys) != 1:
        raise ValueError("a vectorized group needs runs that differ only in seed and data")
    trainers = [_trainer(r) for r in runs]
    with contextlib.ExitStack() as stack:
        for r in runs:
            identity.check_same_run(r.run_dir, r.resolved.cfg)
            stack.enter_context(FolderLock(r.run_dir, f"training {r.resolved.cfg.variant}/{r.resolved.cfg.dataset}/"
                                                      f"s{r.resolved.cfg.seed} (vectorized)"))
        if any(_started(r.run_dir) for r in runs):  # another process got there first
            raise FallBack("a run folder was started meanwhile")
        outcome = _StackedLoop(runs, trainers).run()
    if isinstance(outcome, FallBack):
        raise outcome
    return outcome


class _StackedLoop:
    """The trainer's loop for a stacked group (steps and images budgets, fresh folders)."""

    def __init__(self, runs: list[GroupRun], trainers: list[Trainer]) -> None:
        self.runs, self.trainers = runs, trainers
        self.cfg = runs[0].resolved.cfg
        self.budget = runs[0].resolved.budget

    def _build(self) -> None:
        device = resolve_device(self.cfg.device)
        self.device = device
        cache: dict[str, ArrayDataset] = {}
        self.datasets, self.variants, self.samplers, self.rng = [], [], [], []
        for run in self.runs:
            cfg = run.resolved.cfg
            key = json.dumps([cfg.dataset, cfg.split, cfg.data_root, cfg.data], sort_keys=True, default=str)
            if key not in cache:
                cache[key] = load_dataset(cfg.dataset, cfg.split, cfg.data_root or None, cfg.data).to(device)
            self.datasets.append(cache[key])
            self.variants.append(build_variant(run.resolved, cache[key], device))
            self.rng.append(torch.get_rng_state())  # what the trainer's checkpoint records after its build
            self.samplers.append(EpochSampler(len(cache[key]), seed=cfg.seed))
        specs = {(d.spec.kind, tuple(d.spec.shape), d.spec.num_classes) for d in self.datasets}
        if len(specs) != 1:
            raise FallBack("the runs' datasets have different shapes")
        for role, module in self.variants[0].nets.items():
            reason = _net_reason(role, module)
            if reason:
                raise FallBack(reason)
            shapes = {tuple((n, tuple(t.shape)) for n, t in v.nets[role].state_dict().items()) for v in self.variants}
            if len(shapes) != 1:
                raise FallBack(f"net {role} differs in shape between the runs")
        self.fused = _fuse(self.variants, self.runs[0].resolved, self.datasets[0], device)

    def _open_folders(self) -> None:
        for t in self.trainers:
            t._open_folder(self.device, {"vectorized": len(self.runs)})
            atomic.write_jsonl(t.run_dir / "metrics.jsonl", [])  # only fresh folders are stacked

    def _sync(self) -> None:
        _unstack(self.fused, self.variants)

    def _state(self, i: int, used: Consumed) -> dict[str, Any]:
        torch.set_rng_state(self.rng[i])
        return self.trainers[i]._state(self.variants[i], self.samplers[i], used)

    def run(self) -> list[RunResult] | FallBack:
        self._build()
        self._open_folders()
        cfg, budget, fused = self.cfg, self.budget, self.fused
        n_real = self.runs[0].resolved.variant.obj.real_batches(self.runs[0].resolved.model_opts)
        used = Consumed()
        wall_start = time.perf_counter()
        sentinel = fused.ctx.noise.get_state()
        check_every_step = self.device.type == "cpu"
        window = (0, 0.0)  # images/s over each log interval
        try:
            with _penalty_noise(fused.ctx.noise, fused.run_noise):
                while not budget.exhausted(used):
                    t0 = time.perf_counter()
                    sizes = budget.batch_sizes(used, n_real, cfg.batch_size)
                    batches = [_concat([ds.batch(sm.next(s).to(self.device))
                                        for ds, sm in zip(self.datasets, self.samplers)]) for s in sizes]
                    global_rng = torch.get_rng_state() if used.steps == 0 else None
                    out = fused.train_step(batches, used.steps, budget.fraction(used))
                    if global_rng is not None and not (torch.equal(global_rng, torch.get_rng_state())
                                                       and torch.equal(sentinel, fused.ctx.noise.get_state())):
                        raise FallBack(f"{cfg.variant}'s step draws randomness outside latent()/uniform()/penalties")
                    used.steps += 1
                    used.images += sum(sizes)
                    used.seconds += time.perf_counter() - t0
                    exhausted = budget.exhausted(used)
                    log_now = used.steps % cfg.log_every == 0 or exhausted
                    if check_every_step or log_now:  # as the trainer: a float() per step would stall a GPU
                        values = {k: _as_float(v) for k, v in out.items()}
                        bad = [k for k, v in values.items() if k.startswith("loss/") and not math.isfinite(v)]
                        if bad:  # some run diverged: each continues alone from its last checkpoint
                            return FallBack(f"{bad[0]} is non-finite at step {used.steps}")
                    if log_now:
                        # each run's share of the group's time; the values are the group's (means over its runs)
                        share = Consumed(used.steps, used.images, used.seconds / len(self.runs))
                        rate = (used.images - window[0]) / max(share.seconds - window[1], 1e-12)
                        window = (used.images, share.seconds)
                        for t in self.trainers:
                            atomic.append_jsonl(t.run_dir / "metrics.jsonl", {"kind": "train", **t._counters(share),
                                                                              "images_per_s": round(rate, 2), **values})
                    self._periodic(used, exhausted)
        except Exception as exc:
            for t in self.trainers:
                atomic.write_text(t.run_dir / "status", f"failed: {type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else ''}\n")
            if isinstance(exc, FallBack):
                return exc
            raise
        if not torch.equal(sentinel, fused.ctx.noise.get_state()):
            return FallBack(f"{cfg.variant}'s step draws randomness outside latent()/uniform()/penalties")
        self._sync()
        wall = time.perf_counter() - wall_start
        share = Consumed(used.steps, used.images, used.seconds / len(self.runs))  # each run's share of the time
        return [self._finish(i, share, wall / len(self.runs)) for i in range(len(self.runs))]

    def _periodic(self, used: Consumed, exhausted: bool) -> None:
        cfg = self.cfg
        evaluate = bool(cfg.eval.every) and used.steps % cfg.eval.every == 0 and not exhausted
        samples = bool(cfg.sample_every) and used.steps % cfg.sample_every == 0
        checkpoint = used.steps % cfg.checkpoint_every == 0
        if not (evaluate or samples or checkpoint):
            return
        self._sync()
        for i, t in enumerate(self.trainers):
            if evaluate:
                t._evaluate(self.variants[i], self.datasets[i], used, final=False)
            if samples:
                t._save_samples(self.variants[i], self.datasets[i], f"step_{used.steps:07d}.npz")
        if checkpoint:
            if not all(nets_are_finite(v) for v in self.variants):
                raise FallBack(f"non-finite weights at step {used.steps}")
            for i, t in enumerate(self.trainers):
                save_checkpoint(t.run_dir / "checkpoints" / LATEST, self._state(i, used))

    def _finish(self, i: int, used: Consumed, wall: float) -> RunResult:
        """Close run ``i``'s folder with the trainer's own code; ``wall``: its share of the group's time."""
        t, variant = self.trainers[i], self.variants[i]
        status = "done" if nets_are_finite(variant) else f"diverged at step {used.steps}"
        speed = {**t._speed(self.device, used, 0, "off"), "vectorized": len(self.runs)}  # FLOPs not counted
        torch.set_rng_state(self.rng[i])  # what the run's checkpoint records
        return t._finish(variant, self.datasets[i], self.samplers[i], used, status, speed,
                         time.perf_counter() - wall, {"vectorized": len(self.runs)})
