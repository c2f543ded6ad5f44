"""CoGAN's coupled nets (Liu & Tuzel 2016): two DCGAN generators sharing their first layers and two
DCGAN discriminators sharing their last layers.

The layer stack is gan_bench's DCGAN (see :mod:`gan_bench.nets.dcgan`): the generator's blocks go
from z to the data's resolution, the discriminator's from the image to a score. Sharing the
generators' first blocks ties the two domains' high-level semantics (the same z gives the same digit
in both domains) while each domain keeps its own last block(s) for its low-level rendering; the
discriminators mirror that (own first block(s), shared rest), which the paper finds helps a little
and halves the discriminator's parameters. ``unshared`` equal to the number of blocks shares
nothing: two independent GANs fed the same z, the paper's no-sharing baseline (its Figure 3).
"""

from __future__ import annotations

import torch
from torch import nn

from gan_bench.data.base import DataSpec
from gan_bench.nets.dcgan import layout
from gan_bench.nets.layers import dcgan_init, image_size, norm2d


def _generator_blocks(spec: DataSpec, z_dim: int, width: int) -> list[nn.Module]:
    """DCGAN's generator as a list of blocks (deconv + BN + ReLU ..., deconv + tanh)."""
    channels, side = image_size(spec, "cogan")
    base, n = layout(side)
    ch = width * 2 ** (n - 1)
    blocks: list[nn.Module] = [nn.Sequential(nn.ConvTranspose2d(z_dim, ch, base, 1, 0, bias=False),
                                             nn.BatchNorm2d(ch), nn.ReLU(True))]
    for _ in range(n - 1):
        blocks.append(nn.Sequential(nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                                    nn.BatchNorm2d(ch // 2), nn.ReLU(True)))
        ch //= 2
    blocks.append(nn.Sequential(nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()))
    return blocks


def _discriminator_blocks(spec: DataSpec, width: int, d_norm: str) -> list[nn.Module]:
    """DCGAN's discriminator as a list of blocks, the last one the base x base scoring conv."""
    channels, side = image_size(spec, "cogan")
    base, n = layout(side)
    bias = d_norm == "none"
    blocks: list[nn.Module] = [nn.Sequential(nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True))]
    ch = width
    for _ in range(n - 1):
        blocks.append(nn.Sequential(nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=bias), norm2d(d_norm, ch * 2),
                                    nn.LeakyReLU(0.2, True)))
        ch *= 2
    blocks.append(nn.Sequential(nn.Conv2d(ch, 1, base, 1, 0), nn.Flatten(1)))
    return blocks


class CoupledGenerator(nn.Module):
    """``forward(z) -> (x_A, x_B)``: a shared trunk, then one head per domain (the last
    ``unshared`` blocks, Liu & Tuzel's "last layers decode low-level details")."""

    def __init__(self, spec: DataSpec, z_dim: int, width: int, unshared: int = 1) -> None:
        super().__init__()
        blocks = _generator_blocks(spec, z_dim, width)
        if not 1 <= unshared <= len(blocks):
            raise ValueError(f"cogan: g_unshared must be in 1..{len(blocks)} for {spec.shape} images; got {unshared}")
        self.shared = nn.Sequential(*blocks[:-unshared])
        self.head_a = nn.Sequential(*blocks[-unshared:])
        self.head_b = nn.Sequential(*_generator_blocks(spec, z_dim, width)[-unshared:])
        dcgan_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.shared(z[:, :, None, None])
        return self.head_a(h), self.head_b(h)


class CoupledDiscriminator(nn.Module):
    """``forward(x_A, x_B) -> (score_A, score_B)``: one input block stack per domain (the first
    ``unshared`` blocks), the rest shared."""

    def __init__(self, spec: DataSpec, width: int, d_norm: str, unshared: int = 1) -> None:
        super().__init__()
        blocks = _discriminator_blocks(spec, width, d_norm)
        if not 1 <= unshared <= len(blocks):
            raise ValueError(f"cogan: d_unshared must be in 1..{len(blocks)} for {spec.shape} images; got {unshared}")
        self.head_a = nn.Sequential(*blocks[:unshared])
        self.head_b = nn.Sequential(*_discriminator_blocks(spec, width, d_norm)[:unshared])
        self.shared = nn.Sequential(*blocks[unshared:])
        dcgan_init(self)

    def forward(self, x_a: torch.Tensor, x_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.shared(self.head_a(x_a)), self.shared(self.head_b(x_b))
