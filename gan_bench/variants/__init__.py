"""Variants: one short file per family. Importing this package registers them all."""

from gan_bench.variants import (  # noqa: F401
    adversarial,
    age_cgan,
    biggan,
    completion,
    conditional,
    coupled,
    energy,
    fgan,
    improved_gan,
    infogan,
    multiplayer,
    planned,
    pyramid,
    sr,
    stacked,
    stylegan2,
    translation,
    triple_gan,
    vae,
)
