"""Triple-GAN (Li et al. 2017, "Triple Generative Adversarial Nets"), semi-supervised.

Three players: a conditional generator G(z, y) draws x_g for labels y_g ~ p(y) (uniform), a
classifier C(x) labels unlabelled x_c with pseudo-labels y_c ~ p_c(y | x_c), and a discriminator
D(x, y) tells labelled pairs (x, y) from the pairs of both. One step is Algorithm 1:

    D descends -[ E log D(x_l, y_l) + alpha E log(1 - D(x_c, y_c)) + (1 - alpha) E log(1 - D(x_g, y_g)) ]
    C descends   alpha E[p_c(y_c | x_c) log(1 - D(x_c, y_c))] + R_L + alpha_P R_P
    G descends   (1 - alpha) E log(1 - D(x_g, y_g))      (non-saturating -log D by default)

with alpha = 1/2, R_L the cross-entropy of C on the labelled batch and R_P the "pseudo
discriminative" cross-entropy of C on the generator's pairs (x_g, y_g) (section 3.2), switched on
after ``pseudo_start`` steps since early samples carry no label information.

Nets: the run's architecture builds all three, C as its unconditional K-output discriminator. On
``semi-mlp`` (the suite's) that is the paper's MNIST D and G (Li et al., appendix: the noisy
1000-500-250-250-250 MLP with the label concatenated to every layer, and the 500-500 softplus
generator); C is the same noisy MLP with K outputs instead of the paper's 6-layer CNN, to keep a
CPU budget short. ``own_metrics`` scores C on the test split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch

from gan_bench import losses
from gan_bench.config import Choice, Range
from gan_bench.nets.semi import attach_noise
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch, Variant
from gan_bench.variants.improved_gan import SEMI_SUPERVISED_DEFAULTS
from gan_bench.variants.semi_supervised import LabelledSubset, classifier_protocol, classifier_scores, init_batch


@dataclass
class TripleGANOptions:
    labels_per_class: int = field(default=10, metadata=Range(1, None))
    label_seed: int = field(default=0, metadata=Range(0, 2**31 - 1))  # which examples keep their label
    alpha: float = field(default=0.5, metadata=Range(0.0, 1.0))  # weight of C's pairs vs G's in D's loss
    alpha_p: float = field(default=0.1, metadata=Range(0.0, 1e6))  # weight of R_P, C's loss on G's pairs
    pseudo_start: int = field(default=0, metadata=Range(0, None))  # generator step from which R_P applies
    g_loss: str = field(default="nonsaturating", metadata=Choice("nonsaturating", "minimax"))
    data_init: bool = False  # weight norm's data-dependent init of D and C (the authors' code)


@VARIANTS.register("triple-gan", description="Triple-GAN: generator, classifier and discriminator, "
                   "semi-supervised (Li et al. 2017)")
class TripleGAN(Variant):
    Options: ClassVar[type] = TripleGANOptions
    defaults = SEMI_SUPERVISED_DEFAULTS
    conditional = True  # samples are class-conditional: G(z, y)
    ema_roles = ("G",)

    def build(self) -> None:
        self.labelled = LabelledSubset(self.ctx.data, self.opts.labels_per_class, self.opts.label_seed)
        K = self.num_classes
        arch = self.ctx.arch
        self.add_net("G", arch.generator(self.z_dim, num_classes=K))
        self.add_net("D", arch.discriminator(out_dim=1, num_classes=K))
        self.add_net("C", arch.discriminator(out_dim=K))
        # The paper's weight-norm initialisation: C on fixed training images, D on the labelled pairs.
        if self.opts.data_init and hasattr(self.nets["C"], "data_init"):
            self.nets["C"].data_init(init_batch(self.ctx.data)["x"])
        if self.opts.data_init and hasattr(self.nets["D"], "data_init"):
            pairs = self.ctx.data.batch(self.labelled.index)
            self.nets["D"].data_init(pairs["x"], pairs["y"])
        attach_noise(self.nets, self.ctx.noise)
        for role, lr in (("G", self.cfg.optim.g_lr), ("D", self.cfg.optim.d_lr), ("C", self.cfg.optim.d_lr)):
            self.add_optimizer(role, self.nets[role].parameters(), lr)

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        G, D, C, o = self.nets["G"], self.nets["D"], self.nets["C"], self.opts
        x_c = batches[0]["x"]  # unlabelled data: the trainer's batch, its labels unused
        n = x_c.shape[0]
        lab = self.labelled.batch(n, self.ctx.noise)
        # C's pairs: pseudo-labels y_c ~ p_c(y | x_c).
        c_logits = C(x_c)
        p_c = torch.softmax(c_logits, 1)
        y_c = torch.multinomial(p_c.detach().float(), 1, generator=self.ctx.noise).squeeze(1)
        # G's pairs: y_g ~ p(y) uniform, x_g = G(z, y_g).
        y_g = torch.randint(self.num_classes, (n,), generator=self.ctx.noise, device=self.device)
        x_g = G(self.latent(n), y_g)

        # D step.
        d_real, d_cls, d_fake = D(lab["x"], lab["y"]), D(x_c, y_c), D(x_g.detach(), y_g)
        d_loss = losses.triple_d(d_real, d_cls, d_fake, o.alpha)
        self.update("D", d_loss)

        # C step: adversarial term through p_c(y_c | x_c), R_L, and R_P once samples mean something.
        with torch.no_grad():
            d_cls_now = D(x_c, y_c)
        c_adv = losses.triple_c_adversarial(p_c.gather(1, y_c[:, None]), d_cls_now, o.alpha)
        r_l = torch.nn.functional.cross_entropy(C(lab["x"]), lab["y"])
        c_loss = c_adv + r_l
        r_p = torch.zeros((), device=self.device)
        if o.alpha_p > 0 and self.it >= o.pseudo_start:
            r_p = torch.nn.functional.cross_entropy(C(x_g.detach()), y_g)
            c_loss = c_loss + o.alpha_p * r_p
        self.update("C", c_loss)

        # G step.
        self.requires_grad(D, False)
        g_out = D(x_g, y_g)
        g_loss = (1.0 - o.alpha) * (losses.g_nonsaturating(g_out) if o.g_loss == "nonsaturating"
                                    else losses.g_minimax(g_out))
        self.update("G", g_loss)
        self.requires_grad(D, True)

        return {"loss/d": d_loss.detach(), "loss/c": c_loss.detach(), "loss/g": g_loss.detach(),
                "loss/c_labelled": r_l.detach(), "loss/c_pseudo": r_p.detach(), "d/cls": d_cls.detach().mean()}

    def own_metrics(self) -> dict[str, float]:
        """``test_error``: % of the test split that C gets wrong."""
        return classifier_scores(self, "C")

    def own_protocol(self) -> str:
        return classifier_protocol(self, "C")
