"""Fully connected nets for 2-D mixtures and other low-dimensional data (PacGAN/VEEGAN toy setup)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from gan_bench.config import Range
from gan_bench.data.base import DataSpec
from gan_bench.nets.base import one_hot
from gan_bench.registry import ARCHITECTURES


@dataclass
class MLPOptions:
    width: int = field(default=128, metadata=Range(1, 1 << 16))
    depth: int = field(default=3, metadata=Range(1, 64))  # hidden layers
    g_batchnorm: bool = True  # PacGAN's toy generator uses batch norm; it sharpens the modes markedly


def _stack(in_dim: int, width: int, depth: int, act: type[nn.Module], batchnorm: bool) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers.append(nn.Linear(in_dim if i == 0 else width, width))
        if batchnorm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(act())
    return layers


class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int, spec: DataSpec, opts: MLPOptions, num_classes: int = 0) -> None:
        super().__init__()
        self.spec, self.num_classes = spec, num_classes
        layers = _stack(z_dim + num_classes, opts.width, opts.depth, nn.ReLU, opts.g_batchnorm)
        layers.append(nn.Linear(opts.width, spec.numel))
        if spec.kind == "image":
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        code = one_hot(y, self.num_classes)
        h = z if code is None else torch.cat([z, code], dim=1)
        return self.net(h).view(z.shape[0], *self.spec.shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, spec: DataSpec, opts: MLPOptions, out_dim: int = 1, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        layers = _stack(spec.numel + num_classes, opts.width, opts.depth, lambda: nn.LeakyReLU(0.2), False)
        layers.append(nn.Linear(opts.width, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = x.flatten(1)
        code = one_hot(y, self.num_classes)
        if code is not None:
            h = torch.cat([h, code], dim=1)
        return self.net(h)


@ARCHITECTURES.register("mlp", options=MLPOptions, kinds=("points", "image"))
class MLP:
    """ReLU generator and LeakyReLU discriminator, ``depth`` hidden layers of ``width`` units."""

    Options = MLPOptions

    def __init__(self, spec: DataSpec, opts: MLPOptions) -> None:
        self.spec, self.opts = spec, opts

    def generator(self, z_dim: int, num_classes: int = 0) -> nn.Module:
        return MLPGenerator(z_dim, self.spec, self.opts, num_classes)

    def discriminator(self, out_dim: int = 1, num_classes: int = 0) -> nn.Module:
        return MLPDiscriminator(self.spec, self.opts, out_dim, num_classes)
