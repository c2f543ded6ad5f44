"""Triple-GAN (Li et al. 2017, "Triple Generative Adversarial Nets"), semi-supervised.

Three players: a conditional generator G(z, y) draws x_g for labels y_g ~ p(y), a classifier
C(x) labels unlabelled x_c with pseudo-labels y_c, and a discriminator D(x, y) tells "real" pairs
from the pairs of both. Algorithm 1 of the paper, with alpha = 1/2:

    D descends -[ E log D(x_l, y_l) + alpha E log(1 - D(x_c, y_c)) + (1 - alpha) E log(1 - D(x_g, y_g)) ]
    C descends   alpha E[p_c(y_c | x_c) log(1 - D(x_c, y_c))] + R_L + alpha_P R_P
    G descends   (1 - alpha) E log(1 - D(x_g, y_g))

R_L is C's cross-entropy on the labelled batch and R_P the "pseudo discriminative" cross-entropy
of C on G's pairs (x_g, y_g) (section 3.2), switched on after ``pseudo_start`` steps (the
authors' code: after 300 of 1,000 epochs) since early samples carry no label information.

What the authors' MNIST script (github.com/zhenxuan00/triple-gan, ``x2y_yz2x_xy2p_ssl_mnist.py``)
adds to the algorithm box, and this variant follows by default:

- C is a CNN with batch norm and dropout (:class:`~gan_bench.nets.semi.SemiCNNClassifier`;
  ``classifier=mlp`` takes the run's architecture's K-output discriminator instead);
- C's unlabelled batch also carries entropy minimisation (weight 0.3) and a class-balance term
  (1e-3, cross-entropy of the mean prediction against uniform), plus 1e-4 L2 on C's last layer
  (``categorical_crossentropy_ssl_separated``). An earlier revision without these terms, the
  CNN and the weight average (a noisy MLP C on cross-entropy and the adversarial term alone) sat
  at ~20% test error after 600 steps: C learnt from the 100 labels only, the adversarial term
  being far too weak a signal at a short budget. With them, 4.8% after 1,000 steps (seed 0);
- pseudo-labels are C's argmax, weighted by its probability (``objective_flag='argmax'``), and
  C's adversarial term is the non-saturating -p_c log D (``cla_cost_p_c``);
- D's "real" pairs are ``d_labelled`` labelled pairs (1 there) together with ``d_batches``
  further unlabelled batches labelled by C's argmax (``dis_cost_p``; 400 images there), so D
  learns the joint distribution mostly from C's labels, and C's pairs on the first batch are its
  "fake" ones at weight alpha;
- G's labels are balanced (each class equally often) and G takes the non-saturating loss;
- the test error is that of a running average of C's weights (``cla_param_avg``, rate 0.01);
  the authors also average the batch-norm statistics, which at a short budget do not fit the
  averaged weights (76% test error where the live C had 10%): here they are recomputed on 1,000
  training images when C_avg is scored.

At a CPU budget (2,000 steps) R_P hurt: G's samples were of their asked-for class only 56-75%
of the time, and seed 1 ended at 5.16% test error with R_P from step 1,000 against 4.04% without
(``baselines/semi_supervised.yaml`` sets ``alpha_p=0``).

Deviations: no 30-epoch pre-training of C; ``classifier_width`` may narrow the CNN for a CPU
budget; the budget is a few epochs, not 1,000 (the suite's notes give the numbers).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F

from gan_bench import losses
from gan_bench.config import Choice, Range
from gan_bench.nets.semi import SemiCNNClassifier, attach_noise
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch, Variant
from gan_bench.variants.semi_supervised import (
    LabelledSubset,
    classifier_protocol,
    classifier_scores,
    init_batch,
    recompute_batch_norm,
)

# The authors' MNIST script: Adam lr 1e-3 beta1 0.5 for all three players, 100-d latent.
TRIPLE_GAN_DEFAULTS = {"batch_size": 100, "z_dim": 100,
                       "optim": {"g_lr": 1e-3, "d_lr": 1e-3, "beta1": 0.5, "beta2": 0.999}}


@dataclass
class TripleGANOptions:
    labels_per_class: int = field(default=10, metadata=Range(1, None))
    label_seed: int = field(default=0, metadata=Range(0, 2**31 - 1))  # which examples keep their label
    alpha: float = field(default=0.5, metadata=Range(0.0, 1.0))  # weight of C's pairs vs G's in D's loss
    alpha_p: float = field(default=0.1, metadata=Range(0.0, 1e6))  # weight of R_P, C's loss on G's pairs
    pseudo_start: int = field(default=0, metadata=Range(0, None))  # generator step from which R_P applies
    entropy_weight: float = field(default=0.3, metadata=Range(0.0, 1e6))  # C's entropy on unlabelled data
    balance_weight: float = field(default=1e-3, metadata=Range(0.0, 1e6))  # mean prediction vs uniform
    weight_decay: float = field(default=1e-4, metadata=Range(0.0, 1e6))  # L2 on C's last layer
    classifier: str = field(default="cnn", metadata=Choice("cnn", "mlp"))  # the authors' CNN or the arch's D
    classifier_width: int = field(default=32, metadata=Range(1, 4096))  # the CNN's first channels (theirs: 32)
    classifier_ema: float = field(default=0.99, metadata=Range(0.0, 1.0))  # C's weight average; 0 = none
    pseudo_label: str = field(default="argmax", metadata=Choice("argmax", "sample"))  # y_c from p_c(y | x_c)
    d_labelled: int = field(default=1, metadata=Range(1, None))  # labelled pairs among D's real ones
    d_pseudo_real: bool = True  # C-labelled unlabelled pairs also "real" for D (the authors' code)
    d_batches: int = field(default=1, metadata=Range(1, 64))  # unlabelled batches for those pairs (theirs: 4)
    g_loss: str = field(default="nonsaturating", metadata=Choice("nonsaturating", "minimax"))
    data_init: bool = False  # weight norm's data-dependent init of D (and an MLP C) (the authors' code)


@VARIANTS.register("triple-gan", description="Triple-GAN: generator, classifier and discriminator, "
                   "semi-supervised (Li et al. 2017)")
class TripleGAN(Variant):
    Options: ClassVar[type] = TripleGANOptions
    defaults = TRIPLE_GAN_DEFAULTS
    conditional = True  # samples are class-conditional: G(z, y)
    ema_roles = ("G",)

    @classmethod
    def real_batches(cls, opts: TripleGANOptions) -> int:
        """One unlabelled batch for C, ``d_batches`` more for D's C-labelled "real" pairs (the
        authors' 400 images beside C's 100: ``batch_size_u_d``)."""
        return 1 + opts.d_batches if opts.d_pseudo_real else 1

    def build(self) -> None:
        o = self.opts
        self.labelled = LabelledSubset(self.ctx.data, o.labels_per_class, o.label_seed)
        K = self.num_classes
        arch = self.ctx.arch
        self.add_net("G", arch.generator(self.z_dim, num_classes=K))
        self.add_net("D", arch.discriminator(out_dim=1, num_classes=K))
        C = SemiCNNClassifier(self.ctx.spec, K, o.classifier_width) if o.classifier == "cnn" \
            else arch.discriminator(out_dim=K)
        self.add_net("C", C)
        # The paper's weight-norm initialisation: C on fixed training images, D on the labelled pairs.
        if o.data_init and hasattr(C, "data_init"):
            C.data_init(init_batch(self.ctx.data)["x"])
        if o.data_init and hasattr(self.nets["D"], "data_init"):
            pairs = self.ctx.data.batch(self.labelled.index)
            self.nets["D"].data_init(pairs["x"], pairs["y"])
        if o.classifier_ema > 0:  # evaluated instead of C, as the authors' `evaluate` does
            self.add_net("C_avg", copy.deepcopy(C).requires_grad_(False))
        attach_noise(self.nets, self.ctx.noise)
        for role, lr in (("G", self.cfg.optim.g_lr), ("D", self.cfg.optim.d_lr), ("C", self.cfg.optim.d_lr)):
            self.add_optimizer(role, self.nets[role].parameters(), lr)

    def _pseudo_labels(self, probs: torch.Tensor) -> torch.Tensor:
        if self.opts.pseudo_label == "argmax":
            return probs.argmax(1)
        return torch.multinomial(probs.float(), 1, generator=self.ctx.noise).squeeze(1)

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        G, D, C, o = self.nets["G"], self.nets["D"], self.nets["C"], self.opts
        x_c = batches[0]["x"]  # unlabelled data: the trainer's batches, their labels unused
        n, K = x_c.shape[0], self.num_classes
        lab = self.labelled.batch(n, self.ctx.noise)
        # C's pairs: pseudo-labels y_c from p_c(y | x_c).
        c_logits = C(x_c)
        p_c = torch.softmax(c_logits, 1)
        y_c = self._pseudo_labels(p_c.detach())
        # G's pairs: balanced labels y_g, x_g = G(z, y_g).
        y_g = torch.arange(n, device=self.device) % K
        x_g = G(self.latent(n), y_g)

        # D step: labelled pairs (and C's pairs on a second batch) real, G's and C's pairs fake.
        x_real, y_real = lab["x"][: o.d_labelled], lab["y"][: o.d_labelled]
        if o.d_pseudo_real:
            x_d = torch.cat([b["x"] for b in batches[1:]])
            with torch.no_grad():
                y_d = self._pseudo_labels(torch.softmax(C(x_d), 1))
            x_real, y_real = torch.cat([x_real, x_d]), torch.cat([y_real, y_d])
        d_real, d_cls, d_fake = D(x_real, y_real), D(x_c, y_c), D(x_g.detach(), y_g)
        d_loss = losses.triple_d(d_real, d_cls, d_fake, o.alpha)
        self.update("D", d_loss)

        # C step: the adversarial term through p_c(y_c | x_c), R_L with the unlabelled terms, and
        # R_P once the samples mean something.
        with torch.no_grad():
            d_cls_now = D(x_c, y_c)
        c_adv = losses.triple_c_nonsaturating(p_c.gather(1, y_c[:, None]), d_cls_now, o.alpha)
        r_l = F.cross_entropy(C(lab["x"]), lab["y"])
        unlabelled = o.entropy_weight * losses.prediction_entropy(c_logits) \
            + o.balance_weight * losses.class_balance(c_logits)
        c_loss = c_adv + r_l + unlabelled + o.weight_decay * self._last_layer_l2(C)
        r_p = torch.zeros((), device=self.device)
        if o.alpha_p > 0 and self.it >= o.pseudo_start:
            r_p = F.cross_entropy(C(x_g.detach()), y_g)
            c_loss = c_loss + o.alpha_p * r_p
        self.update("C", c_loss)
        self._average_classifier()

        # G step.
        self.requires_grad(D, False)
        g_out = D(x_g, y_g)
        g_loss = (1.0 - o.alpha) * (losses.g_nonsaturating(g_out) if o.g_loss == "nonsaturating"
                                    else losses.g_minimax(g_out))
        self.update("G", g_loss)
        self.requires_grad(D, True)

        return {"loss/d": d_loss.detach(), "loss/c": c_loss.detach(), "loss/g": g_loss.detach(),
                "loss/c_labelled": r_l.detach(), "loss/c_pseudo": r_p.detach(),
                "c/entropy": losses.prediction_entropy(c_logits.detach()), "d/cls": d_cls.detach().mean()}

    @staticmethod
    def _last_layer_l2(C: torch.nn.Module) -> torch.Tensor:
        """sum W^2 of C's output layer (Lasagne's l2 on ``cla-6``'s weights)."""
        return sum(p.pow(2).sum() for name, p in C.out.named_parameters() if "bias" not in name)

    @torch.no_grad()
    def _average_classifier(self) -> None:
        """C_avg <- C_avg + (1 - ema) (C - C_avg) over C's parameters (the authors' ``cla_avg_updates``);
        its batch-norm statistics are recomputed when it is scored."""
        if "C_avg" not in self.nets:
            return
        for a, p in zip(self.nets["C_avg"].parameters(), self.nets["C"].parameters()):
            a.lerp_(p, 1.0 - self.opts.classifier_ema)

    def _scored(self) -> str:
        return "C_avg" if "C_avg" in self.nets else "C"

    def own_metrics(self) -> dict[str, float]:
        """``test_error``: % of the test split that C gets wrong; with ``classifier_ema``, the
        average of C's weights, its batch-norm statistics recomputed on the first 1,000 training
        images (averaged weights do not fit the statistics the moving C collected); ``test_error_live``:
        the live C's."""
        if "C_avg" not in self.nets:
            return classifier_scores(self, "C")
        net = recompute_batch_norm(self.nets["C_avg"], init_batch(self.ctx.data, 1000)["x"])
        live = classifier_scores(self, "C")["test_error"]
        return {**classifier_scores(self, "C_avg", net), "test_error_live": live}

    def own_protocol(self) -> str:
        return classifier_protocol(self, self._scored())
