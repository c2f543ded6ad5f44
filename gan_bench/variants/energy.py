"""Energy-based GANs whose critic is an autoencoder: EBGAN and BEGAN.

The critic ``D`` is the architecture's discriminator (encoder to a code) followed by its
generator (decoder back to data), so both variants work on any registered architecture. The generator step's fakes follow
``model.g_fakes`` (:mod:`gan_bench.variants.fakes`): fresh z by default, as both papers write it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from gan_bench import losses, penalties
from gan_bench.config import Range
from gan_bench.nets.base import autoencoder
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch, Variant
from gan_bench.variants.fakes import GFakesOption


@dataclass
class EBGANOptions(GFakesOption):
    margin: float = field(default=1.0, metadata=Range(0.0, 1e6))
    pt_weight: float = field(default=0.1, metadata=Range(0.0, 1e6))  # pull-away term; 0 disables it
    code_dim: int = field(default=32, metadata=Range(1, 1 << 16))


@dataclass
class BEGANOptions(GFakesOption):
    gamma: float = field(default=0.5, metadata=Range(0.0, 1.0))  # diversity ratio
    lambda_k: float = field(default=1e-3, metadata=Range(0.0, 1.0))
    k_init: float = field(default=0.0, metadata=Range(0.0, 1.0))
    code_dim: int = field(default=32, metadata=Range(1, 1 << 16))
    norm: int = field(default=1, metadata=Range(1, 2))  # L1 as in the paper


class AutoEncoderCritic(Variant):
    """Generator ``G`` and autoencoder critic ``D`` whose per-example energy is its reconstruction error."""

    norm = 2

    def build(self) -> None:
        self.add_net("G", self.ctx.arch.generator(self.z_dim))
        self.add_net("D", autoencoder(self.ctx.arch, self.opts.code_dim))
        self.add_optimizer("G", self.nets["G"].parameters(), self.cfg.optim.g_lr)
        self.add_optimizer("D", self.nets["D"].parameters(), self.cfg.optim.d_lr)

    def energy(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example reconstruction energy (N,) and the critic's codes."""
        recon, code = self.nets["D"](x)
        return losses.reconstruction_energy(x, recon, p=self.norm), code


@VARIANTS.register("ebgan", description="Energy-based GAN with margin and pull-away term (Zhao et al. 2017)")
class EBGAN(AutoEncoderCritic):
    Options = EBGANOptions
    defaults = {"optim": {"g_lr": 2e-4, "d_lr": 2e-4, "beta1": 0.5, "beta2": 0.999}}

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        G, D = self.nets["G"], self.nets["D"]
        real = batches[0]["x"]
        reuse = self.opts.g_fakes == "reuse"
        # critic: L_D = D(x) + [m - D(G(z))]^+ (Zhao et al. 2017, eq. 1)
        if reuse:
            g_fake = G(self.latent(real.shape[0]))
            fake = g_fake.detach()
        else:
            with torch.no_grad():
                fake = G(self.latent(real.shape[0]))
        real_energy, _ = self.energy(real)
        fake_energy, _ = self.energy(fake)
        d_loss = losses.d_ebgan(real_energy, fake_energy, self.opts.margin)
        self.update("D", d_loss)

        # generator: L_G = D(G(z)) + pull-away term on the critic's codes (eq. 2 and 4)
        if not reuse:
            g_fake = G(self.latent(real.shape[0]))
        self.requires_grad(D, False)
        fake_energy, codes = self.energy(g_fake)
        pt = penalties.pull_away_term(codes)
        g_loss = losses.g_ebgan(fake_energy) + self.opts.pt_weight * pt
        self.update("G", g_loss)
        self.requires_grad(D, True)
        return {"loss/d": d_loss.detach(), "loss/g": g_loss.detach(), "penalty/pt": pt.detach()}


@VARIANTS.register("began", description="Boundary equilibrium GAN with k_t control (Berthelot et al. 2017)")
class BEGAN(AutoEncoderCritic):
    Options = BEGANOptions
    defaults = {"optim": {"g_lr": 1e-4, "d_lr": 1e-4, "beta1": 0.5, "beta2": 0.999}}

    def build(self) -> None:
        super().build()
        self.norm = self.opts.norm
        # k_t lives on the device as a tensor: reading it back each step (a float()) would stall
        # a GPU once per step, which other variants do not, and make seconds mean less work.
        self.k = torch.tensor(float(self.opts.k_init), device=self.device)

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        G, D = self.nets["G"], self.nets["D"]
        real = batches[0]["x"]
        reuse = self.opts.g_fakes == "reuse"
        if reuse:  # carpedm20's BEGAN: one z serves both updates
            g_fake = G(self.latent(real.shape[0]))
            fake = g_fake.detach()
        else:  # the paper's z_D (Berthelot et al. 2017, eq. 4)
            with torch.no_grad():
                fake = G(self.latent(real.shape[0]))
        # L_D = L(x) - k_t L(G(z_D))
        real_loss = self.energy(real)[0].mean()
        fake_loss = self.energy(fake)[0].mean()
        k_used = self.k
        d_loss = losses.d_began(real_loss, fake_loss, k_used)
        self.update("D", d_loss)

        # L_G = L(G(z_G)), with z_G = z_D under reuse
        if not reuse:
            g_fake = G(self.latent(real.shape[0]))
        self.requires_grad(D, False)
        g_loss = self.energy(g_fake)[0].mean()
        self.update("G", g_loss)
        self.requires_grad(D, True)

        # k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1), from the losses of one point:
        # L(x) and L(G(z)) as the critic update computed them, before either update (carpedm20's
        # implementation evaluates both in the graph of that step's updates). Mixing L(x) from
        # before the critic update with L(G(z)) from after it biases the balance term.
        rl, fl = real_loss.detach(), fake_loss.detach()
        self.k = losses.began_k_step(k_used, rl, fl, self.opts.gamma, self.opts.lambda_k)
        return {"loss/d": d_loss.detach(), "loss/g": g_loss.detach(), "began/k": k_used,
                "began/convergence": losses.began_convergence(rl, fl, self.opts.gamma)}

    def extra_state(self) -> dict[str, Any]:
        return {"k": self.k.detach().clone()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        # a float from checkpoints written before k_t became a tensor, or a tensor of any device
        self.k = torch.as_tensor(state["k"], dtype=torch.float32).to(self.device).clone()
