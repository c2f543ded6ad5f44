"""Variants the suite will cover whose implementation has not landed yet.

They are registered so that every tool already uses the final names (``gan-bench list`` marks
them as planned), and building one fails with a one-line error instead of a silent stub.
"""

from __future__ import annotations

from gan_bench.config import ConfigError
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Variant

PLANNED = {
    "biggan": "BigGAN (Brock et al. 2019)",
    "stylegan2": "StyleGAN2 (Karras et al. 2020)",
    "pix2pix": "pix2pix: U-Net + PatchGAN + L1 (Isola et al. 2017)",
    "cyclegan": "CycleGAN (Zhu et al. 2017)",
    "completion": "adversarial image completion with global + local discriminators (Iizuka et al. 2017)",
}


def _planned(name: str, description: str) -> type[Variant]:
    class PlannedVariant(Variant):
        def build(self) -> None:
            raise ConfigError(f"variant {name!r} ({description}) is planned but not implemented yet")

    PlannedVariant.__name__ = f"Planned_{name.replace('-', '_')}"
    return PlannedVariant


for _name, _description in PLANNED.items():
    VARIANTS.register(_name, description=_description, planned=True)(_planned(_name, _description))
