"""Regularisers of the critic or generator, separate from the adversarial losses.

Each penalty is a function of a network and data that returns a scalar tensor (added to a loss by
the variant, times its weight). :func:`clip_weights` is the one exception: WGAN's Lipschitz
constraint is a projection applied after the optimiser step, not a loss term.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import nn

Critic = Callable[[torch.Tensor], torch.Tensor]
# shape, like-tensor, generator -> U[0,1) draws; see :func:`drawn_by`
Draw = Callable[[tuple[int, ...], torch.Tensor, torch.Generator], torch.Tensor]
_DRAWN_BY: dict[int, Draw] = {}  # id(generator) -> the draw that replaces it


def _grad_norm(critic: Critic, points: torch.Tensor) -> torch.Tensor:
    points = points.detach().requires_grad_(True)
    out = critic(points)
    (grad,) = torch.autograd.grad(out.sum(), points, create_graph=True)
    return grad.flatten(1).norm(2, dim=1)


def uniform(shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """U[0,1) draws from ``generator`` (on its own device, so runs resume exactly) shaped ``shape``,
    as ``like``'s device and dtype."""
    device = generator.device if generator is not None else like.device
    return torch.rand(shape, generator=generator, device=device).to(like.device, like.dtype)


@contextlib.contextmanager
def drawn_by(generator: torch.Generator, draw: Draw) -> Iterator[None]:
    """While active, the penalties' draws from ``generator`` come from ``draw`` instead: how runs
    stacked into one model (each its rows from its own generator) and data-parallel ranks (each its
    slice of the global draw) keep the draws of their single-process runs."""
    _DRAWN_BY[id(generator)] = draw
    try:
        yield
    finally:
        _DRAWN_BY.pop(id(generator), None)


def _rand(shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    draw = _DRAWN_BY.get(id(generator)) if generator is not None else None
    return draw(shape, like, generator) if draw is not None else uniform(shape, like, generator)


def _mix(a: torch.Tensor, b: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    alpha = _rand((a.shape[0],) + (1,) * (a.dim() - 1), a, generator)
    return alpha * a + (1 - alpha) * b


def gradient_penalty(
    critic: Critic,
    real: torch.Tensor,
    fake: torch.Tensor,
    target: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP: E[(||grad D(x_hat)|| - target)^2] on random interpolates x_hat of real and fake
    (Gulrajani et al. 2017, algorithm 1)."""
    n = min(real.shape[0], fake.shape[0])
    x_hat = _mix(real[:n].detach(), fake[:n].detach(), generator)
    return ((_grad_norm(critic, x_hat) - target) ** 2).mean()


def dragan_penalty(
    critic: Critic,
    real: torch.Tensor,
    scale: float = 0.5,
    target: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """DRAGAN: the gradient penalty around real data, on x + delta with
    delta = alpha * scale * std(x) * U[0,1) noise (Kodali et al. 2017, as in their reference code)."""
    real = real.detach()
    noise = _rand(tuple(real.shape), real, generator)
    perturbed = real + scale * real.std() * noise
    x_hat = _mix(real, perturbed, generator)
    return ((_grad_norm(critic, x_hat) - target) ** 2).mean()


def r1_penalty(critic: Critic, real: torch.Tensor) -> torch.Tensor:
    """R1: E[||grad D(x)||^2] on real data (Mescheder et al. 2018); multiply by gamma/2."""
    return (_grad_norm(critic, real) ** 2).mean()


def pull_away_term(codes: torch.Tensor) -> torch.Tensor:
    """EBGAN's pull-away term: mean squared cosine similarity between distinct codes in a batch
    (Zhao et al. 2017, eq. 4)."""
    n = codes.shape[0]
    if n < 2:
        return codes.new_zeros(())
    unit = nn.functional.normalize(codes.flatten(1), dim=1)
    sim = unit @ unit.t()
    off_diag = sim.pow(2).sum() - sim.diagonal().pow(2).sum()
    return off_diag / (n * (n - 1))


@torch.no_grad()
def clip_weights(module: nn.Module, clip: float) -> None:
    """WGAN's weight clipping: every parameter into [-clip, clip] (in place, after the step)."""
    for p in module.parameters():
        p.clamp_(-clip, clip)


def orthogonal_regularization(weights: list[torch.Tensor]) -> torch.Tensor:
    """BigGAN's orthogonal regulariser (Brock et al. 2019, section 3.1):
    sum over W of ||W W^T * (1 - I)||_F^2, each W flattened to (out, fan_in) rows; it pushes the
    filters towards mutual orthogonality without constraining their norms. Multiply by beta."""
    total = weights[0].new_zeros(()) if weights else torch.zeros(())
    for w in weights:
        rows = w.flatten(1)
        gram = rows @ rows.t()
        total = total + (gram - torch.diag_embed(gram.diagonal())).square().sum()
    return total
