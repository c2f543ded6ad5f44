"""Shared test setup: real data from ../shared/data, small and CPU-only by default."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# Real data lives beside the checkout (also in CI); tests never download.
os.environ.setdefault("GAN_BENCH_DATA", str(SHARED_DATA))
torch.set_num_threads(1)  # tests run beside other processes; one thread avoids oversubscription

PLANNED_EXAMPLE = "planned-example"  # every zoo variant is implemented: tests reserve a name of their own


def _reserve_planned_example() -> None:
    from gan_bench.registry import VARIANTS
    from gan_bench.variants.planned import register_planned

    if PLANNED_EXAMPLE not in VARIANTS:
        register_planned(PLANNED_EXAMPLE, "a name reserved by the tests")


_reserve_planned_example()


@pytest.fixture
def data_root() -> Path:
    """The folder holding mnist/, fashion_mnist/, cifar10/, ... (skips when it is absent)."""
    root = Path(os.environ["GAN_BENCH_DATA"])
    if not root.exists():
        pytest.skip(f"real data not found at {root}; set GAN_BENCH_DATA")
    return root


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]):
    """Run ``gan-bench ARGS`` in-process; returns (exit code, stdout, stderr)."""
    from gan_bench.cli import main

    def _run(*argv: str) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return _run


class Interrupted(Exception):
    """Raised by :func:`interrupt_at`'s hook: a run stopped abruptly after some step."""


@pytest.fixture
def interrupt_at():
    """``interrupt_at(n)`` -> a trainer ``on_step`` hook raising :class:`Interrupted` after step n
    (the exception class is ``interrupt_at.error``)."""

    def hook_for(n: int):
        def hook(step, variant):
            if step == n:
                raise Interrupted(f"interrupted after step {n}")

        return hook

    hook_for.error = Interrupted
    return hook_for
