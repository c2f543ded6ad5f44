"""Devices, seeding, and the record of the software a run used (``env.json``)."""

from __future__ import annotations

import importlib.metadata
import platform
import random
import subprocess
from pathlib import Path
from typing import Any

import torch

from gan_bench import __version__
from gan_bench.config import ConfigError


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` or ``auto`` (CUDA when available) as a torch device; a clear error when
    CUDA is asked for but absent."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda but no CUDA device is available; use --device cpu", "device")
    return torch.device(name)


def cpu_has_bf16() -> bool:
    """Whether oneDNN has native bfloat16 kernels on this CPU (AVX512-BF16 or AMX).

    ``amp=true`` on a CPU without them is emulated and slower than fp32.
    """
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # private op: absent in some builds
        return False


def seed_everything(seed: int) -> None:
    """Seed Python's and torch's global generators (network initialisation uses them)."""
    random.seed(seed)
    torch.manual_seed(seed)


def git_sha(start: Path | None = None) -> str | None:
    """The commit of the gan_bench checkout, when it runs from one."""
    where = start or Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment_record(device: torch.device, seed: int) -> dict[str, Any]:
    """What ``env.json`` holds: versions, device, threads, git sha and seed."""
    record: dict[str, Any] = {
        "gan_bench": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {p: _version(p) for p in ("torch", "torchvision", "numpy", "torch-fidelity", "clean-fid", "lpips")},
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "git_sha": git_sha(),
        "seed": seed,
    }
    if device.type == "cpu":
        record["cpu"] = {"capability": torch.backends.cpu.get_cpu_capability(), "bf16": cpu_has_bf16()}
    if device.type == "cuda":
        record["cuda"] = {"name": torch.cuda.get_device_name(device), "version": torch.version.cuda}
    return record
