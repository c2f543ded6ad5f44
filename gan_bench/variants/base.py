"""What a variant is: nets built from an architecture, and one ``step`` that reads like the paper's
algorithm box. Everything shared (noise, optimiser updates, sampling in batches, state for
checkpoints) lives here, so a variant file holds only its own idea.

A variant registers with ``@VARIANTS.register(name, description=...)`` and may declare:

- ``Options``: a dataclass of its hyperparameters (the ``model`` config section);
- ``defaults``: config defaults it needs (e.g. RMSProp for WGAN), under the user's config;
- ``net_defaults``: architecture options it needs, applied where the chosen architecture has
  them and the user has not set them (e.g. a per-example critic for gradient penalties);
- ``real_batches(opts)``: how many real batches one generator step consumes (n_critic);
- ``conditional``: True when samples are drawn per class label (cGAN, ACGAN, ...): evaluation then
  asks for balanced labels (sample i gets class i mod K) and metrics that need labels run;
- ``ema_roles``: the generator roles averaged when ``ema.decay`` > 0 (default ``("G",)``).
- registration meta ``requires_data``: what data the variant needs when it is not plain images or
  points (``srgan``: super-resolution pairs), so tools that run every variant on MNIST skip it.

The contract every variant gets from this base and the trainer, whatever its family:

- **conditions**: a real batch is a dict (``x``, and ``y`` where the data is labelled; later an
  input image or a mask); :meth:`sample` yields :class:`Sample` objects carrying the generated
  ``x`` with the conditions it was generated for, and evaluation hands those to the metrics that
  declare they need them;
- **nets by role**: :meth:`add_net` under any role name (``G``, ``D``, ``C``, ``E``, ``G0``/``G1``,
  ``G_AB``/``G_BA``), built from the run's architecture or others via :meth:`architecture`;
- **the step index**: ``self.it`` is the 0-based index of the generator step being taken;
- **an EMA generator**: with ``ema.decay`` > 0, ``<role>_ema`` copies of the ``ema_roles`` nets
  are averaged after every step, saved with the nets, and used by :meth:`sample`;
- **LR schedules**: ``lr_schedule`` scales every optimiser's rate by a factor of the budget
  fraction consumed (so it resumes exactly); optimisers take parameter groups.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from gan_bench.config import RunConfig, ScheduleConfig, from_mapping
from gan_bench.data.base import ArrayDataset, DataSpec
from gan_bench.nets.base import Architecture


@dataclass
class NoOptions:
    """A variant without hyperparameters of its own."""


@dataclass
class BuildContext:
    """Everything a variant needs to build itself."""

    spec: DataSpec
    arch: Architecture
    cfg: RunConfig
    device: torch.device
    noise: torch.Generator  # all training randomness of the variant comes from here (resumable)
    data: ArrayDataset | None = None  # the training data (a labelled subset, a pyramid's levels, ...)
    # Data-parallel ranks (gan_bench.train.distributed): each draws the global batch's noise, keeps its rows.
    world_size: int = 1
    rank: int = 0


Batch = dict[str, torch.Tensor]


@dataclass
class Sample:
    """Generated examples with the conditions they were generated for.

    ``x`` is the output (float NCHW images in [-1, 1], or points); ``y`` the class labels asked
    for; ``cond`` an input image (super-resolution, translation, completion); ``mask`` a mask;
    ``target`` the ground truth of a paired task; ``pair`` the same sample generated in a second
    domain (CoGAN's coupled image). Unset fields are None."""

    x: torch.Tensor
    y: torch.Tensor | None = None
    cond: torch.Tensor | None = None
    mask: torch.Tensor | None = None
    target: torch.Tensor | None = None
    pair: torch.Tensor | None = None

    def has(self, *names: str) -> bool:
        """True when every named field is set (a metric's ``needs``)."""
        return all(getattr(self, n) is not None for n in names)

    def cpu(self) -> Sample:
        """A copy on the CPU."""
        return Sample(**{f.name: None if (v := getattr(self, f.name)) is None else v.cpu() for f in fields(self)})

    @staticmethod
    def cat(parts: Iterable[Sample]) -> Sample:
        """One sample of every part's rows, in order."""
        parts = list(parts)
        out = {}
        for f in fields(Sample):
            values = [getattr(p, f.name) for p in parts]
            out[f.name] = None if any(v is None for v in values) else torch.cat(values)
        return Sample(**out)


def lr_factor(schedule: ScheduleConfig, progress: float) -> float:
    """The factor of the initial learning rate at ``progress`` (fraction of the budget, 0..1)."""
    if schedule.name == "constant":
        return 1.0
    if schedule.name == "step":
        return schedule.gamma ** sum(progress >= m for m in schedule.milestones)
    if progress <= schedule.start:
        return 1.0
    t = min((progress - schedule.start) / max(1.0 - schedule.start, 1e-12), 1.0)
    if schedule.name == "linear":
        return 1.0 + (schedule.final - 1.0) * t
    return schedule.final + (1.0 - schedule.final) * 0.5 * (1.0 + math.cos(math.pi * t))  # cosine


class Variant:
    """Base class of every variant. Subclasses implement :meth:`build` and :meth:`step`."""

    Options: ClassVar[type] = NoOptions
    defaults: ClassVar[dict[str, Any]] = {}
    net_defaults: ClassVar[dict[str, Any]] = {}
    conditional: ClassVar[bool] = False
    ema_roles: ClassVar[tuple[str, ...]] = ("G",)

    def __init__(self, ctx: BuildContext, opts: Any) -> None:
        self.ctx, self.opts, self.cfg = ctx, opts, ctx.cfg
        self.device = ctx.device
        self.z_dim = ctx.cfg.z_dim
        self.num_classes = ctx.spec.num_classes if self.conditional else 0
        self.it = 0  # index of the generator step being taken (set by the trainer)
        self.nets = nn.ModuleDict()
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.build()
        if self.cfg.ema.decay > 0:
            for role in self.ema_roles:
                if role in self.nets:
                    self.nets[f"{role}_ema"] = copy.deepcopy(self.nets[role]).requires_grad_(False)

    # ------------------------------------------------------------------ to implement

    def build(self) -> None:
        """Create nets with :meth:`add_net` and optimisers with :meth:`add_optimizer`."""
        raise NotImplementedError

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        """One generator step on ``batches`` (``real_batches`` of them); returns logged values.

        Keys starting with ``loss/`` are checked for divergence by the trainer."""
        raise NotImplementedError

    @classmethod
    def real_batches(cls, opts: Any) -> int:
        """Real batches drawn per generator step (n_critic for WGAN-style schedules)."""
        return 1

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Samples for latent codes ``z`` (and labels ``y``); the default uses net ``G`` (its EMA
        copy when there is one)."""
        return self.sampling_net("G")(z, y)

    def generate_at(self, z: torch.Tensor, offset: int, **conditions: torch.Tensor) -> torch.Tensor:
        """Samples for rows ``offset ..`` of a larger fixed z under ``conditions`` (``y``, ...);
        variants whose output depends on a sample's position (MAD-GAN's generator choice) override
        this so batching never matters."""
        return self.generate(z, conditions.get("y"))

    def sample_conditions(self, n: int, offset: int, data: ArrayDataset | None) -> dict[str, torch.Tensor]:
        """Conditions of fixed-z samples ``offset .. offset+n``: balanced labels (i mod K) for a
        conditional variant, none otherwise. Variants conditioned on inputs (images, masks) take
        them from ``data``, the evaluation split, by position."""
        if self.num_classes:
            return {"y": torch.arange(offset, offset + n, device=self.device) % self.num_classes}
        return {}

    def own_metrics(self) -> dict[str, float]:
        """Scores of the variant's own parts at an evaluation (a semi-supervised classifier's test
        error, ...); merged into the run's metrics."""
        return {}

    def own_protocol(self) -> str:
        """How :meth:`own_metrics` measures, in one line (shown with the run's protocol)."""
        return ""

    def sampling_net(self, role: str) -> nn.Module:
        """The net that sampling uses for ``role``: its EMA copy when one is kept."""
        return self.nets[f"{role}_ema"] if f"{role}_ema" in self.nets else self.nets[role]

    def architecture(self, name: str, spec: DataSpec | None = None, **options: Any) -> Architecture:
        """Another registered architecture (for a role the run's one does not serve: a classifier,
        a second stage at another resolution), its ``options`` validated like ``net.*``."""
        from gan_bench.registry import ARCHITECTURES

        entry = ARCHITECTURES.entry(name)
        cls = entry.meta.get("options") or getattr(entry.obj, "Options", None)
        opts = from_mapping(cls, options, prefix=f"{name}.") if cls else None
        return entry.obj(spec or self.ctx.spec, opts)

    # ------------------------------------------------------------------ called by the trainer

    def train_step(self, batches: list[Batch], it: int, progress: float) -> dict[str, torch.Tensor | float]:
        """One generator step with the shared mechanics around :meth:`step`: the step index, the
        learning-rate schedule at ``progress`` (budget fraction) and the EMA update."""
        self.it = it
        if self.cfg.lr_schedule.name != "constant":
            factor = lr_factor(self.cfg.lr_schedule, progress)
            for opt in self.optimizers.values():
                for group in opt.param_groups:
                    group.setdefault("initial_lr", group["lr"])  # saved with the optimiser state
                    group["lr"] = group["initial_lr"] * factor
        out = self.step(batches)
        self.update_ema()
        return out

    @torch.no_grad()
    def update_ema(self) -> None:
        """Move each ``<role>_ema`` towards its live net (a copy before ``ema.start``); buffers
        (batch-norm statistics) are copied, as StudioGAN and the StyleGAN2 code do."""
        decay = self.cfg.ema.decay if self.it >= self.cfg.ema.start else 0.0
        for role in self.ema_roles:
            if f"{role}_ema" not in self.nets:
                continue
            live, avg = self.nets[role], self.nets[f"{role}_ema"]
            for p_avg, p in zip(avg.parameters(), live.parameters()):
                p_avg.lerp_(p.detach(), 1.0 - decay)
            for b_avg, b in zip(avg.buffers(), live.buffers()):
                b_avg.copy_(b)

    # ------------------------------------------------------------------ helpers for subclasses

    def add_net(self, name: str, module: nn.Module) -> nn.Module:
        """Register ``module`` (saved in checkpoints) on the run's device."""
        module = module.to(self.device)
        self.nets[name] = module
        return module

    def add_optimizer(self, name: str, params: Iterable[nn.Parameter] | list[dict[str, Any]], lr: float) -> None:
        """An optimiser of the configured kind (``optim.name``) over ``params``: parameters, or
        parameter groups (dicts with ``params`` and their own ``lr``, ...) as torch takes them."""
        o = self.cfg.optim
        params = list(params)
        tensors = [p for g in params for p in g["params"]] if params and isinstance(params[0], dict) else params
        if o.name == "adam":
            # The fused kernel is about 30% faster per step on small nets, on CPU and GPU alike.
            fused = all(p.dtype.is_floating_point for p in tensors) or None
            opt: torch.optim.Optimizer = torch.optim.Adam(
                params, lr=lr, betas=(o.beta1, o.beta2), weight_decay=o.weight_decay, fused=fused
            )
        elif o.name == "rmsprop":
            opt = torch.optim.RMSprop(params, lr=lr, weight_decay=o.weight_decay)
        else:
            opt = torch.optim.SGD(params, lr=lr, momentum=o.beta1, weight_decay=o.weight_decay)
        self.optimizers[name] = opt

    def update(self, name: str, loss: torch.Tensor) -> None:
        """zero_grad, backward and step of optimiser ``name``."""
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def init_roles_from(self, run_dir: str | Path, roles: Iterable[str], option: str = "model.init_from") -> None:
        """Start the nets of ``roles`` from the final checkpoint of another run (a warm start: SRGAN
        from SRResNet, StackGAN's stage II on a trained stage I). ``option`` names the setting that
        gave ``run_dir`` in the one-line errors."""
        from gan_bench.config import ConfigError
        from gan_bench.data.base import DataError
        from gan_bench.train.checkpoint import FINAL, load_checkpoint

        ckpt = Path(run_dir) / "checkpoints" / FINAL
        if not ckpt.is_file():
            raise DataError(f"{option}: missing {ckpt}; train that run to its end first")
        state = load_checkpoint(ckpt)["nets"]
        for role in roles:
            prefix = f"{role}."
            part = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            if not part:
                raise ConfigError(f"{option}: {ckpt} has no net {role!r}", option)
            try:
                self.nets[role].load_state_dict(part)
            except RuntimeError as exc:
                raise ConfigError(f"{option}: {ckpt} does not fit net {role!r} ({str(exc).splitlines()[0]})",
                                  option) from None
            if f"{role}_ema" in self.nets:  # the average starts where the net does
                self.nets[f"{role}_ema"].load_state_dict(self.nets[role].state_dict())

    def latent(self, n: int) -> torch.Tensor:
        """``n`` latent codes z ~ N(0, I) from the variant's resumable noise generator.

        Under data parallelism every rank draws the ``n * world_size`` codes of the global batch
        and keeps its own ``n``: the ranks' codes together are one process's."""
        w = self.ctx.world_size
        z = torch.randn(n * w, self.z_dim, generator=self.ctx.noise, device=self.device)
        return z if w == 1 else z[self.ctx.rank * n : (self.ctx.rank + 1) * n]

    def uniform(self, n: int) -> torch.Tensor:
        """``n`` uniform [0, 1) draws from the resumable noise generator (for penalties); sliced
        per rank like :meth:`latent`."""
        w = self.ctx.world_size
        u = torch.rand(n * w, generator=self.ctx.noise, device=self.device)
        return u if w == 1 else u[self.ctx.rank * n : (self.ctx.rank + 1) * n]

    def requires_grad(self, module: nn.Module, flag: bool) -> None:
        """Freeze or unfreeze ``module`` (saves the critic's gradients in generator steps)."""
        for p in module.parameters():
            p.requires_grad_(flag)

    # ------------------------------------------------------------------ sampling and state

    @torch.no_grad()
    def sample(self, n: int, seed: int, batch_size: int = 500, data: ArrayDataset | None = None) -> Iterator[Sample]:
        """``n`` samples from a fixed z (seeded by ``seed``) with their conditions (see
        :meth:`sample_conditions`; ``data`` is the evaluation split), in batches, nets in eval mode."""
        gen = torch.Generator().manual_seed(seed)
        z_all = torch.randn(n, self.z_dim, generator=gen)
        was_training = self.nets.training
        self.nets.eval()
        try:
            for start in range(0, n, batch_size):
                z = z_all[start : start + batch_size].to(self.device)
                conditions = self.sample_conditions(z.shape[0], start, data)
                x = self.generate_at(z, start, **conditions) if conditions else self.generate_at(z, start)
                yield Sample(x=x.float(), **conditions)
        finally:
            self.nets.train(was_training)

    def extra_state(self) -> dict[str, Any]:
        """State outside nets and optimisers (BEGAN's k_t, ...), saved in checkpoints."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`extra_state` returned."""
