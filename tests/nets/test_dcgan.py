"""DCGAN specifics: the layer layout per size and fidelity to the reference implementation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gan_bench.data.base import DataSpec
from gan_bench.nets.dcgan import DCGAN, DCGANOptions, layout


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_layout_per_size() -> None:
    assert layout(28) == (7, 2) and layout(32) == (4, 3) and layout(64) == (4, 4) and layout(128) == (4, 5)
    with pytest.raises(ValueError):
        layout(6)


def test_matches_the_pytorch_dcgan_example_at_64px() -> None:
    """netG / netD of pytorch/examples (nz=100, ngf=ndf=64) have 3,576,704 and 2,765,568
    parameters; ours add only the biases of the first D conv (64), the last D conv (1) and the
    last G layer (3), which that example drops."""
    arch = DCGAN(DataSpec((3, 64, 64), "image"), DCGANOptions())
    g, d = arch.generator(100), arch.discriminator()
    assert _count(g) == 3_576_704 + 3 and _count(d) == 2_765_568 + 64 + 1
    convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [512, 256, 128, 64, 3]
    dconvs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in dconvs] == [64, 128, 256, 512, 1]
    # no BN on the first D layer (Radford et al.), BN on the others; LeakyReLU 0.2 throughout
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == 3
    assert all(m.negative_slope == 0.2 for m in d.modules() if isinstance(m, nn.LeakyReLU))


def test_28px_starts_from_7x7_and_follows_the_channel_count() -> None:
    arch = DCGAN(DataSpec((1, 28, 28), "image"), DCGANOptions(width=32))
    g = arch.generator(10)
    first = next(m for m in g.modules() if isinstance(m, nn.ConvTranspose2d))
    assert first.kernel_size == (7, 7) and first.out_channels == 64
    assert g(torch.randn(2, 10)).shape == (2, 1, 28, 28)


def test_weights_use_the_dcgan_initialisation() -> None:
    torch.manual_seed(0)
    d = DCGAN(DataSpec((3, 64, 64), "image"), DCGANOptions()).discriminator()
    big = next(m for m in d.modules() if isinstance(m, nn.Conv2d) and m.out_channels == 512)
    assert abs(big.weight.std().item() - 0.02) < 1e-3 and abs(big.weight.mean().item()) < 1e-3
