"""What a run folder holds, so that it is reused only for the same run.

``run.json`` records the variant, dataset, architecture, seed, budget and a hash of the resolved
configuration. Two hashes serve two questions:

- :func:`resume_hash` (everything but the settings that may change when a run is continued:
  where and how fast it runs, how often it logs, its budget, bf16 and memory layout) decides
  whether ``gan-bench train`` may continue a folder;
- :func:`config_hash` (everything but where and how often) names a suite's run folder, so a suite
  rerun with another scale, budget or override trains new folders and never reports old numbers
  under new labels.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from gan_bench import atomic
from gan_bench.config import ConfigError, RunConfig, load_yaml, to_dict

IDENTITY_FILE = "run.json"
# Settings that never change what a run computes.
OPERATIONAL = frozenset({"device", "data_root", "log_every", "checkpoint_every", "sample_every"})
# Settings that may change between an interrupted run and its continuation.
RESUMABLE = OPERATIONAL | {"budget", "amp", "channels_last", "compile"}
# Settings added after runs were published: left out of both hashes at their default, so folders
# written before they existed keep their names and stay reusable.
NEUTRAL_AT_DEFAULT = {"compile": False}
# Data options that change how batches are read, never which: a streamed run and an in-memory run
# of the same config are the same run (gan_bench.data.streaming).
DATA_READING = frozenset({"stream", "workers", "max_memory_gb"})


def _hash(cfg: dict[str, Any], leave_out: frozenset[str]) -> str:
    kept = {k: v for k, v in cfg.items()
            if k not in leave_out and not (k in NEUTRAL_AT_DEFAULT and v == NEUTRAL_AT_DEFAULT[k])}
    if isinstance(kept.get("data"), dict):
        kept["data"] = {k: v for k, v in kept["data"].items() if k not in DATA_READING}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


def config_hash(cfg: RunConfig) -> str:
    """Hash of everything that shapes the run's numbers, its budget included."""
    return _hash(to_dict(cfg), OPERATIONAL)


def resume_hash(cfg: RunConfig) -> str:
    """Hash of everything a continued run must share with the folder's run."""
    return _hash(to_dict(cfg), RESUMABLE)


def identity(cfg: RunConfig, plugins: list[str] | None = None) -> dict[str, Any]:
    """The ``run.json`` record of ``cfg``."""
    return {"variant": cfg.variant, "dataset": cfg.dataset, "arch": cfg.arch, "seed": cfg.seed,
            "budget": cfg.budget, "config_hash": config_hash(cfg), "resume_hash": resume_hash(cfg),
            "plugins": list(plugins or [])}


def read_identity(run_dir: str | Path) -> dict[str, Any] | None:
    """The folder's ``run.json``; for folders written before it existed, one made from ``config.yaml``."""
    run_dir = Path(run_dir)
    path = run_dir / IDENTITY_FILE
    if path.exists():
        try:
            record = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            raise ConfigError(f"{path} is corrupt; the folder cannot be reused (use another --out)") from None
        if not isinstance(record, dict):
            raise ConfigError(f"{path} is corrupt; the folder cannot be reused (use another --out)")
        return record
    config = run_dir / "config.yaml"
    if not config.exists():
        return None
    try:
        stored = load_yaml(config)
    except ConfigError as exc:
        raise ConfigError(f"{config} is corrupt ({exc}); the folder cannot be reused (use another --out)") from None
    return {"variant": stored.get("variant"), "dataset": stored.get("dataset"), "seed": stored.get("seed"),
            "budget": stored.get("budget"), "resume_hash": _hash(stored, RESUMABLE), "config": stored}


def check_same_run(run_dir: str | Path, cfg: RunConfig) -> dict[str, Any] | None:
    """The folder's identity when it holds ``cfg``'s run (or nothing); a ConfigError naming the
    first difference when it holds another run. Reads only; writes nothing."""
    found = read_identity(run_dir)
    if found is None:
        return None
    if found.get("resume_hash") == resume_hash(cfg):
        return found
    new = to_dict(cfg)
    for key in ("variant", "dataset", "seed"):
        if found.get(key) != new[key]:
            raise ConfigError(f"{run_dir} holds another run ({key} {found.get(key)!r} there, {new[key]!r} now); "
                              "use another --out", key)
    old = found.get("config")
    if old is None:
        config = Path(run_dir) / "config.yaml"
        try:
            old = load_yaml(config) if config.exists() else {}
        except ConfigError:
            old = {}
    differing = sorted(k for k in set(old) | set(new) if k not in RESUMABLE and old.get(k) != new.get(k))
    key = differing[0] if differing else "config"
    raise ConfigError(f"{run_dir} holds a run with a different {key!r} ({old.get(key)!r} there, {new.get(key)!r} now); "
                      "use another --out", key)


def write_identity(run_dir: str | Path, cfg: RunConfig, plugins: list[str] | None = None,
                   extra: dict[str, Any] | None = None) -> None:
    """Record ``cfg``'s identity in the folder (with ``extra`` keys: how it was trained)."""
    atomic.write_json(Path(run_dir) / IDENTITY_FILE, {**identity(cfg, plugins), **(extra or {})})
