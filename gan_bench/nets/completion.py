"""The completion network and the global + local context discriminators of Iizuka et al. 2017
("Globally and Locally Consistent Image Completion", Table 1 and 2), sized by ``net.width`` (the
paper's first-layer channels: 64) for images of 64 px (any side divisible by 4 and >= 16 works).

Completion network (Table 1; every conv but the last followed by batch norm and ReLU):
conv 5x5 (w) - conv 3x3 s2 (2w) - conv 3x3 (2w) - conv 3x3 s2 (4w) - 2 x conv 3x3 (4w) - four
dilated conv 3x3 (4w) of dilation 2, 4, 8, 16 - 2 x conv 3x3 (4w) - deconv 4x4 s1/2 (2w) - conv
3x3 (2w) - deconv 4x4 s1/2 (w) - conv 3x3 (w/2) - conv 3x3 (C). Its input is the masked image and
the mask (C + 1 channels); its output goes through a tanh (the data's [-1, 1] scale; the paper's
sigmoid is on [0, 1]) and is composited with the known pixels: ``mask * G + (1 - mask) * input``,
so G changes the hole only. At 64 px the middle runs at 16 x 16 where a dilation beyond 8 reads
only padding, so dilations are capped at half the feature map's side (2, 4, 8, 8 at 64 px; the
paper's 2, 4, 8, 16 from 64 px maps, i.e. 256 px images, up).

Context discriminators (Table 2; conv 5x5 stride 2, batch norm, ReLU): the global one takes the
whole image down to 4 x 4 with channels w, 2w, 4w, 8w, 8w, ... then a dense layer of 16w (1024 at
w = 64); the local one does the same on the ``patch`` around the hole (32 px at 64 px, the paper's
128 of 256); their two vectors are concatenated and a dense layer gives one real/fake logit.
``D(x, mask)`` cuts the local patch from ``mask`` (:func:`gan_bench.data.masks.local_patch_corners`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from gan_bench.config import ConfigError, Range
from gan_bench.data.base import DataSpec
from gan_bench.data.masks import crop_patches, local_patch_corners
from gan_bench.registry import ARCHITECTURES

DILATIONS = (2, 4, 8, 16)  # Table 1


@dataclass
class CompletionNetOptions:
    """``net.*`` of ``completion``."""

    width: int = field(default=64, metadata=Range(2, 1024))  # first-layer channels of G and D (paper: 64)


def conv_bn_relu(cin: int, cout: int, k: int, stride: int = 1, dilation: int = 1) -> list[nn.Module]:
    """A 'same'-padded conv (k x k, stride, dilation), batch norm and ReLU."""
    pad = dilation * (k - 1) // 2
    return [nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]


def deconv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    """A 4x4 transposed conv doubling the side (the paper's stride 1/2), batch norm and ReLU."""
    return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]


class CompletionNetwork(nn.Module):
    """``forward(cond, mask) -> completed``: the masked image (hole at 0) and its (N, 1, H, W) mask
    in, the image with the hole filled out (known pixels copied from ``cond``)."""

    def __init__(self, channels: int, side: int, width: int = 64) -> None:
        super().__init__()
        w = width
        dilations = [min(d, max(1, side // 8)) for d in DILATIONS]  # the middle runs at side / 4
        layers = [*conv_bn_relu(channels + 1, w, 5), *conv_bn_relu(w, 2 * w, 3, 2), *conv_bn_relu(2 * w, 2 * w, 3),
                  *conv_bn_relu(2 * w, 4 * w, 3, 2), *conv_bn_relu(4 * w, 4 * w, 3), *conv_bn_relu(4 * w, 4 * w, 3)]
        for d in dilations:
            layers += conv_bn_relu(4 * w, 4 * w, 3, dilation=d)
        layers += [*conv_bn_relu(4 * w, 4 * w, 3), *conv_bn_relu(4 * w, 4 * w, 3),
                   *deconv_bn_relu(4 * w, 2 * w), *conv_bn_relu(2 * w, 2 * w, 3),
                   *deconv_bn_relu(2 * w, w), *conv_bn_relu(w, max(1, w // 2), 3),
                   nn.Conv2d(max(1, w // 2), channels, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.dilations = tuple(dilations)

    def raw(self, cond: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The network's output everywhere, before compositing."""
        return self.net(torch.cat([cond, mask], dim=1))

    def forward(self, cond: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return mask * self.raw(cond, mask) + (1.0 - mask) * cond


def context_branch(channels: int, side: int, width: int) -> tuple[nn.Sequential, int]:
    """conv 5x5 s2 - BN - ReLU layers from ``side`` down to 4 px (channels w, 2w, 4w, 8w, 8w, ...),
    flattened, then dense 16w - ReLU; returns the branch and its output size."""
    if side < 8 or side & (side - 1):
        raise ConfigError(f"the context discriminators need a power-of-2 side of at least 8 px, got {side}", "data")
    layers: list[nn.Module] = []
    c, s, i = channels, side, 0
    while s > 4:
        out = width * min(2**i, 8)
        layers += [nn.Conv2d(c, out, 5, 2, 2, bias=False), nn.BatchNorm2d(out), nn.ReLU(True)]
        c, s, i = out, s // 2, i + 1
    dim = 16 * width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * 4 * 4, dim), nn.ReLU(True)), dim


class ContextDiscriminator(nn.Module):
    """``forward(x, mask) -> (N, 1)`` logits: global branch on the image, local branch on the
    ``patch`` (rows, cols) around the hole, concatenated, one dense layer (Iizuka et al. Table 2)."""

    def __init__(self, channels: int, side: int, patch: tuple[int, int], width: int = 64) -> None:
        super().__init__()
        if patch[0] != patch[1]:
            raise ConfigError(f"the local patch must be square, got {patch}", "data.patch_size")
        self.patch = patch
        self.global_branch, g_dim = context_branch(channels, side, width)
        self.local_branch, l_dim = context_branch(channels, patch[0], width)
        self.out = nn.Linear(g_dim + l_dim, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        local = crop_patches(x, local_patch_corners(mask, self.patch), self.patch)
        return self.out(torch.cat([self.global_branch(x), self.local_branch(local)], dim=1))


@ARCHITECTURES.register("completion", options=CompletionNetOptions, kinds=("image",))
class CompletionArch:
    """Iizuka et al.'s completion network and global + local context discriminators."""

    Options = CompletionNetOptions

    def __init__(self, spec: DataSpec, opts: CompletionNetOptions | None = None) -> None:
        self.spec, self.opts = spec, opts or CompletionNetOptions()
        if len(spec.shape) != 3 or spec.shape[1] != spec.shape[2] or spec.shape[1] % 4 or spec.shape[1] < 16:
            raise ConfigError(f"completion models square images of a side divisible by 4 (>= 16), not {spec.shape}",
                              "arch")

    def generator(self, z_dim: int = 0, num_classes: int = 0) -> nn.Module:
        """The completion network (``z_dim`` and ``num_classes`` are unused: the input is the masked image)."""
        return CompletionNetwork(self.spec.shape[0], self.spec.shape[1], self.opts.width)

    def discriminator(self, out_dim: int = 1, num_classes: int = 0, patch: tuple[int, int] | None = None) -> nn.Module:
        """The global + local context discriminator; ``patch`` is the local patch's size (half the
        image side unless given)."""
        if out_dim != 1 or num_classes:
            raise ConfigError("the context discriminator has one unconditional output", "arch")
        side = self.spec.shape[1]
        return ContextDiscriminator(self.spec.shape[0], side, patch or (side // 2, side // 2), self.opts.width)
