"""LPIPS diversity of generated samples, with the ``lpips`` package (Zhang et al. 2018).

- unconditional: the mean LPIPS distance over ``pairs`` (1000) random pairs of distinct samples of
  INPUT1, the pairs drawn from ``numpy.random.default_rng(seed)``;
- conditional (BicycleGAN, Zhu et al. 2017): for every conditioning input, its first
  ``samples_per_input`` (20) samples, the LPIPS distances of the 19 consecutive pairs
  (s0, s1), (s1, s2), ..., averaged per input and then over inputs. INPUT1 is a folder with one
  sub-folder of samples per input, or an .npz array (K, S, H, W, C);
- per class (``lpips-class``, class-conditional samples): for each class k, the mean LPIPS
  distance over ``pairs`` random pairs of distinct samples labelled k (pairs of every class from
  one ``numpy.random.default_rng(seed)`` stream, class 0 first), then the mean over the classes
  with at least two samples. A generator that collapses within a class scores near 0 there even
  when its classes differ from each other (which lifts the unconditional score).

Defaults are LPIPS v0.1 on AlexNet (``net=alex``): the learned linear heads ship with the lpips
package; the ImageNet AlexNet trunk is the torchvision file resolved like every other weight.
Images go in as RGB in [-1, 1] (gray repeated); sides under ``min_size`` (64) are upsampled
bilinearly first, because AlexNet's strides leave nothing of a 28 px image. A random trunk
(``random_backbone=SEED``, ``pnet_rand=True``) exists for offline tests only and is recorded as such.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from gan_bench.metrics import weights as W
from gan_bench.metrics.errors import MetricsInputError
from gan_bench.metrics.family import PROTOCOLS, MetricContext
from gan_bench.metrics.harness import class_labels
from gan_bench.metrics.inputs import ImageInput, resolve_grouped_input
from gan_bench.registry import METRICS

log = logging.getLogger(__name__)
NETS = ("alex", "vgg", "squeeze")


def build_lpips(
    net: str = "alex",
    version: str = "0.1",
    *,
    weights_dir: str | None = None,
    allow_download: bool | None = None,
    random_backbone: int | None = None,
    device: str | torch.device = "cpu",
) -> tuple[nn.Module, dict[str, Any]]:
    """An ``lpips.LPIPS`` model and its protocol record.

    The trunk is never fetched by torchvision: the model is built with ``pnet_rand=True`` and, unless
    ``random_backbone`` is given, the resolved torchvision trunk weights are loaded into it
    (weights-only), so a missing file is the usual one-line error.
    """
    import lpips

    if net not in NETS:
        raise MetricsInputError(f"unknown LPIPS net {net!r}; choose one of: {', '.join(NETS)}")
    if version != "0.1":
        raise MetricsInputError(f"LPIPS version {version!r} is not supported; use 0.1")
    linear = W.resolve(f"lpips-{net}-linear-v{version}", weights_dir, allow_download=False)
    trunk = None if random_backbone is not None else W.resolve(f"lpips-{net}-backbone", weights_dir, allow_download)
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        # lpips asks torchvision for `pretrained=False` nets, which torchvision flags as deprecated
        warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
        if random_backbone is not None:
            torch.manual_seed(random_backbone)
        model = lpips.LPIPS(net=net, version=version, pretrained=True, pnet_rand=True, verbose=False, model_path=str(linear.path))
    record: dict[str, Any] = {
        "library": "lpips",
        "library_version": _lpips_version(),
        "net": net,
        "version": version,
        "linear_weights": linear.record(),
    }
    if trunk is not None:
        state = torch.load(trunk.path, map_location="cpu", weights_only=True)
        # lpips keeps torchvision's `features` layers in slices named sliceK.<index>; map them back.
        mapped = {}
        for key in model.net.state_dict():
            source = "features." + key.split(".", 1)[1]
            if source not in state:
                raise MetricsInputError(f"{trunk.path} lacks {source}; it is not torchvision's {net} file")
            mapped[key] = state[source]
        model.net.load_state_dict(mapped)
        record["backbone"] = trunk.record()
    else:
        record["backbone"] = {"random_init_seed": random_backbone, "official": False}
    return model.to(device).eval().requires_grad_(False), record


def _lpips_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lpips")
    except PackageNotFoundError:
        return "unknown"


def to_lpips_input(x: torch.Tensor, min_size: int = 64) -> torch.Tensor:
    """uint8 NCHW -> float RGB in [-1, 1], upsampled bilinearly when a side is below ``min_size``."""
    y = x.float().div(127.5).sub(1.0)
    if y.shape[1] == 1:
        y = y.expand(-1, 3, -1, -1)
    h, w = y.shape[-2:]
    if min(h, w) < min_size:
        scale = min_size / min(h, w)
        y = F.interpolate(y, size=(round(h * scale), round(w * scale)), mode="bilinear", align_corners=False)
    return y


@torch.no_grad()
def lpips_distances(
    model: nn.Module, a: torch.Tensor, b: torch.Tensor, min_size: int = 64, batch_size: int = 50, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """LPIPS distance of each pair (a[i], b[i]) of uint8 images, float64 (P,)."""
    out = []
    for i in range(0, a.shape[0], batch_size):
        xa = to_lpips_input(a[i : i + batch_size], min_size).to(device)
        xb = to_lpips_input(b[i : i + batch_size], min_size).to(device)
        out.append(model(xa, xb).flatten().double().cpu())
    return torch.cat(out) if out else torch.empty(0, dtype=torch.float64)


def random_pairs(n: int, num_pairs: int, seed: int | np.random.Generator) -> np.ndarray:
    """(num_pairs, 2) indices of distinct samples, uniformly among ordered pairs i != j (``seed``
    may be a numpy Generator, which then advances)."""
    if n < 2:
        raise MetricsInputError(f"LPIPS diversity needs at least 2 samples, got {n}")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, num_pairs)
    j = (i + rng.integers(1, n, num_pairs)) % n  # never equal to i
    return np.stack([i, j], axis=1)


def unconditional_diversity(
    inp: ImageInput, model: nn.Module, num_pairs: int = 1000, seed: int = 0, min_size: int = 64, batch_size: int = 50, device: str | torch.device = "cpu"
) -> tuple[float, np.ndarray, torch.Tensor]:
    """(mean LPIPS, the pairs used, their distances) over random pairs of ``inp``'s samples."""
    pairs = random_pairs(len(inp), num_pairs, seed)
    used = np.unique(pairs)
    images = inp.gather(used)
    pos = {int(k): p for p, k in enumerate(used)}
    a = images[[pos[int(k)] for k in pairs[:, 0]]]
    b = images[[pos[int(k)] for k in pairs[:, 1]]]
    d = lpips_distances(model, a, b, min_size, batch_size, device)
    return float(d.mean()), pairs, d


