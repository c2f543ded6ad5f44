"""The non-adversarial baseline: a Gaussian VAE (Kingma & Welling 2014).

The encoder is the architecture's discriminator with 2 * z_dim outputs (mean and log-variance),
the decoder its generator. The decoder's output noise sigma is learned by default (a sigma-VAE,
Rybkin et al. 2021), which balances reconstruction and KL without a hand-tuned weight on any data
scale, from 2-D mixtures with std 0.01 to images in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from gan_bench import losses
from gan_bench.config import Range
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch, Variant


@dataclass
class VAEOptions:
    beta: float = field(default=1.0, metadata=Range(0.0, 1e6))  # weight of the KL term
    learn_sigma: bool = True
    log_sigma: float = field(default=0.0, metadata=Range(-20.0, 20.0))  # initial / fixed log sigma


class LogSigma(nn.Module):
    """The decoder's log output std, one learnable scalar."""

    def __init__(self, value: float, learn: bool) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.tensor(float(value)), requires_grad=learn)


@VARIANTS.register("vae", description="Variational autoencoder, the non-adversarial baseline (Kingma & Welling 2014)")
class VAE(Variant):
    Options = VAEOptions
    defaults = {"optim": {"g_lr": 1e-3, "beta1": 0.9, "beta2": 0.999}}

    def build(self) -> None:
        self.add_net("E", self.ctx.arch.discriminator(out_dim=2 * self.z_dim))
        self.add_net("G", self.ctx.arch.generator(self.z_dim))
        self.add_net("log_sigma", LogSigma(self.opts.log_sigma, self.opts.learn_sigma))
        params = [p for p in self.nets.parameters() if p.requires_grad]
        self.add_optimizer("G", params, self.cfg.optim.g_lr)

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        x = batches[0]["x"]
        mu, logvar = self.nets["E"](x).chunk(2, dim=1)
        eps = torch.randn(mu.shape, generator=self.ctx.noise, device=self.device)
        recon = self.nets["G"](mu + eps * torch.exp(0.5 * logvar))
        log_sigma = self.nets["log_sigma"].value
        nll = losses.gaussian_nll(x, recon, log_sigma)
        kl = losses.gaussian_kl(mu, logvar)
        loss = nll + self.opts.beta * kl
        self.update("G", loss)
        return {"loss/g": loss.detach(), "vae/nll": nll.detach(), "vae/kl": kl.detach(),
                "vae/log_sigma": log_sigma.detach()}
