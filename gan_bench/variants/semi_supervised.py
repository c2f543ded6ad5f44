"""Semi-supervised data for variants, without touching any dataset loader.

The papers' protocol (Salimans et al. 2016 section 5, Li et al. 2017 section 5): of the training
set, ``labels_per_class`` examples of every class keep their label (MNIST: 10 per class, 100 in
all), chosen once from a fixed seed; every training image serves as unlabelled data. A variant
holds a :class:`LabelledSubset` of ``self.ctx.data``, draws labelled batches from it with the
run's resumable noise generator, and takes its unlabelled batches from the trainer's real batches
(ignoring their ``y``). Its classifier is scored on the dataset's test split by
:func:`test_error`.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from gan_bench.config import ConfigError
from gan_bench.data.base import ArrayDataset, load_dataset

log = logging.getLogger("gan_bench.variants")


def labelled_index(y: torch.Tensor, labels_per_class: int, num_classes: int, seed: int = 0) -> torch.Tensor:
    """Sorted indices of a balanced labelled subset: ``labels_per_class`` examples of each class,
    drawn without replacement from a generator seeded with ``seed`` (independent of the run's seed,
    so every run of a suite sees the same labels).

    A class with fewer examples than asked for (a tiny ``data.num_examples`` subset) gives all it
    has, with a warning; a dataset with no example of some class is refused."""
    y = y.detach().cpu().long()
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(y), generator=gen)  # one permutation, then the first of each class
    picked = []
    for k in range(num_classes):
        members = order[y[order] == k]
        if len(members) == 0:
            raise ConfigError(f"no training example of class {k}: a labelled subset needs every class "
                              "(use a larger data.num_examples)", "model.labels_per_class")
        if len(members) < labels_per_class:
            log.warning("class %d has only %d training examples; %d asked for", k, len(members), labels_per_class)
        picked.append(members[:labels_per_class])
    return torch.cat(picked).sort().values


class LabelledSubset:
    """The labelled part of a training set, and batches drawn from it."""

    def __init__(self, data: ArrayDataset | None, labels_per_class: int, seed: int = 0) -> None:
        if data is None or data.y is None or data.spec.num_classes < 2:
            raise ConfigError("semi-supervised variants need a labelled classification dataset (mnist, ...)",
                              "dataset")
        self.data = data
        self.num_classes = data.spec.num_classes
        self.index = labelled_index(data.y, labels_per_class, self.num_classes, seed).to(data.x.device)

    def __len__(self) -> int:
        return int(self.index.numel())

    def batch(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``n`` labelled examples drawn uniformly with replacement with ``generator`` (the run's
        noise generator, so a resumed run draws the same ones)."""
        pick = torch.randint(len(self), (n,), generator=generator, device=generator.device)
        return self.data.batch(self.index[pick.to(self.index.device)])


def init_batch(data: ArrayDataset, n: int = 500) -> dict[str, torch.Tensor]:
    """The first ``n`` training examples: a fixed batch for data-dependent initialisation."""
    return data.batch(torch.arange(min(n, len(data)), device=data.x.device))


_TEST_SPLITS: dict[tuple[str, str, str], ArrayDataset] = {}


def test_split(dataset: str, root: str | None, options: dict | None, device: torch.device) -> ArrayDataset:
    """The dataset's whole test split on ``device`` (``data.num_examples`` does not apply: the
    papers score all 10,000 MNIST test images), loaded once per process."""
    opts = {k: v for k, v in (options or {}).items() if k != "num_examples"}
    key = (dataset, str(root), repr(sorted(opts.items())) + str(device))
    if key not in _TEST_SPLITS:
        _TEST_SPLITS[key] = load_dataset(dataset, "test", root, opts).to(device)
    return _TEST_SPLITS[key]


@torch.no_grad()
def test_error(classify: Callable[[torch.Tensor], torch.Tensor], data: ArrayDataset, batch_size: int = 1000) -> float:
    """Percentage of ``data`` that ``classify`` (images -> (N, K) class scores, nets in eval mode)
    gets wrong: the papers' "test error" in %."""
    wrong = 0
    for start in range(0, len(data), batch_size):
        batch = data.batch(torch.arange(start, min(start + batch_size, len(data)), device=data.x.device))
        wrong += int((classify(batch["x"]).argmax(1) != batch["y"]).sum())
    return 100.0 * wrong / len(data)


def classifier_scores(variant: Any, role: str, net: nn.Module | None = None) -> dict[str, float]:
    """``test_error`` of ``variant.nets[role]`` (or of ``net``, a stand-in for it; a K-class
    classifier, in eval mode for the pass) on the whole test split: what a semi-supervised
    variant's :meth:`own_metrics` reports."""
    cfg = variant.cfg
    data = test_split(cfg.dataset, cfg.data_root or None, cfg.data, variant.device)
    net = variant.nets[role] if net is None else net
    was_training = net.training
    net.eval()
    try:
        return {"test_error": test_error(net, data)}
    finally:
        net.train(was_training)


@torch.no_grad()
def recompute_batch_norm(net: nn.Module, x: torch.Tensor, batch_size: int = 500) -> nn.Module:
    """A copy of ``net`` whose batch-norm statistics are those of the images ``x`` (dropout and
    noise off), as for weights averaged over training (Izmailov et al. 2018's ``bn_update``): the
    running statistics of a moving net do not fit its averaged weights."""
    net = copy.deepcopy(net)
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    net.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches below
        m.train()
    for start in range(0, len(x), batch_size):
        net(x[start:start + batch_size])
    net.eval()
    return net


def classifier_protocol(variant: Any, role: str) -> str:
    """One line on how :func:`classifier_scores` measures, for the run's protocol."""
    per_class = variant.opts.labels_per_class
    return (f"test_error: % of the {variant.cfg.dataset} test split misclassified by {role} (the papers' "
            f"semi-supervised protocol: {per_class} labels per class, the rest unlabelled)")
