"""Architectures, by data kind. Importing this package registers them all."""

from gan_bench.nets import (  # noqa: F401
    dcgan,
    infogan,
    mlp,
    resnet,
)
