"""The InfoGAN-style MNIST nets that Lucic et al. 2018 ("Are GANs created equal?") use everywhere.

G: FC 1024 BN ReLU, FC 7x7x128 BN ReLU, deconv 64 4x4/2 BN ReLU, deconv C 4x4/2 tanh.
D: conv 64 4x4/2 lReLU, conv 128 4x4/2 BN lReLU, FC 1024 BN lReLU, FC ``out_dim``.

That is the 28 px net (base 7). Other sides are adapted by keeping the FC map at most 8x8:
32 px uses an 8x8 base, 64 px an 8x8 base plus one more 64-channel stride-2 layer in each net.
Lucic et al. end G in a sigmoid for [0, 1] data; here data lives in [-1, 1], so G ends in tanh.
``width`` (64) and ``fc_dim`` (1024) scale the nets; ``d_norm`` replaces D's batch norms (use
``none`` or ``layer`` for WGAN-GP and DRAGAN).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from gan_bench.config import Choice, Range
from gan_bench.data.base import DataSpec
from gan_bench.nets.layers import D_NORMS, LabelConcat, Projection, dcgan_init, image_size, norm1d, norm2d
from gan_bench.registry import ARCHITECTURES


@dataclass
class InfoGANOptions:
    width: int = field(default=64, metadata=Range(1, 4096))  # conv channels: width, 2*width
    fc_dim: int = field(default=1024, metadata=Range(1, 1 << 16))
    d_norm: str = field(default="batch", metadata=Choice(*D_NORMS))


def layout(side: int) -> tuple[int, int]:
    """(base, n): ``side = base * 2**n``, n >= 2, base <= 8 (28 -> 7, 2; 32 -> 8, 2; 64 -> 8, 3)."""
    if side % 4 or side < 8:
        raise ValueError(f"infogan needs an image side that is a multiple of 4 (e.g. 28, 32, 64); got {side}")
    n = 2
    while side // 2**n > 8 and side % 2 ** (n + 1) == 0:
        n += 1
    return side // 2**n, n


class InfoGANGenerator(nn.Module):
    def __init__(self, spec: DataSpec, z_dim: int, opts: InfoGANOptions, num_classes: int = 0) -> None:
        super().__init__()
        channels, side = image_size(spec, "infogan")
        self.base, n = layout(side)
        w = opts.width
        self.cond = LabelConcat(num_classes)
        self.fc = nn.Sequential(
            nn.Linear(z_dim + self.cond.dim, opts.fc_dim, bias=False),
            nn.BatchNorm1d(opts.fc_dim),
            nn.ReLU(True),
            nn.Linear(opts.fc_dim, 2 * w * self.base**2, bias=False),
            nn.BatchNorm1d(2 * w * self.base**2),
            nn.ReLU(True),
        )
        layers: list[nn.Module] = [nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(True)]
        for _ in range(n - 2):  # the extra stage for sides above 32
            layers += [nn.ConvTranspose2d(w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(w, channels, 4, 2, 1), nn.Tanh()]
        self.deconv = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.fc(self.cond(z, y))
        return self.deconv(h.view(z.shape[0], -1, self.base, self.base))


class InfoGANDiscriminator(nn.Module):
    def __init__(self, spec: DataSpec, opts: InfoGANOptions, out_dim: int = 1, num_classes: int = 0) -> None:
        super().__init__()
        channels, side = image_size(spec, "infogan")
        base, n = layout(side)
        w, bias = opts.width, opts.d_norm == "none"
        layers: list[nn.Module] = [nn.Conv2d(channels, w, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for _ in range(n - 2):
            layers += [nn.Conv2d(w, w, 4, 2, 1, bias=bias), norm2d(opts.d_norm, w), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(w, 2 * w, 4, 2, 1, bias=bias), norm2d(opts.d_norm, 2 * w), nn.LeakyReLU(0.2, True)]
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Sequential(
            nn.Linear(2 * w * base**2, opts.fc_dim, bias=bias),
            norm1d(opts.d_norm, opts.fc_dim),
            nn.LeakyReLU(0.2, True),
        )
        self.out = nn.Linear(opts.fc_dim, out_dim)
        self.proj = Projection(num_classes, opts.fc_dim, out_dim) if num_classes else None
        dcgan_init(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.fc(self.conv(x).flatten(1))
        out = self.out(h)
        if self.proj is not None:
            out = out + self.proj(h, y)
        return out


@ARCHITECTURES.register("infogan", options=InfoGANOptions, kinds=("image",), sizes=(28, 32, 64))
class InfoGAN:
    """Lucic et al. 2018's InfoGAN-style nets; conditional via z-concatenation and a projection D."""

    Options = InfoGANOptions

    def __init__(self, spec: DataSpec, opts: InfoGANOptions | None = None) -> None:
        self.spec, self.opts = spec, opts or InfoGANOptions()
        layout(image_size(spec, "infogan")[1])

    def generator(self, z_dim: int, num_classes: int = 0) -> nn.Module:
        return InfoGANGenerator(self.spec, z_dim, self.opts, num_classes)

    def discriminator(self, out_dim: int = 1, num_classes: int = 0) -> nn.Module:
        return InfoGANDiscriminator(self.spec, self.opts, out_dim, num_classes)
