"""BigGAN's residual nets (Brock et al. 2019) at 32 and 64 px, after BigGAN-PyTorch's ``arch``
tables and StudioGAN's CIFAR-10 configuration.

G: a shared class embedding (``shared_dim``) and a hierarchical latent: z is split into one chunk
per block plus one for the input linear layer (4x4), and each block's conditional batch norm reads
``[shared(y), z_chunk]`` through linear maps to its per-channel gains (1 + .) and biases. Blocks
are BN ReLU up conv3x3 BN ReLU conv3x3 with an upsampled 1x1 shortcut; then BN ReLU conv3x3 tanh.
D: pre-activation residual blocks (the first starts with its conv), ReLU, global sum pooling, a
linear score plus the projection term ``<embed(y), h>`` (Miyato & Koyama 2018).
Spectral norm on every conv, linear and embedding of G and D; self-attention (SAGAN, Zhang et al.
2019) at 16x16 for 32 px and 32x32 for 64 px; orthogonal initialisation (BigGAN section 3).

Channels are ``width`` times BigGAN-PyTorch's multipliers: 32 px G 4,4,4 (-> 4x4 .. 32x32),
D 4,4,4,4 (downsampling in the first two blocks); 64 px G 16,8,4,2, D 1,2,4,8,16.
Unconditional nets (``num_classes`` 0) condition the batch norms on the z chunks alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from gan_bench.config import Range
from gan_bench.data.base import DataSpec
from gan_bench.nets.layers import image_size, maybe_sn, require_labels
from gan_bench.registry import ARCHITECTURES

SIDES = (32, 64)
# (G channel multipliers from the 4x4 input on, D output multipliers, D downsampling, attention side)
LAYOUT = {
    32: ((4, 4, 4, 4), (4, 4, 4, 4), (True, True, False, False), 16),
    64: ((16, 16, 8, 4, 2), (1, 2, 4, 8, 16), (True, True, True, True, False), 32),
}


@dataclass
class BigGANOptions:
    width: int = field(default=64, metadata=Range(1, 4096))  # BigGAN's ``ch`` (G_ch = D_ch)
    shared_dim: int = field(default=128, metadata=Range(0, 4096))  # 0: no shared class embedding
    attention: bool = True  # a self-attention block in G and D
    spectral_norm: bool = True  # in G and D (BigGAN applies it to both)


def ortho_init(module: nn.Module) -> None:
    """BigGAN's orthogonal initialisation of every conv, linear and embedding weight (before
    spectral norm is attached: the parametrisation keeps the stored weight as its original)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            nn.init.orthogonal_(m.weight)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)


def _sn(module: nn.Module, sn: bool) -> nn.Module:
    ortho_init(module)
    return maybe_sn(module, sn)


