"""Data-parallel training under ``torchrun``: one process per device, one global batch.

``torchrun --nproc_per_node N -m gan_bench train ...`` starts N copies of the command; each finds
``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` in its environment (:func:`world_from_env`) and the
trainer joins the process group (:func:`setup`: NCCL with one GPU per local rank on CUDA, gloo on
the CPU). What makes N processes train the one run a single process would:

- **data**: ``batch_size`` is the global batch. Every rank keeps the same seeded epoch sampler,
  draws the global indices and trains on its contiguous slice (:func:`shard`); budgets count
  global images and steps.
- **noise**: :meth:`Variant.latent` and :meth:`Variant.uniform` draw the ``n * N`` rows one
  process would draw from the (identically seeded) noise generator and keep the rank's slice, and
  so do the gradient penalties' interpolation draws (:func:`shard_penalty_noise`). Together the
  ranks use exactly the single process's numbers. A variant's other direct draws from
  ``ctx.noise`` give every rank the same numbers: statistically sound, not equal to one process.
- **gradients**: a step pre-hook on every optimiser averages its parameters' gradients over the
  ranks (:func:`attach`), so each variant's own ``update``/``step`` runs unchanged; losses are means
  over equal shards, so the average is the gradient of the global batch's mean. Parameters and
  buffers start from rank 0's; buffers (batch-norm running statistics) follow rank 0's after
  every step, so every rank samples the same model.
- **agreement**: logged values are averaged over the ranks (a non-finite loss on any rank stops
  every rank at the same step), a seconds budget counts the slowest rank's time, and the checks
  of finite weights agree.

Batch norm normalises with each rank's own batch statistics, as PyTorch's DDP does by default
(SyncBatchNorm is not applied), and so do other batch statistics (DRAGAN's std, minibatch
features): such variants train like DDP, not bit-equal to one process. A variant's extra state
(BEGAN's k_t, image pools) evolves on each rank from its own shard; checkpoints hold rank 0's.
Rank 0 alone writes the run folder, evaluates and logs.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.distributed as dist

from gan_bench import penalties
from gan_bench.budget import Budget, Consumed
from gan_bench.config import ConfigError


@dataclass(frozen=True)
class World:
    """This process's place among the data-parallel ranks (one process: size 1, rank 0)."""

    size: int = 1
    rank: int = 0
    local_rank: int = 0
    backend: str = ""  # "gloo" | "nccl" once joined; "" for a single process

    @property
    def distributed(self) -> bool:
        """True when more than one process trains the run."""
        return self.size > 1

    @property
    def main(self) -> bool:
        """True on the rank that writes the run folder, evaluates and logs."""
        return self.rank == 0

    def record(self) -> dict[str, Any]:
        """What run.json, env.json and summary.json say about the ranks."""
        return {"world_size": self.size, "backend": self.backend}


SINGLE = World()


def world_from_env(env: Mapping[str, str] | None = None) -> World:
    """The world torchrun describes in ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` (single without them)."""
    env = os.environ if env is None else env
    try:
        size = int(env.get("WORLD_SIZE") or 1)
        rank = int(env.get("RANK") or 0)
        local = int(env.get("LOCAL_RANK") or rank)
    except ValueError:
        raise ConfigError("WORLD_SIZE, RANK and LOCAL_RANK must be integers (set by torchrun)") from None
    if size <= 1:
        return SINGLE
    if not 0 <= rank < size:
        raise ConfigError(f"RANK={rank} is outside WORLD_SIZE={size}")
    return World(size, rank, local)


def check_divisible(world: World, batch_size: int, budget: Budget) -> None:
    """A one-line ConfigError unless the global batch (and an image budget) splits evenly over the ranks."""
    if not world.distributed:
        return
    if batch_size % world.size:
        raise ConfigError(f"batch_size={batch_size} is the global batch and must be divisible by the "
                          f"{world.size} data-parallel processes (WORLD_SIZE); use e.g. batch_size="
                          f"{max(world.size, batch_size // world.size * world.size)}", "batch_size")
    if budget.unit == "images" and int(budget.amount) % world.size:
        raise ConfigError(f"budget={budget.text!r} counts global images and must be divisible by the "
                          f"{world.size} data-parallel processes", "budget")


def setup(device: torch.device, batch_size: int, budget: Budget) -> tuple[World, torch.device]:
    """This process's world and device, the process group joined when torchrun started several.

    Checks the batch before joining, so a bad one fails every rank with one clear error. On CUDA
    each rank trains on ``cuda:LOCAL_RANK`` with NCCL; elsewhere with gloo. Ranks other than 0
    log only errors."""
    world = world_from_env()
    check_divisible(world, batch_size, budget)
    if not world.distributed:
        return world, device
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        atexit.register(_leave)
        if not world.main:
            logging.getLogger("gan_bench").setLevel(logging.ERROR)
    if dist.get_world_size() != world.size or dist.get_rank() != world.rank:
        raise ConfigError(f"the process group ({dist.get_world_size()} ranks) does not match WORLD_SIZE={world.size}")
    return replace(world, backend=str(dist.get_backend())), device


def _leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _comm_device(world: World) -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if world.backend == "nccl" else torch.device("cpu")


