"""The InfoGAN-style nets of Lucic et al. 2018, layer by layer at 28 px, and their adaptations."""

from __future__ import annotations

import torch
from torch import nn

from gan_bench.data.base import DataSpec
from gan_bench.nets.infogan import InfoGAN, InfoGANOptions, layout


def _kinds(module: nn.Module) -> list[str]:
    """Leaf layer types in order (the parameter-free label input of an unconditional G left out)."""
    leaves = [m for m in module.modules() if m is not module and not list(m.children())]
    return [type(m).__name__ for m in leaves if type(m).__name__ != "LabelConcat"]


def test_28px_is_the_paper_architecture() -> None:
    arch = InfoGAN(DataSpec((1, 28, 28), "image"), InfoGANOptions())
    g, d = arch.generator(64), arch.discriminator()
    assert _kinds(g) == [
        "Linear", "BatchNorm1d", "ReLU",            # FC 1024 BN ReLU
        "Linear", "BatchNorm1d", "ReLU",            # FC 7x7x128 BN ReLU
        "ConvTranspose2d", "BatchNorm2d", "ReLU",   # deconv 64 4x4/2 BN ReLU
        "ConvTranspose2d", "Tanh",                  # deconv 1 4x4/2
    ]  # fmt: skip
    fcs = [m for m in g.modules() if isinstance(m, nn.Linear)]
    assert [f.out_features for f in fcs] == [1024, 7 * 7 * 128]
    assert _kinds(d) == [
        "Conv2d", "LeakyReLU",                      # conv 64 4x4/2 lReLU
        "Conv2d", "BatchNorm2d", "LeakyReLU",       # conv 128 4x4/2 BN lReLU
        "Linear", "BatchNorm1d", "LeakyReLU",       # FC 1024 BN lReLU
        "Linear",                                   # FC out
    ]  # fmt: skip
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [(64, (4, 4), (2, 2)), (128, (4, 4), (2, 2))]


def test_adapted_sizes_keep_the_fc_map_small() -> None:
    assert layout(28) == (7, 2) and layout(32) == (8, 2) and layout(64) == (8, 3)
    arch = InfoGAN(DataSpec((3, 64, 64), "image"), InfoGANOptions(width=16, fc_dim=64))
    d = arch.discriminator()
    first_fc = next(m for m in d.modules() if isinstance(m, nn.Linear))
    assert first_fc.in_features == 2 * 16 * 8 * 8
    assert arch.generator(8)(torch.randn(2, 8)).shape == (2, 3, 64, 64)


def test_layer_norm_option_replaces_every_batch_norm_in_d() -> None:
    d = InfoGAN(DataSpec((1, 28, 28), "image"), InfoGANOptions(d_norm="layer")).discriminator()
    kinds = _kinds(d)
    assert "BatchNorm2d" not in kinds and "BatchNorm1d" not in kinds
    assert kinds.count("GroupNorm") == 1 and kinds.count("LayerNorm") == 1
