"""StyleGAN2's nets (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN")
at 32 and 64 px: the skip generator and the residual discriminator of config F.

G = mapping + synthesis. The mapping normalises z (and a class embedding when conditional, as in
StyleGAN2-ADA) and passes it through ``mapping_layers`` equalised-lr FC layers (lr multiplier
0.01, leaky ReLU) to w. It tracks the average ``w_avg`` as a buffer (saved with the nets) for
truncation in W. The synthesis starts from a learned 4x4 constant; every layer is a modulated
conv (style = affine(w), weights scaled per input channel, then demodulated per output channel:
paper eq. 1-3), plus per-pixel noise times a learned strength, a bias and leaky ReLU (gain
sqrt 2). Each resolution adds its toRGB (modulated 1x1, not demodulated) to the upsampled image
(the skip architecture). ``num_ws`` = 2 per resolution (+1 at 4x4 and the final toRGB) ws; style
mixing feeds different ws to different layers.
D: fromRGB, residual blocks (conv3x3, conv3x3, 2x down; 1x1 down shortcut; sum / sqrt 2), at 4x4
the minibatch standard deviation (group 4, 1 feature), conv3x3, FC and the output FC; a
projection term when conditional.

Deviations from the official code: up- and downsampling are bilinear / average pooling instead of
the [1,3,3,1] FIR filter (upfirdn2d); at evaluation (``eval()`` mode) noise is a fixed per-layer
buffer (the official ``noise_mode='const'``) and images are clamped to [-1, 1] (the official code
clips when exporting), so sampling from a fixed z does not depend on batching. Training noise
comes from the ``generator`` the variant passes (its resumable noise).

Channels: ``width`` at every resolution up to 32 px, halved at 64 px (StyleGAN2-ADA's CIFAR-10
config is width 512 at all of 4..32, two mapping layers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from gan_bench.config import Range
from gan_bench.data.base import DataSpec
from gan_bench.nets.layers import Projection, image_size, require_labels
from gan_bench.registry import ARCHITECTURES

SIDES = (32, 64)
LRELU_GAIN = math.sqrt(2.0)


@dataclass
class StyleGAN2Options:
    width: int = field(default=512, metadata=Range(1, 4096))  # channels at 4..32 px (halved at 64)
    mapping_layers: int = field(default=8, metadata=Range(1, 32))  # paper: 8; StyleGAN2-ADA CIFAR-10: 2
    w_dim: int = field(default=0, metadata=Range(0, 4096))  # 0 = width
    mbstd_group: int = field(default=4, metadata=Range(1, 256))


def channels_at(res: int, width: int) -> int:
    """Feature maps at resolution ``res``: ``width`` up to 32 px, halved beyond."""
    return width if res <= 32 else max(width * 32 // res, 1)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU (0.2) with StyleGAN's gain sqrt 2, which keeps the signal's magnitude."""
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


