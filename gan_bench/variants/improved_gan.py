"""Improved GAN (Salimans et al. 2016, "Improved Techniques for Training GANs").

The semi-supervised (K+1)-class discriminator of section 5: D outputs K class logits l_k, the fake
class's logit is fixed at 0, so D(x) = Z(x) / (Z(x) + 1) with Z = sum_k exp(l_k), and D minimises

    L = L_supervised + w * L_unsupervised
    L_supervised   = -E_{x,y ~ labelled} log p(y | x, y < K+1)
    L_unsupervised = -E_{x ~ data} log D(x) - E_{z} log(1 - D(G(z)))

(w = 1/2, the 0.5 of the authors' MNIST code). The generator is trained by feature matching
(section 3.1) on D's last hidden layer, as in the paper's MNIST setup; the other techniques of
section 3 are options: minibatch discrimination (3.2), historical averaging (3.3) and one-sided
label smoothing (3.4). With ``feature_matching=false`` G takes the non-saturating loss
-log D(G(z)) instead (the paper's choice with minibatch discrimination).

One step: draw a labelled batch (``labels_per_class`` examples per class, fixed by
``label_seed``) of the size of the trainer's unlabelled batch; update D on labelled, unlabelled and
generated data; update G. ``own_metrics`` scores D as a K-class classifier on the test split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from gan_bench import losses
from gan_bench.config import ConfigError, Range
from gan_bench.nets.semi import MinibatchDiscrimination, attach_noise
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch, Variant
from gan_bench.variants.semi_supervised import LabelledSubset, classifier_protocol, classifier_scores, init_batch

# The paper's MNIST setup: batch 100, Adam lr 0.003 beta1 0.5, 100-d latent (uniform there, N(0, I) here).
SEMI_SUPERVISED_DEFAULTS: dict[str, Any] = {
    "batch_size": 100, "z_dim": 100, "optim": {"g_lr": 3e-3, "d_lr": 3e-3, "beta1": 0.5, "beta2": 0.999},
}


@dataclass
class ImprovedGANOptions:
    labels_per_class: int = field(default=10, metadata=Range(1, None))
    label_seed: int = field(default=0, metadata=Range(0, 2**31 - 1))  # which examples keep their label
    unsup_weight: float = field(default=0.5, metadata=Range(0.0, 1e6))  # w in L_sup + w L_unsup
    feature_matching: bool = True  # G matches D's last hidden features; else -log D(G(z))
    minibatch_kernels: int = field(default=0, metadata=Range(0, 10000))  # B; 0 = no minibatch discrimination
    minibatch_kernel_dim: int = field(default=5, metadata=Range(1, 1000))  # C
    label_smoothing: float = field(default=0.0, metadata=Range(0.0, 0.5))  # one-sided: real targets 1 - this
    historical_weight: float = field(default=0.0, metadata=Range(0.0, 1e6))  # 0 = no historical averaging
    data_init: bool = False  # weight norm's data-dependent init (the authors' code); slower at short budgets here


@VARIANTS.register("improved-gan", description="Improved GAN: semi-supervised (K+1)-class D, feature matching, "
                   "minibatch discrimination, label smoothing, historical averaging (Salimans et al. 2016)")
class ImprovedGAN(Variant):
    Options: ClassVar[type] = ImprovedGANOptions
    defaults = SEMI_SUPERVISED_DEFAULTS

    def build(self) -> None:
        o = self.opts
        self.labelled = LabelledSubset(self.ctx.data, o.labels_per_class, o.label_seed)
        K = self.labelled.num_classes
        G = self.add_net("G", self.ctx.arch.generator(self.z_dim))
        D = self.ctx.arch.discriminator(out_dim=K)
        if (o.feature_matching or o.minibatch_kernels) and not (hasattr(D, "features") and hasattr(D, "out")):
            raise ConfigError(f"{self.cfg.arch}: feature matching and minibatch discrimination need a "
                              "discriminator with `features` and `out` (semi-mlp, dcgan)", "model.feature_matching")
        if o.minibatch_kernels:
            # The K-way output layer reads [features, minibatch features] (section 3.2).
            with torch.no_grad():
                D.eval()
                width = D.features(torch.zeros(2, *self.ctx.spec.shape)).flatten(1).shape[1]
                D.train()
            D.out = nn.Sequential(MinibatchDiscrimination(width, o.minibatch_kernels, o.minibatch_kernel_dim),
                                  nn.Linear(width + o.minibatch_kernels, K))
        D = self.add_net("D", D)
        if o.data_init and hasattr(D, "data_init"):  # the paper's weight-norm initialisation, on fixed images
            D.data_init(init_batch(self.ctx.data)["x"])
        attach_noise(self.nets, self.ctx.noise)
        self.add_optimizer("G", G.parameters(), self.cfg.optim.g_lr)
        self.add_optimizer("D", D.parameters(), self.cfg.optim.d_lr)
        self.history: dict[str, list[torch.Tensor]] = {}
        self.history_count = 0
        if o.historical_weight > 0:
            self.history = {r: [p.detach().clone() for p in self.nets[r].parameters()] for r in ("G", "D")}
            self.history_count = 1

    def _historical(self, role: str) -> torch.Tensor | float:
        """The weighted historical-averaging penalty of net ``role`` (0 when switched off)."""
        if not self.history:
            return 0.0
        return self.opts.historical_weight * losses.historical_average(list(self.nets[role].parameters()),
                                                                       self.history[role])

    @torch.no_grad()
    def _update_history(self) -> None:
        if not self.history:
            return
        self.history_count += 1
        for role, averages in self.history.items():
            for avg, p in zip(averages, self.nets[role].parameters()):
                avg.lerp_(p, 1.0 / self.history_count)  # running mean of theta[1..t]

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        G, D, o = self.nets["G"], self.nets["D"], self.opts
        x_unl = batches[0]["x"]  # unlabelled data: the trainer's batch, its labels unused
        n = x_unl.shape[0]
        lab = self.labelled.batch(n, self.ctx.noise)
        g_fake = G(self.latent(n))

        # D: L_supervised + w L_unsupervised (section 5).
        logits_lab = D(lab["x"])
        logits_unl, logits_fake = D(x_unl), D(g_fake.detach())
        d_sup = losses.ssl_d_supervised(logits_lab, lab["y"])
        d_unsup = losses.ssl_d_unsupervised(logits_unl, logits_fake, o.label_smoothing)
        d_loss = d_sup + o.unsup_weight * d_unsup + self._historical("D")
        self.update("D", d_loss)

        # G: feature matching on D's last hidden layer (section 3.1), or -log D(G(z)).
        self.requires_grad(D, False)
        if o.feature_matching:
            g_loss = losses.feature_matching(D.features(x_unl).detach(), D.features(g_fake))
        else:
            g_loss = losses.ssl_g_nonsaturating(D(g_fake))
        self.update("G", g_loss + self._historical("G"))
        self.requires_grad(D, True)
        self._update_history()

        train_acc = (logits_lab.detach().argmax(1) == lab["y"]).float().mean()
        return {"loss/d": d_loss.detach(), "loss/g": g_loss.detach(), "loss/d_sup": d_sup.detach(),
                "loss/d_unsup": d_unsup.detach(), "d/labelled_acc": train_acc}

    def own_metrics(self) -> dict[str, float]:
        """``test_error``: % of the test split that D, as a K-class classifier, gets wrong."""
        return classifier_scores(self, "D")

    def own_protocol(self) -> str:
        return classifier_protocol(self, "D")

    def extra_state(self) -> dict[str, Any]:
        return {"history": self.history, "history_count": self.history_count}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "history" in state:
            self.history = {r: [t.to(self.device) for t in ts] for r, ts in state["history"].items()}
            self.history_count = state["history_count"]
