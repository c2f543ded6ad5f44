"""Image-to-image translation: pix2pix (Isola et al. 2017) and CycleGAN (Zhu et al. 2017).

The condition is the input image: a batch is ``{"x": B, "cond": A}`` (:mod:`gan_bench.data.translation`;
paired data give A's ground truth, unpaired data an independent A image), the output is G(A), and
evaluation samples carry ``cond`` = held-out inputs (the dataset's ``test`` split when it has one)
and, on paired data, ``target`` = their ground truth, scored by :mod:`gan_bench.metrics.translation`.

pix2pix (architecture ``unet``), eq. 4: G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G), with

- L_cGAN = E[log D(x, y)] + E[log(1 - D(x, G(x, z)))] (eq. 1), D a PatchGAN on the (input, output)
  pair, channels concatenated; D's objective halved ("we divide the objective by 2 while optimizing
  D", section 3.3), G on the non-saturating -log D(x, G(x, z));
- L_L1 = E||y - G(x, z)||_1 (eq. 3), lambda = 100;
- z only as dropout in G, kept at test time (section 2.2): in training its masks come from the run's
  resumable noise, in sampling from a generator seeded by the evaluation seed and the row offset;
- Adam lr 2e-4, beta1 0.5 (section 3.3). The authors' code also decays the rate linearly over the
  second half; the paper does not say so, so it is not a default (``lr_schedule.name=linear``).

CycleGAN (architecture ``cyclegan-resnet``), eq. 3: L = L_GAN(G, D_Y) + L_GAN(F, D_X) + lambda L_cyc,
with G = ``G_AB``: A -> B, F = ``G_BA``: B -> A, D_Y = ``D_B``, D_X = ``D_A``, and

- least-squares GAN losses (section 4): G minimises E[(D(G(x)) - 1)^2], D minimises
  E[(D(y) - 1)^2] + E[D(G(x))^2], halved as in the authors' code;
- L_cyc = E||F(G(x)) - x||_1 + E||G(F(y)) - y||_1 (eq. 2), lambda = 10;
- the identity loss E||G(y) - y||_1 + E||F(x) - x||_1 (section 5.2) weighted 0.5 lambda, as the
  authors' code (``lambda_identity`` 0.5 times ``lambda_A``/``lambda_B``);
- D updated on a history of 50 generated images per domain (Shrivastava et al. 2017's pool, as
  the authors' ``ImagePool``: each new image is returned, or with probability 1/2 swapped for a
  random stored one once the pool is full); pool draws come from the run's resumable noise and the
  pools are saved in checkpoints;
- Adam lr 2e-4, beta1 0.5; the rate constant over the first half and decayed linearly to zero over
  the second (section 7.1), the class ``defaults`` ``lr_schedule``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from gan_bench import losses
from gan_bench.config import ConfigError, Range
from gan_bench.data import translation as _data  # noqa: F401  (registers the translation datasets)
from gan_bench.data.base import ArrayDataset, DataError, load_dataset
from gan_bench.metrics import translation as _metrics  # noqa: F401  (registers the translation metrics)
from gan_bench.nets import cyclegan as _cyclegan_nets  # noqa: F401  (registers cyclegan-resnet)
from gan_bench.nets import unet as _unet_nets  # noqa: F401  (registers unet)
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch, Sample, Variant

ADAM_2E4 = {"g_lr": 2e-4, "d_lr": 2e-4, "beta1": 0.5, "beta2": 0.999}


class TranslationVariant(Variant):
    """What pix2pix and CycleGAN share: input images as conditions, outputs G(A), held-out inputs
    for evaluation (the ``test`` split when the dataset has one)."""

    generator_role = "G"
    needs_pairs = False

    def check_data(self) -> None:
        """A one-line error unless the training data are translation data of the right kind."""
        data = self.ctx.data
        kind = data.meta.get("translation") if data is not None else None
        if kind is None or (self.needs_pairs and kind != "paired"):
            want = "paired translation data" if self.needs_pairs else "translation data"
            raise ConfigError(f"{self.cfg.variant} needs {want} ({VARIANTS.entry(self.cfg.variant).meta['requires_data']});"
                              f" {self.cfg.dataset} is {kind or 'not translation data'}", "dataset")

    def eval_data(self) -> ArrayDataset:
        """The held-out split of the run's dataset (loaded once), else the training data."""
        if getattr(self, "_eval_data", None) is None:
            data = self.ctx.data
            assert data is not None
            self._eval_data = data
            if self.cfg.split == "train":
                try:
                    self._eval_data = load_dataset(self.cfg.dataset, "test", self.cfg.data_root or None, self.cfg.data)
                except DataError:  # a folder without a test split: evaluate on the training pairs
                    pass
        return self._eval_data

    def sample_conditions(self, n: int, offset: int, data: ArrayDataset | None) -> dict[str, torch.Tensor]:
        """Held-out inputs ``cond`` of rows offset..offset+n (by position) and, for paired data, their
        ground truth ``target``."""
        data = self.eval_data()
        index = torch.arange(offset, offset + n)
        if data.meta.get("translation") == "paired":
            batch = data.batch(index % len(data))
            return {"cond": batch["cond"].to(self.device), "target": batch["x"].to(self.device)}
        return {"cond": data.inputs(index).to(self.device)}  # type: ignore[attr-defined]

    def generate_at(self, z: torch.Tensor, offset: int, **conditions: torch.Tensor) -> torch.Tensor:
        return self.sampling_net(self.generator_role)(conditions["cond"])

    def own_protocol(self) -> str:
        data = self.eval_data()
        where = "held-out test split" if data is not self.ctx.data else "training data (no test split)"
        return f"{self.cfg.variant}: inputs from the {where} of {self.cfg.dataset}; {self.describe()}"

    def describe(self) -> str:
        """The losses in a few words, for the protocol line."""
        return ""


