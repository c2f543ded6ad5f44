"""Variants the suite will cover whose implementation has not landed yet.

They are registered so that every tool already uses the final names (``gan-bench list`` marks
them as planned), and building one fails with a one-line error instead of a silent stub. Every
variant of the zoo is implemented today, so :data:`PLANNED` is empty; a name added here (or
registered with :func:`register_planned`, as a plugin may) is reserved until it lands.
"""

from __future__ import annotations

from gan_bench.config import ConfigError
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Variant

PLANNED: dict[str, str] = {}


def _planned(name: str, description: str) -> type[Variant]:
    class PlannedVariant(Variant):
        def build(self) -> None:
            raise ConfigError(f"variant {name!r} ({description}) is planned but not implemented yet")

    PlannedVariant.__name__ = f"Planned_{name.replace('-', '_')}"
    return PlannedVariant


def register_planned(name: str, description: str) -> None:
    """Reserve ``name``: listed as planned, and a run of it exits with one line saying so."""
    VARIANTS.register(name, description=description, planned=True)(_planned(name, description))


for _name, _description in PLANNED.items():
    register_planned(_name, _description)
