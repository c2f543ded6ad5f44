"""Nets of the multi-stage variants: LAPGAN's pyramid levels and StackGAN's two stages.

LAPGAN (Denton et al. 2015, section 4, CIFAR-10): the coarsest level is fully connected
(:class:`DenseGenerator`, :class:`DenseDiscriminator`); every finer level is a small convnet that
generates a band-pass residual from the upsampled coarser image plus a noise plane
(:class:`ResidualGenerator`) and a convnet that scores a residual together with its low-pass
condition (:class:`ResidualDiscriminator`).

StackGAN (Zhang et al. 2017, section 3 and figure 2): conditioning augmentation
(:class:`ConditioningAugmentation`), a stage-I generator from (c, z) at low resolution
(:class:`StageOneGenerator`), a stage-II generator that encodes stage I's image, joins c, refines
with residual blocks and upsamples (:class:`StageTwoGenerator`), and matching-aware discriminators
that join a compressed embedding to the image features (:class:`MatchingDiscriminator`).
"""

from __future__ import annotations

import torch
from torch import nn

from gan_bench.nets.layers import dcgan_init

# --------------------------------------------------------------------------- LAPGAN levels


class DenseGenerator(nn.Module):
    """z -> a (C, H, W) image in [-1, 1] through two ReLU layers (LAPGAN's 8x8 level: 1200 units)."""

    def __init__(self, z_dim: int, shape: tuple[int, int, int], hidden: int) -> None:
        super().__init__()
        self.shape = shape
        numel = shape[0] * shape[1] * shape[2]
        self.net = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(True), nn.Linear(hidden, hidden), nn.ReLU(True),
                                 nn.Linear(hidden, numel), nn.Tanh())
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.shape)