# --------------------------------------------------------------------------- pix2pix


@dataclass
class Pix2PixOptions:
    l1_weight: float = field(default=100.0, metadata=Range(0.0, 1e6))  # lambda, eq. 4


@VARIANTS.register("pix2pix", description="pix2pix: U-Net + PatchGAN + L1 (Isola et al. 2017)",
                   default_arch={"image": "unet"},
                   requires_data="paired translation data (utkface-edges2faces, utkface-grey2colour, facades, "
                                 "paired-folder)")
class Pix2Pix(TranslationVariant):
    Options = Pix2PixOptions
    defaults = {"optim": ADAM_2E4}
    needs_pairs = True

    def build(self) -> None:
        self.check_data()
        c = self.ctx.spec.shape[0]
        G = self.add_net("G", self.ctx.arch.generator(self.z_dim))
        D = self.add_net("D", self.ctx.arch.discriminator(in_channels=2 * c))  # sees (input, output)
        self.add_optimizer("G", G.parameters(), self.cfg.optim.g_lr)
        self.add_optimizer("D", D.parameters(), self.cfg.optim.d_lr)
        self._sample_seed = 0

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        x, y = batches[0]["cond"], batches[0]["x"]  # the paper's x (input) and y (ground truth)
        G, D = self.nets["G"], self.nets["D"]
        fake = G(x, self.ctx.noise)  # z: dropout masks from the resumable noise
        # D: max log D(x, y) + log(1 - D(x, G(x, z))) (eq. 1), halved (section 3.3)
        d_loss = 0.5 * losses.d_minimax(D(torch.cat([x, y], 1)), D(torch.cat([x, fake.detach()], 1)))
        self.update("D", d_loss)
        # G: -log D(x, G(x, z)) + lambda ||y - G(x, z)||_1 (eqs. 1, 3, 4), D frozen
        self.requires_grad(D, False)
        adv = losses.g_nonsaturating(D(torch.cat([x, fake], 1)))
        l1 = F.l1_loss(fake, y)
        g_loss = adv + self.opts.l1_weight * l1
        self.update("G", g_loss)
        self.requires_grad(D, True)
        return {"loss/d": d_loss.detach(), "loss/g": g_loss.detach(), "g/adv": adv.detach(), "g/l1": l1.detach()}

    def sample(self, n: int, seed: int, batch_size: int = 500, data: ArrayDataset | None = None) -> Iterator[Sample]:
        self._sample_seed = seed  # seeds the test-time dropout of generate_at
        yield from super().sample(n, seed, batch_size, data)

    def generate_at(self, z: torch.Tensor, offset: int, **conditions: torch.Tensor) -> torch.Tensor:
        """G(x, z) with dropout on (section 2.2), its masks seeded by the sampling seed and the offset."""
        gen = torch.Generator(device=self.device).manual_seed(self._sample_seed * 1_000_003 + offset)
        return self.sampling_net("G")(conditions["cond"], gen)

    def describe(self) -> str:
        return f"cGAN (PatchGAN on the input-output pair) + {self.opts.l1_weight:g} L1, dropout kept at test time"


# --------------------------------------------------------------------------- CycleGAN


@dataclass
class CycleGANOptions:
    cycle_weight: float = field(default=10.0, metadata=Range(0.0, 1e6))  # lambda, eq. 3
    identity_weight: float = field(default=0.5, metadata=Range(0.0, 1e6))  # times lambda (authors' code)
    pool_size: int = field(default=50, metadata=Range(0, 100_000))  # 0: D sees the newest fakes only


