"""CoGAN: coupled generative adversarial networks (Liu & Tuzel 2016).

Two GANs, one per domain, learn the joint distribution of the domains without any paired example:
the generators share their first layers and the discriminators their last ones (section 3), so one
z decodes to the same content in both domains. Each step (Algorithm 1 of the paper's supplement):

1. draw a real batch of each domain, never paired: domain A is the first half of the real batch
   (MNIST digits), domain B the transform of the *other* half (their negatives ``1 - x`` or their
   edge maps), so no image is ever shown together with its own transform;
2. update both discriminators (one optimiser over the coupled pair) on real vs. fake of their domain;
3. update both generators (one optimiser over the coupled pair) with the non-saturating loss.

Samples: ``Sample.x`` holds domain A images and ``Sample.pair`` the domain B images of the same z.
``own_metrics`` reports ``pair_consistency``: the paper's pixel agreement ratio (section 5.1) of
fixed-z pairs, i.e. the fraction of pixels where x_B agrees with the transform of x_A once both are
binarised at mid-grey, averaged over pairs; ``pair_l1`` is the mean absolute difference (in [0, 1]
units) between x_B and T(x_A).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F

from gan_bench import losses
from gan_bench.config import Choice, ConfigError, Range
from gan_bench.data.base import ArrayDataset
from gan_bench.nets.coupled import CoupledDiscriminator, CoupledGenerator
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch, Sample, Variant

CONSISTENCY_SAMPLES = 1000  # fixed-z pairs scored at each evaluation
CONSISTENCY_SEED = 12345


def negative(x: torch.Tensor) -> torch.Tensor:
    """The negative image 1 - x, for images in [-1, 1] (where it is -x)."""
    return -x


def edges(x: torch.Tensor) -> torch.Tensor:
    """An edge map of images in [-1, 1]: the morphological gradient (3x3 dilation minus erosion) of
    the [0, 1] image, mapped back to [-1, 1]. Liu & Tuzel used Canny edges; this one is
    differentiable-free and cheap, and gives thin strokes on MNIST's outlines the same way."""
    x01 = (x + 1) / 2
    dilated = F.max_pool2d(x01, 3, 1, 1)
    eroded = -F.max_pool2d(-x01, 3, 1, 1)
    return (dilated - eroded).clamp(0, 1) * 2 - 1


TRANSFORMS = {"negative": negative, "edges": edges}


def pixel_agreement(x_a: torch.Tensor, x_b: torch.Tensor, transform: str) -> torch.Tensor:
    """Per pair, the fraction of pixels where ``x_b`` and ``transform(x_a)`` agree once both are
    binarised at 0 (mid-grey in [-1, 1]): Liu & Tuzel's pixel agreement ratio."""
    target = TRANSFORMS[transform](x_a) > 0
    return ((x_b > 0) == target).float().flatten(1).mean(1)


@dataclass
class CoGANOptions:
    domain_b: str = field(default="negative", metadata=Choice(*TRANSFORMS))
    # Blocks each domain owns: the generators' last ones, the discriminators' first ones; all of
    # them (3 on MNIST, 4 on CIFAR-10) shares nothing, the paper's no-sharing baseline.
    g_unshared: int = field(default=1, metadata=Range(1, 16))
    d_unshared: int = field(default=1, metadata=Range(1, 16))
    width: int = field(default=0, metadata=Range(0, 4096))  # 0 = the run's net.width (64 when it has none)


@VARIANTS.register("cogan", description="CoGAN: two GANs sharing G's first and D's last layers learn a joint "
                   "distribution of two domains without pairs (Liu & Tuzel 2016)", default_arch={"image": "dcgan"})