class EqualLinear(nn.Module):
    """A linear layer with the equalised learning rate: weights N(0, 1/lr_mul) scaled at run time
    by lr_mul / sqrt(fan_in) (Karras et al. 2018, section 4.1)."""

    def __init__(self, cin: int, cout: int, bias_init: float = 0.0, lr_mul: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin) / lr_mul)
        self.bias = nn.Parameter(torch.full((cout,), float(bias_init)))
        self.scale, self.lr_mul = lr_mul / math.sqrt(cin), lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class EqualConv2d(nn.Module):
    """A same-padded conv with the equalised learning rate."""

    def __init__(self, cin: int, cout: int, k: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.scale, self.pad = 1.0 / math.sqrt(cin * k * k), k // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.pad)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     eps: float = 1e-8) -> torch.Tensor:
    """StyleGAN2's modulated convolution (paper eq. 1-3) as one grouped conv.

    ``weight`` (O, I, k, k), ``styles`` (N, I): w'_ijk = s_i w_ijk (eq. 1); with ``demodulate``
    w''_ijk = w'_ijk / sqrt(sum_ik w'_ijk^2 + eps) (eq. 3), so unit-variance inputs give outputs of
    unit standard deviation per output channel."""
    n, cin, h, w = x.shape
    cout, _, k, _ = weight.shape
    wgt = weight.unsqueeze(0) * styles.view(n, 1, cin, 1, 1)  # (N, O, I, k, k)
    if demodulate:
        wgt = wgt * torch.rsqrt(wgt.square().sum(dim=(2, 3, 4), keepdim=True) + eps)
    out = F.conv2d(x.reshape(1, n * cin, h, w), wgt.reshape(n * cout, cin, k, k), padding=k // 2, groups=n)
    return out.view(n, cout, h, w)


class MappingNetwork(nn.Module):
    """z (+ class embedding) -> w through ``layers`` FC layers with lr multiplier 0.01; tracks
    ``w_avg``, the moving average of w used for truncation."""

    def __init__(self, z_dim: int, w_dim: int, layers: int, num_classes: int = 0, lr_mul: float = 0.01) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.embed = EqualLinear(num_classes, w_dim) if num_classes else None
        dims = [z_dim + (w_dim if num_classes else 0)] + [w_dim] * layers
        self.fcs = nn.ModuleList(EqualLinear(a, b, lr_mul=lr_mul) for a, b in zip(dims[:-1], dims[1:]))
        self.register_buffer("w_avg", torch.zeros(w_dim))

    @staticmethod
    def _normalize(x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self._normalize(z)
        if self.embed is not None:
            code = F.one_hot(require_labels(y, self.num_classes, "generator"), self.num_classes).to(z.dtype)
            h = torch.cat([h, self._normalize(self.embed(code))], dim=1)
        for fc in self.fcs:
            h = lrelu(fc(h))
        return h

    @torch.no_grad()
    def track(self, w: torch.Tensor, beta: float = 0.995) -> None:
        """Move ``w_avg`` towards the batch mean of ``w`` (the official w_avg_beta 0.995)."""
        self.w_avg.copy_(w.detach().float().mean(0).lerp(self.w_avg, beta))


class StyleLayer(nn.Module):
    """Modulated 3x3 conv (optionally after a 2x upsampling), noise, bias, leaky ReLU."""

    def __init__(self, cin: int, cout: int, w_dim: int, res: int, up: bool) -> None:
        super().__init__()
        self.up, self.res = up, res
        self.affine = EqualLinear(w_dim, cin, bias_init=1.0)  # styles start at 1
        self.weight = nn.Parameter(torch.randn(cout, cin, 3, 3))
        self.scale = 1.0 / math.sqrt(cin * 9)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.register_buffer("noise_const", torch.randn(res, res))

    def forward(self, x: torch.Tensor, w: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = modulated_conv2d(x, self.weight * self.scale, self.affine(w))
        if self.training and generator is not None:
            noise = torch.randn(x.shape[0], 1, self.res, self.res, generator=generator, device=generator.device)
            noise = noise.to(x.device, x.dtype)
        else:
            noise = self.noise_const.to(x.dtype)
        x = x + noise * self.noise_strength
        return lrelu(x + self.bias.view(1, -1, 1, 1))


class ToRGB(nn.Module):
    """Modulated 1x1 conv to the image's channels, without demodulation, plus a bias."""

    def __init__(self, cin: int, channels: int, w_dim: int) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, cin, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(channels, cin, 1, 1))
        self.scale = 1.0 / math.sqrt(cin)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        out = modulated_conv2d(x, self.weight, self.affine(w) * self.scale, demodulate=False)
        return out + self.bias.view(1, -1, 1, 1)


class SynthesisNetwork(nn.Module):
    """Learned constant -> modulated layers per resolution, toRGB outputs summed (skip)."""

    def __init__(self, side: int, channels: int, w_dim: int, width: int) -> None:
        super().__init__()
        c4 = channels_at(4, width)
        self.const = nn.Parameter(torch.randn(c4, 4, 4))
        self.layers = nn.ModuleList([StyleLayer(c4, c4, w_dim, 4, up=False)])
        self.torgb = nn.ModuleList([ToRGB(c4, channels, w_dim)])
        res, cin = 4, c4
        while res < side:
            res *= 2
            cout = channels_at(res, width)
            self.layers.extend([StyleLayer(cin, cout, w_dim, res, up=True), StyleLayer(cout, cout, w_dim, res, up=False)])
            self.torgb.append(ToRGB(cout, channels, w_dim))
            cin = cout
        # layer i reads ws[:, i]; toRGB at a resolution reads the ws index after its last layer
        self.num_ws = len(self.layers) + 1

    def forward(self, ws: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
        x = self.layers[0](x, ws[:, 0], generator)
        img = self.torgb[0](x, ws[:, 1])
        for r, rgb in enumerate(self.torgb[1:]):
            i = 1 + 2 * r
            x = self.layers[i](x, ws[:, i], generator)
            x = self.layers[i + 1](x, ws[:, i + 1], generator)
            img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False) + rgb(x, ws[:, i + 2])
        return img


class StyleGAN2Generator(nn.Module):
    """``forward(z, y)``: images; the variant drives ``mapping`` and ``synthesis`` itself for style
    mixing, path-length regularisation and truncation (``truncation_psi``)."""

    def __init__(self, spec: DataSpec, z_dim: int, opts: StyleGAN2Options, num_classes: int = 0) -> None:
        super().__init__()
        channels, side = image_size(spec, "stylegan2")
        w_dim = opts.w_dim or opts.width
        self.z_dim, self.w_dim, self.num_classes = z_dim, w_dim, num_classes
        self.mapping = MappingNetwork(z_dim, w_dim, opts.mapping_layers, num_classes)
        self.synthesis = SynthesisNetwork(side, channels, w_dim, opts.width)
        self.num_ws = self.synthesis.num_ws

    def truncate(self, w: torch.Tensor, psi: float) -> torch.Tensor:
        """w_avg + psi (w - w_avg): psi 1 is no truncation, 0 the average w."""
        return self.mapping.w_avg.to(w.dtype).lerp(w, psi) if psi != 1.0 else w

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, truncation_psi: float = 1.0,
                generator: torch.Generator | None = None) -> torch.Tensor:
        w = self.truncate(self.mapping(z, y), truncation_psi)
        img = self.synthesis(w.unsqueeze(1).expand(-1, self.num_ws, -1), generator)
        return img if self.training else img.clamp(-1.0, 1.0)


class DBlock(nn.Module):
    """conv3x3 lrelu, conv3x3 lrelu, 2x down; shortcut 1x1 down; sum / sqrt 2 (the resnet D)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.c1, self.c2 = EqualConv2d(cin, cin, 3), EqualConv2d(cin, cout, 3)
        self.sc = EqualConv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.avg_pool2d(lrelu(self.c2(lrelu(self.c1(x)))), 2)
        return (h + self.sc(F.avg_pool2d(x, 2))) / math.sqrt(2.0)


def minibatch_stddev(x: torch.Tensor, group: int) -> torch.Tensor:
    """Appends one feature map: the std over groups of ``group`` examples, averaged over features
    and positions (Karras et al. 2018, section 3); the group shrinks to a divisor of the batch."""
    n, c, h, w = x.shape
    g = min(group, n)
    while n % g:
        g -= 1
    y = x.view(g, n // g, c, h, w)
    std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (N/g,)
    std = std.view(1, n // g, 1, 1, 1).expand(g, -1, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, std], dim=1)


class StyleGAN2Discriminator(nn.Module):
    def __init__(self, spec: DataSpec, opts: StyleGAN2Options, out_dim: int = 1, num_classes: int = 0) -> None:
        super().__init__()
        channels, side = image_size(spec, "stylegan2")
        self.group = opts.mbstd_group
        self.from_rgb = EqualConv2d(channels, channels_at(side, opts.width), 1)
        blocks, res = [], side
        while res > 4:
            blocks.append(DBlock(channels_at(res, opts.width), channels_at(res // 2, opts.width)))
            res //= 2
        self.features = nn.Sequential(*blocks)
        c4 = channels_at(4, opts.width)
        self.conv = EqualConv2d(c4 + 1, c4, 3)
        self.fc = EqualLinear(c4 * 16, c4)
        self.out = EqualLinear(c4, out_dim)
        self.proj = Projection(num_classes, c4, out_dim) if num_classes else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(lrelu(self.from_rgb(x)))
        h = lrelu(self.conv(minibatch_stddev(h, self.group)))
        h = lrelu(self.fc(h.flatten(1)))
        out = self.out(h)
        if self.proj is not None:
            out = out + self.proj(h, y) / math.sqrt(h.shape[1])  # StyleGAN2-ADA's normalised projection
        return out


@ARCHITECTURES.register("stylegan2", options=StyleGAN2Options, kinds=("image",), sizes=SIDES)
class StyleGAN2:
    """StyleGAN2's mapping + skip synthesis G (modulated convs, noise) and residual D (mbstd)."""

    Options = StyleGAN2Options

    def __init__(self, spec: DataSpec, opts: StyleGAN2Options | None = None) -> None:
        self.spec, self.opts = spec, opts or StyleGAN2Options()
        side = image_size(spec, "stylegan2")[1]
        if side not in SIDES:
            raise ValueError(f"stylegan2 supports {' and '.join(map(str, SIDES))} px images; got {side} "
                             "(set data.image_size)")

    def generator(self, z_dim: int, num_classes: int = 0) -> nn.Module:
        return StyleGAN2Generator(self.spec, z_dim, self.opts, num_classes)

    def discriminator(self, out_dim: int = 1, num_classes: int = 0) -> nn.Module:
        return StyleGAN2Discriminator(self.spec, self.opts, out_dim, num_classes)
