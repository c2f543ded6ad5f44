"""Feature extractors, one streaming pass per input, and an on-disk feature cache.

Extractors (each names the protocol its numbers belong to):

- ``legacy-tf``: torch-fidelity's ``FeatureExtractorInceptionV3`` (the TF-compatible Inception-v3,
  TF1 bilinear resize to 299 inside the network, 2048-d pool features, 1008 unbiased logits),
  run on CPU in channels-last memory format, which is ~1.6x faster there (``channels_last=False``
  runs exactly torch-fidelity's NCHW computation; the two round differently at ~1e-5 on logits).
- ``clean``: clean-fid's pipeline: each channel resized to 299x299 by PIL bicubic in float
  (``cleanfid.resize.make_resizer("PIL", False, "bicubic", (299, 299))``), then the StyleGAN2-ADA
  TorchScript Inception's ``layers`` on ``(x - 128) / 128``, 2048-d.
- ``<dataset>-classifier``: a gan_bench :class:`~gan_bench.metrics.classifiers.SmallCNN`;
  penultimate features, logits, and per-channel logits (Stacked MNIST).

Every input is read once per protocol; all requested metrics share the features. Features of a
cacheable input (folders, .npz, dataset splits; not generator runs) are stored under a key made of
the input's content hash, the extractor (name, weights sha256, resize) and the feature kinds, as a
safetensors file written to a temporary name and moved into place with :func:`os.replace`.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import os
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gan_bench.atomic import write_bytes as atomic_write_bytes
from gan_bench.metrics.classifiers import ClassifierSpec, load_classifier, to_model_input
from gan_bench.metrics.errors import MetricsInputError
from gan_bench.metrics.inputs import ImageInput
from gan_bench.metrics.weights import ResolvedWeights

log = logging.getLogger(__name__)

FEATURE_FORMAT = 1  # bump when extraction changes so old cache entries stop matching
ENV_CACHE_DIR = "GAN_BENCH_METRICS_CACHE"
DEFAULT_CACHE_DIR = Path("~/.cache/gan_bench/metrics").expanduser()

POOL = "pool"  # the features FID / KID / PR / DC are computed on
LOGITS = "logits"  # class logits (IS)
CHANNEL_LOGITS = "channel_logits"  # (N, C, classes): each channel classified on its own


class FeatureExtractor(ABC):
    """uint8 NCHW batches in, named float feature tensors out."""

    name: str
    protocol: str
    provides: tuple[str, ...]

    def __init__(self, device: str | torch.device) -> None:
        self.device = torch.device(device)

    @abstractmethod
    def __call__(self, batch: torch.Tensor, kinds: Iterable[str]) -> dict[str, torch.Tensor]:
        """Features of one uint8 (B, C, H, W) batch, float32 on the CPU."""

    @abstractmethod
    def record(self) -> dict[str, Any]:
        """What goes into the protocol object: extractor, library and version, weights, resize."""

    def cache_id(self) -> dict[str, Any]:
        """Everything that changes the features, for cache keys."""
        rec = self.record()
        rec["weights"] = {"sha256": rec["weights"]["sha256"]}  # not where the file was found
        return {"format": FEATURE_FORMAT, "protocol": self.protocol, "extractor": self.name, **rec}

    def stored_kinds(self, kinds: Iterable[str]) -> tuple[str, ...]:
        """The kinds to compute and cache when ``kinds`` are asked for (may be more, when free)."""
        bad = sorted(set(kinds) - set(self.provides))
        if bad:
            raise MetricsInputError(f"extractor {self.name} does not provide {', '.join(bad)} features")
        return tuple(sorted(set(kinds)))


def _to_rgb(batch: torch.Tensor) -> torch.Tensor:
    return batch.expand(-1, 3, -1, -1) if batch.shape[1] == 1 else batch


# --------------------------------------------------------------------------- legacy-tf: torch-fidelity


def _fidelity_class() -> type:
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    return FeatureExtractorInceptionV3


def _load_state_dict_safely(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file; report one line
        raise MetricsInputError(f"cannot load {path} as a weights-only state dict: {str(exc).splitlines()[0]}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise MetricsInputError(f"{path} is not a state dict of tensors (torch-fidelity weights format)")
    return state


class FidelityInception(FeatureExtractor):
    """torch-fidelity's TF-compatible Inception-v3 (protocol ``legacy-tf``)."""

    name = "inception-v3-compat"
    protocol = "legacy-tf"
    provides = (POOL, LOGITS)

    def __init__(self, weights: ResolvedWeights, device: str | torch.device = "cpu", channels_last: bool = True) -> None:
        super().__init__(device)
        self.weights = weights
        self.channels_last = channels_last and self.device.type == "cpu"
        state = _load_state_dict_safely(weights.path)
        # torch-fidelity's constructor torch.load()s with weights_only=False; hand it our re-serialised
        # tensors-only dict so nothing from the file is ever unpickled unsafely.
        buf = io.BytesIO()
        torch.save(state, buf)
        buf.seek(0)
        try:
            model = _fidelity_class()(self.name, ["2048", "logits_unbiased"], feature_extractor_weights_path=buf)
        except RuntimeError as exc:
            raise MetricsInputError(
                f"{weights.path} does not fit torch-fidelity's Inception-v3: {str(exc).splitlines()[0]}"
            ) from None
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model.eval().requires_grad_(False)

    def __call__(self, batch: torch.Tensor, kinds: Iterable[str]) -> dict[str, torch.Tensor]:
        with torch.inference_mode():
            pool, logits = self.model(_to_rgb(batch).to(self.device))
        return {POOL: pool.float().cpu(), LOGITS: logits.float().cpu()}

    def stored_kinds(self, kinds: Iterable[str]) -> tuple[str, ...]:
        super().stored_kinds(kinds)
        return self.provides  # both come out of the one forward pass

    def record(self) -> dict[str, Any]:
        import torch_fidelity

        return {
            "library": "torch-fidelity",
            "library_version": torch_fidelity.__version__,
            "extractor": "inception-v3-compat (TF Inception-v3, 2015-12-05 graph)",
            "features": "2048-d pool3; IS on 1008 unbiased logits",
            "resize": "TF1 bilinear to 299x299 inside the network (interpolate_bilinear_2d_like_tensorflow1x)",
            # channels-last convolutions round differently (~1e-5 relative on logits); recorded, and
            # part of the cache key, so features of the two layouts are never mixed
            "memory_format": "channels_last" if self.channels_last else "contiguous",
            "weights": self.weights.record(),
        }


