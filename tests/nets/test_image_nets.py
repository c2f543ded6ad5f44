"""The architecture contract for every image architecture (dcgan, infogan, resnet), at each size."""

from __future__ import annotations

import pytest
import torch

from gan_bench.config import ConfigError, from_mapping
from gan_bench.data.base import DataSpec
from gan_bench.nets.base import autoencoder
from gan_bench.registry import ARCHITECTURES

SMALL = {"dcgan": {"width": 8}, "infogan": {"width": 8, "fc_dim": 32}, "resnet": {"g_width": 32, "d_width": 32}}
CASES = [
    ("dcgan", 28, 1),
    ("dcgan", 32, 3),
    ("dcgan", 64, 3),
    ("infogan", 28, 1),
    ("infogan", 32, 3),
    ("infogan", 64, 1),
    ("resnet", 32, 3),
    ("resnet", 64, 3),
]
Z = 16



def make(name: str, size: int, channels: int, num_classes: int = 0, **opts: object):
    cls = ARCHITECTURES.get(name)
    options = from_mapping(cls.Options, {**SMALL[name], **opts})
    return cls(DataSpec((channels, size, size), "image", num_classes), options)


@pytest.mark.parametrize(("name", "size", "channels"), CASES)
def test_shapes_range_and_gradients(name: str, size: int, channels: int) -> None:
    torch.manual_seed(0)
    arch = make(name, size, channels)
    g, d, d5 = arch.generator(Z), arch.discriminator(), arch.discriminator(out_dim=5)
    x = g(torch.randn(4, Z))
    assert x.shape == (4, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1 and x.std() > 0
    assert d(x).shape == (4, 1) and d5(x).shape == (4, 5)
    # one adversarial step's worth of backward reaches every parameter of both nets
    (d(x).mean() + d5(x).pow(2).mean()).backward()
    for net in (g, d, d5):
        for pname, p in net.named_parameters():
            assert p.grad is not None, pname
            assert torch.isfinite(p.grad).all(), pname
            assert p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize(("name", "size", "channels"), CASES)
def test_conditional_nets_use_the_labels(name: str, size: int, channels: int) -> None:
    torch.manual_seed(0)
    arch = make(name, size, channels, num_classes=10)
    g, d = arch.generator(Z, num_classes=10), arch.discriminator(num_classes=10)
    z, y = torch.randn(10, Z), torch.arange(10)
    x = g(z, y)
    assert x.shape == (10, channels, size, size) and d(x, y).shape == (10, 1)
    assert arch.discriminator(out_dim=11, num_classes=10)(x, y).shape == (10, 11)
    # every parameter, including every class's embedding row, is reached by the gradient
    d(x, y).mean().backward()
    for net in (g, d):
        for pname, p in net.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), pname
            nonzero_rows = (p.grad.reshape(p.shape[0], -1).abs().sum(1) > 0).float().mean()
            assert nonzero_rows > 0.5 if p.dim() > 1 else p.grad.abs().sum() > 0, pname
    # the score depends on the label (projection); G's output does too except for resnet, whose
    # conditional BN starts as plain BN (gamma 1, beta 0), as in SNGAN
    d.eval()  # freezes spectral norm's power iteration between the two calls
    y7 = torch.full((10,), 7)
    assert not torch.allclose(d(x, y), d(x, y7))
    if name != "resnet":
        assert not torch.allclose(g(z, y), g(z, y7))
    with pytest.raises(ValueError, match="pass y"):
        g(z)
    with pytest.raises(ValueError, match="pass y"):
        d(x)


@pytest.mark.parametrize(("name", "size", "channels"), [CASES[0], CASES[4], CASES[6]])
def test_autoencoder_critic_composes(name: str, size: int, channels: int) -> None:
    ae = autoencoder(make(name, size, channels), code_dim=12)
    x = torch.rand(2, channels, size, size) * 2 - 1
    recon, code = ae(x)
    assert recon.shape == x.shape and code.shape == (2, 12)
    (recon - x).abs().mean().backward()
    assert all(p.grad is not None for p in ae.parameters())


@pytest.mark.parametrize("name", ["dcgan", "infogan", "resnet"])
@pytest.mark.parametrize("d_norm", ["none", "layer"])
def test_gradient_penalty_norms_keep_examples_independent(name: str, d_norm: str) -> None:
    """With d_norm none/layer an example's score does not depend on the rest of the batch."""
    torch.manual_seed(0)
    d = make(name, 32, 3, d_norm=d_norm).discriminator().eval()  # eval: spectral norm stops its power step
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in d.modules())
    x = torch.randn(6, 3, 32, 32)
    assert torch.allclose(d(x)[:2], d(x[:2]), atol=1e-5)


def test_batch_norm_d_is_the_paper_default_for_dcgan_and_infogan() -> None:
    for name in ("dcgan", "infogan"):
        d = make(name, 28, 1).discriminator()
        assert any(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules())
    assert ARCHITECTURES.get("resnet").Options().d_norm == "none"


def test_bad_options_and_sizes() -> None:
    with pytest.raises(ConfigError, match="net.d_norm"):
        from_mapping(ARCHITECTURES.get("dcgan").Options, {"d_norm": "instance"}, prefix="net.")
    with pytest.raises(ValueError, match="resnet supports 32 and 64"):
        make("resnet", 28, 1)
    with pytest.raises(ValueError, match="multiple of 4"):
        make("infogan", 30, 1)
    with pytest.raises(ValueError, match="base\\*2\\^n"):
        make("dcgan", 6, 1)
    with pytest.raises(ValueError, match="square images"):
        ARCHITECTURES.get("dcgan")(DataSpec((2,), "points"), None)
