"""Resumable epoch sampling of example indices: every example once per epoch, in a seeded order."""

from __future__ import annotations

from typing import Any

import torch


class EpochSampler:
    """Draws batches of indices without replacement within an epoch, reshuffling each epoch.

    Its whole state (generator, permutation, position) goes into checkpoints, so a resumed run
    sees exactly the batches an uninterrupted one would."""

    def __init__(self, size: int, seed: int) -> None:
        if size <= 0:
            raise ValueError("cannot sample from an empty dataset")
        self.size = size
        self.generator = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(size, generator=self.generator)
        self.pos = 0
        self.epoch = 0

    def next(self, n: int) -> torch.Tensor:
        """The next ``n`` indices, continuing into a fresh permutation at the end of an epoch."""
        parts = []
        while n > 0:
            if self.pos >= self.size:
                self.perm = torch.randperm(self.size, generator=self.generator)
                self.pos = 0
                self.epoch += 1
            take = min(n, self.size - self.pos)
            parts.append(self.perm[self.pos : self.pos + take])
            self.pos += take
            n -= take
        return torch.cat(parts)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.generator.get_state(), "perm": self.perm, "pos": self.pos, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["rng"])
        self.perm, self.pos, self.epoch = state["perm"], int(state["pos"]), int(state["epoch"])
