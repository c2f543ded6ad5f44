"""Metrics. Importing this package registers every metric family in ``METRICS``."""

from gan_bench.metrics import mode_coverage  # noqa: F401
from gan_bench.metrics import frechet, inception_score, kid, lpips_diversity, prdc, stacked_mnist_modes  # noqa: F401
from gan_bench.metrics import training_eval  # noqa: F401
