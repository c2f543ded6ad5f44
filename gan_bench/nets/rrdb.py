"""The ESRGAN generator (RRDBNet) and its VGG-style discriminator (Wang et al. 2018, "ESRGAN:
Enhanced Super-Resolution Generative Adversarial Networks", section 3.1 and figure 4, with the
layer sizes of the authors' code, xinntao/ESRGAN ``RRDBNet_arch.py`` and BasicSR's
``Discriminator_VGG_128``).

Generator (RRDBNet), no batch normalisation anywhere: conv 3x3 (64); a trunk of B = 23
residual-in-residual dense blocks (RRDB) and a conv 3x3, added to the first conv's output (the
long skip); upsampling by nearest-neighbour x2 + conv 3x3 + leaky ReLU (0.2), twice for x4 (one
x3 block for scale 3); conv 3x3 + leaky ReLU; conv 3x3 to the image channels (linear output on
the data's [-1, 1] scale).

- A dense block (RDB) has five conv 3x3 layers; layer k sees the block input and the outputs of
  layers 1..k-1 concatenated (growth 32 channels each, leaky ReLU 0.2 after layers 1-4), and
  the fifth maps back to 64 channels: out = x + 0.2 * conv5(...) (residual scaling, section 3.1).
- An RRDB is three RDBs in sequence, out = x + 0.2 * RDB3(RDB2(RDB1(x))).
- The convs of the dense blocks start from Kaiming-normal weights scaled by 0.1 (the paper's
  "smaller initialisation", section 3.1; ``initialize_weights(..., 0.1)`` in the authors' code).

Discriminator (VGG-style, the authors' ``Discriminator_VGG_128``; not SRGAN's, which has eight
3x3 convs and a 1024-unit dense layer): conv 3x3 (64) + leaky ReLU; then five stages, each conv
3x3 - BN - leaky ReLU and conv 4x4 stride 2 - BN - leaky ReLU, of 64, 128, 256, 512, 512
channels (the first stage has no 3x3 conv of its own: the input conv is it); dense 100 - leaky
ReLU - dense 1 (a logit, the critic C(x) of the relativistic discriminator). A 128 px HR patch
ends as 4 x 4 x 512 features (any side >= 32 px: floor(side / 32) after the five halvings).

Registered as architecture ``rrdb`` for image data with ``srresnet``'s interface:
``generator(scale=...)`` -> ``G(lr) -> sr`` and ``discriminator()`` -> ``D(hr) -> logit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from gan_bench.config import ConfigError, Range
from gan_bench.data.base import DataSpec
from gan_bench.registry import ARCHITECTURES

INIT_SCALE = 0.1  # ESRGAN's smaller initialisation of the dense blocks


@dataclass
class RRDBOptions:
    """``net.*`` of ``rrdb`` (the paper's values by default; shrink ``blocks``/``width`` for the CPU)."""

    width: int = field(default=64, metadata=Range(1, 1024))  # trunk channels (64)
    blocks: int = field(default=23, metadata=Range(1, 256))  # RRDBs (23)
    growth: int = field(default=32, metadata=Range(1, 1024))  # dense-block growth channels (32)
    res_scale: float = field(default=0.2, metadata=Range(0.0, 1.0))  # residual scaling (0.2)
    d_width: int = field(default=64, metadata=Range(1, 1024))  # discriminator's first channels (64)


def _lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2, inplace=True)


class DenseBlock(nn.Module):
    """Residual dense block: five densely connected 3x3 convs, out = x + res_scale * conv5(...)."""

    def __init__(self, width: int, growth: int, res_scale: float) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.convs = nn.ModuleList(nn.Conv2d(width + k * growth, growth if k < 4 else width, 3, padding=1)
                                   for k in range(5))
        self.act = _lrelu()
        for conv in self.convs:
            nn.init.kaiming_normal_(conv.weight, a=0, mode="fan_in")
            with torch.no_grad():
                conv.weight.mul_(INIT_SCALE)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for conv in self.convs[:4]:
            feats.append(self.act(conv(torch.cat(feats, 1))))
        return x + self.res_scale * self.convs[4](torch.cat(feats, 1))


