"""GANs with several players: GMAN (K discriminators) and MAD-GAN (K generators).

The generator step's fakes follow ``model.g_fakes`` (:mod:`gan_bench.variants.fakes`): fresh z
by default, as both papers' algorithms draw them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch
from torch import nn

from gan_bench import losses
from gan_bench.config import Choice, Range
from gan_bench.nets.layers import share_all_but_last
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch, Variant
from gan_bench.variants.fakes import GFakesOption

log = logging.getLogger(__name__)

# The authors' code (iDurugkar/GMAN, GMAN.py) gives discriminator i dropout with keep probability
# base_prob + delta_p * (i + 1), base_prob = 0.4, delta_p = (0.5 - base_prob) / N.
GMAN_KEEP_BASE, GMAN_KEEP_TOP = 0.4, 0.5
ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh)


@dataclass
class GMANOptions(GFakesOption):
    num_discriminators: int = field(default=5, metadata=Range(1, 64))
    aggregation: str = field(default="soft", metadata=Choice("soft", "mean", "max"))
    lam: float = field(default=1.0, metadata=Range(0.0, 1e6))  # softness of "soft"; 0 = mean (GMAN-0)
    # the paper's and the authors' default is the original minimax objective ("original");
    # "nonsaturating" is their "modified" objective (mod-GMAN)
    g_objective: str = field(default="minimax", metadata=Choice("minimax", "nonsaturating"))
    detach_weights: bool = False  # soft-mean weights as constants (the gradient skips the softmax)
    # "split": each critic its own real batch and its own fakes (the authors' tf.split of a
    # batch_size * N batch); "shared": every critic sees the same batch
    views: str = field(default="split", metadata=Choice("split", "shared"))
    dropout: bool = True  # per-critic feature dropout as in the authors' discriminators


@dataclass
class MADGANOptions(GFakesOption):
    num_generators: int = field(default=5, metadata=Range(1, 64))
    share_layers: bool = True  # generators share all layers but the last (the paper's setting)


def gman_keep_probs(k: int) -> list[float]:
    """Keep probabilities of discriminators 0..k-1 in the authors' code: 0.4 + 0.1 (i + 1) / k."""
    step = (GMAN_KEEP_TOP - GMAN_KEEP_BASE) / k
    return [GMAN_KEEP_BASE + step * (i + 1) for i in range(k)]


