"""StackGAN: two stacked conditional GANs with conditioning augmentation (Zhang et al. 2017).

The condition phi is a text embedding in the paper; none exist here, so phi is the one-hot class
label, or a user's embedding file (``model.embeddings: path.npz`` holding ``embeddings``, one row
per training image in the loaded order). Each step (section 3, eqs. 3 and 5; ``model.stage``):

- stage I (half the data's side, 16 px for CIFAR-10): c_0 = mu_0(phi) + sigma_0(phi) * eps (the
  conditioning augmentation), s_0 = G_0(c_0, z); D_0 is matching-aware (Reed et al. 2016): it
  learns real/matching phi -> 1, fake/phi -> 0 and real/mismatching phi -> 0 (the two "0" terms
  weighted 1/2 as in the authors' code); G_0 minimises -log D_0(s_0, phi) + lambda KL(N(mu_0,
  Sigma_0) || N(0, I));
- stage II (the data's side): s = G(s_0, c) from stage I's (detached) image and a second CA,
  through a down-sampling encoder, c joined spatially, residual blocks and upsampling; D and G
  losses as in stage I.

``stage = joint`` (the default) takes both stages every step, stage II on stage I's detached output;
``1`` trains stage I alone (samples are its images upsampled); ``2`` trains only stage II on a frozen
stage I, started from a stage-1 run's G1 and D1 (``model.init_from``; in a suite, ``"@<entry>"``), the
paper's two-phase schedule.

lambda = 1 as the paper's section 4 states; the KL is averaged over c's dimensions, as the authors'
code does. c has ``c_dim`` = 128 entries (the paper's N_g) and the noise 100 (N_z): a sample's z is
split into [eps_0 | eps | z], so the run's ``z_dim`` defaults to 100 + 2 x 128 = 356.

Nets by role: ``G1``/``D1`` (stage I), ``G2``/``D2`` (stage II); the CA layers are part of each G.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from gan_bench import losses
from gan_bench.config import ConfigError, Range
from gan_bench.data.base import ArrayDataset
from gan_bench.nets.stages import MatchingDiscriminator, StageOneGenerator, StageTwoGenerator
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch, Variant

EMBEDDINGS_KEY = "embeddings"
STAGES = ("1", "2", "joint")


def load_embeddings(path: str | Path, num_examples: int) -> torch.Tensor:
    """The (num_examples, D) float embeddings of ``path`` (an npz with key ``embeddings``); a
    ConfigError in one line naming the file and what was expected otherwise."""
    expected = f"expected an .npz with key {EMBEDDINGS_KEY!r}: a finite float array of shape ({num_examples}, D), " \
               "one row per training image"
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"model.embeddings: {path} not found; {expected}", "model.embeddings")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if EMBEDDINGS_KEY not in npz.files:
                raise ConfigError(f"model.embeddings: {path} has no key {EMBEDDINGS_KEY!r} (keys: "
                                  f"{', '.join(npz.files) or 'none'}); {expected}", "model.embeddings")
            array = npz[EMBEDDINGS_KEY]
    except ConfigError:
        raise
    except Exception as exc:  # zip, pickle and format errors all mean: not a readable npz
        raise ConfigError(f"model.embeddings: {path} is not a readable .npz ({type(exc).__name__}); {expected}",
                          "model.embeddings") from None
    if array.ndim != 2 or array.shape[0] != num_examples or not np.issubdtype(array.dtype, np.number) \
            or array.shape[1] == 0:
        raise ConfigError(f"model.embeddings: {path}[{EMBEDDINGS_KEY!r}] has shape {array.shape} and dtype "
                          f"{array.dtype}; {expected}", "model.embeddings")
    tensor = torch.from_numpy(np.asarray(array, dtype=np.float32))
    if not torch.isfinite(tensor).all():
        raise ConfigError(f"model.embeddings: {path}[{EMBEDDINGS_KEY!r}] holds non-finite values; {expected}",
                          "model.embeddings")
    return tensor


@dataclass
class StackGANOptions:
    stage: int | str = "joint"  # 1 | 2 | joint (checked in build: YAML reads 1 as an integer)
    c_dim: int = field(default=128, metadata=Range(1, 4096))  # N_g, the CA's output
    kl_weight: float = field(default=1.0, metadata=Range(0.0, 1e6))  # lambda of eqs. 3 and 5
    res_blocks: int = field(default=2, metadata=Range(0, 64))  # stage II residual blocks (the paper: 4 at 256 px)
    width: int = field(default=0, metadata=Range(0, 4096))  # 0 = the run's net.width (64 when it has none)
    embeddings: str = ""  # a user's npz of per-image embeddings (key "embeddings"); "" = one-hot class labels
    init_from: str = ""  # a run (stage 1 or joint) whose G1 and D1 start this one: stage 2 on a trained stage I


@VARIANTS.register("stackgan", description="StackGAN: stage I at half resolution, stage II refinement, conditioning "
                   "augmentation with its KL term; class (or user embedding) conditioned (Zhang et al. 2017)",
                   default_arch={"image": "dcgan"})
class StackGAN(Variant):
    Options: ClassVar[type] = StackGANOptions
    conditional = True
    defaults = {"optim": {"g_lr": 2e-4, "d_lr": 2e-4, "beta1": 0.5, "beta2": 0.999}, "z_dim": 356}
    ema_roles: ClassVar[tuple[str, ...]] = ("G1", "G2")

    def build(self) -> None:
        spec, o = self.ctx.spec, self.opts
        self.stage = str(o.stage)
        if self.stage not in STAGES:
            raise ConfigError(f"model.stage={o.stage!r} is not one of: {', '.join(STAGES)}", "model.stage")
        if spec.kind != "image" or len(spec.shape) != 3 or spec.shape[1] != spec.shape[2] or spec.shape[1] % 4:
            raise ConfigError(f"stackgan needs square images with a side divisible by 4; {self.cfg.dataset} has "
                              f"shape {spec.shape}", "dataset")
        self.noise_dim = self.z_dim - 2 * o.c_dim
        if self.noise_dim < 1:
            raise ConfigError(f"stackgan: z_dim ({self.z_dim}) must exceed 2 x model.c_dim ({2 * o.c_dim}): z holds "
                              "the two stages' CA noise and the generator's noise", "z_dim")
        self.embeddings: torch.Tensor | None = None
        if o.embeddings:
            data = self.ctx.data
            if data is None:
                raise ConfigError("stackgan: model.embeddings needs the training data to index", "model.embeddings")
            self.embeddings = load_embeddings(o.embeddings, len(data)).to(self.device)
            embed_dim = self.embeddings.shape[1]
        elif self.num_classes:
            embed_dim = self.num_classes
        else:
            raise ConfigError(f"stackgan is conditional: {self.cfg.dataset} has no labels; give model.embeddings",
                              "model.embeddings")
        channels, side = spec.shape[0], spec.shape[1]
        width = o.width or getattr(getattr(self.ctx.arch, "opts", None), "width", 64)
        self.add_net("G1", StageOneGenerator(channels, side // 2, embed_dim, o.c_dim, self.noise_dim, width))
        self.add_net("D1", MatchingDiscriminator(channels, side // 2, embed_dim, width))
        self.add_net("G2", StageTwoGenerator(channels, embed_dim, o.c_dim, width, o.res_blocks))
        self.add_net("D2", MatchingDiscriminator(channels, side, embed_dim, width))
        if o.init_from:
            self.init_roles_from(o.init_from, ("G1", "D1"))
        elif self.stage == "2":
            raise ConfigError("stackgan model.stage=2 trains stage II on a frozen stage I: give model.init_from, a "
                              "finished stage-1 (or joint) run", "model.init_from")
        for role in ("G1", "G2"):
            self.add_optimizer(role, self.nets[role].parameters(), self.cfg.optim.g_lr)
        for role in ("D1", "D2"):
            self.add_optimizer(role, self.nets[role].parameters(), self.cfg.optim.d_lr)

    # ------------------------------------------------------------------ conditions

    def phi(self, y: torch.Tensor | None, index: torch.Tensor | None = None) -> torch.Tensor:
        """The condition vector: the user's embedding of training image ``index``, else one-hot y."""
        if self.embeddings is not None:
            assert index is not None
            return self.embeddings[index.to(self.device) % self.embeddings.shape[0]]
        assert y is not None
        return F.one_hot(y.long(), self.num_classes).float()

    def mismatched(self, y: torch.Tensor | None, phi: torch.Tensor) -> torch.Tensor:
        """phi of a wrong description for each real image: another class (drawn uniformly among the
        other K - 1), or, with embeddings, the next image's embedding (the authors' code rolls)."""
        if self.embeddings is not None or y is None:
            return phi.roll(1, dims=0)
        shift = torch.randint(1, self.num_classes, y.shape, generator=self.ctx.noise, device=self.device)
        return self.phi((y + shift) % self.num_classes)

    def split_latent(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(eps for stage I's CA, eps for stage II's CA, the generator noise)."""
        c = self.opts.c_dim
        return z[:, :c], z[:, c : 2 * c], z[:, 2 * c :]

    # ------------------------------------------------------------------ one step

    def _stage(self, G: str, D: str, real: torch.Tensor, fake: torch.Tensor, mu: torch.Tensor,
               logvar: torch.Tensor, phi: torch.Tensor, wrong: torch.Tensor) -> dict[str, torch.Tensor]:
        """Matching-aware D update, then G update with the CA's KL term (eqs. 3/5 or 4/6)."""
        netD = self.nets[D]
        real_out, fake_out, wrong_out = netD(real, phi), netD(fake.detach(), phi), netD(real, wrong)
        d_loss = losses.d_matching_aware(real_out, fake_out, wrong_out)
        self.update(D, d_loss)
        self.requires_grad(netD, False)
        kl = losses.gaussian_kl(mu, logvar) / mu.shape[1]  # per dimension, as in the authors' code
        g_loss = losses.g_nonsaturating(netD(fake, phi)) + self.opts.kl_weight * kl
        self.update(G, g_loss)
        self.requires_grad(netD, True)
        return {f"loss/{D.lower()}": d_loss.detach(), f"loss/{G.lower()}": g_loss.detach(),
                f"kl/{G.lower()}": kl.detach(), f"{D.lower()}/real": real_out.detach().mean(),
                f"{D.lower()}/fake": fake_out.detach().mean(), f"{D.lower()}/wrong": wrong_out.detach().mean()}

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        batch = batches[0]
        real, y = batch["x"], batch.get("y")
        phi = self.phi(y, batch.get("index"))  # per-image embeddings are looked up by the batch's rows
        wrong = self.mismatched(y, phi)
        eps0, eps1, z = self.split_latent(self.latent(real.shape[0]))
        stage, out = self.stage, {}
        G1 = self.nets["G1"]
        if stage in ("joint", "1"):
            low, mu, logvar = G1(phi, eps0, z)
            out.update(self._stage("G1", "D1", F.avg_pool2d(real, 2), low, mu, logvar, phi, wrong))
        else:  # a frozen stage I: its batch-norm statistics stay as trained
            G1.eval()
            with torch.no_grad():
                low = G1(phi, eps0, z)[0]
            G1.train()
        if stage in ("joint", "2"):
            fake, mu, logvar = self.nets["G2"](low.detach(), phi, eps1)
            out.update(self._stage("G2", "D2", real, fake, mu, logvar, phi, wrong))
        out["loss/d"] = sum(v for k, v in out.items() if k.startswith("loss/d"))
        out["loss/g"] = sum(v for k, v in out.items() if k.startswith("loss/g"))
        return out

    # ------------------------------------------------------------------ sampling

    def _generate_phi(self, z: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        eps0, eps1, noise = self.split_latent(z)
        low = self.sampling_net("G1")(phi, eps0, noise)[0]
        if self.stage == "1":
            return F.interpolate(low, scale_factor=2, mode="nearest")
        return self.sampling_net("G2")(low, phi, eps1)[0]

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Stage II's images for class labels ``y`` (stage I's, upsampled, when ``stage`` is 1)."""
        if self.embeddings is not None:
            raise ConfigError("stackgan with model.embeddings samples per training image: use sample()")
        if y is None:
            raise ValueError("stackgan is conditional: pass y")
        return self._generate_phi(z, self.phi(y))

    def sample_conditions(self, n: int, offset: int, data: ArrayDataset | None) -> dict[str, torch.Tensor]:
        """Balanced labels; with embeddings, the labels (when any) of training images offset.. (their
        embeddings are the condition, see :meth:`generate_at`)."""
        if self.embeddings is None:
            return super().sample_conditions(n, offset, data)
        index = torch.arange(offset, offset + n, device=self.device) % self.embeddings.shape[0]
        train = self.ctx.data
        return {"y": train.y[index.to(train.y.device)].to(self.device)} if train is not None and train.y is not None else {}

    def generate_at(self, z: torch.Tensor, offset: int, **conditions: Any) -> torch.Tensor:
        if self.embeddings is None:
            return self.generate(z, conditions.get("y"))
        return self._generate_phi(z, self.phi(None, torch.arange(offset, offset + z.shape[0], device=self.device)))
