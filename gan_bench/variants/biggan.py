"""BigGAN (Brock, Donahue & Simonyan 2019, "Large Scale GAN Training for High Fidelity Natural
Image Synthesis"), in the CIFAR-10 configuration of StudioGAN and BigGAN-PyTorch.

One generator step (BigGAN section 3 and appendix C; hinge loss of Lim & Ye 2017 / Miyato et al.):
for each of ``n_critic`` (4) real batches (x, y): draw z ~ N(0, I) and labels y' ~ U{K}, update D on
E[max(0, 1 - D(x, y))] + E[max(0, 1 + D(G(z, y'), y'))]; then draw fresh z, y' and update G on
-E[D(G(z, y'), y')] + beta * R_ortho(G) with BigGAN's orthogonal regularisation
R = sum_W ||W W^T * (1 - I)||_F^2 (section 3.1, beta 1e-4). Adam 2e-4 for G and D, betas (0, 0.999);
samples come from an EMA of G (decay 0.9999, from step 1000, as StudioGAN).

The truncation trick (section 3.1): ``model.truncation`` t >= 0 draws z from N(0, I) truncated to
[-t, t]. BigGAN resamples the values that fall outside; here each fixed-z value is mapped through
the inverse CDF of the truncated normal, which gives the same distribution while keeping every
evaluation's z fixed and independent of batching. t = 0 is the mean image (z = 0) of each class;
t < 0 (the default) is no truncation.

The nets are the run's architecture (``biggan`` by default: shared embedding, hierarchical z,
conditional BN, self-attention, projection D, spectral norm in G and D); other architectures
(``resnet`` with class-conditional BN and projection: Miyato & Koyama's cGAN) work as well.
On unlabelled data the variant trains unconditionally.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from gan_bench import losses, penalties
from gan_bench.config import Range
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch, Variant


@dataclass
class BigGANOptions:
    n_critic: int = field(default=4, metadata=Range(1, 100))  # D steps per G step (StudioGAN's CIFAR-10: 4)
    ortho_weight: float = field(default=1e-4, metadata=Range(0.0, 1e3))  # beta of the orthogonal regulariser
    truncation: float = field(default=-1.0, metadata=Range(-1.0, 1e3))  # t of the truncation trick; < 0: none


def truncated_normal(z: torch.Tensor, t: float) -> torch.Tensor:
    """``z`` ~ N(0, I) mapped elementwise to N(0, I) truncated to [-t, t] (t = 0: zeros), through
    the CDF: Phi^-1(Phi(-t) + Phi(z) (Phi(t) - Phi(-t)))."""
    if t <= 0:
        return torch.zeros_like(z)
    z64 = z.double()
    lo = torch.special.ndtr(torch.tensor(-t, dtype=torch.float64))
    u = lo + torch.special.ndtr(z64) * (1.0 - 2.0 * lo)
    return torch.special.ndtri(u).clamp(-t, t).to(z.dtype)


def orthogonal_weights(net: nn.Module) -> list[torch.Tensor]:
    """The weights BigGAN's orthogonal regulariser acts on: every stored weight of two or more
    dimensions except embeddings (BigGAN-PyTorch blacklists the shared class embedding); for
    spectrally normalised layers the stored (unnormalised) weight, as BigGAN-PyTorch does."""
    out = []
    for module in net.modules():
        if isinstance(module, nn.Embedding):
            continue
        for name, p in module.named_parameters(recurse=False):
            if p.dim() >= 2 and p.requires_grad and name in ("weight", "original"):
                out.append(p)
    return out


@VARIANTS.register("biggan", description="BigGAN: hinge loss, 4 D steps, shared embedding + hierarchical z, "
                   "conditional BN, self-attention, SN in G and D, orthogonal reg., EMA G, truncation "
                   "(Brock et al. 2019)", default_arch={"image": "biggan"})
class BigGAN(Variant):
    Options: ClassVar[type] = BigGANOptions
    conditional: ClassVar[bool] = True
    defaults = {"optim": {"name": "adam", "g_lr": 2e-4, "d_lr": 2e-4, "beta1": 0.0, "beta2": 0.999},
                "ema": {"decay": 0.9999, "start": 1000}, "z_dim": 128}

    @classmethod
    def real_batches(cls, opts: Any) -> int:
        return opts.n_critic

    def build(self) -> None:
        K, arch = self.num_classes, self.ctx.arch
        self.add_net("G", arch.generator(self.z_dim, num_classes=K))
        self.add_net("D", arch.discriminator(out_dim=1, num_classes=K))
        self.add_optimizer("G", self.nets["G"].parameters(), self.cfg.optim.g_lr)
        self.add_optimizer("D", self.nets["D"].parameters(), self.cfg.optim.d_lr)
        self.ortho = orthogonal_weights(self.nets["G"])

    def labels(self, n: int) -> torch.Tensor | None:
        """y' ~ U{0..K-1} from the run's noise (None when unconditional)."""
        if not self.num_classes:
            return None
        return torch.randint(self.num_classes, (n,), generator=self.ctx.noise, device=self.device)

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        G, D = self.nets["G"], self.nets["D"]
        # n_critic times: D descends the hinge loss on (x, y) and detached fakes (z, y')
        for batch in batches:
            real, y = batch["x"], batch.get("y") if self.num_classes else None
            y_fake = self.labels(real.shape[0])
            with torch.no_grad():
                fake = G(self.latent(real.shape[0]), y_fake)
            real_out, fake_out = D(real, y), D(fake, y_fake)
            d_loss = losses.d_hinge(real_out, fake_out)
            self.update("D", d_loss)
        # G descends -E[D(G(z, y'), y')] + beta R_ortho(G) on fresh z, y'
        n = batches[-1]["x"].shape[0]
        y_fake = self.labels(n)
        self.requires_grad(D, False)
        g_adv = losses.g_hinge(D(G(self.latent(n), y_fake), y_fake))
        ortho = penalties.orthogonal_regularization(self.ortho) if self.opts.ortho_weight else g_adv.new_zeros(())
        self.update("G", g_adv + self.opts.ortho_weight * ortho)
        self.requires_grad(D, True)
        return {"loss/d": d_loss.detach(), "loss/g": g_adv.detach(), "penalty/ortho": ortho.detach(),
                "d/real": real_out.detach().mean(), "d/fake": fake_out.detach().mean()}

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Samples of the EMA generator, with z truncated when ``model.truncation`` >= 0."""
        if self.opts.truncation >= 0:
            z = truncated_normal(z, self.opts.truncation)
        return self.sampling_net("G")(z, y)
