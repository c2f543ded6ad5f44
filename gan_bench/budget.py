"""Fixed training budgets: generator steps, real images seen, or wall-clock seconds.

Equal-budget comparison is the point of the suite, so a budget stops a run exactly:
``2000steps`` after exactly 2000 generator steps; ``50kimg`` after exactly 50,000 real images
(the last step's batches are shrunk to the remainder); ``300s`` at the first step boundary after
300 seconds of training time (evaluation and checkpointing are not counted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gan_bench.config import ConfigError

_UNITS = {
    "steps": ("steps", 1.0),
    "step": ("steps", 1.0),
    "img": ("images", 1.0),
    "kimg": ("images", 1e3),
    "mimg": ("images", 1e6),
    "s": ("seconds", 1.0),
    "min": ("seconds", 60.0),
    "h": ("seconds", 3600.0),
}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$")


@dataclass
class Consumed:
    """What a run has used so far (checkpointed with it)."""

    steps: int = 0
    images: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Budget:
    """A limit on one of ``steps``, ``images`` or ``seconds``."""

    unit: str
    amount: float
    text: str

    @classmethod
    def parse(cls, text: str) -> Budget:
        """``2000steps`` | ``50kimg`` | ``300s`` | ``5min`` | ``2h``, or a one-line ConfigError."""
        match = _PATTERN.match(str(text).lower())
        if not match or match.group(2) not in _UNITS:
            raise ConfigError(
                f"budget={text!r} is not a budget; use generator steps (2000steps), images seen (50kimg) "
                "or wall-clock (300s, 5min)"
            )
        unit, scale = _UNITS[match.group(2)]
        amount = float(match.group(1)) * scale
        if amount <= 0:
            raise ConfigError(f"budget={text!r} must be positive")
        if unit != "seconds" and not amount.is_integer():
            raise ConfigError(f"budget={text!r} must be a whole number of {unit}")
        return cls(unit, amount, str(text).strip())

    def exhausted(self, used: Consumed) -> bool:
        """True once the run must stop (checked at step boundaries)."""
        if self.unit == "steps":
            return used.steps >= self.amount
        if self.unit == "images":
            return used.images >= self.amount
        return used.seconds >= self.amount

    def batch_sizes(self, used: Consumed, num_batches: int, batch_size: int) -> list[int]:
        """Sizes of the real batches the next step draws (``num_batches`` of them, or fewer at the
        very end).

        Full batches, except under an image budget near its end, where the run must stop on exactly
        the budget: the remainder is split as evenly as possible. No batch is ever smaller than
        two examples (batch norm cannot train on one): a full step that would leave a remainder too
        small for that takes the remainder now (its batches one or two examples larger), and a last
        step with fewer than two examples per batch draws fewer batches.
        """
        full = [batch_size] * num_batches
        if self.unit != "images":
            return full
        remaining = int(self.amount) - used.images
        step = batch_size * num_batches
        if remaining >= step and (remaining - step == 0 or remaining - step >= 2 * num_batches):
            return full
        count = max(1, min(num_batches, remaining // 2))
        base, extra = divmod(remaining, count)
        return [base + (i < extra) for i in range(count)]

    def fraction(self, used: Consumed) -> float:
        """How much of the budget is used, in [0, 1] (for progress bars)."""
        value = {"steps": used.steps, "images": used.images, "seconds": used.seconds}[self.unit]
        return min(value / self.amount, 1.0)