@VARIANTS.register("gman", description="Generative multi-adversarial network: K discriminators (Durugkar et al. 2017)")
class GMAN(Variant):
    """K independently initialised discriminators D_0..D_{K-1}, each trained as in the original GAN
    on its own view of the data; the generator minimises an aggregate of their K generator losses
    (soft-mean with lambda = 1 and the original minimax objective, the defaults of the authors'
    code, iDurugkar/GMAN).

    Each critic's view, as in the authors' code: (1) its own real batch and its own fakes (the code
    draws batch_size * N reals and z and splits them N ways; here the variant asks the trainer for
    N real batches, ``views=split``); (2) its own dropout on its hidden features, keep probability
    0.4 + 0.1 (i + 1) / N for critic i, in both the critic and the generator updates (the code's
    discriminators drop out after their first two of three hidden layers; here after every hidden
    activation but the last, the masks drawn from the run's resumable noise stream).

    The old behaviour of this variant: ``model.g_objective=nonsaturating model.detach_weights=true
    model.views=shared model.dropout=false``.
    """

    Options = GMANOptions

    @classmethod
    def real_batches(cls, opts: GMANOptions) -> int:
        return opts.num_discriminators if opts.views == "split" else 1

    def build(self) -> None:
        self.add_net("G", self.ctx.arch.generator(self.z_dim))
        self.add_optimizer("G", self.nets["G"].parameters(), self.cfg.optim.g_lr)
        critics = [self.ctx.arch.discriminator(out_dim=1) for _ in range(self.opts.num_discriminators)]
        self.add_net("D", nn.ModuleList(critics))
        self.add_optimizer("D", self.nets["D"].parameters(), self.cfg.optim.d_lr)
        if self.opts.dropout:
            for critic, keep in zip(self.nets["D"], gman_keep_probs(len(critics))):
                self._add_dropout(critic, keep)

    def _add_dropout(self, critic: nn.Module, keep: float) -> None:
        """Inverted dropout with keep probability ``keep`` after each hidden activation of
        ``critic`` but the last, in training mode, masks from the variant's noise generator (so a
        resumed run draws the same masks)."""
        acts = [m for m in critic.modules() if isinstance(m, ACTIVATIONS)]
        if len(acts) < 2:
            log.warning("gman: %s has no hidden activation modules to drop out; its critics differ only "
                        "in their data and initialisation", type(critic).__name__)
            return

        def hook(module: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> torch.Tensor:
            if not module.training:
                return out
            noise = self.ctx.noise
            mask = torch.rand(out.shape, generator=noise, device=noise.device).to(out.device) < keep
            return out * mask.to(out.dtype) / keep

        for act in acts[:-1]:
            act.register_forward_hook(hook)

    def aggregate(self, per_critic: torch.Tensor) -> torch.Tensor:
        """The generator's loss from the K critics' losses (``aggregation``)."""
        if self.opts.aggregation == "mean":
            return per_critic.mean()
        if self.opts.aggregation == "max":
            return per_critic.max()
        return losses.aggregate_soft_mean(per_critic, self.opts.lam, detach_weights=self.opts.detach_weights)

    def _fakes(self, sizes: list[int], grad: bool) -> list[torch.Tensor]:
        """One generator forward over sum(sizes) z (as the authors' code does), split per critic."""
        with torch.set_grad_enabled(grad):
            return list(self.nets["G"](self.latent(sum(sizes))).split(sizes))

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        critics = self.nets["D"]
        k = len(critics)
        reuse = self.opts.g_fakes == "reuse"
        if self.opts.views == "split":  # critic i: real batch i and its own fakes
            reals = [b["x"] for b in batches]
            sizes = [r.shape[0] for r in reals]
            g_fakes = self._fakes(sizes, grad=reuse)
        else:  # every critic: the same real batch and the same fakes
            reals = [batches[0]["x"]] * k
            sizes = [reals[0].shape[0]]
            g_fakes = self._fakes(sizes, grad=reuse) * k
        # The critics are independent, so one summed loss updates each with its own gradient.
        d_loss = torch.stack([losses.d_minimax(D(x), D(f.detach())) for D, x, f in zip(critics, reals, g_fakes)]).sum()
        self.update("D", d_loss)

        if not reuse:
            g_fakes = self._fakes(sizes, grad=True)
            if self.opts.views == "shared":
                g_fakes = g_fakes * k
        g_loss_of = losses.g_minimax if self.opts.g_objective == "minimax" else losses.g_nonsaturating
        self.requires_grad(critics, False)
        per_critic = torch.stack([g_loss_of(D(f)) for D, f in zip(critics, g_fakes)])
        g_loss = self.aggregate(per_critic)
        self.update("G", g_loss)
        self.requires_grad(critics, True)
        return {"loss/d": d_loss.detach() / k, "loss/g": g_loss.detach(),
                "gman/g_loss_spread": (per_critic.max() - per_critic.min()).detach()}


@VARIANTS.register("mad-gan", description="Multi-agent diverse GAN: K generators, a (K+1)-way discriminator (Ghosh et al. 2018)")
class MADGAN(Variant):
    """Generators G_0..G_{K-1}; the critic classifies a sample as coming from generator k or (class K)
    from the data, which pushes the generators towards different modes.

    By default the generators share all their layers but the last (Ghosh et al. 2018 share the
    generators' parameters except their last layer): K nets are built from the architecture and
    every layer but the output layer of G_1..G_{K-1} is tied to G_0's, so the K generators are one
    body with K heads on any architecture. ``share_layers=false`` gives K independent networks.
    """

    Options = MADGANOptions

    def build(self) -> None:
        k = self.opts.num_generators
        gens = [self.ctx.arch.generator(self.z_dim) for _ in range(k)]
        if self.opts.share_layers and k > 1:
            share_all_but_last(gens)
        self.add_net("G", nn.ModuleList(gens))
        self.add_net("D", self.ctx.arch.discriminator(out_dim=k + 1))
        # parameters() yields a shared parameter once, so the optimiser updates it once per step
        self.add_optimizer("G", self.nets["G"].parameters(), self.cfg.optim.g_lr)
        self.add_optimizer("D", self.nets["D"].parameters(), self.cfg.optim.d_lr)

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self._mixture(z, y, offset=0)

    def generate_at(self, z: torch.Tensor, offset: int, **conditions: torch.Tensor) -> torch.Tensor:
        return self._mixture(z, conditions.get("y"), offset)

    def _mixture(self, z: torch.Tensor, y: torch.Tensor | None, offset: int) -> torch.Tensor:
        """Sample i comes from generator i mod K: the uniform mixture of the K generators."""
        gens = self.sampling_net("G")
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
        reuse = self.opts.g_fakes == "reuse"
        # D: (K+1)-way cross-entropy, class i for G_i's samples and K for the data (algorithm 1)
        with torch.set_grad_enabled(reuse):
            g_fakes = [G(self.latent(n)) for G in gens]
        inputs = torch.cat([real, *[f.detach() for f in g_fakes]])
        targets = torch.cat([torch.full((n,), k), *[torch.full((n,), i) for i in range(k)]]).to(self.device)
        d_loss = losses.d_multiclass(D(inputs), targets)
        self.update("D", d_loss)

        # each G_i: -log D_K(G_i(z)), towards the data class, on fresh z unless reused
        if not reuse:
            g_fakes = [G(self.latent(n)) for G in gens]
        self.requires_grad(D, False)
        g_loss = sum(losses.g_multiclass_real(D(f), k) for f in g_fakes)
        self.update("G", g_loss)
        self.requires_grad(D, True)
        return {"loss/d": d_loss.detach(), "loss/g": g_loss.detach() / k}
