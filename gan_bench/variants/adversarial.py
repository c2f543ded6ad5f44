"""Two-player GANs that differ only in their losses, penalty and critic schedule.

One step (Goodfellow et al. 2014, algorithm 1, with n_critic critic updates as in WGAN):
for each of the n_critic real batches, update D on real vs. detached fakes (+ penalty); then one
generator update on fresh z, or on the last critic batch's fakes with ``model.g_fakes=reuse``
(the policy shared by every variant: :mod:`gan_bench.variants.fakes`). A variant here is a
handful of class attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from gan_bench import losses, penalties
from gan_bench.config import Range
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch, Variant
from gan_bench.variants.fakes import GFakesOption


@dataclass
class AdversarialOptions(GFakesOption):
    n_critic: int = field(default=1, metadata=Range(1, 100))


@dataclass
class ClippedOptions(GFakesOption):
    n_critic: int = field(default=5, metadata=Range(1, 100))
    clip: float = field(default=0.01, metadata=Range(0.0, 100.0))


@dataclass
class PenaltyOptions(GFakesOption):
    n_critic: int = field(default=5, metadata=Range(1, 100))
    gp_weight: float = field(default=10.0, metadata=Range(0.0, 1e6))


@dataclass
class DraganOptions(GFakesOption):
    n_critic: int = field(default=1, metadata=Range(1, 100))
    gp_weight: float = field(default=10.0, metadata=Range(0.0, 1e6))
    perturb_scale: float = field(default=0.5, metadata=Range(0.0, 100.0))


class AdversarialGAN(Variant):
    """Generator ``G`` and critic ``D``; subclasses set the losses and optionally a penalty."""

    Options: ClassVar[type] = AdversarialOptions
    d_loss: ClassVar[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]
    g_loss: ClassVar[Callable[[torch.Tensor], torch.Tensor]]

    def build(self) -> None:
        self.add_net("G", self.ctx.arch.generator(self.z_dim))
        self.add_net("D", self.ctx.arch.discriminator(out_dim=1))
        self.add_optimizer("G", self.nets["G"].parameters(), self.cfg.optim.g_lr)
        self.add_optimizer("D", self.nets["D"].parameters(), self.cfg.optim.d_lr)

    @classmethod
    def real_batches(cls, opts: Any) -> int:
        return opts.n_critic

    def penalty(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[str, torch.Tensor] | None:
        """An optional (name, weighted penalty) added to the critic loss."""
        return None

    def after_critic_update(self) -> None:
        """Hook after each critic step (WGAN clips weights here)."""

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        G, D = self.nets["G"], self.nets["D"]
        reuse = self.opts.g_fakes == "reuse"
        out: dict[str, torch.Tensor | float] = {}
        # for n_critic steps: sample m noise samples and m examples, update the critic
        for i, batch in enumerate(batches):
            real = batch["x"]
            if reuse and i == len(batches) - 1:  # kept with its graph for the generator step
                g_fake = G(self.latent(real.shape[0]))
                fake = g_fake.detach()
            else:
                with torch.no_grad():
                    fake = G(self.latent(real.shape[0]))
            real_out, fake_out = D(real), D(fake)
            d_loss = type(self).d_loss(real_out, fake_out)
            pen = self.penalty(real, fake)
            if pen is not None:
                out[f"penalty/{pen[0]}"] = pen[1].detach()
                d_loss = d_loss + pen[1]
            self.update("D", d_loss)
            self.after_critic_update()
        # sample m noise samples (unless reused), update the generator
        if not reuse:
            g_fake = G(self.latent(batches[-1]["x"].shape[0]))
        self.requires_grad(D, False)
        g_loss = type(self).g_loss(D(g_fake))
        self.update("G", g_loss)
        self.requires_grad(D, True)
        out.update({"loss/d": d_loss.detach(), "loss/g": g_loss.detach(),
                    "d/real": real_out.detach().mean(), "d/fake": fake_out.detach().mean()})
        return out


@VARIANTS.register("gan-mm", description="GAN with the original minimax (saturating) generator loss")
class MinimaxGAN(AdversarialGAN):
    d_loss = staticmethod(losses.d_minimax)
    g_loss = staticmethod(losses.g_minimax)


@VARIANTS.register("gan-ns", description="GAN with the non-saturating generator loss")
class NonSaturatingGAN(AdversarialGAN):
    d_loss = staticmethod(losses.d_minimax)
    g_loss = staticmethod(losses.g_nonsaturating)


@VARIANTS.register("dcgan", description="DCGAN: non-saturating GAN on the DCGAN architecture (Radford et al. 2016)",
                   default_arch={"image": "dcgan"})
class DCGAN(NonSaturatingGAN):
    defaults = {"optim": {"g_lr": 2e-4, "d_lr": 2e-4, "beta1": 0.5, "beta2": 0.999}}


@VARIANTS.register("lsgan", description="Least-squares GAN, a=0 b=c=1 (Mao et al. 2017)")
class LSGAN(AdversarialGAN):
    d_loss = staticmethod(losses.d_least_squares)
    g_loss = staticmethod(losses.g_least_squares)


@VARIANTS.register("wgan", description="WGAN with weight clipping and RMSProp (Arjovsky et al. 2017)")
class WGAN(AdversarialGAN):
    Options = ClippedOptions
    defaults = {"optim": {"name": "rmsprop", "g_lr": 5e-5, "d_lr": 5e-5}}
    d_loss = staticmethod(losses.d_wasserstein)
    g_loss = staticmethod(losses.g_wasserstein)

    def after_critic_update(self) -> None:
        penalties.clip_weights(self.nets["D"], self.opts.clip)


@VARIANTS.register("wgan-gp", description="WGAN with gradient penalty, lambda=10, n_critic=5 (Gulrajani et al. 2017)")
class WGANGP(AdversarialGAN):
    Options = PenaltyOptions
    defaults = {"optim": {"g_lr": 1e-4, "d_lr": 1e-4, "beta1": 0.0, "beta2": 0.9}}
    # Batch norm makes the critic's gradient depend on the whole batch, which the per-example
    # penalty assumes it does not; layer norm is the paper's replacement (section 4).
    net_defaults = {"d_norm": "layer"}
    d_loss = staticmethod(losses.d_wasserstein)
    g_loss = staticmethod(losses.g_wasserstein)

    def penalty(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[str, torch.Tensor]:
        gp = penalties.gradient_penalty(self.nets["D"], real, fake, generator=self.ctx.noise)
        return "gp", self.opts.gp_weight * gp


@VARIANTS.register("dragan", description="DRAGAN: minimax GAN + gradient penalty around real data (Kodali et al. 2017)")
class DRAGAN(AdversarialGAN):
    Options = DraganOptions
    defaults = {"optim": {"g_lr": 1e-4, "d_lr": 1e-4, "beta1": 0.5, "beta2": 0.9}}
    net_defaults = {"d_norm": "none"}  # a per-example critic for the per-example penalty
    d_loss = staticmethod(losses.d_minimax)
    g_loss = staticmethod(losses.g_nonsaturating)

    def penalty(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[str, torch.Tensor]:
        gp = penalties.dragan_penalty(self.nets["D"], real, self.opts.perturb_scale, generator=self.ctx.noise)
        return "dragan", self.opts.gp_weight * gp
