"""CycleGAN's nets (Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks", appendix 7.2; Johnson et al. 2016's generator).

Generator, in the paper's notation: ``c7s1-k`` (7x7 conv, stride 1, k filters, instance norm,
ReLU, reflection padding), ``d2k`` and ``d4k`` (3x3 conv, stride 2, instance norm, ReLU), ``n``
residual blocks ``R4k`` (two 3x3 convs of 4k filters, reflection padding, instance norm, ReLU
between them, plus the input), ``u2k`` and ``uk`` (3x3 fractionally strided conv, stride 1/2,
instance norm, ReLU) and ``c7s1-3`` (7x7 conv to the image's channels, tanh). The paper uses
k = 64, 6 blocks for 128 px and 9 for 256 px; ``net.blocks`` defaults to 6 (64 px images here).

Discriminator: the 70 x 70 PatchGAN of :mod:`gan_bench.nets.unet` on the image alone, with
instance norm (``net.norm``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from gan_bench.config import Choice, ConfigError, Range
from gan_bench.data.base import DataSpec
from gan_bench.nets.unet import PatchGAN, init_weights, norm_layer
from gan_bench.registry import ARCHITECTURES


@dataclass
class CycleGANOptions:
    """``net.*`` of ``cyclegan-resnet``."""

    width: int = field(default=64, metadata=Range(1, 1024))  # k of c7s1-k (64)
    blocks: int = field(default=6, metadata=Range(0, 64))  # residual blocks (6 at 128 px, 9 at 256 px)
    d_width: int = field(default=64, metadata=Range(1, 1024))
    d_layers: int = field(default=3, metadata=Range(1, 6))  # 3 = the 70 x 70 PatchGAN
    norm: str = field(default="instance", metadata=Choice("instance", "batch"))


class ResnetBlock(nn.Module):
    """R: reflection pad - 3x3 conv - norm - ReLU - reflection pad - 3x3 conv - norm, plus the input."""

    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        bias = norm == "instance"
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), norm_layer(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """c7s1-k, d2k, d4k, n x R4k, u2k, uk, c7s1-C (the module docstring)."""

    def __init__(self, in_channels: int, out_channels: int, width: int = 64, blocks: int = 6,
                 norm: str = "instance") -> None:
        super().__init__()
        k, bias = width, norm == "instance"
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, k, 7, bias=bias), norm_layer(norm, k),
                                   nn.ReLU(True)]
        for mult in (1, 2):  # d2k, d4k
            layers += [nn.Conv2d(k * mult, k * mult * 2, 3, stride=2, padding=1, bias=bias),
                       norm_layer(norm, k * mult * 2), nn.ReLU(True)]
        layers += [ResnetBlock(4 * k, norm) for _ in range(blocks)]
        for mult in (4, 2):  # u2k, uk
            layers += [nn.ConvTranspose2d(k * mult, k * mult // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                       norm_layer(norm, k * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(k, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x)


@ARCHITECTURES.register("cyclegan-resnet", options=CycleGANOptions, kinds=("image",))
class CycleGANArch:
    """CycleGAN's ResNet generator and PatchGAN discriminator for images of ``spec.shape``."""

    Options = CycleGANOptions

    def __init__(self, spec: DataSpec, opts: CycleGANOptions | None = None) -> None:
        self.spec, self.opts = spec, opts or CycleGANOptions()
        if len(spec.shape) != 3 or spec.shape[1] % 4 or spec.shape[2] % 4:
            raise ConfigError(f"cyclegan-resnet models images whose sides are multiples of 4, not {spec.shape}", "arch")

    def generator(self, z_dim: int = 0, num_classes: int = 0) -> nn.Module:
        """A ResNet generator between two domains of the data's shape (``z_dim``, ``num_classes`` unused)."""
        o, c = self.opts, self.spec.shape[0]
        return ResnetGenerator(c, c, o.width, o.blocks, o.norm)

    def discriminator(self, out_dim: int = 1, num_classes: int = 0, in_channels: int = 0) -> nn.Module:
        """The PatchGAN on one domain's images."""
        if out_dim != 1 or num_classes:
            raise ConfigError("the PatchGAN has one unconditional output per patch", "arch")
        o = self.opts
        return PatchGAN(in_channels or self.spec.shape[0], o.d_width, o.d_layers, o.norm)
