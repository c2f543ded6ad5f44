"""LAPGAN: a Laplacian pyramid of adversarial networks (Denton et al. 2015).

An image I_0 is decomposed into a Laplacian pyramid: I_{k+1} = d(I_k) (2x2 average pooling),
h_k = I_k - u(I_{k+1}) (bilinear upsampling), and I_0 = h_0 + u(h_1 + u(... + u(I_K))) exactly.
Each level is its own GAN, trained independently on the real pyramid of each batch (section 3.2):

- the coarsest level K: a plain GAN on the low-pass images I_K (8x8 for CIFAR-10's 32 px);
- every finer level k: a conditional GAN whose generator makes the band-pass residual
  h~_k = G_k(z_k, l_k) from the low-pass condition l_k = u(I_{k+1}), and whose discriminator sees
  (h_k, l_k): real residuals of real images against generated ones, both with the real condition.

Sampling runs coarse to fine (eq. 3): I~_K = G_K(z_K), I~_k = u(I~_{k+1}) + G_k(z_k, u(I~_{k+1})).

Nets by role, coarse to fine: ``G0``/``D0`` at the coarsest level (8 px), ``G1``/``D1`` (16 px),
``G2``/``D2`` (32 px). The run's z is split between the levels: the last ``noise_dim`` entries per
finer level, the rest for the coarsest, so a sample is a function of the evaluation's fixed z alone.

Deviations from the paper: Adam (2e-4, beta1 0.5) for every level instead of SGD with momentum;
bilinear upsampling and average pooling instead of the paper's Gaussian-smoothed pyramid; the finer
levels' noise is a learned projection of a small code to a plane, not an i.i.d. uniform plane;
no class conditioning (the paper's class-conditional CC-LAPGAN is not built).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F

from gan_bench import losses
from gan_bench.config import ConfigError, Range
from gan_bench.nets.stages import DenseDiscriminator, DenseGenerator, ResidualDiscriminator, ResidualGenerator
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch, Variant

MAX_LEVELS = 6


def downsample(x: torch.Tensor) -> torch.Tensor:
    """d(.): halve the side by 2x2 averaging."""
    return F.avg_pool2d(x, 2)


def upsample(x: torch.Tensor) -> torch.Tensor:
    """u(.): double the side by bilinear interpolation."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def laplacian_pyramid(x: torch.Tensor, levels: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(low-pass images I_0 .. I_{levels-1}, band-pass residuals h_0 .. h_{levels-2}) of ``x``,
    finest first; ``reconstruct(I_{levels-1}, residuals) == x`` up to rounding."""
    lows = [x]
    for _ in range(levels - 1):
        lows.append(downsample(lows[-1]))
    residuals = [lows[k] - upsample(lows[k + 1]) for k in range(levels - 1)]
    return lows, residuals


def reconstruct(coarsest: torch.Tensor, residuals: list[torch.Tensor]) -> torch.Tensor:
    """I_0 from the coarsest low-pass image and the residuals (finest first)."""
    x = coarsest
    for h in reversed(residuals):
        x = upsample(x) + h
    return x


@dataclass
class LAPGANOptions:
    levels: int = field(default=3, metadata=Range(2, MAX_LEVELS))  # 32 -> 16 -> 8 for CIFAR-10
    noise_dim: int = field(default=16, metadata=Range(1, 1024))  # z entries per finer level
    width: int = field(default=0, metadata=Range(0, 4096))  # conv channels; 0 = the run's net.width (64 if none)
    hidden: int = field(default=0, metadata=Range(0, 65536))  # coarsest level's dense units; 0 = 16 x width


@VARIANTS.register("lapgan", description="LAPGAN: a Laplacian pyramid of conditional GANs, coarse to fine, each "
                   "level trained on its band-pass residual (Denton et al. 2015)", default_arch={"image": "dcgan"})
class LAPGAN(Variant):
    Options: ClassVar[type] = LAPGANOptions
    defaults = {"optim": {"g_lr": 2e-4, "d_lr": 2e-4, "beta1": 0.5, "beta2": 0.999}}
    ema_roles: ClassVar[tuple[str, ...]] = tuple(f"G{k}" for k in range(MAX_LEVELS))

    def build(self) -> None:
        spec, o = self.ctx.spec, self.opts
        if spec.kind != "image" or len(spec.shape) != 3 or spec.shape[1] != spec.shape[2]:
            raise ConfigError(f"lapgan needs square images; {self.cfg.dataset} has shape {spec.shape}", "dataset")
        channels, side = spec.shape[0], spec.shape[1]
        if side % 2 ** (o.levels - 1) or side // 2 ** (o.levels - 1) < 4:
            raise ConfigError(f"lapgan: {o.levels} levels need an image side divisible by {2 ** (o.levels - 1)} "
                              f"with a coarsest level of at least 4 px; got {side}", "model.levels")
        self.coarse_dim = self.z_dim - (o.levels - 1) * o.noise_dim
        if self.coarse_dim < 1:
            raise ConfigError(f"lapgan: z_dim ({self.z_dim}) must exceed (levels - 1) * noise_dim "
                              f"({(o.levels - 1) * o.noise_dim}) to leave noise for the coarsest level", "z_dim")
        width = o.width or getattr(getattr(self.ctx.arch, "opts", None), "width", 64)
        hidden = o.hidden or 16 * width
        self.sides = [side // 2 ** (o.levels - 1 - k) for k in range(o.levels)]  # coarse to fine
        # level 0 = coarsest (the G0 at 8 px); level k > 0 generates residuals at sides[k]
        self.add_net("G0", DenseGenerator(self.coarse_dim, (channels, self.sides[0], self.sides[0]), hidden))
        self.add_net("D0", DenseDiscriminator((channels, self.sides[0], self.sides[0]), hidden // 2))
        for k in range(1, o.levels):
            self.add_net(f"G{k}", ResidualGenerator(channels, self.sides[k], o.noise_dim, width))
            self.add_net(f"D{k}", ResidualDiscriminator(channels, self.sides[k], width))
        for k in range(o.levels):
            self.add_optimizer(f"G{k}", self.nets[f"G{k}"].parameters(), self.cfg.optim.g_lr)
            self.add_optimizer(f"D{k}", self.nets[f"D{k}"].parameters(), self.cfg.optim.d_lr)

    def split_latent(self, z: torch.Tensor) -> list[torch.Tensor]:
        """z split per level, coarse to fine (independent N(0, I) parts of one draw)."""
        return list(z.split([self.coarse_dim] + [self.opts.noise_dim] * (self.opts.levels - 1), dim=1))

    def _gan_update(self, k: int, real: torch.Tensor, fake: torch.Tensor, cond: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """One D_k then one G_k update (non-saturating loss) on real vs. generated level-k inputs."""
        D = self.nets[f"D{k}"]

        def score(x: torch.Tensor) -> torch.Tensor:
            return D(x) if cond is None else D(x, cond)

        real_out, fake_out = score(real), score(fake.detach())
        d_loss = losses.d_minimax(real_out, fake_out)
        self.update(f"D{k}", d_loss)
        self.requires_grad(D, False)
        g_loss = losses.g_nonsaturating(score(fake))
        self.update(f"G{k}", g_loss)
        self.requires_grad(D, True)
        return {f"loss/d{k}": d_loss.detach(), f"loss/g{k}": g_loss.detach(),
                f"d{k}/real": real_out.detach().mean(), f"d{k}/fake": fake_out.detach().mean()}

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        x = batches[0]["x"]
        levels = self.opts.levels
        lows, residuals = laplacian_pyramid(x, levels)  # finest first
        zs = self.split_latent(self.latent(x.shape[0]))
        out: dict[str, torch.Tensor | float] = {}
        # the coarsest level: a plain GAN on I_K
        out.update(self._gan_update(0, lows[-1], self.nets["G0"](zs[0]), None))
        # each finer level k (coarse to fine): residual h given the real low-pass condition u(I_{k+1})
        for k in range(1, levels):
            fine = levels - 1 - k  # index in the finest-first pyramid
            cond = upsample(lows[fine + 1])
            out.update(self._gan_update(k, residuals[fine], self.nets[f"G{k}"](cond, zs[k]), cond))
        out["loss/d"] = sum(out[f"loss/d{k}"] for k in range(levels))
        out["loss/g"] = sum(out[f"loss/g{k}"] for k in range(levels))
        return out

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Coarse to fine: I_K = G0(z_0); I_k = u(I_{k+1}) + G_k(u(I_{k+1}), z_k), kept in [-1, 1]."""
        zs = self.split_latent(z)
        img = self.sampling_net("G0")(zs[0])
        for k in range(1, self.opts.levels):
            low = upsample(img)
            img = (low + self.sampling_net(f"G{k}")(low, zs[k])).clamp(-1, 1)
        return img