# --------------------------------------------------------------------------- data


def batch_sizes(budget: Budget, used: Consumed, num_batches: int, batch_size: int, world: World) -> list[int]:
    """Global sizes of the next step's real batches, each divisible by the world size.

    One process: the budget's own sizes. Several: the budget's rule applied per rank (an image
    budget's last step shrinks every rank's shard alike, never below two examples), times N."""
    if not world.distributed:
        return budget.batch_sizes(used, num_batches, batch_size)
    n = world.size
    if used.images % n:
        raise ConfigError(f"the run has seen {used.images} images, which do not split over {n} processes; "
                          "continue it with a world size that divides them")
    per_rank = Budget(budget.unit, budget.amount / n, budget.text)
    local = per_rank.batch_sizes(Consumed(used.steps, used.images // n, used.seconds), num_batches, batch_size // n)
    return [s * n for s in local]


def shard(rows: torch.Tensor, world: World) -> torch.Tensor:
    """This rank's contiguous slice of a global draw (its length divisible by the world size)."""
    if not world.distributed:
        return rows
    n = rows.shape[0] // world.size
    return rows[world.rank * n : (world.rank + 1) * n]


def shard_penalty_noise(noise: torch.Generator, world: World) -> contextlib.AbstractContextManager:
    """While active, the penalties' draws from the variant's ``noise`` generator are drawn for the
    global batch and sliced per rank, like :meth:`Variant.latent` (WGAN-GP's interpolation weights
    then equal one process's)."""
    if not world.distributed:
        return contextlib.nullcontext()

    def per_rank(shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return shard(penalties.uniform((shape[0] * world.size, *shape[1:]), like, generator), world)

    return penalties.drawn_by(noise, per_rank)


# --------------------------------------------------------------------------- models


def _coalesced(tensors: Sequence[torch.Tensor], collective: Callable[[torch.Tensor], None]) -> None:
    """Run ``collective`` once per dtype on the tensors flattened together, then copy back."""
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype, []).append(t)
    for group in by_dtype.values():
        flat = torch.cat([t.reshape(-1) for t in group])
        collective(flat)
        for t, part in zip(group, flat.split([t.numel() for t in group])):
            t.copy_(part.view_as(t))


def broadcast_(tensors: Sequence[torch.Tensor], world: World) -> None:
    """Overwrite ``tensors`` in place with rank 0's."""
    if world.distributed and tensors:
        with torch.no_grad():
            _coalesced(tensors, lambda flat: dist.broadcast(flat, 0))


def average_(tensors: Sequence[torch.Tensor], world: World) -> None:
    """Replace ``tensors`` in place by their mean over the ranks."""
    if world.distributed and tensors:
        with torch.no_grad():
            _coalesced(tensors, lambda flat: (dist.all_reduce(flat), flat.div_(world.size)))


def attach(variant: Any, world: World) -> None:
    """Make a built variant data-parallel: rank 0's parameters and buffers on every rank, and every
    optimiser averaging its gradients over the ranks just before it steps."""
    if not world.distributed:
        return
    broadcast_(list(variant.nets.state_dict().values()), world)

    def average_grads(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        average_([p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None], world)

    for opt in variant.optimizers.values():
        opt.register_step_pre_hook(average_grads)


def sync_buffers(variant: Any, world: World) -> None:
    """Rank 0's floating buffers (batch-norm running statistics) on every rank, after a step."""
    if world.distributed:
        broadcast_([b for b in variant.nets.buffers() if b.is_floating_point()], world)


# --------------------------------------------------------------------------- agreement


def mean_values(values: dict[str, float], world: World) -> dict[str, float]:
    """Logged values averaged over the ranks (NaN anywhere stays NaN everywhere)."""
    if not world.distributed or not values:
        return values
    t = torch.tensor(list(values.values()), dtype=torch.float64, device=_comm_device(world))
    dist.all_reduce(t)
    return dict(zip(values, (t / world.size).tolist()))


def slowest(seconds: float, world: World) -> float:
    """The largest of the ranks' ``seconds`` (a seconds budget runs out on every rank at once)."""
    if not world.distributed:
        return seconds
    t = torch.tensor([seconds], dtype=torch.float64, device=_comm_device(world))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t)


def all_true(flag: bool, world: World) -> bool:
    """True when ``flag`` holds on every rank."""
    if not world.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=_comm_device(world))
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item() == 1.0)


@contextlib.contextmanager
def on_main(world: World, enter: Callable[[], contextlib.AbstractContextManager[Any]]) -> Iterator[None]:
    """Hold ``enter()`` (a folder lock) on rank 0 only; when rank 0 cannot, every rank raises its
    ConfigError, so no rank is left waiting for the others."""
    if not world.distributed:
        with enter():
            yield
        return
    with contextlib.ExitStack() as stack:
        failure: ConfigError | None = None
        if world.main:
            try:
                stack.enter_context(enter())
            except ConfigError as exc:
                failure = exc
        message = [None if failure is None else str(failure)]
        dist.broadcast_object_list(message, 0)
        if failure is not None:
            raise failure
        if message[0] is not None:
            raise ConfigError(str(message[0]))
        yield
