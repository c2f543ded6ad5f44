"""Scores of class-conditional samples, on the dataset's offline gan_bench classifier.

For a conditional variant, evaluation asks for balanced labels (sample i gets class i mod K) and
hands the :class:`~gan_bench.variants.base.Sample` with its ``y`` to this metric:

- ``class_acc[<p>]``: the fraction of samples the classifier assigns to the class they were
  generated for (does the label control the output? the AC-GAN paper's test, Odena et al. 2017,
  section 4.1, with gan_bench's classifier in place of Inception);
- ``fid_intra[<p>]``: intra-class FID (Miyato & Koyama 2018): FID on the classifier's
  penultimate features between the samples of class k and the reference training examples of
  class k, averaged over the classes that have at least two of each;
- ``kid_intra[<p>]``: intra-class KID, the same per class with the unbiased KID (subsets of at
  most 1,000), averaged; less biased than FID for the few hundred samples a class gets.

``<p>`` is the classifier's protocol (``mnist-classifier``, ...); the reference examples are the
same fixed subset of up to 10,000 training images as ``fid[<p>]``. :func:`code_to_class_accuracy`
scores InfoGAN's categorical code the same way (best one-to-one matching of codes to classes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from gan_bench.data.base import ArrayDataset
from gan_bench.metrics.classifiers import classifier_spec
from gan_bench.metrics.features import LOGITS, POOL
from gan_bench.metrics.frechet import frechet_distance_from_features
from gan_bench.metrics.harness import leaderboard_column
from gan_bench.metrics.inputs import float_to_uint8
from gan_bench.metrics.kid import kernel_distance
from gan_bench.metrics.training_eval import (
    _DATASETS_WITH_CLASSIFIER,
    BATCH,
    REFERENCE_EXAMPLES,
    _extractor,
    _reference_features,
)
from gan_bench.registry import METRICS

if TYPE_CHECKING:  # the variants package imports the metrics; no cycle at run time
    from gan_bench.variants.base import Sample


def has_classifier(dataset: str, num_classes: int) -> bool:
    """Whether ``dataset`` has a gan_bench classifier over exactly its ``num_classes`` labels."""
    return dataset in _DATASETS_WITH_CLASSIFIER and classifier_spec(dataset).num_classes == num_classes


def classify(dataset: str, samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(penultimate features, logits) of float NCHW ``samples`` in [-1, 1] under ``dataset``'s
    classifier, on the CPU."""
    extractor = _extractor(dataset)
    images = float_to_uint8(samples.detach().float().cpu())
    feats, logits = [], []
    for i in range(0, images.shape[0], BATCH):
        out = extractor(images[i : i + BATCH], [POOL, LOGITS])
        feats.append(out[POOL])
        logits.append(out[LOGITS])
    return torch.cat(feats), torch.cat(logits)


def reference_labels(dataset: ArrayDataset) -> torch.Tensor:
    """The labels of the reference examples behind ``_reference_features`` (the same fixed subset:
    the first ``REFERENCE_EXAMPLES`` of a permutation seeded with 0)."""
    n = min(len(dataset), REFERENCE_EXAMPLES)
    index = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0))[:n]
    return dataset.y[index.to(dataset.y.device)].cpu().long()


def intra_class_fid(fake: torch.Tensor, fake_y: torch.Tensor, real: torch.Tensor, real_y: torch.Tensor,
                    num_classes: int) -> float:
    """The mean over classes of FID(fake features of class k, real features of class k); classes
    with fewer than two samples on either side are skipped (NaN when none is left)."""
    scores = []
    for k in range(num_classes):
        f, r = fake[fake_y == k], real[real_y == k]
        if len(f) >= 2 and len(r) >= 2:
            scores.append(frechet_distance_from_features(f, r))
    return float(np.mean(scores)) if scores else float("nan")


def intra_class_kid(fake: torch.Tensor, fake_y: torch.Tensor, real: torch.Tensor, real_y: torch.Tensor,
                    num_classes: int, subsets: int = 100, subset_size: int = 1000, seed: int = 2020) -> float:
    """The mean over classes of KID(fake features of class k, real features of class k), each on
    ``subsets`` subsets of up to ``subset_size`` per side (``seed``: KID's subset stream); classes
    with fewer than two samples on either side are skipped (NaN when none is left)."""
    scores = []
    for k in range(num_classes):
        f, r = fake[fake_y == k], real[real_y == k]
        if len(f) >= 2 and len(r) >= 2:
            scores.append(kernel_distance(f, r, subsets=subsets, subset_size=min(subset_size, len(f), len(r)), seed=seed)[0])
    return float(np.mean(scores)) if scores else float("nan")


def class_accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """The fraction of samples whose classifier logits' argmax is the label ``y`` they were asked for."""
    return float((logits.argmax(1).cpu() == y.cpu().long()).double().mean())


def code_to_class_accuracy(codes: torch.Tensor, classes: torch.Tensor, num_codes: int, num_classes: int) -> float:
    """Accuracy of the best one-to-one assignment of codes to classes (Hungarian matching of the
    code x class count matrix, scipy's ``linear_sum_assignment``), as InfoGAN's categorical-code
    error is scored (Chen et al. 2016, section 7.1): 1 when every code maps to its own class."""
    counts = torch.zeros(num_codes, num_classes, dtype=torch.long)
    counts.index_put_((codes.long().cpu(), classes.long().cpu()), torch.ones(len(codes), dtype=torch.long),
                      accumulate=True)
    rows, cols = linear_sum_assignment(counts.numpy(), maximize=True)
    return float(counts.numpy()[rows, cols].sum()) / max(len(codes), 1)


def describe_protocol(dataset: ArrayDataset, num_samples: int) -> str:
    """How :func:`evaluate_conditional` measured ``dataset``'s conditional runs, in one line."""
    if not has_classifier(dataset.name, dataset.spec.num_classes):
        return ""
    p = classifier_spec(dataset.name).protocol
    return (f"conditional ({p}): class accuracy of {num_samples} class-balanced samples and intra-class FID/KID "
            f"against each class's reference training examples (only for class-conditional variants)")


@METRICS.register("conditional", kinds=("image",), default=True, needs=("y",), protocol=describe_protocol,
                  keys=("class_acc", "fid_intra", "kid_intra"),
                  description="class-conditional samples: accuracy of the dataset's gan_bench classifier on "
                              "the asked-for labels, and intra-class FID on its features")
def evaluate_conditional(sample: Sample, dataset: ArrayDataset) -> dict[str, float]:
    """``class_acc[<p>]``, ``fid_intra[<p>]`` and ``kid_intra[<p>]`` of a labelled sample (see the module docstring);
    empty when the dataset has no classifier over its labels."""
    if sample.y is None or dataset.y is None or not has_classifier(dataset.name, dataset.spec.num_classes):
        return {}
    K = dataset.spec.num_classes
    feats, logits = classify(dataset.name, sample.x)
    y = sample.y.cpu().long()
    p = classifier_spec(dataset.name).protocol
    real = _reference_features(dataset, _extractor(dataset.name))
    real_y = reference_labels(dataset)
    return {
        leaderboard_column("class_acc", p): class_accuracy(logits, y),
        leaderboard_column("fid_intra", p): intra_class_fid(feats, y, real, real_y, K),
        leaderboard_column("kid_intra", p): intra_class_kid(feats, y, real, real_y, K),
    }
