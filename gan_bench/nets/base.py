"""The architecture interface, and pieces that compose any architecture's nets.

An architecture is registered in ``ARCHITECTURES`` as a class with an ``Options`` dataclass (the
``net`` config section) and a constructor ``Arch(spec: DataSpec, opts)``. It builds nets by role:

- ``generator(z_dim, num_classes=0)``: ``forward(z, y=None) -> x`` shaped like ``spec.shape``;
  images come out of a tanh in [-1, 1], points are unbounded.
- ``discriminator(out_dim=1, num_classes=0)``: ``forward(x, y=None) -> (N, out_dim)`` raw scores.
  ``out_dim > 1`` serves MAD-GAN's (K+1)-way critic, ACGAN's class head and the VAE encoder.

Variants combine roles (an EBGAN/BEGAN critic is an :class:`AutoEncoder` of the two), so an
architecture that implements these two methods serves every variant on its data.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from gan_bench.data.base import DataSpec


class Architecture(Protocol):
    """What every registered architecture provides (see the module docstring)."""

    spec: DataSpec

    def generator(self, z_dim: int, num_classes: int = 0) -> nn.Module: ...

    def discriminator(self, out_dim: int = 1, num_classes: int = 0) -> nn.Module: ...


class AutoEncoder(nn.Module):
    """An encoder-decoder critic (EBGAN, BEGAN): returns the reconstruction and the code."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encoder(x)
        return self.decoder(code), code


def autoencoder(arch: Architecture, code_dim: int) -> AutoEncoder:
    """An autoencoder made of ``arch``'s discriminator (as encoder) and generator (as decoder)."""
    return AutoEncoder(arch.discriminator(out_dim=code_dim), arch.generator(z_dim=code_dim))


def one_hot(y: torch.Tensor | None, num_classes: int) -> torch.Tensor | None:
    """Float one-hot codes for conditioning, or None when the net is unconditional."""
    if num_classes == 0 or y is None:
        return None
    return nn.functional.one_hot(y.long(), num_classes).float()
