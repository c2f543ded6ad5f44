"""SRResNet and the SRGAN discriminator (Ledig et al. 2017, "Photo-Realistic Single Image
Super-Resolution Using a Generative Adversarial Network", figure 4).

Generator (SRResNet): conv 9x9 (64) + PReLU; B = 16 residual blocks, each conv 3x3 - BN - PReLU -
conv 3x3 - BN plus the block's input; conv 3x3 - BN plus the output of the first layer (the long
skip); two sub-pixel upsampling blocks, conv 3x3 (256) - PixelShuffle x2 - PReLU (one x3 block for
scale 3); conv 9x9 to the image channels. The output is linear (as BasicSR's MSRResNet and ESRGAN
do), on the [-1, 1] scale of the data, and clipped only when stored as an image.

Discriminator: conv 3x3 (64) + leaky ReLU (0.2); seven conv 3x3 - BN - leaky ReLU blocks of 64,
128, 128, 256, 256, 512, 512 channels, stride 2 in every second one (64 s2, 128, 128 s2, ...);
dense 1024 - leaky ReLU - dense 1 (a logit; SRGAN's sigmoid is in the loss). The dense layer
sees the whole HR patch (96 px: 6 x 6 x 512 features).

Both take the condition-first signature the SR variants use: ``G(lr) -> sr`` and ``D(hr) -> logit``.
The architecture is registered as ``srresnet`` for image data; ``spec.shape`` is the HR patch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from gan_bench.config import ConfigError, Range
from gan_bench.data.base import DataSpec
from gan_bench.registry import ARCHITECTURES


@dataclass
class SRResNetOptions:
    """``net.*`` of ``srresnet``."""

    width: int = field(default=64, metadata=Range(1, 1024))  # generator channels (64)
    blocks: int = field(default=16, metadata=Range(1, 256))  # residual blocks (16)
    batch_norm: bool = True  # SRGAN's BN in the residual blocks (ESRGAN/EDSR drop it)
    d_width: int = field(default=64, metadata=Range(1, 1024))  # discriminator's first channels (64)


class ResidualBlock(nn.Module):
    """conv - BN - PReLU - conv - BN, plus the input."""

    def __init__(self, width: int, batch_norm: bool) -> None:
        super().__init__()
        norm = (lambda: nn.BatchNorm2d(width)) if batch_norm else nn.Identity
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), norm(), nn.PReLU(width),
                                  nn.Conv2d(width, width, 3, padding=1), norm())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def upsampler(width: int, scale: int) -> nn.Sequential:
    """Sub-pixel convolution blocks (Shi et al. 2016) for ``scale``: x2 blocks, or one x3."""
    if scale == 3:
        factors = [3]
    elif scale >= 2 and scale & (scale - 1) == 0:
        factors = [2] * int(math.log2(scale))
    else:
        raise ConfigError(f"srresnet upsamples by powers of 2 or by 3, not x{scale}", "data.scale")
    layers: list[nn.Module] = []
    for f in factors:
        layers += [nn.Conv2d(width, width * f * f, 3, padding=1), nn.PixelShuffle(f), nn.PReLU(width)]
    return nn.Sequential(*layers)


class SRResNet(nn.Module):
    """``forward(lr) -> sr``: LR images (N, C, h, w) to (N, C, s h, s w)."""

    def __init__(self, channels: int, scale: int, width: int = 64, blocks: int = 16, batch_norm: bool = True) -> None:
        super().__init__()
        self.scale = scale
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, padding=4), nn.PReLU(width))
        norm = nn.BatchNorm2d(width) if batch_norm else nn.Identity()
        self.body = nn.Sequential(*[ResidualBlock(width, batch_norm) for _ in range(blocks)],
                                  nn.Conv2d(width, width, 3, padding=1), norm)
        self.up = upsampler(width, scale)
        self.tail = nn.Conv2d(width, channels, 9, padding=4)

    def forward(self, lr: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.head(lr)
        return self.tail(self.up(h + self.body(h)))


class SRGANDiscriminator(nn.Module):
    """``forward(hr) -> (N, 1)`` logits (see the module docstring)."""

    def __init__(self, spec: DataSpec, width: int = 64) -> None:
        super().__init__()
        channels, height, wide = spec.shape
        plan = [(width, 2), (2 * width, 1), (2 * width, 2), (4 * width, 1), (4 * width, 2),
                (8 * width, 1), (8 * width, 2)]
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1), nn.LeakyReLU(0.2, True)]
        c = width
        for out, stride in plan:
            layers += [nn.Conv2d(c, out, 3, stride, 1), nn.BatchNorm2d(out), nn.LeakyReLU(0.2, True)]
            c = out
            height, wide = (height + 1) // stride if stride == 2 else height, (wide + 1) // stride if stride == 2 else wide
        self.features = nn.Sequential(*layers)
        self.out = nn.Sequential(nn.Flatten(), nn.Linear(c * height * wide, 16 * width), nn.LeakyReLU(0.2, True),
                                 nn.Linear(16 * width, 1))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(self.features(x))


@ARCHITECTURES.register("srresnet", options=SRResNetOptions, kinds=("image",))
class SRResNetArch:
    """SRResNet generator and SRGAN discriminator for HR patches of ``spec.shape``."""

    Options = SRResNetOptions

    def __init__(self, spec: DataSpec, opts: SRResNetOptions | None = None) -> None:
        self.spec, self.opts = spec, opts or SRResNetOptions()
        if len(spec.shape) != 3:
            raise ConfigError(f"srresnet models images, not data of shape {spec.shape}", "arch")

    def generator(self, z_dim: int = 0, num_classes: int = 0, scale: int = 4) -> nn.Module:
        """SRResNet for ``scale`` (``z_dim`` and ``num_classes`` are unused: the input is the LR image)."""
        o = self.opts
        return SRResNet(self.spec.shape[0], scale, o.width, o.blocks, o.batch_norm)

    def discriminator(self, out_dim: int = 1, num_classes: int = 0) -> nn.Module:
        """The SRGAN discriminator on HR patches."""
        if out_dim != 1 or num_classes:
            raise ConfigError("the SRGAN discriminator has one unconditional output", "arch")
        return SRGANDiscriminator(self.spec, self.opts.d_width)
