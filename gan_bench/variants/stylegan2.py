"""StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"), with the
training loop of the official code (and StyleGAN2-ADA's for the CIFAR-10 options).

One generator step (official ``training/loss.py``, phases in this order):
1. D main: non-saturating logistic loss softplus(D(G(z))) + softplus(-D(x)).
2. D reg, every ``r1_every`` (16) steps: R1 = gamma/2 E||grad_x D(x)||^2 (Mescheder et al. 2018),
   times the interval (lazy regularisation, section 4 / appendix B), as its own optimiser step.
3. G main: softplus(-D(G(z))), with style mixing: with probability ``mixing`` (0.9) a second z's
   w drives the layers from a random cutoff on.
4. G reg, every ``pl_every`` (4) steps: path-length regularisation (section 3.2): with
   J_w^T y = grad_w <G(w), y>, y ~ N(0, I)/sqrt(HW), penalise (||J_w^T y|| - a)^2 where a is the
   moving mean (decay 0.01) of the lengths, weight ``pl_weight`` (2) times the interval, on half a
   batch. ``a`` is saved in checkpoints (``extra_state``), so a resumed run is bitwise the same.

Lazy regularisation rescales Adam (appendix B): with c = interval / (interval + 1), lr <- c lr and
(beta1, beta2) <- (beta1^c, beta2^c) for the optimiser of the regularised net. Defaults: lr 2e-3
(config F; StyleGAN2-ADA's CIFAR-10 uses 2.5e-3), betas (0, 0.99), EMA of G for sampling.
``r1_gamma`` < 0 picks gamma per dataset (StyleGAN2-ADA: 0.01 on CIFAR-10) or, elsewhere,
ADA's heuristic 0.0002 * side^2 / batch.

Truncation in W (``model.truncation`` psi): w <- w_avg + psi (w - w_avg), with w_avg the moving mean
of w that G's mapping keeps as a buffer (saved with the nets); psi 0 gives the mean image.
On an architecture without a mapping network (``dcgan``, ``resnet``) the variant treats z as w:
the losses and both regularisers apply, style mixing and truncation are off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from gan_bench import losses, penalties
from gan_bench.config import Range
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch, Variant

# R1 gamma per dataset where a reference configuration gives one (StyleGAN2-ADA's cifar config).
R1_GAMMA = {"cifar10": 0.01}


@dataclass
class StyleGAN2Options:
    conditional: bool = False  # class-conditional (StyleGAN2-ADA's CIFAR-10 config) on labelled data
    r1_gamma: float = field(default=-1.0, metadata=Range(-1.0, 1e6))  # < 0: per dataset (see module doc)
    r1_every: int = field(default=16, metadata=Range(1, 10**6))  # lazy R1 interval; 1 = every step
    pl_weight: float = field(default=2.0, metadata=Range(0.0, 1e6))  # 0 turns path-length reg. off
    pl_every: int = field(default=4, metadata=Range(1, 10**6))
    pl_decay: float = field(default=0.01, metadata=Range(0.0, 1.0))
    pl_batch_shrink: int = field(default=2, metadata=Range(1, 1024))
    mixing: float = field(default=0.9, metadata=Range(0.0, 1.0))  # style-mixing probability
    w_avg_beta: float = field(default=0.995, metadata=Range(0.0, 1.0))
    truncation: float = field(default=1.0, metadata=Range(0.0, 10.0))  # psi; 1 = none


def path_lengths(images: torch.Tensor, ws: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """||J_w^T y|| per example for y = ``noise`` / sqrt(H W) (paper eq. 4; H W is 1 for points),
    averaged over the ws that drive the layers as the official code does; differentiable."""
    y = noise / math.sqrt(math.prod(images.shape[2:]))
    (grad,) = torch.autograd.grad((images * y).sum(), ws, create_graph=True)
    return grad.square().sum(2).mean(1).sqrt()


def path_length_penalty(lengths: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """(||J_w^T y|| - a)^2 averaged over the batch, for the moving mean a."""
    return (lengths - mean).square().mean()


def lazy_adam_factor(interval: int) -> float:
    """c = interval / (interval + 1): the factor of lr and exponent of betas under lazy
    regularisation (StyleGAN2 appendix B); 1 when the term is taken every step (not lazy)."""
    return 1.0 if interval <= 1 else interval / (interval + 1)


@VARIANTS.register("stylegan2", description="StyleGAN2: mapping network, modulated/demodulated convs, noise, "
                   "style mixing, NS loss + lazy R1 and path-length reg., EMA G, truncation in W "
                   "(Karras et al. 2020)", default_arch={"image": "stylegan2"})
class StyleGAN2(Variant):
    Options: ClassVar[type] = StyleGAN2Options
    conditional: ClassVar[bool] = True  # only when model.conditional (see build)
    defaults = {"optim": {"name": "adam", "g_lr": 2e-3, "d_lr": 2e-3, "beta1": 0.0, "beta2": 0.99},
                "ema": {"decay": 0.995}}  # 10 kimg half-life at batch 64 (0.5 ** (64 / 10000))

    def build(self) -> None:
        if not self.opts.conditional:
            self.num_classes = 0
        K, arch, o = self.num_classes, self.ctx.arch, self.opts
        G = self.add_net("G", arch.generator(self.z_dim, num_classes=K))
        D = self.add_net("D", arch.discriminator(out_dim=1, num_classes=K))
        self.styled = hasattr(G, "mapping") and hasattr(G, "synthesis")
        self.gamma = o.r1_gamma if o.r1_gamma >= 0 else R1_GAMMA.get(
            self.cfg.dataset, 0.0002 * self.ctx.spec.shape[-1] ** 2 / self.cfg.batch_size)
        for name, net, interval, on in (("G", G, o.pl_every, o.pl_weight > 0), ("D", D, o.r1_every, self.gamma > 0)):
            c = lazy_adam_factor(interval) if on else 1.0
            lr = self.cfg.optim.g_lr if name == "G" else self.cfg.optim.d_lr
            self.add_optimizer(name, net.parameters(), lr * c)
            for group in self.optimizers[name].param_groups:
                group["betas"] = tuple(b**c for b in group["betas"])
        self.pl_mean = torch.zeros((), device=self.device)

    # ------------------------------------------------------------------ G as mapping + synthesis

    def labels(self, n: int) -> torch.Tensor | None:
        if not self.num_classes:
            return None
        return torch.randint(self.num_classes, (n,), generator=self.ctx.noise, device=self.device)

    def mapping(self, z: torch.Tensor, y: torch.Tensor | None, mix: bool) -> torch.Tensor:
        """ws (N, num_ws, w_dim) for z, with style mixing drawn from the run's noise when ``mix``."""
        G = self.nets["G"]
        if not self.styled:
            return z.unsqueeze(1)
        w = G.mapping(z, y)
        G.mapping.track(w, self.opts.w_avg_beta)
        ws = w.unsqueeze(1).repeat(1, G.num_ws, 1)
        if mix and self.opts.mixing > 0:
            cutoff = int(torch.randint(1, G.num_ws, (), generator=self.ctx.noise, device=self.device))
            if float(self.uniform(1)) < self.opts.mixing:
                ws[:, cutoff:] = G.mapping(self.latent(z.shape[0]), y).unsqueeze(1)
        return ws

    def synthesis(self, ws: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        G = self.nets["G"]
        if not self.styled:
            return G(ws[:, 0], y)
        return G.synthesis(ws, self.ctx.noise)

    def fakes(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        y = self.labels(n)
        return self.synthesis(self.mapping(self.latent(n), y, mix=True), y), y

    # ------------------------------------------------------------------ the step

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        D, o = self.nets["D"], self.opts
        real = batches[0]["x"]
        y = batches[0].get("y") if self.num_classes else None
        n = real.shape[0]
        out: dict[str, torch.Tensor | float] = {}
        # D main: softplus(D(G(z))) + softplus(-D(x))
        with torch.no_grad():
            fake, y_fake = self.fakes(n)
        real_out, fake_out = D(real, y), D(fake, y_fake)
        d_loss = losses.d_minimax(real_out, fake_out)
        self.update("D", d_loss)
        # D reg (lazy): gamma/2 * R1 * interval
        if self.gamma > 0 and self.it % o.r1_every == 0:
            r1 = penalties.r1_penalty(lambda x: D(x, y), real)
            self.update("D", r1 * (self.gamma / 2) * o.r1_every)
            out["penalty/r1"] = r1.detach()
        # G main: softplus(-D(G(z))) with style mixing
        self.requires_grad(D, False)
        fake, y_fake = self.fakes(n)
        g_loss = losses.g_nonsaturating(D(fake, y_fake))
        self.update("G", g_loss)
        self.requires_grad(D, True)
        # G reg (lazy): path length on n / pl_batch_shrink examples
        if o.pl_weight > 0 and self.it % o.pl_every == 0:
            m = max(n // o.pl_batch_shrink, 1)
            y_pl = self.labels(m)
            ws = self.mapping(self.latent(m), y_pl, mix=True)
            ws = ws.detach().requires_grad_(True) if not self.styled else ws
            images = self.synthesis(ws, y_pl)
            noise = torch.randn(images.shape, generator=self.ctx.noise, device=self.device).to(images.dtype)
            lengths = path_lengths(images, ws, noise)
            self.pl_mean = self.pl_mean.lerp(lengths.detach().float().mean(), o.pl_decay)
            pl = path_length_penalty(lengths, self.pl_mean)
            self.update("G", pl * o.pl_weight * o.pl_every)
            out.update({"penalty/pl": pl.detach(), "pl/mean": self.pl_mean})
        out.update({"loss/d": d_loss.detach(), "loss/g": g_loss.detach(),
                    "d/real": real_out.detach().mean(), "d/fake": fake_out.detach().mean()})
        return out

    # ------------------------------------------------------------------ sampling and state

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Samples of the EMA generator, truncated in W by ``model.truncation`` (psi)."""
        G = self.sampling_net("G")
        if not self.styled:
            return G(z, y)
        return G(z, y, truncation_psi=self.opts.truncation)

    def extra_state(self) -> dict[str, Any]:
        return {"pl_mean": self.pl_mean.detach().cpu().clone()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "pl_mean" in state:
            self.pl_mean = state["pl_mean"].to(self.device)
