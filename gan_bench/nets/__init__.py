"""Architectures, by data kind. Importing this package registers them all."""

from gan_bench.nets import (  # noqa: F401
    biggan,
    completion,
    coupled,
    cyclegan,
    dcgan,
    faces,
    infogan,
    mlp,
    resnet,
    rrdb,
    semi,
    srresnet,
    stages,
    stylegan2,
    unet,
)