def conv(cin: int, cout: int, k: int, sn: bool) -> nn.Module:
    return _sn(nn.Conv2d(cin, cout, k, 1, k // 2), sn)


def linear(cin: int, cout: int, sn: bool, bias: bool = True) -> nn.Module:
    return _sn(nn.Linear(cin, cout, bias=bias), sn)


class SelfAttention(nn.Module):
    """SAGAN's non-local block as BigGAN uses it: theta (C/8), pooled phi (C/8) and g (C/2),
    softmax over the pooled positions, a 1x1 output conv and a gate ``gamma`` that starts at 0."""

    def __init__(self, channels: int, sn: bool) -> None:
        super().__init__()
        self.c = channels
        self.theta = _sn(nn.Conv2d(channels, max(channels // 8, 1), 1, bias=False), sn)
        self.phi = _sn(nn.Conv2d(channels, max(channels // 8, 1), 1, bias=False), sn)
        self.g = _sn(nn.Conv2d(channels, max(channels // 2, 1), 1, bias=False), sn)
        self.o = _sn(nn.Conv2d(max(channels // 2, 1), channels, 1, bias=False), sn)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        theta = self.theta(x).flatten(2)  # (N, C/8, HW)
        phi = F.max_pool2d(self.phi(x), 2).flatten(2)  # (N, C/8, HW/4)
        g = F.max_pool2d(self.g(x), 2).flatten(2)  # (N, C/2, HW/4)
        beta = torch.softmax(theta.transpose(1, 2) @ phi, dim=-1)  # (N, HW, HW/4)
        o = self.o((g @ beta.transpose(1, 2)).view(n, -1, h, w))
        return x + self.gamma * o


class HierarchicalBN(nn.Module):
    """Conditional batch norm whose gain (1 + .) and bias are linear maps of the block's condition
    vector ``[shared(y), z_chunk]`` (BigGAN's ``ccbn``)."""

    def __init__(self, channels: int, cond_dim: int, sn: bool) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = linear(cond_dim, channels, sn, bias=False)
        self.bias = linear(cond_dim, channels, sn, bias=False)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        g = 1.0 + self.gain(cond)
        return self.bn(x) * g[:, :, None, None] + self.bias(cond)[:, :, None, None]


class GBlock(nn.Module):
    def __init__(self, cin: int, cout: int, cond_dim: int, sn: bool) -> None:
        super().__init__()
        self.bn1, self.bn2 = HierarchicalBN(cin, cond_dim, sn), HierarchicalBN(cout, cond_dim, sn)
        self.c1, self.c2 = conv(cin, cout, 3, sn), conv(cout, cout, 3, sn)
        self.sc = conv(cin, cout, 1, sn)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, cond)), scale_factor=2, mode="nearest")
        h = self.c2(F.relu(self.bn2(self.c1(h), cond)))
        return h + self.sc(F.interpolate(x, scale_factor=2, mode="nearest"))


def z_chunks(z_dim: int, slots: int) -> list[int]:
    """BigGAN's split of z into ``slots`` chunks (the input layer's first); a remainder that does not
    divide evenly goes to the input layer's chunk."""
    if z_dim < slots:
        raise ValueError(f"biggan's hierarchical latent needs z_dim >= {slots} (one chunk per block + 1); got {z_dim}")
    size = z_dim // slots
    return [z_dim - size * (slots - 1)] + [size] * (slots - 1)


class BigGANGenerator(nn.Module):
    def __init__(self, spec: DataSpec, z_dim: int, opts: BigGANOptions, num_classes: int = 0) -> None:
        super().__init__()
        channels, side = image_size(spec, "biggan")
        mults, _, _, attn_side = LAYOUT[side]
        chans = [m * opts.width for m in mults]
        sn = opts.spectral_norm
        self.num_classes, self.ch0 = num_classes, chans[0]
        self.chunks = z_chunks(z_dim, len(chans))  # the input layer + one per block
        shared_dim = (opts.shared_dim or z_dim) if num_classes else 0
        self.shared = nn.Embedding(num_classes, shared_dim) if num_classes else None
        if self.shared is not None:
            ortho_init(self.shared)  # the shared embedding is not spectrally normalised (BigGAN-PyTorch)
        cond_dim = shared_dim + self.chunks[1]
        self.linear = linear(self.chunks[0], 4 * 4 * chans[0], sn)
        self.blocks = nn.ModuleList(GBlock(a, b, cond_dim, sn) for a, b in zip(chans[:-1], chans[1:]))
        # attention after the block whose output is attn_side x attn_side
        self.attn_after = next(i for i in range(len(self.blocks)) if 4 * 2 ** (i + 1) == attn_side)
        self.attn = SelfAttention(chans[self.attn_after + 1], sn) if opts.attention else None
        self.bn = nn.BatchNorm2d(chans[-1])
        self.out = conv(chans[-1], channels, 3, sn)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        parts = torch.split(z, self.chunks, dim=1)
        if self.shared is not None:
            shared = self.shared(require_labels(y, self.num_classes, "generator"))
            conds = [torch.cat([shared, c], dim=1) for c in parts[1:]]
        else:
            conds = list(parts[1:])
        h = self.linear(parts[0]).view(z.shape[0], self.ch0, 4, 4)
        for i, (block, cond) in enumerate(zip(self.blocks, conds)):
            h = block(h, cond)
            if self.attn is not None and i == self.attn_after:
                h = self.attn(h)
        return torch.tanh(self.out(F.relu(self.bn(h))))


class DBlock(nn.Module):
    """Pre-activation ReLU conv3x3 ReLU conv3x3 [avg-pool]; 1x1 shortcut when the shape changes
    (the first block skips the first ReLU and pools before its shortcut conv)."""

    def __init__(self, cin: int, cout: int, down: bool, sn: bool, first: bool) -> None:
        super().__init__()
        self.down, self.first = down, first
        self.c1, self.c2 = conv(cin, cout, 3, sn), conv(cout, cout, 3, sn)
        self.sc = conv(cin, cout, 1, sn) if (cin != cout or down) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.c2(F.relu(self.c1(x if self.first else F.relu(x))))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.sc is not None:
            if self.first:
                s = self.sc(F.avg_pool2d(s, 2) if self.down else s)
            else:
                s = self.sc(s)
                s = F.avg_pool2d(s, 2) if self.down else s
        return h + s


class BigGANDiscriminator(nn.Module):
    def __init__(self, spec: DataSpec, opts: BigGANOptions, out_dim: int = 1, num_classes: int = 0) -> None:
        super().__init__()
        channels, side = image_size(spec, "biggan")
        _, mults, downs, attn_side = LAYOUT[side]
        chans = [channels] + [m * opts.width for m in mults]
        sn = opts.spectral_norm
        blocks: list[nn.Module] = []
        res, attended = side, not opts.attention
        for i, (a, b, down) in enumerate(zip(chans[:-1], chans[1:], downs)):
            blocks.append(DBlock(a, b, down, sn, first=i == 0))
            res //= 2 if down else 1
            if not attended and res == attn_side:  # after the first block reaching attn_side
                blocks.append(SelfAttention(b, sn))
                attended = True
        self.features = nn.Sequential(*blocks)
        self.out = linear(chans[-1], out_dim, sn)
        self.num_classes, self.out_dim = num_classes, out_dim
        self.embed = _sn(nn.Embedding(num_classes, chans[-1] * out_dim), sn) if num_classes else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self.features(x)).sum((2, 3))  # global sum pooling
        out = self.out(h)
        if self.embed is not None:  # projection: <embed(y), h> per output
            e = self.embed(require_labels(y, self.num_classes, "discriminator")).view(h.shape[0], self.out_dim, -1)
            out = out + (e * h.unsqueeze(1)).sum(-1)
        return out


@ARCHITECTURES.register("biggan", options=BigGANOptions, kinds=("image",), sizes=SIDES)
class BigGAN:
    """BigGAN's G (shared embedding, hierarchical z, conditional BN, self-attention) and projection D."""

    Options = BigGANOptions

    def __init__(self, spec: DataSpec, opts: BigGANOptions | None = None) -> None:
        self.spec, self.opts = spec, opts or BigGANOptions()
        side = image_size(spec, "biggan")[1]
        if side not in SIDES:
            raise ValueError(f"biggan supports {' and '.join(map(str, SIDES))} px images; got {side} (set data.image_size)")

    def generator(self, z_dim: int, num_classes: int = 0) -> nn.Module:
        return BigGANGenerator(self.spec, z_dim, self.opts, num_classes)

    def discriminator(self, out_dim: int = 1, num_classes: int = 0) -> nn.Module:
        return BigGANDiscriminator(self.spec, self.opts, out_dim, num_classes)
