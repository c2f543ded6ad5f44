"""Age-cGAN (Antipov, Baccouche & Dugelay 2017, "Face aging with conditional generative adversarial
networks"): a cGAN on six age groups, an encoder that inverts it, and an identity-preserving
optimisation of the latent vector.

The paper's three parts, all trained in one budget here:

1. **Age-conditional GAN** (section 2.1, eq. 1): min_G max_D E[log D(x, y)] + E[log(1 - D(G(z, y), y))]
   with y the one-hot age group (0-18, 19-29, 30-39, 40-49, 50-59, 60+: ``data.age_bins=true`` on
   ``utkface``); with ``arch=faces-dcgan`` (:mod:`gan_bench.nets.faces`, the setting of
   ``baselines/faces.yaml``) the label enters G with z and D after its first convolution, the
   paper's (IcGAN's) conditioning; other architectures condition as they do for every
   class-conditional variant (``dcgan``: a label embedding at G's input, a projection D). G takes
   the non-saturating loss, DCGAN's optimiser.
2. **Latent vector approximation** (section 2.2): an encoder E (DCGAN's discriminator body with a
   z-dimensional output) trained to invert G on generated pairs: min_E ||z - E(G(z, y))||^2. The
   paper trains E after G on 100k synthetic pairs; here E takes one step per generator step on
   that step's fakes, detached from G, so the three parts share one budget.
3. **Identity-preserving optimisation** (section 2.2, eq. 3): for a face x of age group y0,
   z* = argmin_z ||FR(x) - FR(G(z, y0))|| from z0 = E(x), then the aged face is G(z*, y_target).
   The paper runs L-BFGS-B with a face-recognition network; here ``model.ip_steps`` Adam steps on
   z, and FR is a stand-in (no face-recognition weights exist offline): the 128-d penultimate
   features of the harness's UTKFace age classifier (``model.fr=classifier``, protocol
   ``utkface-classifier``) or the pixels (``model.fr=pixel``, protocol ``pixel-l2``). The age
   classifier's features carry age as well as identity, so they are a weak identity measure:
   compare before with after, not with the paper's FaceNet/OpenFace scores.

Evaluation (:meth:`AgeCGAN.own_metrics`): ``model.eval_faces`` real faces (a fixed subset of the
training data, permutation seeded with 0; UTKFace has one split) are encoded, optimised and
regenerated in each of the K age groups. ``age_acc[utkface-classifier]`` is the fraction of those
aged faces that the harness classifier puts in the asked-for group (the paper's age-estimation
test, with gan_bench's 6-group classifier in place of its age-estimation CNN);
``identity_dist_before`` / ``identity_dist_after`` are the mean FR distances between each input
face and its K aged versions from z0 = E(x) and from z*; ``recon_identity_dist_*`` the same at the
face's own group (the quantity the optimisation minimises).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from gan_bench import losses
from gan_bench.config import Choice, ConfigError, Range
from gan_bench.metrics.harness import leaderboard_column
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch
from gan_bench.variants.conditional import CGAN

FaceFeatures = Callable[[torch.Tensor], torch.Tensor]
AGE_GROUPS = 6  # the paper's 0-18, 19-29, 30-39, 40-49, 50-59, 60+
EVAL_SEED = 0  # the fixed subset of faces aged at every evaluation


@dataclass
class AgeCGANOptions:
    # "projection": the architecture's own conditional D (faces-dcgan: the label as maps after D's
    # first convolution, as the paper); "concat": the label as extra input channels
    d_cond: str = field(default="projection", metadata=Choice("concat", "projection"))
    e_lr: float = field(default=2e-4, metadata=Range(0.0, 10.0))  # the encoder's Adam rate
    fr: str = field(default="classifier", metadata=Choice("classifier", "pixel"))  # FR stand-in
    eval_faces: int = field(default=200, metadata=Range(0, None))  # faces aged per evaluation; 0 = none
    ip_steps: int = field(default=20, metadata=Range(0, 100_000))  # identity-preserving Adam steps on z
    ip_lr: float = field(default=0.05, metadata=Range(0.0, 100.0))
    # y' for the fakes: "uniform" over the groups, or "data": the training set's group frequencies,
    # so that D cannot call a face fake from its label alone (UTKFace's groups range from 7% to 42%)
    fake_labels: str = field(default="uniform", metadata=Choice("uniform", "data"))


def identity_preserving_latent(G: nn.Module, fr: FaceFeatures, x: torch.Tensor, y: torch.Tensor, z0: torch.Tensor,
                               steps: int, lr: float) -> torch.Tensor:
    """z* = argmin_z sum_i ||FR(x_i) - FR(G(z_i, y_i))|| by ``steps`` Adam steps from ``z0`` (Antipov
    et al. eq. 3). Rows are independent (Adam is per coordinate and G must be in eval mode); only
    z moves: gradients are taken with respect to z alone, so no net accumulates any."""
    target = fr(x).detach()
    z = z0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            loss = losses.identity_distance(fr(G(z, y)), target).sum()
            (z.grad,) = torch.autograd.grad(loss, z)
            opt.step()
    return z.detach()


def pixel_features(x: torch.Tensor) -> torch.Tensor:
    """The pixel-space stand-in for FR: the flattened image."""
    return x.flatten(1)


def classifier_features(model: nn.Module, image_size: int) -> FaceFeatures:
    """Differentiable penultimate features of a gan_bench classifier on float images in [-1, 1]
    (resized bilinearly with antialias, as the harness does, but not quantised to uint8)."""

    def features(x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        if x.shape[-1] != image_size:
            x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True)
        return model.features(x)[0]

    return features


@VARIANTS.register("age-cgan", description="Age-cGAN: cGAN on six age groups, encoder inverting G, identity-"
                   "preserving latent optimisation (Antipov et al. 2017)", default_arch={"image": "dcgan"})
class AgeCGAN(CGAN):
    Options: ClassVar[type] = AgeCGANOptions

    def build(self) -> None:
        data = self.ctx.data
        if data is not None and data.name == "utkface" and self.ctx.spec.num_classes != AGE_GROUPS:
            raise ConfigError("age-cgan on utkface needs the paper's six age groups: set data.age_bins=true",
                              "data.age_bins")
        super().build()  # (1) the cGAN on age groups
        self.add_net("E", self.ctx.arch.discriminator(out_dim=self.z_dim))  # x -> z, unconditional as in the paper
        self.add_optimizer("E", self.nets["E"].parameters(), self.opts.e_lr)
        self._faces: tuple[torch.Tensor, torch.Tensor] | None = None
        self._fr: tuple[FaceFeatures, str] | None = None
        self._prior: torch.Tensor | None = None  # group frequencies, for model.fake_labels=data

    def labels(self, n: int) -> torch.Tensor:
        """y' for the fakes (``model.fake_labels``): uniform, or the training set's group frequencies."""
        data = self.ctx.data
        if self.opts.fake_labels == "uniform" or data is None or data.y is None:
            return super().labels(n)
        if self._prior is None:
            self._prior = torch.bincount(data.y.long(), minlength=self.num_classes).float().to(self.device)
        return torch.multinomial(self._prior, n, replacement=True, generator=self.ctx.noise)

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        # (1) the cGAN's D and G updates, y' from model.fake_labels
        out, (z, _, fake) = self.adversarial_step(batches)
        # (2) E descends ||z - E(G(z, y'))||^2 on the generator step's pairs, detached from G
        e_loss = losses.latent_l2(self.nets["E"](fake), z)
        self.update("E", e_loss)
        return {**out, "loss/e": e_loss.detach()}

    # ------------------------------------------------------------------ evaluation: aging real faces

    def _eval_faces(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The fixed faces to age (float in [-1, 1]) and their age groups, cached."""
        data = self.ctx.data
        if data is None or data.y is None or not self.opts.eval_faces:
            return None
        if self._faces is None:
            n = min(self.opts.eval_faces, len(data))
            index = torch.randperm(len(data), generator=torch.Generator().manual_seed(EVAL_SEED))[:n]
            batch = data.batch(index.to(data.x.device))
            self._faces = batch["x"].float().to(self.device), batch["y"].long().to(self.device)
        return self._faces

    def _face_recognition(self) -> tuple[FaceFeatures, str]:
        """The FR stand-in and its protocol name (``pixel-l2`` also where no classifier exists)."""
        if self._fr is None:
            from gan_bench.metrics.conditional import has_classifier
            from gan_bench.metrics.training_eval import _extractor

            data = self.ctx.data
            if self.opts.fr == "classifier" and data is not None and has_classifier(data.name, self.num_classes):
                extractor = _extractor(data.name)
                model = copy.deepcopy(extractor.model).to(self.device).eval().requires_grad_(False)
                self._fr = classifier_features(model, extractor.image_size), extractor.protocol
            else:
                self._fr = pixel_features, "pixel-l2"
        return self._fr

    def own_metrics(self) -> dict[str, float]:
        """Age the fixed faces to every group; age accuracy and identity distances (module docstring)."""
        faces = self._eval_faces()
        if faces is None:
            return {}
        x, y0 = faces
        fr, fr_protocol = self._face_recognition()
        G, E = self.sampling_net("G"), self.nets["E"]
        was_training = self.nets.training
        self.nets.eval()
        try:
            with torch.no_grad():
                z0 = E(x).float()
            z_star = identity_preserving_latent(G, fr, x, y0, z0, self.opts.ip_steps, self.opts.ip_lr)
            with torch.no_grad():
                target = fr(x)
                dist = {}
                aged = []
                for name, z in (("before", z0), ("after", z_star)):
                    per_group = []
                    for k in range(self.num_classes):
                        yk = torch.full_like(y0, k)
                        out = G(z, yk).float()
                        per_group.append(losses.identity_distance(fr(out), target))
                        if name == "after":
                            aged.append((out, yk))
                    d = torch.stack(per_group, 1)  # (faces, K)
                    dist[f"identity_dist_{name}"] = d.mean().item()
                    dist[f"recon_identity_dist_{name}"] = d.gather(1, y0[:, None]).mean().item()
        finally:
            self.nets.train(was_training)
        results = {leaderboard_column(k, fr_protocol): v for k, v in dist.items()}
        results.update(self._age_accuracy(aged))
        return results

    def own_protocol(self) -> str:
        fr = self._face_recognition()[1] if self.opts.fr == "classifier" else "pixel-l2"
        return (f"aging: {self.opts.eval_faces} fixed training faces encoded by E, {self.opts.ip_steps} Adam steps "
                f"of identity-preserving optimisation of z on the {fr} stand-in for face recognition (not "
                "FaceNet), regenerated in every age group; age_acc = harness classifier accuracy at the target group")

    def _age_accuracy(self, aged: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
        """``age_acc[<p>]``: the harness classifier's accuracy at the asked-for group, on the
        identity-optimised aged faces (through the uint8 path of every harness metric)."""
        from gan_bench.metrics.classifiers import classifier_spec
        from gan_bench.metrics.conditional import classify, has_classifier

        data = self.ctx.data
        if data is None or not has_classifier(data.name, self.num_classes):
            return {}
        x = torch.cat([a[0] for a in aged])
        y = torch.cat([a[1] for a in aged]).cpu()
        _, logits = classify(data.name, x)
        acc = (logits.argmax(1) == y).float().mean().item()
        return {leaderboard_column("age_acc", classifier_spec(data.name).protocol): acc}
