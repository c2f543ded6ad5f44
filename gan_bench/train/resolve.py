"""From YAML files, command-line flags and ``key=value`` overrides to one validated run.

Layers, lowest first: built-in defaults < the dataset's defaults < the variant's defaults <
config files < command-line flags < ``key=value`` overrides. The whole result is validated,
including the variant's ``model``, the architecture's ``net`` and the dataset's ``data`` options,
before anything is written; errors name the key and where it was set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gan_bench.budget import Budget
from gan_bench.config import ConfigError, Layers, RunConfig, from_mapping, load_yaml, parse_override, set_dotted
from gan_bench.registry import ARCHITECTURES, DATASETS, VARIANTS, Entry, UnknownNameError

DEFAULT_ARCH = {"points": "mlp", "image": "dcgan"}


@dataclass
class ResolvedRun:
    """A fully validated run: the config plus the registry entries and option objects it names."""

    cfg: RunConfig
    budget: Budget
    variant: Entry[Any]
    model_opts: Any
    arch: Entry[Any]
    net_opts: Any
    dataset: Entry[Any]
    data_opts: Any


def _lookup(registry: Any, name: str, key: str, layers: Layers) -> Entry[Any]:
    try:
        return registry.entry(name)
    except UnknownNameError as exc:
        raise ConfigError(f"{key}: {exc}{layers.where(key)}", key) from None


def _options(entry: Entry[Any], section: str, values: dict[str, Any], layers: Layers) -> Any:
    cls = entry.meta.get("options") or getattr(entry.obj, "Options", None)
    if cls is None:
        if values:
            raise ConfigError(f"{entry.name!r} takes no {section}.* options{layers.where(section)}", section)
        return None
    try:
        return from_mapping(cls, values, prefix=f"{section}.")
    except ConfigError as exc:
        raise ConfigError(f"{exc}{layers.where(exc.key or section)}", exc.key) from None


def _net_defaults(variant: Entry[Any], arch: Entry[Any]) -> dict[str, Any]:
    """The variant's ``net_defaults`` that the chosen architecture has options for (others are
    dropped: a critic-normalisation choice means nothing to an MLP without norms)."""
    cls = arch.meta.get("options") or getattr(arch.obj, "Options", None)
    known = {f.name for f in dataclasses.fields(cls)} if cls else set()
    return {k: v for k, v in getattr(variant.obj, "net_defaults", {}).items() if k in known}


def resolve(
    files: Sequence[str | Path] = (),
    flags: dict[str, Any] | None = None,
    overrides: Sequence[str] = (),
    extra_layers: Sequence[tuple[dict[str, Any], str]] = (),
) -> ResolvedRun:
    """Merge and validate a run's configuration (see the module docstring for the order).

    ``extra_layers`` are (mapping, source) pairs placed between the files and the flags (a suite's
    per-run settings)."""
    user = Layers()
    for path in files:
        user.add(load_yaml(path), f"in {path}")
    for mapping, source in extra_layers:
        user.add(mapping, source)
    user.add({k: v for k, v in (flags or {}).items() if v is not None}, "from the command line")
    parsed: dict[str, Any] = {}
    for text in overrides:
        key, value = parse_override(text)
        set_dotted(parsed, key, value)
    user.add(parsed, "from the command line")

    raw = user.merged
    for key in ("variant", "dataset"):
        if not raw.get(key):
            raise ConfigError(f"missing required key '{key}' (give --{key} or set it in a config file)", key)
        if not isinstance(raw[key], str):
            raise ConfigError(f"{key} must be a string, got {raw[key]!r}{user.where(key)}", key)
    variant = _lookup(VARIANTS, raw["variant"], "variant", user)
    if variant.meta.get("planned"):
        raise ConfigError(f"variant {variant.name!r} ({variant.meta['description']}) is planned but not "
                          "implemented yet; see `gan-bench list`", "variant")
    dataset = _lookup(DATASETS, raw["dataset"], "dataset", user)

    layers = Layers()
    layers.add(dataset.meta.get("defaults", {}), "dataset default")
    layers.add(getattr(variant.obj, "defaults", {}), "variant default")
    layers.add(raw, "user")
    merged = layers.merged
    try:
        cfg: RunConfig = from_mapping(RunConfig, merged)
    except ConfigError as exc:
        raise ConfigError(f"{exc}{user.where(exc.key or '')}", exc.key) from None

    kind = dataset.meta.get("kind", "image")
    if not cfg.arch:
        cfg.arch = variant.meta.get("default_arch", {}).get(kind, DEFAULT_ARCH[kind])
    arch = _lookup(ARCHITECTURES, cfg.arch, "arch", user)
    if kind not in arch.meta.get("kinds", (kind,)):
        raise ConfigError(f"arch {cfg.arch!r} does not model {kind} data (dataset {cfg.dataset!r}){user.where('arch')}",
                          "arch")
    cfg.net = {**_net_defaults(variant, arch), **cfg.net}  # under every user setting of net.*
    try:
        budget = Budget.parse(cfg.budget)
    except ConfigError as exc:
        raise ConfigError(f"{exc}{user.where('budget')}", "budget") from None
    return ResolvedRun(
        cfg=cfg,
        budget=budget,
        variant=variant,
        model_opts=_options(variant, "model", cfg.model, user),
        arch=arch,
        net_opts=_options(arch, "net", cfg.net, user),
        dataset=dataset,
        data_opts=_options(dataset, "data", cfg.data, user),
    )