# --------------------------------------------------------------------------- clean: clean-fid


class CleanFidInception(FeatureExtractor):
    """clean-fid's PIL-bicubic resize and the StyleGAN2-ADA TorchScript Inception (protocol ``clean``)."""

    name = "clean-fid-inception"
    protocol = "clean"
    provides = (POOL,)

    def __init__(self, weights: ResolvedWeights, device: str | torch.device = "cpu") -> None:
        super().__init__(device)
        from cleanfid.resize import make_resizer

        self.weights = weights
        try:
            with warnings.catch_warnings():  # TorchScript is deprecated upstream, but it is clean-fid's format
                warnings.simplefilter("ignore", FutureWarning)
                base = torch.jit.load(str(weights.path), map_location=self.device)
        except (RuntimeError, ValueError) as exc:
            raise MetricsInputError(f"cannot load {weights.path} as TorchScript: {str(exc).splitlines()[0]}") from None
        if not hasattr(base, "layers"):
            raise MetricsInputError(f"{weights.path} has no 'layers' module; it is not clean-fid's Inception")
        self.layers = base.layers.eval()
        self.resize = make_resizer("PIL", False, "bicubic", (299, 299))

    def __call__(self, batch: torch.Tensor, kinds: Iterable[str]) -> dict[str, torch.Tensor]:
        rgb = _to_rgb(batch).permute(0, 2, 3, 1).numpy()
        resized = np.stack([self.resize(img) for img in rgb])  # float32 HWC in [0, 255]
        # contiguous NCHW as clean-fid feeds it (a permuted view would run channels-last kernels,
        # which round differently)
        x = torch.from_numpy(resized).permute(0, 3, 1, 2).contiguous().to(self.device)
        with torch.inference_mode():
            feats = self.layers.forward((x - 128) / 128).reshape(x.shape[0], 2048)
        return {POOL: feats.float().cpu()}

    def record(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {
            "library": "clean-fid",
            "library_version": version("clean-fid"),
            "extractor": "StyleGAN2-ADA TorchScript Inception-v3 (2015-12-05 graph)",
            "features": "2048-d pool3",
            "resize": "PIL bicubic per channel in float32 to 299x299 (clean-fid 'clean' mode)",
            "weights": self.weights.record(),
        }


# --------------------------------------------------------------------------- gan_bench classifiers


class ClassifierFeatures(FeatureExtractor):
    """A gan_bench classifier's penultimate features and logits (protocol ``<dataset>-classifier``)."""

    provides = (POOL, LOGITS, CHANNEL_LOGITS)

    def __init__(self, spec: ClassifierSpec, weights: ResolvedWeights, device: str | torch.device = "cpu") -> None:
        super().__init__(device)
        self.spec = spec
        self.name = spec.protocol
        self.protocol = spec.protocol
        self.weights = weights
        self.model = load_classifier(weights.path, self.device)
        cfg = self.model.config
        self.in_channels, self.image_size = int(cfg["in_channels"]), int(cfg["image_size"])

    def __call__(self, batch: torch.Tensor, kinds: Iterable[str]) -> dict[str, torch.Tensor]:
        kinds = set(kinds)
        out: dict[str, torch.Tensor] = {}
        with torch.inference_mode():
            if kinds & {POOL, LOGITS}:
                feat, logits = self.model.features(to_model_input(batch, self.in_channels, self.image_size).to(self.device))
                out[POOL], out[LOGITS] = feat.float().cpu(), logits.float().cpu()
            if CHANNEL_LOGITS in kinds:
                b, c, h, w = batch.shape
                per_channel = batch.reshape(b * c, 1, h, w)
                _, logits = self.model.features(to_model_input(per_channel, 1, self.image_size).to(self.device))
                out[CHANNEL_LOGITS] = logits.float().cpu().reshape(b, c, -1)
        return {k: out[k] for k in self.stored_kinds(kinds)}

    def stored_kinds(self, kinds: Iterable[str]) -> tuple[str, ...]:
        kinds = set(super().stored_kinds(kinds))
        if kinds & {POOL, LOGITS}:
            kinds |= {POOL, LOGITS}
        return tuple(sorted(kinds))

    def record(self) -> dict[str, Any]:
        return {
            "library": "gan_bench",
            "extractor": f"{self.spec.protocol}: SmallCNN trained on {self.spec.dataset} ({self.spec.task})",
            "features": f"{self.model.config['feat_dim']}-d penultimate layer (after ReLU)",
            "resize": f"bilinear with antialias to {self.image_size}x{self.image_size} when the input differs",
            "weights": self.weights.record(),
        }


# --------------------------------------------------------------------------- the cache


def default_cache_dir() -> Path:
    """``$GAN_BENCH_METRICS_CACHE``, else ``~/.cache/gan_bench/metrics``."""
    env = os.environ.get(ENV_CACHE_DIR)
    return Path(env).expanduser() if env else DEFAULT_CACHE_DIR


class FeatureCache:
    """Features and statistics on disk, one safetensors file per key, written atomically."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root).expanduser() if root else default_cache_dir()

    @staticmethod
    def key(content_hash: str, extractor: FeatureExtractor, kinds: Iterable[str]) -> str:
        """The cache key of ``kinds`` features of the input with ``content_hash``."""
        ident = {"input": content_hash, "extractor": extractor.cache_id(), "kinds": sorted(kinds)}
        return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()

    def path(self, key: str, suffix: str = "") -> Path:
        return self.root / f"{key[:40]}{suffix}.safetensors"

    def load(self, key: str, suffix: str = "") -> dict[str, torch.Tensor] | None:
        """The tensors stored under ``key``, or None (missing or unreadable entries are misses)."""
        from safetensors import SafetensorError, safe_open

        path = self.path(key, suffix)
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                if (f.metadata() or {}).get("key") != key:
                    return None
                return {k: f.get_tensor(k) for k in f.keys()}
        except (OSError, SafetensorError):
            log.warning("ignoring unreadable cache file %s", path)
            return None

    def save(self, key: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any], suffix: str = "") -> Path:
        """Store ``tensors`` under ``key`` (temp file + os.replace, so readers never see half a file)."""
        from safetensors.torch import save

        blob = save(
            {k: v.contiguous() for k, v in tensors.items()},
            metadata={"key": key, "meta": json.dumps(meta, default=str)},
        )
        path = self.path(key, suffix)
        atomic_write_bytes(path, blob)
        return path


# --------------------------------------------------------------------------- extraction


def extract_features(
    inp: ImageInput,
    extractor: FeatureExtractor,
    kinds: Iterable[str],
    *,
    batch_size: int = 100,
    cache: FeatureCache | None = None,
    progress: bool = False,
) -> tuple[dict[str, torch.Tensor], bool]:
    """All ``kinds`` features of ``inp`` in one streaming pass (or from the cache).

    Returns (features, cache_hit). Batches go straight from the input to the extractor; only
    features are kept, so a generator run of any size never sits in memory as images.
    """
    from tqdm.auto import tqdm

    stored = extractor.stored_kinds(kinds)
    content = inp.content_hash() if cache is not None else None
    key = FeatureCache.key(content, extractor, stored) if content else None
    if key is not None and cache is not None:
        hit = cache.load(key)
        if hit is not None and all(k in hit for k in stored):
            log.debug("features of %s from cache %s", inp.spec, cache.path(key))
            return hit, True
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in stored}
    count = 0
    with tqdm(total=len(inp), unit="img", desc=f"{extractor.protocol} {inp.spec}", disable=not progress, leave=False) as bar:
        for batch in inp.batches(batch_size):
            feats = extractor(batch, stored)
            for k in stored:
                parts[k].append(feats[k])
            count += batch.shape[0]
            bar.update(batch.shape[0])
    if count == 0:
        raise MetricsInputError(f"{inp.spec} yielded no images")
    out = {k: torch.cat(v) for k, v in parts.items()}
    if key is not None and cache is not None:
        cache.save(key, out, {"input": inp.describe(), "extractor": extractor.cache_id()})
    return out, False


# --------------------------------------------------------------------------- stand-in weights


def _calibration_images(seed: int, per_kind: int = 4, size: int = 32) -> torch.Tensor:
    """Seeded uint8 images spanning what metrics see: pixel noise, smooth blobs, and sparse bright
    strokes on black (MNIST-like)."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randint(0, 256, (per_kind, 3, size, size), generator=gen).float()
    coarse = torch.rand(2 * per_kind, 3, 5, 5, generator=gen)
    smooth = nn.functional.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)
    blobs = smooth[:per_kind] * 255
    strokes = (smooth[per_kind:].mean(1, keepdim=True) > 0.6).float().expand(-1, 3, -1, -1) * 255
    return torch.cat([noise, blobs, strokes]).round().clamp(0, 255).to(torch.uint8)


