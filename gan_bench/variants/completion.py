"""Adversarial image completion: Iizuka et al. 2017, "Globally and Locally Consistent Image
Completion" (with the hole setting of Li et al. 2017, "Generative Face Completion").

The condition is a masked image: a batch is ``{"x": image, "cond": image with the hole at 0,
"mask": 1 in the hole}`` (:mod:`gan_bench.data.masks`, dataset ``utkface-masked``); the completion
network C fills the hole and copies the known pixels (:mod:`gan_bench.nets.completion`); the
context discriminator D scores the whole image and a patch around the hole together.

Losses (section 3.3): the weighted MSE L(x, M_c) = || M_c * (C(x, M_c) - x) ||^2 (eq. 1), here the
mean over all pixels on the [0, 1] scale of the paper's sigmoid output (the normalisation of the
public GLCIC re-implementations, which alpha = 0.0004 was used with); and the GAN loss
min_C max_D E[log D(x, M_d) + log(1 - D(C(x, M_c), M_c))] (eq. 2). C minimises
L + alpha * (-log D(C(x, M_c), M_c)) (eq. 3 with the non-saturating generator loss); D the
binary cross-entropy of eq. 2 (unweighted: alpha only scales D's gradients, which Adam undoes).

Training (Algorithm 1): T_C iterations of C on the MSE alone, then T_D iterations of D alone
against the fixed C, then both (one D update, then one C update with D frozen) until T_train.
The paper's 90,000 / 10,000 / 500,000 iterations are the budget fractions ``model.tc = 0.18`` and
``model.td = 0.02`` (so any budget keeps its proportions); ``model.tc_steps`` / ``model.td_steps``
give them in generator steps (``self.it``) instead. Adam (the paper used ADADELTA).

Li et al.'s third loss, a semantic parsing network's pixel-wise softmax loss on the completed face,
needs their pretrained face-parsing net, which is not available offline: ``model.parsing_weight``
> 0 fails with a ConfigError.

Evaluation: samples are the completions of held-out faces by position (split ``test`` of the
dataset, ``data.test_fraction``; the training faces, whose holes could be learned by heart, only
when there is no test split): ``cond`` the masked input, ``mask``, ``target`` the ground truth,
scored by ``completion-quality`` (``psnr[rgb]``, ``ssim[rgb]``, ``l1_hole[rgb]``) and by the
domain FID of the completed faces against the training faces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from gan_bench import losses
from gan_bench.config import ConfigError, Range
from gan_bench.data.base import ArrayDataset, DataError, load_dataset
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch, Variant


@dataclass
class CompletionOptions:
    alpha: float = field(default=4e-4, metadata=Range(0.0, 1e3))  # weight of the GAN loss (section 4)
    tc: float = field(default=0.18, metadata=Range(0.0, 1.0))  # T_C / T_train: C alone on the MSE
    td: float = field(default=0.02, metadata=Range(0.0, 1.0))  # T_D / T_train: D alone
    tc_steps: int = field(default=-1, metadata=Range(-1, None))  # T_C in generator steps; -1 = use tc
    td_steps: int = field(default=-1, metadata=Range(-1, None))  # T_D in generator steps; -1 = use td
    parsing_weight: float = field(default=0.0, metadata=Range(0.0, 1e3))  # Li et al.'s parsing loss: unavailable


def reconstruction_loss(completed: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """|| M_c * (C(x, M_c) - x) ||^2 (eq. 1) as the mean over all pixels, on the [0, 1] scale
    (images here are on [-1, 1], hence the factor 1/2 inside the square)."""
    return (mask * (completed - x) * 0.5).pow(2).mean()


@VARIANTS.register("completion", description="adversarial image completion with global + local discriminators "
                   "(Iizuka et al. 2017; Li et al. 2017)", default_arch={"image": "completion"},
                   requires_data="masked images (utkface-masked)")
class Completion(Variant):
    """Algorithm 1 of Iizuka et al. (see the module docstring)."""

    Options = CompletionOptions
    defaults: dict[str, Any] = {"batch_size": 16, "eval": {"num_samples": 500}}  # 500 of the ~950 held-out faces

    def build(self) -> None:
        o = self.opts
        if o.parsing_weight > 0:
            raise ConfigError("model.parsing_weight needs Li et al.'s pretrained face-parsing network, whose weights "
                              "are not available offline; use model.parsing_weight=0", "model.parsing_weight")
        if (o.tc_steps >= 0) != (o.td_steps >= 0):
            raise ConfigError("give model.tc_steps and model.td_steps together (or neither, for the fractions "
                              "model.tc and model.td)", "model.tc_steps")
        data = self.ctx.data
        if data is None or "mask" not in data.meta:
            raise ConfigError(f"completion needs a masked-image dataset (utkface-masked); {self.cfg.dataset} has no "
                              "masks", "dataset")
        G = self.add_net("G", self.ctx.arch.generator())
        D = self.add_net("D", self.ctx.arch.discriminator(patch=tuple(data.meta["patch_size"])))
        self.add_optimizer("G", G.parameters(), self.cfg.optim.g_lr)
        self.add_optimizer("D", D.parameters(), self.cfg.optim.d_lr)
        self.progress = 0.0  # fraction of the budget done before this step (set by train_step)

    def train_step(self, batches: list[Batch], it: int, progress: float) -> dict[str, torch.Tensor | float]:
        self.progress = progress  # the phases are budget fractions unless given in steps
        return super().train_step(batches, it, progress)

    def phase(self) -> int:
        """1: C alone (the first T_C steps); 2: D alone (the next T_D); 3: both (Algorithm 1)."""
        o = self.opts
        if o.tc_steps >= 0:  # given in generator steps (both; checked in build)
            return 1 if self.it < o.tc_steps else 2 if self.it < o.tc_steps + o.td_steps else 3
        return 1 if self.progress < o.tc else 2 if self.progress < o.tc + o.td else 3

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        b = batches[0]
        x, cond, mask = b["x"], b["cond"], b["mask"]
        G, D = self.nets["G"], self.nets["D"]
        phase = self.phase()
        if phase == 1:  # train C on the MSE loss
            mse = reconstruction_loss(G(cond, mask), x, mask)
            self.update("G", mse)
            return {"loss/g_mse": mse.detach(), "phase": 1.0}
        if phase == 2:  # train D with C fixed
            with torch.no_grad():
                completed = G(cond, mask)
            d_loss = losses.d_minimax(D(x, mask), D(completed, mask))
            self.update("D", d_loss)
            return {"loss/d": d_loss.detach(), "phase": 2.0}
        completed = G(cond, mask)  # train D, then C on MSE + alpha * GAN loss
        d_loss = losses.d_minimax(D(x, mask), D(completed.detach(), mask))
        self.update("D", d_loss)
        self.requires_grad(D, False)
        mse = reconstruction_loss(completed, x, mask)
        adv = losses.g_nonsaturating(D(completed, mask))
        g_loss = mse + self.opts.alpha * adv
        self.update("G", g_loss)
        self.requires_grad(D, True)
        return {"loss/d": d_loss.detach(), "loss/g": g_loss.detach(), "g/mse": mse.detach(), "g/adv": adv.detach(),
                "phase": 3.0}

    # ------------------------------------------------------------------ conditions and scores

    def eval_data(self) -> ArrayDataset:
        """The held-out faces (split ``test`` of the run's dataset) when it has them, else the
        training data; loaded once."""
        if not hasattr(self, "_eval_data"):
            data = self.ctx.data
            assert data is not None
            self._eval_data = data
            if data.meta.get("split") == "train":
                try:
                    self._eval_data = load_dataset(self.cfg.dataset, "test", self.cfg.data_root or None, self.cfg.data)
                except DataError:  # a masked dataset without a test split: score the training faces
                    pass
        return self._eval_data

    def sample_conditions(self, n: int, offset: int, data: ArrayDataset | None) -> dict[str, torch.Tensor]:
        """The masked inputs (``cond``), masks and ground truth (``target``) of held-out rows
        offset..offset+n (by position, wrapping around)."""
        data = self.eval_data()
        batch = data.batch(torch.arange(offset, offset + n) % len(data))
        return {"cond": batch["cond"].to(self.device), "mask": batch["mask"].to(self.device),
                "target": batch["x"].to(self.device)}

    def generate_at(self, z: torch.Tensor, offset: int, **conditions: torch.Tensor) -> torch.Tensor:
        return self.sampling_net("G")(conditions["cond"], conditions["mask"])

    def own_protocol(self) -> str:
        data = self.eval_data()
        where = (f"the {len(data)} held-out faces (split test)" if data is not self.ctx.data
                 else "the training faces (no test split)")
        return (f"completion: inputs from {where} of {self.cfg.dataset}, each with its own {data.meta.get('mask')} "
                f"hole; alpha={self.opts.alpha:g}, phases T_C/T_D/joint")
