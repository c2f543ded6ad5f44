"""Class-conditional metrics in the harness (``gan-bench metrics RUN SPLIT --metrics class_acc,...``).

The same scores the trainer computes for a class-conditional run (:mod:`gan_bench.metrics.conditional`),
here on the harness's inputs, features and options:

- ``class_acc``: the fraction of INPUT1's samples that the protocol's classifier assigns to the
  class they were generated for (Odena et al. 2017, section 4.1, with gan_bench's classifier in
  place of Inception); only under the ``*-classifier`` protocols, whose classifier knows the labels;
- ``fid_intra``: intra-class FID (Miyato & Koyama 2018): FID between the INPUT1 samples of class k
  and the INPUT2 examples of class k on the protocol's pool features, averaged over the classes
  with at least two of each;
- ``kid_intra``: the same with the unbiased KID (``--kid-subsets``, subsets of up to
  ``--kid-subset-size`` per class, ``--metric-seed``).

INPUT1 must carry labels (a class-conditional run: its samples are class-balanced, sample i of
class i mod K; or an .npz with ``y``); intra-class scores also need INPUT2's labels (a dataset
split such as ``mnist:test``). The per-class work is :func:`~gan_bench.metrics.conditional.intra_class_fid`
and :func:`~gan_bench.metrics.conditional.intra_class_kid`; features are the harness's, extracted
once per input and shared with every other family.
"""

from __future__ import annotations

import torch

from gan_bench.metrics.conditional import class_accuracy, intra_class_fid, intra_class_kid
from gan_bench.metrics.errors import MetricsInputError
from gan_bench.metrics.family import CLASSIFIER_PROTOCOLS, PROTOCOLS, MetricContext
from gan_bench.metrics.features import LOGITS, POOL
from gan_bench.metrics.harness import class_labels
from gan_bench.registry import METRICS


def class_counts(y: torch.Tensor, num_classes: int) -> list[int]:
    """How many labels fall in each class."""
    return torch.bincount(y.long(), minlength=num_classes).tolist()


@METRICS.register(
    "class-acc",
    harness="image",
    kinds=(),  # not a training-time evaluator (the trainer's is "conditional")
    default=False,
    keys=("class_acc",),
    arity=1,
    features=(LOGITS,),
    labels=(1,),
    protocols=CLASSIFIER_PROTOCOLS,
    description="class-conditional samples: accuracy of the protocol's classifier on the asked-for labels",
)
def compute_class_acc(ctx: MetricContext) -> dict[str, float]:
    """Accuracy of the protocol's classifier on INPUT1's labels."""
    logits = ctx.features(1, LOGITS)
    y, num_classes = class_labels(ctx, 1)
    if num_classes != logits.shape[1]:
        raise MetricsInputError(
            f"class_acc: the labels range over {num_classes} classes but the protocol's classifier knows "
            f"{logits.shape[1]}; use the classifier protocol of the run's dataset"
        )
    ctx.details["class_acc"] = {"classifier": "the protocol's classifier, argmax of its logits",
                                "per_class_samples": class_counts(y, num_classes)}
    return {"class_acc": class_accuracy(logits, y)}


def _per_class_sizes(ctx: MetricContext, name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """(fake features, fake labels, real features, real labels, K) with the class sizes recorded
    and a warning for classes that are skipped or too small for a full-rank covariance."""
    f1, f2 = ctx.features(1, POOL), ctx.features(2, POOL)
    y1, num_classes = class_labels(ctx, 1)
    y2, _ = class_labels(ctx, 2)
    n1, n2 = class_counts(y1, num_classes), class_counts(y2, num_classes)
    skipped = [k for k in range(num_classes) if n1[k] < 2 or n2[k] < 2]
    if len(skipped) == num_classes:
        raise MetricsInputError(f"{name}: no class has two samples in both inputs (per class: INPUT1 {n1}, INPUT2 {n2})")
    if skipped:
        ctx.warnings.append(f"{name}: classes {skipped} have fewer than 2 samples in an input and are left out of the mean")
    dim = f1.shape[1]
    smallest = min(min(n1[k], n2[k]) for k in range(num_classes) if k not in skipped)
    if name == "fid_intra" and smallest <= dim:
        ctx.warnings.append(f"fid_intra: a class has {smallest} samples with {dim}-d features: its covariance is singular "
                            f"and small-sample bias dominates (use more than {dim} per class)")
    ctx.memo.setdefault("class_sizes", {"input1": n1, "input2": n2, "skipped": skipped})
    return f1, y1, f2, y2, num_classes


@METRICS.register(
    "fid-intra",
    harness="image",
    kinds=(),
    default=False,
    keys=("fid_intra",),
    arity=2,
    features=(POOL,),
    labels=(1, 2),
    protocols=PROTOCOLS,
    description="intra-class FID: per class against the reference's examples of that class, averaged",
)
def compute_fid_intra(ctx: MetricContext) -> dict[str, float]:
    """Intra-class FID between the inputs (see the module docstring)."""
    f1, y1, f2, y2, num_classes = _per_class_sizes(ctx, "fid_intra")
    ctx.details["fid_intra"] = {"classes": num_classes, "average": "mean over classes with >= 2 samples on both sides",
                                **ctx.memo["class_sizes"]}
    return {"fid_intra": intra_class_fid(f1, y1, f2, y2, num_classes)}


@METRICS.register(
    "kid-intra",
    harness="image",
    kinds=(),
    default=False,
    keys=("kid_intra",),
    arity=2,
    features=(POOL,),
    labels=(1, 2),
    protocols=PROTOCOLS,
    description="intra-class KID: per class against the reference's examples of that class, averaged",
)
def compute_kid_intra(ctx: MetricContext) -> dict[str, float]:
    """Intra-class KID between the inputs (see the module docstring)."""
    o = ctx.options
    if (o.kid_degree, o.kid_gamma, o.kid_coef0) != (3, None, 1.0):
        raise MetricsInputError("kid_intra uses KID's cubic kernel (degree 3, gamma 1/d, coef0 1) only")
    f1, y1, f2, y2, num_classes = _per_class_sizes(ctx, "kid_intra")
    ctx.details["kid_intra"] = {"classes": num_classes, "subsets": o.kid_subsets,
                                "subset_size": f"min({o.kid_subset_size}, samples of the class on either side)",
                                "seed": o.seed, "estimator": "unbiased MMD^2, cubic polynomial kernel",
                                **ctx.memo["class_sizes"]}
    value = intra_class_kid(f1, y1, f2, y2, num_classes, subsets=o.kid_subsets, subset_size=o.kid_subset_size, seed=o.seed)
    return {"kid_intra": value}