@functools.lru_cache(maxsize=2)  # both stand-in formats of one seed share the network (read-only)
def _standin_fidelity_model(seed: int) -> nn.Module:
    cls = _fidelity_class()

    class _Skeleton(cls):  # type: ignore[misc, valid-type]
        def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
            return None  # keep the seeded random initialisation

    empty = io.BytesIO()
    torch.save({}, empty)
    empty.seek(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _Skeleton("inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=empty)
        # Random convolutions shrink activations layer after layer; calibrating the BatchNorm
        # running statistics on seeded noise images keeps every layer near unit scale, so the
        # stand-in's features are O(1) like the real network's.
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = None
                m.reset_running_stats()
        calib = _calibration_images(seed)
        model.train()
        with torch.no_grad():
            model(calib)
        model.eval()
        # The last block's branches end in BatchNorm + ReLU, so scaling their affine parameters
        # scales the pool features exactly: bring them to the real network's scale (RMS ~0.5), which
        # keeps KID's cubic kernel (x.y/d + 1)^3 in its usual range. The unbiased logits scale with
        # them; give those a spread of ~4, so the Inception Score of digits is clearly above 1.
        with torch.no_grad():
            pool, logits = model(calib)
            factor = 0.5 / float(pool.pow(2).mean().sqrt())
            last = model.Mixed_7c
            for branch in (last.branch1x1, last.branch3x3_2a, last.branch3x3_2b, last.branch3x3dbl_3a, last.branch3x3dbl_3b, last.branch_pool):
                branch.bn.weight.mul_(factor)
                branch.bn.bias.mul_(factor)
            model.fc.weight.mul_(4.0 / (factor * float(logits.std(dim=1).mean())))
    return model


def make_standin_fidelity_inception(path: str | os.PathLike[str], seed: int = 0) -> str:
    """Write random-init (seeded, BN-calibrated) Inception-v3 weights in torch-fidelity's format.

    The file loads wherever the official ``weights-inception-2015-12-05-6726825d.pth`` does
    (``--inception-weights``, ``torch_fidelity.calculate_metrics(feature_extractor_weights_path=)``),
    so the whole legacy-tf path runs offline. Its numbers mean nothing outside tests. Returns its sha256.
    """
    model = _standin_fidelity_model(seed)
    buf = io.BytesIO()
    torch.save({k: v.clone() for k, v in model.state_dict().items()}, buf)
    atomic_write_bytes(Path(path), buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()


class _CleanStandin(nn.Module):
    """Stand-in with the TorchScript interface clean-fid uses: ``.layers`` maps (x-128)/128 to 2048-d."""

    def __init__(self, trunk: nn.Module) -> None:
        super().__init__()
        self.layers = trunk

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class _FidelityTrunk(nn.Module):
    """torch-fidelity's Inception without its resize/normalisation: 299x299 input -> 2048 pool features."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        names = [
            "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
            "MaxPool_2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
            "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c", "AvgPool",
        ]  # fmt: skip
        self.body = nn.Sequential(*[getattr(model, n) for n in names])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.body(x), 1)


def make_standin_cleanfid_inception(path: str | os.PathLike[str], seed: int = 0) -> str:
    """Write a TorchScript stand-in for clean-fid's ``inception-2015-12-05.pt`` (same trunk as the
    torch-fidelity stand-in of ``seed``, traced). Returns its sha256."""
    trunk = _FidelityTrunk(_standin_fidelity_model(seed)).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is clean-fid's format
        traced = torch.jit.trace(_CleanStandin(trunk), torch.zeros(1, 3, 299, 299))
        buf = io.BytesIO()
        torch.jit.save(traced, buf)
    atomic_write_bytes(Path(path), buf.getvalue())
    return hashlib.sha256(buf.getvalue()).hexdigest()
