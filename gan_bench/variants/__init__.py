"""Variants: one short file per family. Importing this package registers them all."""

from gan_bench.variants import adversarial, energy, multiplayer, planned, vae  # noqa: F401
