"""Metrics. Importing this package registers every metric family in ``METRICS``."""

from gan_bench.metrics import (  # noqa: F401
    class_conditional,
    completion,
    conditional,
    frechet,
    inception_score,
    kid,
    lpips_diversity,
    mode_coverage,
    prdc,
    sr,
    stacked_mnist_modes,
    training_eval,
    translation,
)
