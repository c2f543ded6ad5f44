"""f-GAN (Nowozin et al. 2016): one generator and one critic minimising any f-divergence.

The critic's raw score V(x) goes through the divergence's output activation g_f, and the pair
plays the variational bound F(theta, omega) = E_P[g_f(V(x))] - E_Q[f*(g_f(V(G(z))))] (eq. 6):
the critic ascends it, the generator descends it, here with the paper's alternative generator
loss -E_Q[g_f(V(G(z)))] (section 3.2). Every step is one critic and one generator update on one
minibatch (algorithm 1, single-step gradient method). ``model.divergence`` picks f; g_f and f* are
the pure functions of :mod:`gan_bench.losses` (Table 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch

from gan_bench import losses
from gan_bench.config import Choice
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch, Variant


@dataclass
class FGANOptions:
    divergence: str = field(default="js", metadata=Choice(*losses.F_DIVERGENCES))


@VARIANTS.register("f-gan", description="f-GAN: variational f-divergence minimisation, model.divergence = "
                   + " | ".join(losses.F_DIVERGENCES) + " (Nowozin et al. 2016)",
                   default_arch={"image": "dcgan"})
class FGAN(Variant):
    """Generator ``G`` and variational critic ``D`` (V_omega in the paper)."""

    Options: ClassVar[type] = FGANOptions
    # the MNIST optimiser of the paper (section 4: Adam, learning rate 2e-4, beta1 0.5), also DCGAN's
    defaults = {"optim": {"g_lr": 2e-4, "d_lr": 2e-4, "beta1": 0.5, "beta2": 0.999}}

    def build(self) -> None:
        self.add_net("G", self.ctx.arch.generator(self.z_dim))
        self.add_net("D", self.ctx.arch.discriminator(out_dim=1))
        self.add_optimizer("G", self.nets["G"].parameters(), self.cfg.optim.g_lr)
        self.add_optimizer("D", self.nets["D"].parameters(), self.cfg.optim.d_lr)

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        G, D, f = self.nets["G"], self.nets["D"], self.opts.divergence
        real = batches[0]["x"]
        # omega <- omega + eta grad_omega F: the critic ascends the bound on real vs. fakes
        with torch.no_grad():
            fake = G(self.latent(real.shape[0]))
        real_v, fake_v = D(real), D(fake)
        d_loss = losses.d_fgan(real_v, fake_v, f)
        self.update("D", d_loss)
        # theta <- theta - eta grad_theta F, with -E_Q[g_f(V(G(z)))] as the generator's objective
        self.requires_grad(D, False)
        g_loss = losses.g_fgan(D(G(self.latent(real.shape[0]))), f)
        self.update("G", g_loss)
        self.requires_grad(D, True)
        return {"loss/d": d_loss.detach(), "loss/g": g_loss.detach(),
                "divergence": -d_loss.detach(),  # the bound's estimate of D_f(P || Q)
                "d/real": real_v.detach().mean(), "d/fake": fake_v.detach().mean()}
