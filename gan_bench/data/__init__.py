"""Datasets. Importing this package registers every loader."""

from gan_bench.data import (  # noqa: F401
    celeba,
    cifar10,
    folder,
    idx,
    masks,
    mixtures,
    sr,
    stacked_mnist,
    translation,
    utkface,
)
