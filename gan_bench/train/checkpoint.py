"""Checkpoints: written atomically, loaded safely (``weights_only=True``, no pickled code).

A checkpoint holds everything needed to continue a run bit for bit on the CPU: net and optimiser
states, the variant's extra state, what the budget has consumed, the data sampler's position and
every random generator's state.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from gan_bench.atomic import atomic_write

LATEST = "latest.pt"
FINAL = "final.pt"


class CheckpointError(RuntimeError):
    """A checkpoint is unreadable or does not match the run."""


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Atomically save ``state`` (tensors, numbers, strings, lists and dicts only)."""
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; a clear error for a corrupt or unsafe file."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # torch raises several types for corrupt or non-weights files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"cannot load checkpoint {path}: {first}") from None