class DenseDiscriminator(nn.Module):
    """A (C, H, W) image -> one score through two LeakyReLU layers (LAPGAN's 8x8 level: 600 units)."""

    def __init__(self, shape: tuple[int, int, int], hidden: int) -> None:
        super().__init__()
        numel = shape[0] * shape[1] * shape[2]
        self.net = nn.Sequential(nn.Flatten(1), nn.Linear(numel, hidden), nn.LeakyReLU(0.2, True),
                                 nn.Linear(hidden, hidden), nn.LeakyReLU(0.2, True), nn.Linear(hidden, 1))
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ResidualGenerator(nn.Module):
    """(low-pass condition l, noise code z) -> band-pass residual h of l's resolution.

    The noise enters as one extra input plane, as in the paper; it is a learned linear map of a
    small code so that a sample stays a deterministic function of the evaluation's fixed z. The
    output is linear: residuals are signed and not bounded by [-1, 1]."""

    def __init__(self, channels: int, side: int, noise_dim: int, width: int) -> None:
        super().__init__()
        self.side = side
        self.noise = nn.Linear(noise_dim, side * side)
        self.net = nn.Sequential(
            nn.Conv2d(channels + 1, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True),
            nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True),
            nn.Conv2d(width, channels, 3, 1, 1),
        )
        dcgan_init(self)

    def forward(self, low: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        plane = self.noise(z).view(z.shape[0], 1, self.side, self.side)
        return self.net(torch.cat([low, plane], dim=1))


class ResidualDiscriminator(nn.Module):
    """(residual h, low-pass condition l) -> one score: two stride-2 convs and a linear layer."""

    def __init__(self, channels: int, side: int, width: int) -> None:
        super().__init__()
        s = side // 2 // 2  # two 4x4 stride-2 convs with padding 1 floor-halve the side twice
        self.net = nn.Sequential(
            nn.Conv2d(2 * channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Flatten(1), nn.Linear(2 * width * s * s, 1),
        )
        dcgan_init(self)

    def forward(self, residual: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([residual, low], dim=1))


# --------------------------------------------------------------------------- StackGAN stages


class ConditioningAugmentation(nn.Module):
    """phi -> (c, mu, logvar) with c = mu + exp(logvar / 2) * eps (Zhang et al. 2017, section 3.1):
    a fully connected layer gives mu and log sigma^2 of N(mu(phi), Sigma(phi)); ``eps`` is passed in
    so that the variant controls the randomness."""

    def __init__(self, embed_dim: int, c_dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(embed_dim, 2 * c_dim)
        self.act = nn.LeakyReLU(0.2, True)

    def forward(self, phi: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.act(self.fc(phi)).chunk(2, dim=1)
        return mu + torch.exp(0.5 * logvar) * eps, mu, logvar


def _up(cin: int, cout: int) -> nn.Sequential:
    """StackGAN's upsampling block: nearest x2, 3x3 conv, BN, ReLU."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, 1, 1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(True))


class StageOneGenerator(nn.Module):
    """(phi, eps, z) -> a (C, side, side) image: CA, then a fully connected layer to a side/4 map
    (side/2 when side is not divisible by 4, e.g. 14 px for MNIST) and upsampling blocks halving
    the channels down to ``width``."""

    def __init__(self, channels: int, side: int, embed_dim: int, c_dim: int, z_dim: int, width: int) -> None:
        super().__init__()
        ups = 2 if side % 4 == 0 else 1 if side % 2 == 0 else 0
        if ups == 0 or side // 2**ups < 3:
            raise ValueError(f"stackgan: stage I side must be even and at least 6; got {side}")
        self.ca = ConditioningAugmentation(embed_dim, c_dim)
        self.base, self.ch = side // 2**ups, width * 2**ups
        self.fc = nn.Sequential(nn.Linear(c_dim + z_dim, self.ch * self.base**2, bias=False),
                                nn.BatchNorm1d(self.ch * self.base**2), nn.ReLU(True))
        blocks = [_up(width * 2 ** (ups - i), width * 2 ** (ups - i - 1)) for i in range(ups)]
        self.up = nn.Sequential(*blocks, nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh())
        dcgan_init(self)

    def forward(self, phi: torch.Tensor, eps: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c, mu, logvar = self.ca(phi, eps)
        h = self.fc(torch.cat([c, z], dim=1)).view(z.shape[0], self.ch, self.base, self.base)
        return self.up(h), mu, logvar


class ResBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus identity, then ReLU (StackGAN's stage-II residual block)."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True),
                                  nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch))
        self.act = nn.ReLU(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class StageTwoGenerator(nn.Module):
    """(stage-I image, phi, eps) -> an image of twice its side: a down-sampling encoder (one stride-2
    conv), c replicated spatially and joined, residual blocks, and two upsampling blocks."""

    def __init__(self, channels: int, embed_dim: int, c_dim: int, width: int, res_blocks: int = 2) -> None:
        super().__init__()
        self.ca = ConditioningAugmentation(embed_dim, c_dim)
        self.encode = nn.Sequential(nn.Conv2d(channels, width, 3, 1, 1), nn.ReLU(True),
                                    nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width),
                                    nn.ReLU(True))
        self.join = nn.Sequential(nn.Conv2d(2 * width + c_dim, 2 * width, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(2 * width), nn.ReLU(True))
        self.residual = nn.Sequential(*[ResBlock(2 * width) for _ in range(res_blocks)])
        self.up = nn.Sequential(_up(2 * width, width), _up(width, width), nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh())
        dcgan_init(self)

    def forward(self, low: torch.Tensor, phi: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c, mu, logvar = self.ca(phi, eps)
        h = self.encode(low)
        h = self.join(torch.cat([h, c[:, :, None, None].expand(-1, -1, *h.shape[2:])], dim=1))
        return self.up(self.residual(h)), mu, logvar


class MatchingDiscriminator(nn.Module):
    """(image, phi) -> one logit: stride-2 convs down to a small map, the compressed embedding
    replicated over it and joined, a 1x1 conv and a conv over the whole map (StackGAN's D, after
    Reed et al. 2016's matching-aware discriminator)."""

    def __init__(self, channels: int, side: int, embed_dim: int, width: int, cond_dim: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        ch, s = width, side // 2
        while s > 4 and s % 2 == 0:  # down to 4x4 (or the last odd side: 7 for 28 px)
            layers += [nn.Conv2d(ch, 2 * ch, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ch), nn.LeakyReLU(0.2, True)]
            ch, s = 2 * ch, s // 2
        self.features = nn.Sequential(*layers)
        self.compress = nn.Sequential(nn.Linear(embed_dim, cond_dim), nn.LeakyReLU(0.2, True))
        self.joint = nn.Sequential(nn.Conv2d(ch + cond_dim, ch, 1, 1, 0, bias=False), nn.BatchNorm2d(ch),
                                   nn.LeakyReLU(0.2, True), nn.Conv2d(ch, 1, s, 1, 0), nn.Flatten(1))
        dcgan_init(self)

    def forward(self, x: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        e = self.compress(phi)[:, :, None, None].expand(-1, -1, *h.shape[2:])
        return self.joint(torch.cat([h, e], dim=1))
