"""SNGAN-style ResNet specifics: block layout, widths, and the spectral-norm switch."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from gan_bench.data.base import DataSpec
from gan_bench.nets.resnet import DBlock, GBlock, ResNet, ResNetOptions


def _weighted(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]


def test_sngan_cifar_layout_and_size() -> None:
    arch = ResNet(DataSpec((3, 32, 32), "image"), ResNetOptions())
    g, d = arch.generator(128), arch.discriminator()
    gblocks = [m for m in g.modules() if isinstance(m, GBlock)]
    dblocks = [m for m in d.modules() if isinstance(m, DBlock)]
    assert [b.c1.out_channels for b in gblocks] == [256, 256, 256]
    assert [b.down for b in dblocks] == [True, True, False, False]
    # about 4.3M / 1.0M parameters: the SNGAN CIFAR-10 nets (Mimicry reports the same sizes)
    assert 4.2e6 < sum(p.numel() for p in g.parameters()) < 4.4e6
    assert 1.0e6 < sum(p.numel() for p in d.parameters()) < 1.1e6


def test_64px_widths_pyramid() -> None:
    arch = ResNet(DataSpec((3, 64, 64), "image"), ResNetOptions(g_width=256, d_width=256))
    g, d = arch.generator(8), arch.discriminator()
    assert [b.c1.out_channels for b in g.modules() if isinstance(b, GBlock)] == [128, 64, 32, 16]
    assert [b.c2.out_channels for b in d.modules() if isinstance(b, DBlock)] == [16, 32, 64, 128, 256]
    assert g(torch.randn(2, 8)).shape == (2, 3, 64, 64)


def test_spectral_norm_switch_covers_every_d_weight_and_no_g_weight() -> None:
    spec = DataSpec((3, 32, 32), "image")
    on = ResNet(spec, ResNetOptions(g_width=32, d_width=32))
    off = ResNet(spec, ResNetOptions(g_width=32, d_width=32, spectral_norm=False))
    d_on, d_off = on.discriminator(num_classes=5), off.discriminator(num_classes=5)
    assert all(parametrize.is_parametrized(m, "weight") for m in _weighted(d_on))
    assert not any(parametrize.is_parametrized(m, "weight") for m in _weighted(d_off))
    assert not any(parametrize.is_parametrized(m, "weight") for m in _weighted(on.generator(8)))
    # after a few power iterations every normalised weight has spectral norm ~1
    d_on.train()
    for _ in range(20):
        d_on(torch.randn(2, 3, 32, 32), torch.zeros(2, dtype=torch.long))
    conv = d_on.blocks[1].c1
    sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
    assert abs(sigma.item() - 1.0) < 0.05
