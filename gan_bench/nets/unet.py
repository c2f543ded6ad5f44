"""pix2pix's nets (Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial
Networks", appendix 6.1.1): a U-Net generator and a PatchGAN discriminator.

Generator: an encoder-decoder with skip connections between mirrored layers, down to 1 x 1. Every
layer is a 4x4 convolution of stride 2; ``Ck`` = conv - norm - (leaky) ReLU with k filters. The
encoder is C64-C128-C256-C512-C512-... (no norm in the first and the innermost layer, leaky ReLU
0.2), the decoder its mirror image (transposed convolutions, ReLU, each taking the previous output
concatenated with the encoder's layer of its size) ending in a tanh. Dropout 0.5 in the first three
decoder layers is the only noise (no z, section 2.2): it stays on at test time, so its masks are
drawn from the generator the caller passes (the variant's resumable noise in training, a seeded
one when sampling). 256 px images take 8 levels; a 64 px image takes log2(64) = 6 (C64 ... C512,
C512 at 1 x 1). ``net.width`` is the first layer's width (64), capped at 8x as in the paper.

Discriminator (PatchGAN): C64-C128-C256-C512 then a 1-channel convolution, 4x4 kernels, stride 2
in the first three and 1 in the last two, no norm in the first, leaky ReLU 0.2: each output
scores a 70 x 70 patch of its input (``net.d_layers=3``; 2 gives 34 x 34, 1 gives 16 x 16). At 64
px one 70 x 70 patch covers the whole image: ``net.d_layers=2`` keeps the paper's patch-to-image
ratio better. pix2pix's D sees the (input, output) pair, channels concatenated; CycleGAN's the
image alone (``in_channels``).

Weights start from N(0, 0.02) (norm scales N(1, 0.02)), as the authors' code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from gan_bench.config import Choice, ConfigError, Range
from gan_bench.data.base import DataSpec
from gan_bench.registry import ARCHITECTURES


@dataclass
class UNetOptions:
    """``net.*`` of ``unet``."""

    width: int = field(default=64, metadata=Range(1, 1024))  # G's first layer (64)
    d_width: int = field(default=64, metadata=Range(1, 1024))  # D's first layer (64)
    d_layers: int = field(default=3, metadata=Range(1, 6))  # 3 = the 70 x 70 PatchGAN
    dropout: float = field(default=0.5, metadata=Range(0.0, 0.99))  # in the first 3 decoder layers
    dropout_layers: int = field(default=3, metadata=Range(0, 16))
    norm: str = field(default="batch", metadata=Choice("batch", "instance"))


def norm_layer(kind: str, channels: int) -> nn.Module:
    """Batch norm, or instance norm without affine parameters or running statistics (the authors'
    ``--norm instance``)."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return nn.BatchNorm2d(channels)


def init_weights(module: nn.Module, std: float = 0.02) -> nn.Module:
    """The authors' ``init_type=normal``: conv weights N(0, std), biases 0, norm scales N(1, std)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return module


def dropout(x: torch.Tensor, p: float, generator: torch.Generator | None) -> torch.Tensor:
    """Inverted dropout with masks from ``generator`` (the global RNG when None), in train and
    eval mode alike: pix2pix's noise."""
    if p <= 0:
        return x
    keep = torch.rand(x.shape, generator=generator, device=x.device, dtype=torch.float32) >= p
    return x * keep.to(x.dtype) / (1.0 - p)


