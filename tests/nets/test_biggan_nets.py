"""BigGAN's nets at a tiny width: shapes at 32 and 64 px, the hierarchical latent, the shared
embedding, self-attention where the config puts it, orthogonal init and spectral norm."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils import parametrize

from gan_bench.data.base import DataSpec
from gan_bench.nets.biggan import BigGAN, BigGANOptions, SelfAttention, z_chunks

Z = 40


def arch(side: int, classes: int = 10, **options) -> BigGAN:
    return BigGAN(DataSpec(shape=(3, side, side), kind="image", num_classes=classes), BigGANOptions(width=4, **options))


@pytest.mark.parametrize("side", [32, 64])
@pytest.mark.parametrize("classes", [0, 10])
def test_shapes_range_and_conditioning(side: int, classes: int):
    torch.manual_seed(0)
    a = arch(side, classes)
    G, D = a.generator(Z, num_classes=classes), a.discriminator(out_dim=1, num_classes=classes)
    y = torch.arange(6) % 10 if classes else None
    x = G(torch.randn(6, Z), y)
    assert x.shape == (6, 3, side, side) and x.abs().max() <= 1.0
    assert D(x, y).shape == (6, 1)
    if classes:  # the projection term and the shared embedding make both nets depend on y
        D.eval()
        assert not torch.allclose(D(x, y), D(x, (y + 1) % 10))
        G.eval()
        z = torch.randn(6, Z)
        assert not torch.allclose(G(z, y), G(z, (y + 1) % 10))


def test_hierarchical_latent_feeds_every_block():
    assert z_chunks(40, 4) == [10, 10, 10, 10] and z_chunks(42, 4) == [12, 10, 10, 10]
    with pytest.raises(ValueError, match="z_dim"):
        z_chunks(3, 4)
    torch.manual_seed(0)
    G = arch(32).generator(Z, num_classes=10).eval()
    y = torch.zeros(2, dtype=torch.long)
    z = torch.randn(2, Z)
    base = G(z, y)
    for start, size in zip([0, 10, 20, 30], [10] * 4):  # each chunk (input layer, blocks 1-3) matters
        other = z.clone()
        other[:, start:start + size] += 1.0
        assert not torch.allclose(G(other, y), base, atol=1e-5), f"chunk at {start} unused"


@pytest.mark.parametrize("side,where", [(32, 16), (64, 32)])
def test_self_attention_sits_at_the_configured_side(side: int, where: int):
    a = arch(side)
    G, D = a.generator(Z, num_classes=10), a.discriminator(num_classes=10)
    seen: list[int] = []
    for net in (G, D):
        for m in net.modules():
            if isinstance(m, SelfAttention):
                m.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].shape[-1]))
    D(G(torch.randn(2, Z), torch.tensor([1, 2])), torch.tensor([1, 2]))
    assert seen == [where, where]
    plain = arch(side, attention=False)
    assert not any(isinstance(m, SelfAttention) for m in plain.generator(Z, 10).modules())


def test_orthogonal_init_and_spectral_norm_in_both_nets():
    a = arch(32)
    G, D = a.generator(Z, num_classes=10), a.discriminator(num_classes=10)
    for net in (G, D):
        convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
        assert convs and all(parametrize.is_parametrized(m, "weight") for m in convs)
    # orthogonal rows where there are no more rows than columns: W W^T = I
    w = G.blocks[0].c1.parametrizations.weight.original.flatten(1)
    assert w.shape[0] <= w.shape[1]
    torch.testing.assert_close(w @ w.t(), torch.eye(w.shape[0]), atol=1e-5, rtol=0)
    # spectral norm: the effective weight has unit largest singular value
    assert torch.linalg.matrix_norm(G.blocks[0].c1.weight.flatten(1), ord=2) < 1.1
    unnormed = arch(32, spectral_norm=False).generator(Z, 10)
    assert not any(parametrize.is_parametrized(m) for m in unnormed.modules())


def test_unsupported_side_is_a_clear_error():
    with pytest.raises(ValueError, match="32 and 64"):
        BigGAN(DataSpec(shape=(1, 28, 28), kind="image"), BigGANOptions())
