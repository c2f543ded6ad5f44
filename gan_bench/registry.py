"""Decorator registries for variants, architectures, datasets and metrics.

Every pluggable piece of gan_bench registers itself here under a lowercase, hyphenated name,
the way BasicSR does: ``@VARIANTS.register("wgan-gp")``. The trainer, the suite and the CLI only
ever look things up by name, so adding a variant never touches them; a user's own file or package
registers the same way (see :mod:`gan_bench.plugins`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised when a name is not in a registry; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


@dataclass
class Entry(Generic[T]):
    """One registered object with free-form metadata (options class, description, ...)."""

    name: str
    obj: T
    meta: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """A name -> object map filled by a decorator."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, **meta: Any) -> Callable[[T], T]:
        """Decorator: register ``obj`` under ``name`` with optional metadata (an implementation may
        take the place of a name registered as planned; any other name is registered once)."""

        def deco(obj: T) -> T:
            if name in self._entries and not self._entries[name].meta.get("planned"):
                where = getattr(obj, "__module__", "")
                raise ValueError(f"{self.kind} {name!r} is registered twice"
                                 + (f" (again in {where})" if where else ""))
            self._entries[name] = Entry(name, obj, dict(meta))
            return obj

        return deco

    def entry(self, name: str) -> Entry[T]:
        _load_builtins()
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(sorted(self._entries))}"
            ) from None

    def get(self, name: str) -> T:
        """The registered object, or a clear error listing the valid names."""
        return self.entry(name).obj

    def names(self) -> list[str]:
        _load_builtins()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        _load_builtins()
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        _load_builtins()
        return iter([self._entries[n] for n in sorted(self._entries)])


VARIANTS: Registry[Any] = Registry("variant")
ARCHITECTURES: Registry[Any] = Registry("architecture")
DATASETS: Registry[Any] = Registry("dataset")
METRICS: Registry[Any] = Registry("metric")

# Modules whose import registers the built-in entries. Imported lazily so that
# `import gan_bench.registry` stays cheap and free of import cycles.
_BUILTIN_MODULES = (
    "gan_bench.nets",
    "gan_bench.data",
    "gan_bench.variants",
    "gan_bench.metrics",
)
_loaded = False


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
    from gan_bench.plugins import load_entry_points

    load_entry_points()  # installed packages' own variants, after the built-ins