class RRDB(nn.Module):
    """Residual-in-residual dense block: out = x + res_scale * RDB3(RDB2(RDB1(x)))."""

    def __init__(self, width: int, growth: int, res_scale: float) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.body = nn.Sequential(*[DenseBlock(width, growth, res_scale) for _ in range(3)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.body(x)


def nearest_upsampler(width: int, scale: int) -> nn.Sequential:
    """ESRGAN's upsampling: nearest x2 + conv 3x3 + leaky ReLU per factor 2 (one x3 block for 3)."""
    if scale == 3:
        factors = [3]
    elif scale >= 2 and scale & (scale - 1) == 0:
        factors = [2] * (scale.bit_length() - 1)
    else:
        raise ConfigError(f"rrdb upsamples by powers of 2 or by 3, not x{scale}", "data.scale")
    layers: list[nn.Module] = []
    for f in factors:
        layers += [nn.Upsample(scale_factor=f, mode="nearest"), nn.Conv2d(width, width, 3, padding=1), _lrelu()]
    return nn.Sequential(*layers)


class RRDBNet(nn.Module):
    """``forward(lr) -> sr``: LR images (N, C, h, w) to (N, C, s h, s w)."""

    def __init__(self, channels: int, scale: int, width: int = 64, blocks: int = 23, growth: int = 32,
                 res_scale: float = 0.2) -> None:
        super().__init__()
        self.scale = scale
        self.head = nn.Conv2d(channels, width, 3, padding=1)
        self.body = nn.Sequential(*[RRDB(width, growth, res_scale) for _ in range(blocks)],
                                  nn.Conv2d(width, width, 3, padding=1))
        self.up = nearest_upsampler(width, scale)
        self.tail = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), _lrelu(),
                                  nn.Conv2d(width, channels, 3, padding=1))

    def forward(self, lr: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.head(lr)
        return self.tail(self.up(h + self.body(h)))


class VGGStyleDiscriminator(nn.Module):
    """``forward(hr) -> (N, 1)`` logits (see the module docstring)."""

    def __init__(self, spec: DataSpec, width: int = 64) -> None:
        super().__init__()
        channels, height, wide = spec.shape
        if height < 32 or wide < 32:
            raise ConfigError(f"the ESRGAN discriminator halves its input five times: the HR patch "
                              f"({height} x {wide}) must be at least 32 px", "data.patch_size")
        plan = [width, 2 * width, 4 * width, 8 * width, 8 * width]
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1), _lrelu()]
        c = width
        for i, out in enumerate(plan):
            if i:  # the input conv is the first stage's 3x3 conv
                layers += [nn.Conv2d(c, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), _lrelu()]
            layers += [nn.Conv2d(out, out, 4, 2, 1, bias=False), nn.BatchNorm2d(out), _lrelu()]
            c = out
        self.features = nn.Sequential(*layers)
        self.out = nn.Sequential(nn.Flatten(), nn.Linear(c * (height // 32) * (wide // 32), 100), _lrelu(),
                                 nn.Linear(100, 1))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(self.features(x))


@ARCHITECTURES.register("rrdb", options=RRDBOptions, kinds=("image",))
class RRDBArch:
    """RRDBNet generator and ESRGAN's VGG-style discriminator for HR patches of ``spec.shape``."""

    Options = RRDBOptions

    def __init__(self, spec: DataSpec, opts: RRDBOptions | None = None) -> None:
        self.spec, self.opts = spec, opts or RRDBOptions()
        if len(spec.shape) != 3:
            raise ConfigError(f"rrdb models images, not data of shape {spec.shape}", "arch")

    def generator(self, z_dim: int = 0, num_classes: int = 0, scale: int = 4) -> nn.Module:
        """RRDBNet for ``scale`` (``z_dim`` and ``num_classes`` are unused: the input is the LR image)."""
        o = self.opts
        return RRDBNet(self.spec.shape[0], scale, o.width, o.blocks, o.growth, o.res_scale)

    def discriminator(self, out_dim: int = 1, num_classes: int = 0) -> nn.Module:
        """ESRGAN's VGG-style discriminator on HR patches."""
        if out_dim != 1 or num_classes:
            raise ConfigError("the ESRGAN discriminator has one unconditional output", "arch")
        return VGGStyleDiscriminator(self.spec, self.opts.d_width)
