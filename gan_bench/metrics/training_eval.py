"""Offline scores of image runs, computed by the trainer at every evaluation.

No Inception weights exist offline, so training-time scores use the harness's own classifiers
(shipped in ``gan_bench/weights``) and are always named with their protocol:

- a dataset with a classifier (mnist, fashion_mnist, cifar10, utkface): ``fid[<p>]`` and
  ``kid_mean[<p>]`` / ``kid_std[<p>]`` on the classifier's penultimate features, fixed-z samples
  against up to 10,000 examples of the training data (a fixed subset), ``<p>`` =
  ``mnist-classifier`` etc. Domain FIDs are not comparable with Inception FIDs.
- ``stacked_mnist``: ``modes`` (of 1000) and ``kl_to_uniform``, each channel classified by the
  MNIST classifier (VEEGAN/PacGAN protocol with 26,000 samples: set ``eval.num_samples: 26000``).

Inception FID/KID/IS of a finished run come from ``gan-bench metrics RUN_DIR SPLIT``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch

from gan_bench.data.base import ArrayDataset
from gan_bench.metrics import weights as W
from gan_bench.metrics.classifiers import CLASSIFIERS, classifier_spec
from gan_bench.metrics.features import CHANNEL_LOGITS, POOL, ClassifierFeatures
from gan_bench.metrics.frechet import frechet_distance_from_features
from gan_bench.metrics.harness import leaderboard_column
from gan_bench.metrics.inputs import float_to_uint8
from gan_bench.metrics.kid import kernel_distance
from gan_bench.metrics.stacked_mnist_modes import mode_coverage
from gan_bench.registry import METRICS

REFERENCE_EXAMPLES = 10_000
BATCH = 500
_DATASETS_WITH_CLASSIFIER = {s.dataset for s in CLASSIFIERS.values()}
# One extractor per dataset and one set of reference features per reference content, per process:
# evaluations repeat during a run, and a suite's runs share data. The reference key is a hash of
# the exact uint8 examples, never the dataset's name or shape: MNIST padded and MNIST resized have
# the same name, length and shape but different pixels, and must not share features.
_extractors: dict[str, ClassifierFeatures] = {}
_reference: dict[str, torch.Tensor] = {}


def _extractor(dataset: str) -> ClassifierFeatures:
    if dataset not in _extractors:
        spec = classifier_spec(dataset)
        _extractors[dataset] = ClassifierFeatures(spec, W.resolve(spec.protocol, allow_download=False))
    return _extractors[dataset]


def _features(extractor: ClassifierFeatures, images: torch.Tensor, kind: str) -> torch.Tensor:
    """Features of uint8 NCHW ``images`` in batches."""
    parts = [extractor(images[i : i + BATCH], [kind])[kind] for i in range(0, images.shape[0], BATCH)]
    return torch.cat(parts)


def _reference_images(dataset: ArrayDataset) -> torch.Tensor:
    """The fixed subset of up to :data:`REFERENCE_EXAMPLES` training examples, as uint8 NCHW."""
    n = min(len(dataset), REFERENCE_EXAMPLES)
    index = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[:n]
    x = dataset.x[index.to(dataset.x.device)].cpu()
    return x if x.dtype == torch.uint8 else float_to_uint8(x)


def reference_key(images: torch.Tensor, extractor: ClassifierFeatures) -> str:
    """blake2b of the reference images' bytes and shape and of the extractor's protocol (about
    30 ms for 10,000 CIFAR-10 images, small beside extracting their features)."""
    h = hashlib.blake2b(digest_size=20)
    h.update(f"{extractor.protocol} {tuple(images.shape)} {images.dtype}\0".encode())
    h.update(images.contiguous().numpy().tobytes())
    return h.hexdigest()


def _reference_features(dataset: ArrayDataset, extractor: ClassifierFeatures) -> torch.Tensor:
    images = _reference_images(dataset)
    key = reference_key(images, extractor)
    if key not in _reference:
        _reference[key] = _features(extractor, images, POOL)
    return _reference[key]


def describe_protocol(dataset: ArrayDataset, num_samples: int) -> str:
    """How :func:`evaluate_classifier_scores` measured ``dataset``'s runs, in one line."""
    if dataset.name == "stacked_mnist":
        note = "" if num_samples == 26_000 else " (VEEGAN/PacGAN use 26,000 samples)"
        return (f"Stacked MNIST modes: {num_samples} fixed-z samples, each channel classified by "
                f"mnist-classifier, modes of 1000 and KL(p || uniform){note}")
    if dataset.name in _DATASETS_WITH_CLASSIFIER:
        p = classifier_spec(dataset.name).protocol
        return (f"{p}: domain FID/KID on the classifier's penultimate features, {num_samples} fixed-z samples "
                f"vs up to {REFERENCE_EXAMPLES} training examples (not comparable with Inception FID)")
    return ""


@METRICS.register("classifier-scores", kinds=("image",), default=True, protocol=describe_protocol,
                  description="offline FID/KID on the dataset's gan_bench classifier; Stacked MNIST modes and KL")
def evaluate_classifier_scores(samples: torch.Tensor, dataset: ArrayDataset) -> dict[str, Any]:
    """Training-time scores of float NCHW ``samples`` in [-1, 1] (see the module docstring)."""
    images = float_to_uint8(samples.cpu())
    if dataset.name == "stacked_mnist":
        logits = _features(_extractor("mnist"), images, CHANNEL_LOGITS)
        out = mode_coverage(logits)
        return {"modes": float(out["modes"]), "kl_to_uniform": out["kl_to_uniform"]}
    if dataset.name not in _DATASETS_WITH_CLASSIFIER:
        return {}
    extractor = _extractor(dataset.name)
    fake = _features(extractor, images, POOL)
    real = _reference_features(dataset, extractor)
    p = extractor.protocol
    kid_mean, kid_std = kernel_distance(fake, real, subsets=100, subset_size=min(1000, len(fake), len(real)))
    return {
        leaderboard_column("fid", p): frechet_distance_from_features(fake, real),
        leaderboard_column("kid_mean", p): kid_mean,
        leaderboard_column("kid_std", p): kid_std,
    }
