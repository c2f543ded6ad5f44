"""GANs with several players: GMAN (K discriminators) and MAD-GAN (K generators)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from gan_bench import losses
from gan_bench.config import Choice, Range
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch, Variant


@dataclass
class GMANOptions:
    num_discriminators: int = field(default=5, metadata=Range(1, 64))
    aggregation: str = field(default="soft", metadata=Choice("soft", "mean", "max"))
    lam: float = field(default=1.0, metadata=Range(0.0, 1e6))  # softness of "soft"; 0 = mean


@dataclass
class MADGANOptions:
    num_generators: int = field(default=5, metadata=Range(1, 64))


@VARIANTS.register("gman", description="Generative multi-adversarial network: K discriminators (Durugkar et al. 2017)")
class GMAN(Variant):
    """K independently initialised discriminators D0..D{K-1}, each trained as in the NS GAN; the
    generator minimises an aggregate of their K non-saturating losses (soft-mean by default)."""

    Options = GMANOptions

    def build(self) -> None:
        self.add_net("G", self.ctx.arch.generator(self.z_dim))
        self.add_optimizer("G", self.nets["G"].parameters(), self.cfg.optim.g_lr)
        critics = [self.ctx.arch.discriminator(out_dim=1) for _ in range(self.opts.num_discriminators)]
        self.add_net("D", nn.ModuleList(critics))
        self.add_optimizer("D", self.nets["D"].parameters(), self.cfg.optim.d_lr)

    def aggregate(self, per_critic: torch.Tensor) -> torch.Tensor:
        if self.opts.aggregation == "mean":
            return per_critic.mean()
        if self.opts.aggregation == "max":
            return per_critic.max()
        return losses.aggregate_soft(per_critic, self.opts.lam)

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        G, critics = self.nets["G"], self.nets["D"]
        real = batches[0]["x"]
        with torch.no_grad():
            fake = G(self.latent(real.shape[0]))
        # The critics are independent, so one summed loss updates each with its own gradient.
        d_loss = torch.stack([losses.d_minimax(D(real), D(fake)) for D in critics]).sum()
        self.update("D", d_loss)

        self.requires_grad(critics, False)
        fake = G(self.latent(self.cfg.batch_size))
        per_critic = torch.stack([losses.g_nonsaturating(D(fake)) for D in critics])
        g_loss = self.aggregate(per_critic)
        self.update("G", g_loss)
        self.requires_grad(critics, True)
        return {"loss/d": d_loss.detach() / len(critics), "loss/g": g_loss.detach(),
                "gman/g_loss_spread": (per_critic.max() - per_critic.min()).detach()}


@VARIANTS.register("mad-gan", description="Multi-agent diverse GAN: K generators, a (K+1)-way discriminator (Ghosh et al. 2018)")
class MADGAN(Variant):
    """Generators G0..G{K-1}; the critic classifies a sample as coming from generator k or (class K)
    from the data, which pushes the generators towards different modes."""

    Options = MADGANOptions

    def build(self) -> None:
        k = self.opts.num_generators
        self.add_net("G", nn.ModuleList([self.ctx.arch.generator(self.z_dim) for _ in range(k)]))
        self.add_net("D", self.ctx.arch.discriminator(out_dim=k + 1))
        self.add_optimizer("G", self.nets["G"].parameters(), self.cfg.optim.g_lr)
        self.add_optimizer("D", self.nets["D"].parameters(), self.cfg.optim.d_lr)

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self._mixture(z, y, offset=0)

    def generate_at(self, z: torch.Tensor, offset: int) -> torch.Tensor:
        return self._mixture(z, None, offset)

    def _mixture(self, z: torch.Tensor, y: torch.Tensor | None, offset: int) -> torch.Tensor:
        """Sample i comes from generator i mod K: the uniform mixture of the K generators."""
        gens = self.nets["G"]
        owner = (torch.arange(z.shape[0], device=z.device) + offset) % len(gens)
        out = None
        for k, G in enumerate(gens):
            rows = (owner == k).nonzero(as_tuple=True)[0]
            if rows.numel() == 0:
                continue
            x = G(z[rows], None if y is None else y[rows])
            if out is None:
                out = x.new_empty((z.shape[0],) + tuple(x.shape[1:]))
            out[rows] = x
        assert out is not None
        return out

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        gens, D = self.nets["G"], self.nets["D"]
        k = len(gens)
        real = batches[0]["x"]
        n = real.shape[0]
        with torch.no_grad():
            fakes = [G(self.latent(n)) for G in gens]
        inputs = torch.cat([real, *fakes])
        targets = torch.cat([torch.full((n,), k), *[torch.full((n,), i) for i in range(k)]]).to(self.device)
        d_loss = losses.d_multiclass(D(inputs), targets)
        self.update("D", d_loss)

        self.requires_grad(D, False)
        g_loss = sum(losses.g_multiclass_real(D(G(self.latent(self.cfg.batch_size))), k) for G in gens)
        self.update("G", g_loss)
        self.requires_grad(D, True)
        return {"loss/d": d_loss.detach(), "loss/g": g_loss.detach() / k}
