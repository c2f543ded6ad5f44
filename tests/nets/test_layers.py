"""Shared conditioning and normalisation layers of the image architectures."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gan_bench.nets.layers import ConditionalBatchNorm2d, LabelConcat, Projection, norm1d, norm2d


def test_projection_is_the_inner_product_with_the_class_embedding() -> None:
    torch.manual_seed(0)
    proj = Projection(num_classes=4, features=6, out_dim=3)
    h, y = torch.randn(5, 6), torch.tensor([0, 1, 2, 3, 1])
    expected = torch.einsum("nf,nof->no", h, proj.embed.weight[y].view(5, 3, 6))
    assert torch.allclose(proj(h, y), expected, atol=1e-6)


def test_conditional_bn_applies_the_class_scale_and_shift() -> None:
    cbn = ConditionalBatchNorm2d(3, num_classes=2)
    with torch.no_grad():
        cbn.gamma.weight[1] = torch.tensor([2.0, 3.0, 4.0])
        cbn.beta.weight[1] = torch.tensor([1.0, 1.0, 1.0])
    x = torch.randn(4, 3, 5, 5)
    y = torch.tensor([0, 1, 0, 1])
    plain = nn.functional.batch_norm(x, None, None, training=True)
    out = cbn(x, y)
    assert torch.allclose(out[0], plain[0], atol=1e-5)
    assert torch.allclose(out[1], plain[1] * torch.tensor([2.0, 3.0, 4.0])[:, None, None] + 1, atol=1e-5)
    assert isinstance(ConditionalBatchNorm2d(3).bn, nn.BatchNorm2d) and ConditionalBatchNorm2d(3).bn.affine


def test_label_concat_widths() -> None:
    assert LabelConcat(0)(torch.ones(2, 4), None).shape == (2, 4)
    assert LabelConcat(10)(torch.ones(2, 4), torch.tensor([1, 2])).shape == (2, 14)
    assert LabelConcat(1000).dim == 128  # capped for Stacked MNIST's 1000 modes


def test_norm_choices() -> None:
    assert isinstance(norm2d("batch", 4), nn.BatchNorm2d) and isinstance(norm2d("none", 4), nn.Identity)
    layer = norm2d("layer", 4)
    x = torch.randn(3, 4, 5, 5) * 7 + 2
    out = layer(x)  # each example normalised over C, H, W
    assert torch.allclose(out.mean((1, 2, 3)), torch.zeros(3), atol=1e-5)
    assert isinstance(norm1d("layer", 4), nn.LayerNorm)
    with pytest.raises(ValueError, match="unknown d_norm"):
        norm2d("instance", 4)


def _generators(arch: str, k: int) -> list[nn.Module]:
    from gan_bench.data.base import DataSpec
    from gan_bench.registry import ARCHITECTURES

    entry = ARCHITECTURES.entry(arch)
    small = {"mlp": {"width": 16}, "dcgan": {"width": 8}, "infogan": {"width": 8, "fc_dim": 16},
             "resnet": {"g_width": 16, "d_width": 16}}[arch]
    spec = DataSpec(shape=(2,), kind="points") if arch == "mlp" else DataSpec(shape=(1, 32, 32), kind="image")
    built = entry.obj(spec, entry.obj.Options(**small))
    return [built.generator(8) for _ in range(k)]


@pytest.mark.parametrize("arch", ["mlp", "dcgan", "infogan", "resnet"])
def test_share_all_but_last_ties_every_layer_but_the_output(arch: str) -> None:
    from gan_bench.nets.layers import last_layer, share_all_but_last

    gens = _generators(arch, 3)
    share_all_but_last(gens)
    last = last_layer(gens[0])
    for g in gens[1:]:
        assert g.get_submodule(last) is not gens[0].get_submodule(last)
        shared = [n for n, _ in gens[0].named_parameters() if not n.startswith(last + ".")]
        assert shared and all(g.get_parameter(n) is gens[0].get_parameter(n) for n in shared)
    unique = {id(p) for g in gens for p in g.parameters()}
    heads = sum(1 for _ in gens[0].get_submodule(last).parameters())
    assert len(unique) == sum(1 for _ in gens[0].parameters()) + 2 * heads
    z = torch.randn(4, 8)
    assert gens[1](z).shape == gens[0](z).shape
    assert not torch.equal(gens[1](z), gens[0](z))  # their own output layers
