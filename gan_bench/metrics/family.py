"""What an image-metric family is, and what it is handed when it runs.

Each family registers a function ``compute(ctx: MetricContext) -> dict[str, float]`` in
:data:`gan_bench.registry.METRICS` with metadata ``harness="image"``, ``keys`` (the JSON keys it
returns), ``arity`` (1: scores INPUT1 alone; 2: compares INPUT1 with the reference INPUT2),
``features`` (feature kinds it reads) and ``protocols`` (where it is defined); ``kinds=()`` and
``default=False`` keep it out of the trainer's per-dataset evaluators, which take
``(samples, dataset)``. The harness reads only that metadata: adding a family never touches it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from gan_bench.metrics.classifiers import CLASSIFIERS

INCEPTION_PROTOCOLS = ("legacy-tf", "clean")
CLASSIFIER_PROTOCOLS = tuple(CLASSIFIERS)
PROTOCOLS = INCEPTION_PROTOCOLS + CLASSIFIER_PROTOCOLS


@dataclass
class MetricOptions:
    """Every knob of every family; defaults are the published protocols."""

    kid_subsets: int = 100
    kid_subset_size: int = 1000
    kid_degree: int = 3
    kid_coef0: float = 1.0
    kid_gamma: float | None = None  # None: 1 / feature dimension
    is_splits: int = 10
    seed: int = 2020  # torch-fidelity's rng_seed: KID subsets and the IS shuffle
    prc_k: int = 3
    dc_k: int = 5
    lpips_net: str = "alex"
    lpips_version: str = "0.1"
    lpips_pairs: int = 1000
    lpips_mode: str = "unconditional"  # or "conditional" (BicycleGAN: samples per input, consecutive pairs)
    lpips_samples_per_input: int = 20
    lpips_random_backbone: int | None = None  # seed of a random trunk (tests only; never comparable)
    lpips_min_size: int = 64  # smaller images are upsampled (AlexNet needs at least ~32 px)
    lpips_batch_size: int = 50


@dataclass
class MetricContext:
    """Features of both inputs (computed once) and everything a family may need besides."""

    feats1: dict[str, torch.Tensor]
    feats2: dict[str, torch.Tensor] | None
    options: MetricOptions
    input1: Any = None  # ImageInput
    input2: Any = None
    device: str = "cpu"
    weights_dir: str | None = None
    allow_download: bool | None = None
    progress: bool = False
    stats1: tuple[np.ndarray, np.ndarray] | None = None
    stats2: tuple[np.ndarray, np.ndarray] | None = None
    requested: tuple[str, ...] = ()  # every family asked for in this call
    details: dict[str, Any] = field(default_factory=dict)  # per-family parameters for the protocol object
    warnings: list[str] = field(default_factory=list)
    memo: dict[Any, Any] = field(default_factory=dict)  # work shared between families (one k-NN pass)

    def features(self, which: int, kind: str) -> torch.Tensor:
        """Features ``kind`` of input 1 or 2."""
        feats = self.feats1 if which == 1 else self.feats2
        if feats is None or kind not in feats:
            raise KeyError(f"input {which} has no {kind} features")
        return feats[kind]
