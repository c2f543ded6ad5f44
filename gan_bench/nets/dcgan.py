"""DCGAN (Radford et al. 2016) for square images of 28, 32, 64 px and other sizes base*2^n.

G: z -> transposed conv to a base x base map (base 4, or 7 for 28 px) with ``width * 2^(n-1)``
channels, then n-1 stride-2 transposed convs halving the channels (each with BN + ReLU) and a last
stride-2 transposed conv to the data's channels with tanh.
D: the mirror image: n stride-2 4x4 convs with LeakyReLU(0.2), normalised (``d_norm``) after all
but the first, and a base x base conv to ``out_dim`` scores.

``d_norm`` is ``batch`` in the paper; use ``none`` or ``layer`` for WGAN-GP and DRAGAN, whose
per-example gradient penalty batch norm invalidates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from gan_bench.config import Choice, Range
from gan_bench.data.base import DataSpec
from gan_bench.nets.layers import D_NORMS, LabelConcat, Projection, dcgan_init, image_size, norm2d
from gan_bench.registry import ARCHITECTURES


@dataclass
class DCGANOptions:
    width: int = field(default=64, metadata=Range(1, 4096))  # ngf = ndf: channels of the widest-res layer
    d_norm: str = field(default="batch", metadata=Choice(*D_NORMS))


def layout(side: int) -> tuple[int, int]:
    """(base, n): ``side = base * 2**n`` with n as large as keeps base >= 4 (28 -> 7, 2; 64 -> 4, 4)."""
    n = 0
    while side % (2 ** (n + 1)) == 0 and side // 2 ** (n + 1) >= 4:
        n += 1
    if n == 0:
        raise ValueError(f"dcgan needs an image side of the form base*2^n with base >= 4 (e.g. 28, 32, 64); got {side}")
    return side // 2**n, n


class DCGANGenerator(nn.Module):
    def __init__(self, spec: DataSpec, z_dim: int, width: int, num_classes: int = 0) -> None:
        super().__init__()
        channels, side = image_size(spec, "dcgan")
        base, n = layout(side)
        self.cond = LabelConcat(num_classes)
        ch = width * 2 ** (n - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim + self.cond.dim, ch, base, 1, 0, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(True),
        ]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.cond(z, y)
        return self.net(h[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    def __init__(self, spec: DataSpec, width: int, d_norm: str, out_dim: int = 1, num_classes: int = 0) -> None:
        super().__init__()
        channels, side = image_size(spec, "dcgan")
        base, n = layout(side)
        bias = d_norm == "none"  # a bias before BN/LN is cancelled by their shift
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch = width
        for _ in range(n - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=bias), norm2d(d_norm, ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        self.features = nn.Sequential(*layers)
        self.out = nn.Conv2d(ch, out_dim, base, 1, 0)  # a linear layer over the base x base map
        self.proj = Projection(num_classes, ch, out_dim) if num_classes else None
        dcgan_init(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)
        out = self.out(h).flatten(1)
        if self.proj is not None:
            out = out + self.proj(h.sum((2, 3)), y)
        return out


@ARCHITECTURES.register("dcgan", options=DCGANOptions, kinds=("image",), sizes=(28, 32, 64))
class DCGAN:
    """Radford et al.'s DCGAN; conditional through a z-concatenated embedding and a projection D."""

    Options = DCGANOptions

    def __init__(self, spec: DataSpec, opts: DCGANOptions | None = None) -> None:
        self.spec, self.opts = spec, opts or DCGANOptions()
        layout(image_size(spec, "dcgan")[1])  # fail at construction for an unsupported size

    def generator(self, z_dim: int, num_classes: int = 0) -> nn.Module:
        return DCGANGenerator(self.spec, z_dim, self.opts.width, num_classes)

    def discriminator(self, out_dim: int = 1, num_classes: int = 0) -> nn.Module:
        return DCGANDiscriminator(self.spec, self.opts.width, self.opts.d_norm, out_dim, num_classes)