def conditional_diversity(
    groups: Iterable[torch.Tensor], model: nn.Module, samples_per_input: int = 20, min_size: int = 64, batch_size: int = 50, device: str | torch.device = "cpu"
) -> tuple[float, list[float]]:
    """(BicycleGAN diversity, per-input means): consecutive pairs of each input's first samples."""
    per_input = []
    for group in groups:
        g = group[:samples_per_input]
        if g.shape[0] < 2:
            raise MetricsInputError("every input needs at least 2 samples for conditional LPIPS")
        per_input.append(float(lpips_distances(model, g[:-1], g[1:], min_size, batch_size, device).mean()))
    if not per_input:
        raise MetricsInputError("conditional LPIPS got no inputs")
    return float(np.mean(per_input)), per_input


def class_diversity(
    inp: ImageInput,
    labels: torch.Tensor,
    num_classes: int,
    model: nn.Module,
    num_pairs: int = 1000,
    seed: int = 0,
    min_size: int = 64,
    batch_size: int = 50,
    device: str | torch.device = "cpu",
) -> tuple[float, dict[int, float], dict[int, np.ndarray]]:
    """(mean over classes, per-class mean LPIPS, per-class pairs of input indices): LPIPS diversity
    within each class of ``inp`` (``labels``: one class per image), ``num_pairs`` random pairs of
    distinct samples per class. Classes with fewer than two samples are left out."""
    rng = np.random.default_rng(seed)
    y = labels.long().cpu().numpy()
    pairs: dict[int, np.ndarray] = {}
    for k in range(num_classes):
        members = np.flatnonzero(y == k)
        if len(members) >= 2:
            pairs[k] = members[random_pairs(len(members), num_pairs, rng)]
    if not pairs:
        raise MetricsInputError("LPIPS per class needs a class with at least 2 samples")
    every = np.concatenate(list(pairs.values()))
    used = np.unique(every)
    images = inp.gather(used)  # one pass over the input for every class
    pos = torch.as_tensor(np.searchsorted(used, every))
    d = lpips_distances(model, images[pos[:, 0]], images[pos[:, 1]], min_size, batch_size, device)
    per_class, start = {}, 0
    for k, p in pairs.items():
        per_class[k] = float(d[start : start + len(p)].mean())
        start += len(p)
    return float(np.mean(list(per_class.values()))), per_class, pairs


