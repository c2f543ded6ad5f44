"""Architectures, by data kind. Importing this package registers them all."""

from gan_bench.nets import mlp  # noqa: F401
from gan_bench.nets import dcgan, infogan, resnet  # noqa: F401
