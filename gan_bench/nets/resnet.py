"""SNGAN-style residual nets (Miyato et al. 2018; Miyato & Koyama 2018) for 32 and 64 px.

32 px (the CIFAR-10 nets): G = linear to 4x4xgw, three up-blocks of gw channels, BN ReLU conv3x3
tanh (gw = 256); D = an optimised down-block and three blocks of dw channels (two down, two not),
ReLU, global sum pooling, linear (dw = 128).
64 px: G's up-blocks go gw -> gw/2 -> ... -> gw/16 over four blocks (gw = 1024); D's blocks go
dw/16 -> ... -> dw over five down-blocks (dw = 1024).

Residual blocks use 3x3 convs with ReLU before each conv, nearest-neighbour upsampling and
average-pool downsampling, and a 1x1 conv shortcut when the shape changes. ``spectral_norm``
(default on, as in SNGAN) normalises every D layer; G is never spectrally normalised. D has no
normalisation in the paper (``d_norm: none``); ``layer`` puts layer norm before each ReLU in the
blocks, as in the WGAN-GP ResNet; ``batch`` is allowed but not advised with a gradient penalty.
Conditional nets use class-conditional BN in G's blocks and a projection head in D.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from gan_bench.config import Choice, Range
from gan_bench.data.base import DataSpec
from gan_bench.nets.layers import D_NORMS, ConditionalBatchNorm2d, Projection, image_size, maybe_sn, norm2d
from gan_bench.registry import ARCHITECTURES

SIDES = (32, 64)
DEFAULT_WIDTHS = {32: (256, 128), 64: (1024, 1024)}  # (generator, discriminator), as in SNGAN


@dataclass
class ResNetOptions:
    g_width: int = field(default=0, metadata=Range(0, 1 << 14))  # 0 = SNGAN's (256 at 32 px, 1024 at 64)
    d_width: int = field(default=0, metadata=Range(0, 1 << 14))  # 0 = SNGAN's (128 at 32 px, 1024 at 64)
    spectral_norm: bool = True  # in D
    d_norm: str = field(default="none", metadata=Choice(*D_NORMS))


def _conv(cin: int, cout: int, k: int, gain: float, sn: bool = False) -> nn.Module:
    """A same-padded conv with SNGAN's xavier-uniform initialisation (gain sqrt 2 in blocks)."""
    conv = nn.Conv2d(cin, cout, k, 1, k // 2)
    nn.init.xavier_uniform_(conv.weight, gain)
    nn.init.zeros_(conv.bias)
    return maybe_sn(conv, sn)


def _linear(cin: int, cout: int, sn: bool = False) -> nn.Module:
    lin = nn.Linear(cin, cout)
    nn.init.xavier_uniform_(lin.weight)
    nn.init.zeros_(lin.bias)
    return maybe_sn(lin, sn)


class GBlock(nn.Module):
    """BN ReLU up conv3x3 BN ReLU conv3x3, plus an upsampled 1x1-conv shortcut."""

    def __init__(self, cin: int, cout: int, num_classes: int = 0) -> None:
        super().__init__()
        self.b1 = ConditionalBatchNorm2d(cin, num_classes)
        self.c1 = _conv(cin, cout, 3, math.sqrt(2))
        self.b2 = ConditionalBatchNorm2d(cout, num_classes)
        self.c2 = _conv(cout, cout, 3, math.sqrt(2))
        self.sc = _conv(cin, cout, 1, 1.0)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = F.interpolate(F.relu(self.b1(x, y)), scale_factor=2, mode="nearest")
        h = self.c2(F.relu(self.b2(self.c1(h), y)))
        return h + self.sc(F.interpolate(x, scale_factor=2, mode="nearest"))


class DBlock(nn.Module):
    """(norm) ReLU conv3x3 (norm) ReLU conv3x3 [avg-pool]; 1x1-conv shortcut when the shape changes.

    The first block of D (``first``) starts with the conv, since its input is the image, and
    pools before its shortcut conv (SNGAN's "optimised" block).
    """

    def __init__(self, cin: int, cout: int, down: bool, sn: bool, norm: str, first: bool = False) -> None:
        super().__init__()
        hidden = cout if first else cin
        self.down, self.first = down, first
        self.n1 = nn.Identity() if first else norm2d(norm, cin)
        self.c1 = _conv(cin, hidden, 3, math.sqrt(2), sn)
        self.n2 = norm2d(norm, hidden)
        self.c2 = _conv(hidden, cout, 3, math.sqrt(2), sn)
        self.sc = _conv(cin, cout, 1, 1.0, sn) if (cin != cout or down or first) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(self.n1(x))
        h = self.c2(F.relu(self.n2(self.c1(h))))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.first:
            s = self.sc(F.avg_pool2d(s, 2))
        elif self.sc is not None:
            s = self.sc(s)
            if self.down:
                s = F.avg_pool2d(s, 2)
        return h + s


def _widths(side: int, opts: ResNetOptions) -> tuple[int, int]:
    if side not in SIDES:
        raise ValueError(f"resnet supports {' and '.join(map(str, SIDES))} px images; got {side} (set data.image_size)")
    g, d = DEFAULT_WIDTHS[side]
    g, d = opts.g_width or g, opts.d_width or d
    if side == 64 and (g % 16 or d % 16):
        raise ValueError(f"resnet at 64 px needs g_width and d_width divisible by 16; got {g} and {d}")
    return g, d


class ResNetGenerator(nn.Module):
    def __init__(self, spec: DataSpec, z_dim: int, opts: ResNetOptions, num_classes: int = 0) -> None:
        super().__init__()
        channels, side = image_size(spec, "resnet")
        width = _widths(side, opts)[0]
        if side == 32:
            chans = [width] * 4
        else:
            chans = [width >> i for i in range(5)]  # 1024, 512, 256, 128, 64
        self.num_classes, self.ch0 = num_classes, chans[0]
        self.linear = _linear(z_dim, 4 * 4 * chans[0])
        self.blocks = nn.ModuleList(GBlock(a, b, num_classes) for a, b in zip(chans[:-1], chans[1:]))
        self.bn = nn.BatchNorm2d(chans[-1])
        self.out = _conv(chans[-1], channels, 3, 1.0)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.linear(z).view(z.shape[0], self.ch0, 4, 4)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.out(F.relu(self.bn(h))))


