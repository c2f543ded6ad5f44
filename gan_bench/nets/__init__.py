"""Architectures, by data kind. Importing this package registers them all."""

from gan_bench.nets import (  # noqa: F401
    coupled,
    dcgan,
    faces,
    infogan,
    mlp,
    resnet,
    rrdb,
    semi,
    srresnet,
    stages,
)
