"""A researcher's own variants, architectures, datasets and metrics, registered from outside.

Three ways in, all through the same decorators the built-ins use (``@VARIANTS.register(...)``):

- a Python file: ``gan-bench train --plugin my_gan.py``, ``gan-bench suite --plugin ...``, or
  ``plugins: [my_gan.py]`` in a suite file (relative to the suite file);
- an installed package exposing an entry point in the group ``gan_bench.plugins`` (the entry
  point names a module, or a callable that registers when called), loaded with the built-ins.

Once registered, a plugin's variant runs in ``train``, ``suite``, the leaderboard and the report
exactly like a built-in one. A run folder records its plugin files (``run.json``) so that
``gan-bench metrics RUN_DIR`` reopens it. A plugin that fails to load is one error naming it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Iterable
from pathlib import Path

from gan_bench.config import ConfigError

ENTRY_POINT_GROUP = "gan_bench.plugins"
_loaded_files: dict[str, str] = {}  # resolved path -> module name


class PluginError(ConfigError):
    """A plugin file or entry point could not be loaded; the message names it."""


def _where(exc: BaseException, path: str) -> str:
    """`` (line N)`` of the innermost frame in the plugin file, if any."""
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    if isinstance(exc, SyntaxError) and exc.lineno:
        lines.append(exc.lineno)
    return f" (line {lines[-1]})" if lines else ""


def load_plugin_file(path: str | os.PathLike[str]) -> str:
    """Import the Python file at ``path`` once per process (its decorators register what it
    defines); returns its resolved path. PluginError names the file on any failure."""
    resolved = Path(path).expanduser().resolve()
    key = str(resolved)
    if key in _loaded_files:
        return key
    if not resolved.is_file():
        raise PluginError(f"plugin {path}: no such file")
    if resolved.suffix != ".py":
        raise PluginError(f"plugin {path}: expected a Python file (.py)")
    from gan_bench.registry import _load_builtins

    _load_builtins()  # built-ins first, so a plugin that reuses a built-in name is told so
    name = f"gan_bench_plugin_{resolved.stem}_{hashlib.sha1(key.encode()).hexdigest()[:8]}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise PluginError(f"plugin {path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise PluginError(f"plugin {path} failed to load{_where(exc, key)}: {type(exc).__name__}"
                          + (f": {message}" if message else "")) from None
    _loaded_files[key] = name
    return key


def load_plugins(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Load every plugin file in ``paths``; returns their resolved paths (for ``run.json``)."""
    return [load_plugin_file(p) for p in paths]


def load_entry_points() -> None:
    """Load the installed packages' ``gan_bench.plugins`` entry points (called with the built-ins)."""
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            if callable(obj):
                obj()
        except Exception as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise PluginError(f"plugin entry point {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}"
                              + (f": {message}" if message else "")) from None
