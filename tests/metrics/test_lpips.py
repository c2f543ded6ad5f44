"""LPIPS diversity equals direct ``lpips.LPIPS`` calls on the same pairs (random trunk,
``pnet_rand=True``: the ImageNet trunks are not on this machine)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from metrics_helpers import DATA

from gan_bench.metrics.errors import WeightsMissingError
from gan_bench.metrics.inputs import ArrayInput
from gan_bench.metrics.lpips_diversity import build_lpips, conditional_diversity, unconditional_diversity

SEED = 7
# lpips itself asks torchvision for `pretrained=False` nets, which torchvision flags as deprecated
pytestmark = pytest.mark.filterwarnings("ignore:.*(pretrained|weight enum).*:UserWarning")


@pytest.fixture(scope="module")
def cifar():
    with np.load(DATA / "cifar10" / "cifar10_test.npz") as f:
        return torch.from_numpy(f["x"][:200]).permute(0, 3, 1, 2).contiguous()


def direct_model():
    import lpips

    torch.manual_seed(SEED)
    return lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False).eval()


def as_lpips(x: torch.Tensor) -> torch.Tensor:
    return x.float() / 127.5 - 1.0


def test_unconditional_equals_direct_calls(cifar):
    model, record = build_lpips("alex", random_backbone=SEED)
    inp = ArrayInput("cifar10:test[:200]", "npz", cifar)
    value, pairs, dists = unconditional_diversity(inp, model, num_pairs=40, seed=3, min_size=32)
    ref = direct_model()
    with torch.no_grad():
        direct = [float(ref(as_lpips(cifar[i : i + 1]), as_lpips(cifar[j : j + 1]))) for i, j in pairs]
    assert (pairs[:, 0] != pairs[:, 1]).all()
    assert value > 0
    assert value == pytest.approx(float(np.mean(direct)), rel=1e-6)
    assert dists.numpy() == pytest.approx(np.array(direct), rel=1e-5)
    assert record["net"] == "alex" and record["version"] == "0.1"
    assert record["backbone"] == {"random_init_seed": SEED, "official": False}


def test_conditional_is_the_bicycle_gan_protocol(cifar):
    """Per input: mean over the consecutive pairs of its samples; then the mean over inputs."""
    groups = [cifar[0:6], cifar[6:12], cifar[12:18]]
    model, _ = build_lpips("alex", random_backbone=SEED)
    value, per_input = conditional_diversity(groups, model, samples_per_input=5, min_size=32)
    ref = direct_model()
    expected = []
    with torch.no_grad():
        for g in groups:
            g = g[:5]
            expected.append(np.mean([float(ref(as_lpips(g[k : k + 1]), as_lpips(g[k + 1 : k + 2]))) for k in range(4)]))
    assert per_input == pytest.approx(expected, rel=1e-5)
    assert value == pytest.approx(float(np.mean(expected)), rel=1e-6)


def test_small_images_are_upsampled_for_alexnet():
    """28 px digits would vanish in AlexNet's strides; they are scored at 64 px."""
    from metrics_helpers import mnist

    x, _ = mnist("test")
    inp = ArrayInput("mnist", "npz", torch.from_numpy(x[:20].copy())[:, None])
    model, _ = build_lpips("alex", random_backbone=SEED)
    value, _, _ = unconditional_diversity(inp, model, num_pairs=10, seed=0)
    assert value > 0


def test_missing_trunk_is_the_one_line_error():
    with pytest.raises(WeightsMissingError) as err:
        build_lpips("alex")
    msg = str(err.value)
    assert "\n" not in msg
    assert "alexnet-owt-7be5be79.pth" in msg
    assert "7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02" in msg
    assert "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in msg
