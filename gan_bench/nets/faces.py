"""Age-cGAN's nets (Antipov, Baccouche & Dugelay 2017): DCGAN nets conditioned the IcGAN way.

Antipov et al. take DCGAN's generator and discriminator (Radford et al. 2016) and condition them
as Perarnau et al.'s IcGAN does (section 2.1 of both papers):

- G(z, y): the one-hot age group y (6-d) is concatenated to z (100-d) at the generator's input;
- D(x, y): y enters after D's first convolution, as K constant feature maps concatenated to its
  output, so the first layer sees only the image and every later layer sees the label.

With ``num_classes=0`` the nets are plain DCGAN nets; an unconditional ``discriminator(out_dim=
z_dim)`` is Age-cGAN's encoder E (image -> latent vector). Sizes as in :mod:`gan_bench.nets.dcgan`
(28, 32, 64 px, ...: a base x base map doubled n times).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from gan_bench.data.base import DataSpec
from gan_bench.nets.dcgan import DCGAN, DCGANOptions, layout
from gan_bench.nets.layers import dcgan_init, image_size, norm2d, require_labels
from gan_bench.registry import ARCHITECTURES


def label_maps(y: torch.Tensor, num_classes: int, like: torch.Tensor) -> torch.Tensor:
    """One-hot ``y`` as ``num_classes`` constant maps of ``like``'s height and width and dtype."""
    code = F.one_hot(y.long(), num_classes).to(like.dtype)
    return code[:, :, None, None].expand(-1, -1, like.shape[2], like.shape[3])


class FacesGenerator(nn.Module):
    """G(z, y): DCGAN's generator on [z, onehot(y)]."""

    def __init__(self, spec: DataSpec, z_dim: int, width: int, num_classes: int = 0) -> None:
        super().__init__()
        channels, side = image_size(spec, "faces-dcgan")
        base, n = layout(side)
        self.num_classes = num_classes
        ch = width * 2 ** (n - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim + num_classes, ch, base, 1, 0, bias=False),
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
        if self.num_classes:
            code = F.one_hot(require_labels(y, self.num_classes, "generator"), self.num_classes).to(z.dtype)
            z = torch.cat([z, code], dim=1)
        return self.net(z[:, :, None, None])


class FacesDiscriminator(nn.Module):
    """D(x, y): DCGAN's discriminator with onehot(y) maps concatenated after its first conv."""

    def __init__(self, spec: DataSpec, width: int, d_norm: str, out_dim: int = 1, num_classes: int = 0) -> None:
        super().__init__()
        channels, side = image_size(spec, "faces-dcgan")
        base, n = layout(side)
        self.num_classes = num_classes
        bias = d_norm == "none"  # a bias before BN/LN is cancelled by their shift
        self.first = nn.Sequential(nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True))
        layers: list[nn.Module] = []
        ch, in_ch = width, width + num_classes
        for _ in range(n - 1):
            layers += [nn.Conv2d(in_ch, ch * 2, 4, 2, 1, bias=bias), norm2d(d_norm, ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
            in_ch = ch
        self.rest = nn.Sequential(*layers)
        self.out = nn.Conv2d(in_ch, out_dim, base, 1, 0)  # a linear layer over the base x base map
        dcgan_init(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.first(x)
        if self.num_classes:
            h = torch.cat([h, label_maps(require_labels(y, self.num_classes, "discriminator"), self.num_classes, h)],
                          dim=1)
        return self.out(self.rest(h)).flatten(1)


@ARCHITECTURES.register("faces-dcgan", options=DCGANOptions, kinds=("image",), sizes=(28, 32, 64))
class FacesDCGAN(DCGAN):
    """DCGAN (same options and layout) conditioned as in Age-cGAN / IcGAN: the label at G's input
    and at D's first feature maps."""

    def generator(self, z_dim: int, num_classes: int = 0) -> nn.Module:
        return FacesGenerator(self.spec, z_dim, self.opts.width, num_classes)

    def discriminator(self, out_dim: int = 1, num_classes: int = 0) -> nn.Module:
        return FacesDiscriminator(self.spec, self.opts.width, self.opts.d_norm, out_dim, num_classes)