class UNetGenerator(nn.Module):
    """The U-Net of the module docstring: ``G(x, generator) -> y`` for ``size`` x ``size`` images."""

    def __init__(self, in_channels: int, out_channels: int, size: int, width: int = 64, p: float = 0.5,
                 dropout_layers: int = 3, norm: str = "batch") -> None:
        super().__init__()
        depth = int(round(math.log2(size)))
        if 2**depth != size or depth < 2:
            raise ConfigError(f"the U-Net needs a power-of-two image size of at least 4, not {size}", "net")
        chans = [min(width * 2**i, width * 8) for i in range(depth)]
        use_bias = norm == "instance"  # batch norm has its own shift
        self.down = nn.ModuleList()
        for i in range(depth):
            cin = in_channels if i == 0 else chans[i - 1]
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2, True)]
            layers.append(nn.Conv2d(cin, chans[i], 4, 2, 1, bias=use_bias or i in (0, depth - 1)))
            if 0 < i < depth - 1:
                layers.append(norm_layer(norm, chans[i]))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()
        for i in reversed(range(depth)):  # innermost first
            cin = chans[i] if i == depth - 1 else 2 * chans[i]
            if i == 0:
                self.up.append(nn.Sequential(nn.ReLU(True), nn.ConvTranspose2d(cin, out_channels, 4, 2, 1), nn.Tanh()))
            else:
                self.up.append(nn.Sequential(nn.ReLU(True), nn.ConvTranspose2d(cin, chans[i - 1], 4, 2, 1, bias=use_bias),
                                             norm_layer(norm, chans[i - 1])))
        self.p = p
        self.dropout_layers = min(dropout_layers, depth - 1)  # never on the output layer
        init_weights(self)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        skips.pop()  # the innermost output feeds the decoder directly
        for j, layer in enumerate(self.up):
            x = layer(x)
            if j < self.dropout_layers:
                x = dropout(x, self.p, generator)
            if skips:
                x = torch.cat([x, skips.pop()], 1)
        return x


class PatchGAN(nn.Module):
    """The PatchGAN of the module docstring: ``D(x) -> (N, 1, h, w)`` raw patch scores."""

    def __init__(self, in_channels: int, width: int = 64, layers: int = 3, norm: str = "batch") -> None:
        super().__init__()
        use_bias = norm == "instance"
        seq: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch = width
        for n in range(1, layers + 1):
            out = width * min(2**n, 8)
            stride = 2 if n < layers else 1
            seq += [nn.Conv2d(ch, out, 4, stride, 1, bias=use_bias), norm_layer(norm, out), nn.LeakyReLU(0.2, True)]
            ch = out
        seq.append(nn.Conv2d(ch, 1, 4, 1, 1))
        self.net = nn.Sequential(*seq)
        init_weights(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x)

    @staticmethod
    def receptive_field(layers: int) -> int:
        """The side of the input patch one output sees (70 for three layers)."""
        strides = [2] * layers + [1, 1]
        rf = 1
        for s in reversed(strides):
            rf = (rf - 1) * s + 4
        return rf


@ARCHITECTURES.register("unet", options=UNetOptions, kinds=("image",))
class UNetArch:
    """pix2pix's U-Net generator and PatchGAN discriminator for images of ``spec.shape``."""

    Options = UNetOptions

    def __init__(self, spec: DataSpec, opts: UNetOptions | None = None) -> None:
        self.spec, self.opts = spec, opts or UNetOptions()
        if len(spec.shape) != 3 or spec.shape[1] != spec.shape[2]:
            raise ConfigError(f"unet models square images, not data of shape {spec.shape}", "arch")

    def generator(self, z_dim: int = 0, num_classes: int = 0) -> nn.Module:
        """The U-Net from the input image to an image of the same shape (``z_dim`` and
        ``num_classes`` are unused: dropout is the noise)."""
        o, (c, s, _) = self.opts, self.spec.shape
        return UNetGenerator(c, c, s, o.width, o.dropout, o.dropout_layers, o.norm)

    def discriminator(self, out_dim: int = 1, num_classes: int = 0, in_channels: int = 0) -> nn.Module:
        """The PatchGAN on ``in_channels`` (default: the image's channels; pix2pix gives twice that)."""
        if out_dim != 1 or num_classes:
            raise ConfigError("the PatchGAN has one unconditional output per patch", "arch")
        o = self.opts
        return PatchGAN(in_channels or self.spec.shape[0], o.d_width, o.d_layers, o.norm)