class ImagePool:
    """The authors' ``ImagePool`` (Shrivastava et al. 2017's history of generated images), drawing
    from a given generator so that a resumed run draws the same."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The images D trains on: each new one, or with probability 1/2 (once the pool is full) a
        stored one that the new one replaces. Draws two numbers per image whatever the branch."""
        if self.size == 0:
            return images
        images = images.detach()
        n = images.shape[0]
        u = torch.rand(n, generator=generator, device=generator.device).tolist()
        slot = torch.randint(0, self.size, (n,), generator=generator, device=generator.device).tolist()
        out = []
        for i in range(n):
            image = images[i : i + 1].clone()
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif u[i] > 0.5:
                out.append(self.images[slot[i]])
                self.images[slot[i]] = image
            else:
                out.append(image)
        return torch.cat(out)

    def state(self) -> torch.Tensor | None:
        return torch.cat(self.images).cpu() if self.images else None

    def load(self, images: torch.Tensor | None, device: torch.device) -> None:
        self.images = [] if images is None else [im[None].to(device) for im in images]


@VARIANTS.register("cyclegan", description="CycleGAN (Zhu et al. 2017)", default_arch={"image": "cyclegan-resnet"},
                   requires_data="translation data, unpaired or paired (utkface-young2old, horse2zebra, "
                                 "unpaired-folder; the paired sets with their pairing ignored)")
class CycleGAN(TranslationVariant):
    Options = CycleGANOptions
    defaults = {"optim": ADAM_2E4, "lr_schedule": {"name": "linear", "start": 0.5, "final": 0.0}}
    ema_roles = ("G_AB", "G_BA")
    generator_role = "G_AB"

    def build(self) -> None:
        self.check_data()
        arch = self.ctx.arch
        for role in ("G_AB", "G_BA"):
            self.add_net(role, arch.generator(self.z_dim))
        for role in ("D_A", "D_B"):
            self.add_net(role, arch.discriminator())
        n = self.nets
        # one optimiser for both generators and one for both critics, as the authors' code
        self.add_optimizer("G", [*n["G_AB"].parameters(), *n["G_BA"].parameters()], self.cfg.optim.g_lr)
        self.add_optimizer("D", [*n["D_A"].parameters(), *n["D_B"].parameters()], self.cfg.optim.d_lr)
        self.pools = {"A": ImagePool(self.opts.pool_size), "B": ImagePool(self.opts.pool_size)}

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        real_a, real_b = batches[0]["cond"], batches[0]["x"]
        n, o = self.nets, self.opts
        G, Fn, D_A, D_B = n["G_AB"], n["G_BA"], n["D_A"], n["D_B"]
        fake_b, fake_a = G(real_a), Fn(real_b)
        # G and F with both critics frozen: adversarial + lambda cycle + 0.5 lambda identity
        self.requires_grad(D_A, False)
        self.requires_grad(D_B, False)
        adv = 2 * (losses.g_least_squares(D_B(fake_b)) + losses.g_least_squares(D_A(fake_a)))  # E[(D(G(x)) - 1)^2]
        cycle = F.l1_loss(Fn(fake_b), real_a) + F.l1_loss(G(fake_a), real_b)  # eq. 2
        identity = F.l1_loss(G(real_b), real_b) + F.l1_loss(Fn(real_a), real_a) if o.identity_weight else torch.zeros(())
        g_loss = adv + o.cycle_weight * cycle + o.identity_weight * o.cycle_weight * identity
        self.update("G", g_loss)
        self.requires_grad(D_A, True)
        self.requires_grad(D_B, True)
        # D_A and D_B on real images and on the pools' history of fakes (LSGAN, halved)
        pool_b = self.pools["B"].query(fake_b, self.ctx.noise)
        pool_a = self.pools["A"].query(fake_a, self.ctx.noise)
        d_b = losses.d_least_squares(D_B(real_b), D_B(pool_b))
        d_a = losses.d_least_squares(D_A(real_a), D_A(pool_a))
        self.update("D", d_a + d_b)
        return {"loss/d_a": d_a.detach(), "loss/d_b": d_b.detach(), "loss/g": g_loss.detach(),
                "g/adv": adv.detach(), "g/cycle": cycle.detach(), "g/identity": identity.detach()}

    def extra_state(self) -> dict[str, Any]:
        return {f"pool_{k}": p.state() for k, p in self.pools.items()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        for k, p in self.pools.items():
            p.load(state.get(f"pool_{k}"), self.device)

    def describe(self) -> str:
        o = self.opts
        return (f"LSGAN + {o.cycle_weight:g} cycle L1 + {o.identity_weight * o.cycle_weight:g} identity L1, "
                f"image pools of {o.pool_size}; outputs G_AB(A)")
