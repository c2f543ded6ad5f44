"""Class-conditional GANs: the label goes into G, and into D (cGAN) or out of it (AC-GAN).

- ``cgan`` (Mirza & Osindero 2014, eq. 2): min_G max_D E[log D(x|y)] + E[log(1 - D(G(z|y)|y))].
  G gets a learned label embedding concatenated to z; D gets the one-hot label as K constant
  input channels beside the image (``model.d_cond=concat``, the paper's joint input), or a
  projection term (``projection``, Miyato & Koyama 2018) as a modern alternative.
- ``acgan`` (Odena et al. 2017, eq. 2-3): D has no label input but 1 + K outputs, a source logit
  and K class logits. With L_S the log-likelihood of the right source and L_C that of the right
  class, D maximises L_S + L_C and G maximises L_C - L_S (here with the non-saturating source
  loss); the class loss is taken on real and fake examples in both updates.

Both draw the fakes' labels uniformly from the K classes with the run's noise generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from gan_bench import losses
from gan_bench.config import Choice, ConfigError, Range
from gan_bench.data.base import DataSpec
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch, Variant

# DCGAN's optimiser (Radford et al. 2016), which the AC-GAN paper's nets also train with
DCGAN_OPTIM = {"optim": {"g_lr": 2e-4, "d_lr": 2e-4, "beta1": 0.5, "beta2": 0.999}}


class LabelChannels(nn.Module):
    """D(x | y) = D'([x, onehot(y)]): the one-hot label as K constant channels beside an image (or
    K extra features beside a point), the joint input of Mirza & Osindero's discriminator."""

    def __init__(self, net: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.net, self.num_classes = net, num_classes

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            raise ValueError(f"this discriminator is conditional on {self.num_classes} classes: pass y")
        code = F.one_hot(y.long(), self.num_classes).to(x.dtype)
        if x.dim() == 4:
            code = code[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        return self.net(torch.cat([x, code], dim=1))


class ConditionalVariant(Variant):
    """Shared parts: labelled data required, fake labels drawn from the run's noise."""

    conditional: ClassVar[bool] = True
    defaults = DCGAN_OPTIM

    def check_labels(self) -> None:
        if self.num_classes < 2:
            raise ConfigError(f"{type(self).__name__} needs a labelled dataset (mnist, fashion_mnist, cifar10, ...)",
                              "dataset")

    def labels(self, n: int) -> torch.Tensor:
        """``n`` labels drawn uniformly from the K classes (y ~ p(y) for the fakes)."""
        return torch.randint(self.num_classes, (n,), generator=self.ctx.noise, device=self.device)


GeneratedBatch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (z, labels, detached images)


@dataclass
class CGANOptions:
    d_cond: str = field(default="concat", metadata=Choice("concat", "projection"))


@VARIANTS.register("cgan", description="conditional GAN: the label embedded into G and D (Mirza & Osindero 2014)",
                   default_arch={"image": "dcgan"})
class CGAN(ConditionalVariant):
    Options: ClassVar[type] = CGANOptions

    def build(self) -> None:
        self.check_labels()
        K, arch = self.num_classes, self.ctx.arch
        self.add_net("G", arch.generator(self.z_dim, num_classes=K))
        if self.opts.d_cond == "projection":
            D: nn.Module = arch.discriminator(out_dim=1, num_classes=K)
        else:  # the run's architecture and options (``Arch(spec, opts)``), built for K more input channels
            spec = self.ctx.spec
            wider = DataSpec(shape=(spec.shape[0] + K, *spec.shape[1:]), kind=spec.kind, num_classes=K)
            D = LabelChannels(type(arch)(wider, getattr(arch, "opts", None)).discriminator(out_dim=1), K)
        self.add_net("D", D)
        self.add_optimizer("G", self.nets["G"].parameters(), self.cfg.optim.g_lr)
        self.add_optimizer("D", self.nets["D"].parameters(), self.cfg.optim.d_lr)

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        return self.adversarial_step(batches)[0]

    def adversarial_step(self, batches: list[Batch]) -> tuple[dict[str, torch.Tensor | float], GeneratedBatch]:
        """The cGAN updates of D then G; also returns the generator step's (z, y', G(z|y')) for
        variants that build on it (Age-cGAN's encoder)."""
        G, D = self.nets["G"], self.nets["D"]
        real, y = batches[0]["x"], batches[0]["y"]
        n = real.shape[0]
        # D ascends log D(x|y) + log(1 - D(G(z|y')|y')) with y' ~ p(y)
        y_fake = self.labels(n)
        with torch.no_grad():
            fake = G(self.latent(n), y_fake)
        real_out, fake_out = D(real, y), D(fake, y_fake)
        d_loss = losses.d_minimax(real_out, fake_out)
        self.update("D", d_loss)
        # G descends -log D(G(z|y')|y') (non-saturating) on fresh z and labels
        y_fake = self.labels(n)
        z = self.latent(n)
        self.requires_grad(D, False)
        fake = G(z, y_fake)
        g_loss = losses.g_nonsaturating(D(fake, y_fake))
        self.update("G", g_loss)
        self.requires_grad(D, True)
        out = {"loss/d": d_loss.detach(), "loss/g": g_loss.detach(),
               "d/real": real_out.detach().mean(), "d/fake": fake_out.detach().mean()}
        return out, (z, y_fake, fake.detach())


@dataclass
class ACGANOptions:
    class_weight: float = field(default=1.0, metadata=Range(0.0, 1e6))  # weight of L_C (the paper's 1)
    # weight of the fakes' class term in D's L_C (the paper's 1); 0 trains D's classifier on real
    # data only, so G cannot satisfy it with class-specific artifacts that D learnt from G itself
    fake_class_weight: float = field(default=1.0, metadata=Range(0.0, 1e6))


@VARIANTS.register("acgan", description="AC-GAN: auxiliary classifier head in D, class loss on real and fake "
                   "(Odena et al. 2017)", default_arch={"image": "dcgan"})
class ACGAN(ConditionalVariant):
    Options: ClassVar[type] = ACGANOptions

    def build(self) -> None:
        self.check_labels()
        K = self.num_classes
        self.add_net("G", self.ctx.arch.generator(self.z_dim, num_classes=K))
        self.add_net("D", self.ctx.arch.discriminator(out_dim=1 + K))  # [source logit, K class logits]
        self.add_optimizer("G", self.nets["G"].parameters(), self.cfg.optim.g_lr)
        self.add_optimizer("D", self.nets["D"].parameters(), self.cfg.optim.d_lr)

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        G, D, w = self.nets["G"], self.nets["D"], self.opts.class_weight
        real, y = batches[0]["x"], batches[0]["y"]
        n = real.shape[0]
        # D maximises L_S + L_C (eq. 2 + eq. 3): source and class log-likelihoods, real and fake
        y_fake = self.labels(n)
        with torch.no_grad():
            fake = G(self.latent(n), y_fake)
        real_out, fake_out = D(real), D(fake)
        d_source = losses.d_minimax(real_out[:, 0], fake_out[:, 0])
        d_class = F.cross_entropy(real_out[:, 1:], y) + self.opts.fake_class_weight * F.cross_entropy(fake_out[:, 1:], y_fake)
        d_loss = d_source + w * d_class
        self.update("D", d_loss)
        # G maximises L_C - L_S, with -log D_S(G(z)) for -L_S (non-saturating)
        y_fake = self.labels(n)
        self.requires_grad(D, False)
        out = D(G(self.latent(n), y_fake))
        g_source = losses.g_nonsaturating(out[:, 0])
        g_class = F.cross_entropy(out[:, 1:], y_fake)
        g_loss = g_source + w * g_class
        self.update("G", g_loss)
        self.requires_grad(D, True)
        real_acc = (real_out[:, 1:].argmax(1) == y).float().mean()
        return {"loss/d": d_loss.detach(), "loss/g": g_loss.detach(), "loss/d_class": d_class.detach(),
                "loss/g_class": g_class.detach(), "d/real": real_out[:, 0].detach().mean(),
                "d/fake": fake_out[:, 0].detach().mean(), "d/real_class_acc": real_acc.detach()}