class CoGAN(Variant):
    Options: ClassVar[type] = CoGANOptions
    defaults = {"optim": {"g_lr": 2e-4, "d_lr": 2e-4, "beta1": 0.5, "beta2": 0.999}}

    def build(self) -> None:
        spec = self.ctx.spec
        if spec.kind != "image":
            raise ConfigError(f"cogan needs an image dataset; {self.cfg.dataset} is {spec.kind}", "dataset")
        arch_opts = getattr(self.ctx.arch, "opts", None)
        width = self.opts.width or getattr(arch_opts, "width", 64)
        d_norm = getattr(arch_opts, "d_norm", "batch")
        try:
            G = CoupledGenerator(spec, self.z_dim, width, self.opts.g_unshared)
            D = CoupledDiscriminator(spec, width, d_norm, self.opts.d_unshared)
        except ValueError as exc:
            raise ConfigError(str(exc), "model") from None
        self.add_net("G", G)
        self.add_net("D", D)
        self.add_optimizer("G", G.parameters(), self.cfg.optim.g_lr)
        self.add_optimizer("D", D.parameters(), self.cfg.optim.d_lr)
        self.transform = TRANSFORMS[self.opts.domain_b]

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        G, D = self.nets["G"], self.nets["D"]
        x = batches[0]["x"]
        if x.shape[0] < 2:
            raise ConfigError("cogan splits each real batch between its two domains: batch_size must be >= 2",
                              "batch_size")
        half = x.shape[0] // 2
        # Two disjoint halves: domain A sees some digits, domain B the transform of others (no pairs).
        real_a, real_b = x[:half], self.transform(x[half : 2 * half])
        fake_a, fake_b = G(self.latent(half))

        real_out_a, real_out_b = D(real_a, real_b)
        fake_out_a, fake_out_b = D(fake_a.detach(), fake_b.detach())
        d_loss = losses.d_minimax(real_out_a, fake_out_a) + losses.d_minimax(real_out_b, fake_out_b)
        self.update("D", d_loss)

        self.requires_grad(D, False)
        gen_out_a, gen_out_b = D(fake_a, fake_b)
        g_loss = losses.g_nonsaturating(gen_out_a) + losses.g_nonsaturating(gen_out_b)
        self.update("G", g_loss)
        self.requires_grad(D, True)
        return {"loss/d": d_loss.detach(), "loss/g": g_loss.detach(),
                "d/real_a": real_out_a.detach().mean(), "d/real_b": real_out_b.detach().mean(),
                "d/fake_a": fake_out_a.detach().mean(), "d/fake_b": fake_out_b.detach().mean()}

    # ------------------------------------------------------------------ sampling

    def generate_pair(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x_A, x_B) for latent codes ``z`` from the sampling generator (its EMA copy if kept)."""
        return self.sampling_net("G")(z)

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Domain A images (what the domain-A metrics score)."""
        return self.generate_pair(z)[0]

    @torch.no_grad()
    def sample(self, n: int, seed: int, batch_size: int = 500, data: ArrayDataset | None = None) -> Iterator[Sample]:
        """Fixed-z samples: ``x`` in domain A, ``pair`` the domain B image of the same z."""
        gen = torch.Generator().manual_seed(seed)
        z_all = torch.randn(n, self.z_dim, generator=gen)
        was_training = self.nets.training
        self.nets.eval()
        try:
            for start in range(0, n, batch_size):
                x_a, x_b = self.generate_pair(z_all[start : start + batch_size].to(self.device))
                yield Sample(x=x_a.float(), pair=x_b.float())
        finally:
            self.nets.train(was_training)

    def own_metrics(self) -> dict[str, float]:
        """Pixel agreement of fixed-z pairs with the domain transform (see the module docstring)."""
        sample = Sample.cat(self.sample(CONSISTENCY_SAMPLES, CONSISTENCY_SEED))
        agreement = pixel_agreement(sample.x, sample.pair, self.opts.domain_b)
        l1 = ((sample.pair - self.transform(sample.x)).abs() / 2).flatten(1).mean(1)
        return {"pair_consistency": float(agreement.mean()), "pair_l1": float(l1.mean())}
