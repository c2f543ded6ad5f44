"""2-D Gaussian mixtures for mode-coverage benchmarks (PacGAN / VEEGAN protocol).

``ring8``: 8 modes at angles 2*pi*k/8 on a circle of radius 1, std 0.01.
``grid25``: means {-4,-2,0,2,4}^2, std 0.05.
Both draw a fixed training set of ``num_points`` (PacGAN: 100k) from ``seed``, with the same number
of points in each mode up to rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gan_bench.config import Range
from gan_bench.data.base import ArrayDataset, DataSpec
from gan_bench.registry import DATASETS


@dataclass
class RingOptions:
    num_modes: int = field(default=8, metadata=Range(2, 1000))
    radius: float = field(default=1.0, metadata=Range(1e-6, 1e6))
    std: float = field(default=0.01, metadata=Range(0.0, 1e6))
    num_points: int = field(default=100_000, metadata=Range(1, 10**8))
    seed: int = 0


@dataclass
class GridOptions:
    side: int = field(default=5, metadata=Range(1, 100))
    spacing: float = field(default=2.0, metadata=Range(1e-6, 1e6))
    std: float = field(default=0.05, metadata=Range(0.0, 1e6))
    num_points: int = field(default=100_000, metadata=Range(1, 10**8))
    seed: int = 0


def ring_means(num_modes: int, radius: float) -> torch.Tensor:
    """Mode centres at angles 2*pi*k/num_modes, k = 0..num_modes-1 (no duplicated mode)."""
    angles = torch.arange(num_modes, dtype=torch.float64) * (2 * math.pi / num_modes)
    return torch.stack([radius * torch.cos(angles), radius * torch.sin(angles)], dim=1).float()


def grid_means(side: int, spacing: float) -> torch.Tensor:
    """Mode centres on a side x side grid centred at the origin ({-4,-2,0,2,4}^2 by default)."""
    coords = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
    gx, gy = torch.meshgrid(coords, coords, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1).float()


def sample_mixture(means: torch.Tensor, std: float, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points, mode ``i % K`` for point i (balanced), shuffled; returns (points, mode ids)."""
    gen = torch.Generator().manual_seed(seed)
    modes = torch.arange(n) % means.shape[0]
    modes = modes[torch.randperm(n, generator=gen)]
    points = means[modes] + std * torch.randn(n, 2, generator=gen)
    return points, modes


# PacGAN trains on mixtures with batches of 100; a 2-D latent keeps the MLP generator small.
MIXTURE_DEFAULTS = {"batch_size": 100, "z_dim": 2, "eval": {"num_samples": 2500}}


def _mixture(name: str, means: torch.Tensor, std: float, num_points: int, seed: int) -> ArrayDataset:
    x, y = sample_mixture(means, std, num_points, seed)
    return ArrayDataset(
        name=name,
        x=x,
        y=y,
        spec=DataSpec(shape=(2,), kind="points"),
        meta={"means": means, "std": std},
    )


@DATASETS.register("ring8", options=RingOptions, kind="points", needs_files=False, defaults=MIXTURE_DEFAULTS)
def load_ring8(root: Path, split: str, opts: RingOptions) -> ArrayDataset:
    """PacGAN's 8-mode ring (the split is ignored: the data is synthetic)."""
    return _mixture("ring8", ring_means(opts.num_modes, opts.radius), opts.std, opts.num_points, opts.seed)


@DATASETS.register("grid25", options=GridOptions, kind="points", needs_files=False, defaults=MIXTURE_DEFAULTS)
def load_grid25(root: Path, split: str, opts: GridOptions) -> ArrayDataset:
    """PacGAN's 5x5 grid (the split is ignored: the data is synthetic)."""
    return _mixture("grid25", grid_means(opts.side, opts.spacing), opts.std, opts.num_points, opts.seed)