class ResNetDiscriminator(nn.Module):
    def __init__(self, spec: DataSpec, opts: ResNetOptions, out_dim: int = 1, num_classes: int = 0) -> None:
        super().__init__()
        channels, side = image_size(spec, "resnet")
        width = _widths(side, opts)[1]
        sn, norm = opts.spectral_norm, opts.d_norm
        if side == 32:
            blocks = [DBlock(channels, width, True, sn, norm, first=True)]
            blocks += [DBlock(width, width, down, sn, norm) for down in (True, False, False)]
        else:
            chans = [width >> i for i in range(4, -1, -1)]  # 64, 128, 256, 512, 1024
            blocks = [DBlock(channels, chans[0], True, sn, norm, first=True)]
            blocks += [DBlock(a, b, True, sn, norm) for a, b in zip(chans[:-1], chans[1:])]
        self.blocks = nn.Sequential(*blocks)
        self.out = _linear(width, out_dim, sn)
        self.proj = Projection(num_classes, width, out_dim, sn) if num_classes else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self.blocks(x)).sum((2, 3))  # global sum pooling, as in SNGAN
        out = self.out(h)
        if self.proj is not None:
            out = out + self.proj(h, y)
        return out


@ARCHITECTURES.register("resnet", options=ResNetOptions, kinds=("image",), sizes=SIDES)
class ResNet:
    """SNGAN-style residual G and D; conditional BN in G and a projection D when labelled."""

    Options = ResNetOptions

    def __init__(self, spec: DataSpec, opts: ResNetOptions | None = None) -> None:
        self.spec, self.opts = spec, opts or ResNetOptions()
        _widths(image_size(spec, "resnet")[1], self.opts)

    def generator(self, z_dim: int, num_classes: int = 0) -> nn.Module:
        return ResNetGenerator(self.spec, z_dim, self.opts, num_classes)

    def discriminator(self, out_dim: int = 1, num_classes: int = 0) -> nn.Module:
        return ResNetDiscriminator(self.spec, self.opts, out_dim, num_classes)
