"""StyleGAN2's nets at a tiny width: shapes at 32 and 64 px, demodulation, the ws each layer reads,
noise inputs, truncation towards w_avg and the minibatch standard deviation."""

from __future__ import annotations

import pytest
import torch

from gan_bench.data.base import DataSpec
from gan_bench.nets.stylegan2 import StyleGAN2, StyleGAN2Options, minibatch_stddev, modulated_conv2d

Z = 16


def arch(side: int = 32, classes: int = 0, **options) -> StyleGAN2:
    opts = StyleGAN2Options(**{"width": 8, "mapping_layers": 2, **options})
    return StyleGAN2(DataSpec(shape=(3, side, side), kind="image", num_classes=classes), opts)


@pytest.mark.parametrize("side,num_ws", [(32, 8), (64, 10)])
@pytest.mark.parametrize("classes", [0, 10])
def test_shapes_and_conditioning(side: int, num_ws: int, classes: int):
    torch.manual_seed(0)
    a = arch(side, classes)
    G, D = a.generator(Z, num_classes=classes), a.discriminator(out_dim=1, num_classes=classes)
    assert G.num_ws == num_ws and G.w_dim == 8
    y = torch.arange(4) % 10 if classes else None
    x = G(torch.randn(4, Z), y)
    assert x.shape == (4, 3, side, side)
    assert D(x, y).shape == (4, 1)
    G.eval()
    assert G(torch.randn(4, Z), y).abs().max() <= 1.0  # clamped when sampling
    if classes:
        z = torch.randn(4, Z)
        assert not torch.allclose(G(z, y), G(z, (y + 1) % 10))


@pytest.mark.parametrize("seed", [0, 1])
def test_demodulation_gives_unit_std_per_output_channel(seed: int):
    torch.manual_seed(seed)
    x = torch.randn(4, 16, 48, 48)
    weight = torch.randn(12, 16, 3, 3) * torch.rand(12, 1, 1, 1) * 5  # channels of very different norms
    styles = torch.rand(4, 16) * 3 + 0.1
    out = modulated_conv2d(x, weight, styles)
    std = out[:, :, 1:-1, 1:-1].std(dim=(2, 3))  # per example and output channel, inside the padding
    torch.testing.assert_close(std, torch.ones_like(std), atol=0.1, rtol=0)
    raw = modulated_conv2d(x, weight, styles, demodulate=False)[:, :, 1:-1, 1:-1].std(dim=(2, 3))
    assert (raw - 1).abs().max() > 1.0  # without demodulation the scale of w and s shows through


def test_every_layer_reads_its_own_w_and_truncation_goes_to_w_avg():
    torch.manual_seed(0)
    G = arch().generator(Z).eval()
    w = G.mapping(torch.randn(2, Z))
    ws = w.unsqueeze(1).repeat(1, G.num_ws, 1)
    base = G.synthesis(ws)
    for i in range(G.num_ws):
        other = ws.clone()
        other[:, i] += 1.0
        assert not torch.allclose(G.synthesis(other), base, atol=1e-6), f"ws[:, {i}] unused"
    assert "mapping.w_avg" in G.state_dict()
    G.mapping.w_avg.copy_(torch.randn(8))
    mean = G.synthesis(G.mapping.w_avg.view(1, 1, -1).expand(3, G.num_ws, -1)).clamp(-1, 1)
    torch.testing.assert_close(G(torch.randn(3, Z), truncation_psi=0.0), mean)
    assert not torch.allclose(G(torch.randn(3, Z), truncation_psi=1.0), mean)
    before = G.mapping.w_avg.clone()
    G.mapping.track(torch.zeros(4, 8), beta=0.5)
    torch.testing.assert_close(G.mapping.w_avg, before * 0.5)


def test_noise_is_drawn_from_the_given_generator_in_training_and_fixed_in_eval():
    torch.manual_seed(0)
    G = arch().generator(Z)
    for layer in G.synthesis.layers:
        layer.noise_strength.data.fill_(0.5)
    z = torch.randn(2, Z)
    a = G(z, generator=torch.Generator().manual_seed(1))
    b = G(z, generator=torch.Generator().manual_seed(1))
    c = G(z, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    G.eval()
    torch.testing.assert_close(G(z), G(z))
    torch.testing.assert_close(G(z[:1]), G(z)[:1])  # batching does not matter when sampling


def test_minibatch_stddev_feature():
    x = torch.randn(6, 5, 4, 4)
    out = minibatch_stddev(x, group=4)  # 6 is not divisible by 4: groups of 3
    assert out.shape == (6, 6, 4, 4)
    expected = x.view(3, 2, 5, 4, 4).std(dim=0, unbiased=False).mean(dim=(1, 2, 3))
    torch.testing.assert_close(out[:2, 5, 0, 0], expected, atol=1e-4, rtol=0)
    assert torch.equal(out[:, :5], x)