def _lpips_model(ctx: MetricContext) -> tuple[nn.Module, dict[str, Any]]:
    """The LPIPS model of the options, built once per harness call (shared by lpips-div and lpips-class)."""
    o = ctx.options
    key = ("lpips", o.lpips_net, o.lpips_version, o.lpips_random_backbone)
    if key not in ctx.memo:
        ctx.memo[key] = build_lpips(
            o.lpips_net,
            o.lpips_version,
            weights_dir=ctx.weights_dir,
            allow_download=ctx.allow_download,
            random_backbone=o.lpips_random_backbone,
            device=ctx.device,
        )
        if o.lpips_random_backbone is not None:
            ctx.warnings.append("LPIPS with a random backbone (tests only): not comparable with published LPIPS")
    model, record = ctx.memo[key]
    return model, dict(record)


@METRICS.register(
    "lpips-div",
    harness="image",
    kinds=(),  # not a training-time evaluator (those take (samples, dataset))
    default=False,
    keys=("lpips_diversity",),
    arity=1,
    features=(),
    protocols=PROTOCOLS,
    description="LPIPS diversity (alex, v0.1): random pairs, or BicycleGAN consecutive pairs per input",
)
def compute_lpips_div(ctx: MetricContext) -> dict[str, float]:
    """LPIPS diversity of input 1 (unconditional or conditional, per the options)."""
    o = ctx.options
    model, record = _lpips_model(ctx)
    record.update(mode=o.lpips_mode, min_size=o.lpips_min_size)
    if o.lpips_mode == "unconditional":
        value, pairs, _ = unconditional_diversity(ctx.input1, model, o.lpips_pairs, o.seed, o.lpips_min_size, o.lpips_batch_size, ctx.device)
        record.update(pairs=len(pairs), pair_seed=o.seed)
    elif o.lpips_mode == "conditional":
        spec = ctx.input1 if isinstance(ctx.input1, str) else getattr(ctx.input1, "spec", None)
        value, per_input = conditional_diversity(
            resolve_grouped_input(spec), model, o.lpips_samples_per_input, o.lpips_min_size, o.lpips_batch_size, ctx.device
        )
        record.update(inputs=len(per_input), samples_per_input=o.lpips_samples_per_input, pairs_per_input=o.lpips_samples_per_input - 1)
    else:
        raise MetricsInputError(f"unknown LPIPS mode {o.lpips_mode!r}; use unconditional or conditional")
    ctx.details["lpips_div"] = record
    return {"lpips_diversity": value}


@METRICS.register(
    "lpips-class",
    harness="image",
    kinds=(),
    default=False,
    keys=("lpips_class",),
    arity=1,
    features=(),
    labels=(1,),
    protocols=PROTOCOLS,
    description="LPIPS diversity within each class (random pairs per class), averaged over classes",
)
def compute_lpips_class(ctx: MetricContext) -> dict[str, float]:
    """LPIPS diversity per class of input 1 (class-labelled samples), averaged over classes."""
    o = ctx.options
    labels, num_classes = class_labels(ctx, 1)
    model, record = _lpips_model(ctx)
    value, per_class, pairs = class_diversity(
        ctx.input1, labels, num_classes, model, o.lpips_pairs, o.seed, o.lpips_min_size, o.lpips_batch_size, ctx.device
    )
    record.update(mode="per class", min_size=o.lpips_min_size, pairs_per_class=o.lpips_pairs, pair_seed=o.seed,
                  classes=len(per_class), per_class={str(k): v for k, v in per_class.items()})
    ctx.details["lpips_class"] = record
    return {"lpips_class": value}
