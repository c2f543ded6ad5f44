"""Reading a run directory back: its config, summary, and a sampler over its trained generator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gan_bench.config import ConfigError, load_yaml
from gan_bench.data.base import load_dataset
from gan_bench.plugins import load_plugins
from gan_bench.train.checkpoint import FINAL, LATEST, CheckpointError, load_checkpoint
from gan_bench.train.environment import resolve_device
from gan_bench.train.identity import read_identity
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import build_variant
from gan_bench.variants.base import Sample, Variant


def is_run_dir(path: str | Path) -> bool:
    """True when ``path`` looks like a gan-bench run directory."""
    p = Path(path)
    return p.is_dir() and (p / "config.yaml").exists()


def read_summary(run_dir: str | Path) -> dict[str, Any] | None:
    """The run's ``summary.json``, or None when the run has not finished."""
    path = Path(run_dir) / "summary.json"
    return json.loads(path.read_text()) if path.exists() else None


@dataclass
class RunHandle:
    """A trained run, loaded for sampling."""

    run_dir: Path
    variant: Variant
    step: int

    def sample_batches(self, n: int, batch_size: int = 250, seed: int = 0) -> Iterator[torch.Tensor]:
        """``n`` generated samples in batches (images: float NCHW in [-1, 1]), from a z seeded by
        ``seed``; nothing is written to disk."""
        for sample in self.variant.sample(n, seed, batch_size):
            yield sample.x

    def samples(self, n: int, batch_size: int = 250, seed: int = 0) -> Iterator[Sample]:
        """Like :meth:`sample_batches`, with the conditions each batch was generated for."""
        yield from self.variant.sample(n, seed, batch_size)


def open_run(run_dir: str | Path, device: str = "cpu") -> RunHandle:
    """Rebuild a run's variant from its ``config.yaml`` and load its final (else latest) checkpoint."""
    run_dir = Path(run_dir)
    if not is_run_dir(run_dir):
        raise ConfigError(f"{run_dir} is not a gan-bench run directory (no config.yaml)")
    ckpt = run_dir / "checkpoints" / FINAL
    if not ckpt.exists():
        ckpt = run_dir / "checkpoints" / LATEST
    if not ckpt.exists():
        raise ConfigError(f"{run_dir} has no checkpoint (checkpoints/{FINAL} or {LATEST})")
    stored = load_yaml(run_dir / "config.yaml")
    recorded = read_identity(run_dir) or {}
    load_plugins(recorded.get("plugins") or [])
    stored["device"] = device
    resolved = resolve(extra_layers=[(stored, f"in {run_dir / 'config.yaml'}")])
    cfg = resolved.cfg
    dataset = load_dataset(cfg.dataset, cfg.split, cfg.data_root or None, cfg.data)
    variant = build_variant(resolved, dataset, resolve_device(device))
    state = load_checkpoint(ckpt)
    try:
        variant.nets.load_state_dict(state["nets"])
        variant.load_extra_state(state.get("extra", {}))
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{ckpt} does not match {run_dir / 'config.yaml'}: {str(exc).splitlines()[0]}") from None
    variant.nets.eval()
    return RunHandle(run_dir, variant, int(state["consumed"]["steps"]))


