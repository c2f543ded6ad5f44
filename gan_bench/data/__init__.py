"""Datasets. Importing this package registers every loader."""

from gan_bench.data import mixtures  # noqa: F401
from gan_bench.data import celeba, cifar10, folder, idx, stacked_mnist, utkface  # noqa: F401
