"""Super-resolution GANs: SRGAN (Ledig et al. 2017) and ESRGAN (Wang et al. 2018).

The condition is the LR image: a batch is ``{"x": HR, "cond": LR}`` (:mod:`gan_bench.data.sr`),
evaluation samples carry ``cond`` = LR and ``target`` = HR of the evaluation patches by position,
and the output is G(LR). The ``sr-quality`` metric scores them (Y-PSNR/SSIM); :meth:`own_metrics`
scores the benchmark set (``model.eval_set``, Set5) at full size with the tables' protocol:
``set5_psnr[y-crop4]``, ``set5_ssim[y-crop4]`` and ``set5_niqe[basicsr]`` (when the NIQE
pristine parameters are installed).

Both papers train in two stages (``model.stage``), shared by :class:`SRVariant`: ``psnr``, G alone
on a pixel loss; then ``gan``, G and D alternating (one D update, then one G update with D frozen),
G started from a ``psnr`` run's checkpoint with ``model.init_from`` (SRGAN initialises with
SRResNet, ESRGAN with RRDB-PSNR). The content term uses torchvision's VGG19 when its weights are on
disk (``model.vgg_weights``, else torch's hub cache ``vgg19-dcbb9e9d.pth``); otherwise the pixel
MSE (the SRGAN paper's "SRGAN-MSE"), and the protocol line of every result says which
(``content=vgg54``/``content=vgg54-preact`` or ``content=mse``).

SRGAN (architecture ``srresnet``):

- ``psnr``: SRResNet on the pixel MSE, l_MSE = ||I_HR - G(I_LR)||^2 (eq. 4): the SRResNet row;
- ``gan``: l_SR = l_X + 1e-3 l_Gen (eq. 3), l_Gen = -log D(G(I_LR)) (eq. 6), D on the minimax loss
  (eq. 2); l_X is the MSE of VGG19 features after relu5_4 (before the 5th max-pool) rescaled by
  1/12.75 (eq. 5, "SRGAN-VGG54").

ESRGAN (architecture ``rrdb``: RRDBNet, no batch norm, and a VGG-style discriminator):

- ``psnr``: RRDBNet on the pixel L1 loss (section 4.1): the RRDB-PSNR row;
- ``gan``: L_G = L_percep + lambda L_G^Ra + eta L_1 (eq. 3) with lambda = 5e-3, eta = 1e-2; L_percep
  is the L1 distance of VGG19 conv5_4 features *before* the activation (section 3.3); the
  relativistic average discriminator D_Ra(x_r, x_f) = sigmoid(C(x_r) - E[C(x_f)]) trains both
  players (eq. 1-2, :func:`gan_bench.losses.d_relativistic_average`). As the authors' code, each
  RaGAN loss is the mean of its real and fake terms (the paper's weights were set for that), and
  L1 and the VGG input are on the [0, 1] image scale (the data are on [-1, 1]).

Adam (beta1 0.9), lr 1e-4, batch 16, as both papers (SRGAN: 96 px HR patches, the data's default;
ESRGAN: 128 px and lr 2e-4 in its ``psnr`` stage: give ``data.patch_size=128 optim.g_lr=2e-4``).
The CPU suite (``baselines/sr.yaml``) deviates for its budget and says so in its notes: reduced
nets, 64 px patches, 2,500 steps, Adam 1e-3 (SRResNet) / 5e-4 (RRDB) with a cosine decay in the
``psnr`` stage (at 1e-4 the paper needs ~10^6 steps), and a half-width D in the ``gan`` stage.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan_bench import losses
from gan_bench.config import Choice, ConfigError, Range
from gan_bench.data.base import ArrayDataset, DataError, data_root
from gan_bench.metrics.harness import leaderboard_column
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch, Variant

log = logging.getLogger(__name__)

VGG19_FILE = "vgg19-dcbb9e9d.pth"  # torchvision's ImageNet VGG19 weights
VGG54_LAYERS = 36  # torchvision vgg19.features[:36]: up to relu5_4, before the 5th max-pool
VGG54_PREACT_LAYERS = 35  # vgg19.features[:35]: up to conv5_4, before its ReLU (ESRGAN section 3.3)
VGG_RESCALE = 1 / 12.75  # Ledig et al.: feature maps rescaled so the VGG loss is comparable to MSE
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class SRGANOptions:
    stage: str = field(default="psnr", metadata=Choice("psnr", "gan"))
    adv_weight: float = field(default=1e-3, metadata=Range(0.0, 1e3))  # eq. 3
    content: str = field(default="auto", metadata=Choice("auto", "vgg54", "mse"))  # auto: vgg54 when on disk
    vgg_weights: str = ""  # torchvision vgg19 state dict (.pth); "" = torch hub cache
    init_from: str = ""  # a psnr-stage run directory whose G starts this run
    eval_set: str = field(default="set5", metadata=Choice("set5", "none"))  # full-size benchmark in own_metrics


@dataclass
class ESRGANOptions(SRGANOptions):
    adv_weight: float = field(default=5e-3, metadata=Range(0.0, 1e3))  # lambda, eq. 3
    l1_weight: float = field(default=1e-2, metadata=Range(0.0, 1e3))  # eta, eq. 3
    # content: vgg54 = conv5_4 before activation (the protocol says vgg54-preact)


def to_uint8_image(x: torch.Tensor) -> np.ndarray:
    """One float CHW image in [-1, 1] as uint8 HWC, rounded."""
    return x.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()


def from_uint8_image(img: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 HWC as a float (1, C, H, W) tensor in [-1, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float()
    return t.div(127.5).sub(1.0).to(device)


def find_vgg19(explicit: str = "") -> Path | None:
    """The VGG19 weights file: ``explicit`` (which must exist), else torch's hub cache, else None."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise DataError(f"model.vgg_weights: {path} does not exist; give torchvision's {VGG19_FILE}")
        return path
    path = Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE
    return path if path.is_file() else None


class VGGFeatures(nn.Module):
    """VGG19 features of images in [-1, 1] (ImageNet-normalised), frozen: ``vgg19.features[:layers]``,
    up to relu5_4 by default (SRGAN), or conv5_4 before its ReLU with ``VGG54_PREACT_LAYERS`` (ESRGAN)."""

    def __init__(self, weights: Path, layers: int = VGG54_LAYERS) -> None:
        super().__init__()
        from torchvision.models import vgg19

        net = vgg19()
        try:
            net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        except (RuntimeError, OSError, KeyError, ValueError) as exc:
            raise DataError(f"{weights} is not torchvision's VGG19 state dict ({str(exc).splitlines()[0]})") from None
        self.features = net.features[:layers].eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(((x + 1) / 2 - self.mean) / self.std)

    def train(self, mode: bool = True) -> VGGFeatures:  # always eval: a fixed feature extractor
        return super().train(False)


class SRVariant(Variant):
    """What every SR variant shares: LR conditions, G(LR) sampling, full-size benchmark scores, and
    the two stages of SRGAN and ESRGAN (``model.stage``).

    :meth:`step` is the stages' algorithm box: ``psnr`` minimises :meth:`pixel_loss`; ``gan`` updates
    D on :meth:`d_loss` of (HR, G(LR)) and then G on :meth:`g_loss` with D frozen. A subclass gives
    those three losses, the VGG19 cut of its content loss (``vgg_layers``, ``vgg_content``) and
    :meth:`feature_distance`, and names its stages in :meth:`describe_stage`.
    """

    eval_set: ClassVar[str] = "set5"
    vgg_layers: ClassVar[int] = VGG54_LAYERS  # vgg19.features[:vgg_layers] for the content loss
    vgg_content: ClassVar[str] = "vgg54"  # the content loss's name in the protocol when VGG19 is used

    # ------------------------------------------------------------------ the stages

    def build(self) -> None:
        """G (from ``model.init_from`` when given) and its optimiser; in the ``gan`` stage D, its
        optimiser and the frozen VGG19 of the content loss (when its weights are on disk)."""
        o = self.opts
        G = self.add_net("G", self.ctx.arch.generator(scale=self.scale))
        if o.init_from:
            self._init_generator(Path(o.init_from))
        self.add_optimizer("G", G.parameters(), self.cfg.optim.g_lr)
        self.content = "mse"
        if o.stage == "gan":
            self.add_net("D", self.ctx.arch.discriminator())
            self.add_optimizer("D", self.nets["D"].parameters(), self.cfg.optim.d_lr)
            weights = find_vgg19(o.vgg_weights) if o.content != "mse" else None
            if o.content == "vgg54" and weights is None:
                raise DataError(f"model.content=vgg54 needs torchvision's {VGG19_FILE}: put it in "
                                f"{Path(torch.hub.get_dir()) / 'checkpoints'} or give model.vgg_weights")
            if weights is not None:
                self.vgg = VGGFeatures(weights, self.vgg_layers).to(self.device)  # fixed, never saved
                self.content = self.vgg_content
        self.stage_protocol = f"{self.cfg.variant} stage={o.stage}: {self.describe_stage()}"

    def _init_generator(self, run_dir: Path) -> None:
        from gan_bench.train.checkpoint import FINAL, load_checkpoint

        ckpt = run_dir / "checkpoints" / FINAL
        if not ckpt.is_file():
            raise DataError(f"model.init_from: missing {ckpt}; train the psnr stage into {run_dir} first")
        state = load_checkpoint(ckpt)["nets"]
        g_state = {k[2:]: v for k, v in state.items() if k.startswith("G.")}
        try:
            self.nets["G"].load_state_dict(g_state)
        except RuntimeError as exc:
            raise ConfigError(f"model.init_from: {ckpt} does not fit this G ({str(exc).splitlines()[0]})",
                              "model.init_from") from None

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        hr, lr = batches[0]["x"], batches[0]["cond"]
        G = self.nets["G"]
        sr = G(lr)
        if self.opts.stage == "psnr":
            name, loss = self.pixel_loss(sr, hr)
            self.update("G", loss)
            return {f"loss/g_{name}": loss.detach()}
        D = self.nets["D"]
        d_loss = self.d_loss(D(hr), D(sr.detach()))
        self.update("D", d_loss)
        self.requires_grad(D, False)  # G's step: no gradients for D's parameters
        g_loss, terms = self.g_loss(sr, hr, D)
        self.update("G", g_loss)
        self.requires_grad(D, True)
        return {"loss/d": d_loss.detach(), "loss/g": g_loss.detach(), **{f"g/{k}": v.detach() for k, v in terms.items()}}

    def content_loss(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        """The content term: :meth:`feature_distance` of the VGG19 features, or the pixel MSE on the
        data's scale when VGG19 is not on disk (the documented fallback, ``content=mse``)."""
        if self.content != "mse":
            return self.feature_distance(self.vgg(sr), self.vgg(hr).detach())
        return F.mse_loss(sr, hr)

    # ------------------------------------------------------------------ given by each variant

    def describe_stage(self) -> str:
        """The stage and its losses in a few words, for the protocol line."""
        raise NotImplementedError

    def pixel_loss(self, sr: torch.Tensor, hr: torch.Tensor) -> tuple[str, torch.Tensor]:
        """The ``psnr`` stage's loss and its name in the log (``loss/g_<name>``)."""
        raise NotImplementedError

    def feature_distance(self, f_sr: torch.Tensor, f_hr: torch.Tensor) -> torch.Tensor:
        """The content loss between VGG19 features of SR and (detached) HR images."""
        raise NotImplementedError

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """D's loss on its logits for HR and for the (detached) SR batch."""
        raise NotImplementedError

    def g_loss(self, sr: torch.Tensor, hr: torch.Tensor, D: nn.Module) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """G's loss (D frozen) and its unweighted terms, logged as ``g/<name>``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ conditions and scores

    @property
    def scale(self) -> int:
        data = self.ctx.data
        if data is None or "scale" not in data.meta:
            raise ConfigError(f"{self.cfg.variant} needs a super-resolution dataset (t91, set5, div2k, sr-folder); "
                              f"{self.cfg.dataset} has no LR images", "dataset")
        return int(data.meta["scale"])

    def sample_conditions(self, n: int, offset: int, data: ArrayDataset | None) -> dict[str, torch.Tensor]:
        """The LR patches (``cond``) and HR patches (``target``) of evaluation rows offset..offset+n."""
        data = data if data is not None and hasattr(data, "lr") else self.ctx.data
        assert data is not None
        index = torch.arange(offset, offset + n) % len(data)
        batch = data.batch(index)
        return {"cond": batch["cond"].to(self.device), "target": batch["x"].to(self.device)}

    def generate_at(self, z: torch.Tensor, offset: int, **conditions: torch.Tensor) -> torch.Tensor:
        return self.sampling_net("G")(conditions["cond"])

    @torch.no_grad()
    def upscale(self, lr: np.ndarray) -> np.ndarray:
        """The uint8 HWC SR image of one uint8 HWC LR image (the sampling net, in eval mode)."""
        G = self.sampling_net("G")
        was = G.training
        G.eval()
        try:
            return to_uint8_image(G(from_uint8_image(lr, self.device))[0])
        finally:
            G.train(was)

    def own_metrics(self) -> dict[str, float]:
        """Full-size scores on the benchmark set (``model.eval_set``) with the tables' protocol."""
        name = getattr(self.opts, "eval_set", "none")
        if name == "none":
            return {}
        from gan_bench.data.sr import load_sr_images
        from gan_bench.sr.imresize import imresize, modcrop
        from gan_bench.sr.niqe import niqe
        from gan_bench.sr.quality import protocol_name, sr_scores

        s = self.scale
        images = load_sr_images(name, data_root(self.cfg.data_root or None), "test")
        rows, niqes = [], []
        for _, hr in images:
            hr = modcrop(hr, s)
            sr = self.upscale(imresize(hr, 1.0 / s))  # type: ignore[arg-type]
            rows.append(sr_scores(hr, sr, s))
            try:
                niqes.append(niqe(sr, crop_border=s))
            except DataError as exc:  # the pristine parameters are not installed: no NIQE
                if not niqes and not getattr(self, "_niqe_warned", False):
                    log.warning("%s", exc)
                    self._niqe_warned = True
        p = protocol_name(s)
        out = {leaderboard_column(f"{name}_{k}", p): float(np.mean([r[k] for r in rows])) for k in ("psnr", "ssim")}
        if len(niqes) == len(rows):
            out[leaderboard_column(f"{name}_niqe", "basicsr")] = float(np.mean(niqes))
        return out

    def own_protocol(self) -> str:
        return getattr(self, "stage_protocol", "")


@VARIANTS.register("srgan", description="SRGAN / SRResNet super-resolution (Ledig et al. 2017)",
                   default_arch={"image": "srresnet"}, requires_data="super-resolution pairs (t91, set5, div2k, sr-folder)")
class SRGAN(SRVariant):
    Options = SRGANOptions
    defaults = {"optim": {"g_lr": 1e-4, "d_lr": 1e-4, "beta1": 0.9, "beta2": 0.999},
                "batch_size": 16, "eval": {"num_samples": 64}}

    def describe_stage(self) -> str:
        if self.opts.stage == "psnr":
            return "SRResNet (MSE)"
        return f"SRGAN content={self.content} adv={self.opts.adv_weight:g}"

    def pixel_loss(self, sr: torch.Tensor, hr: torch.Tensor) -> tuple[str, torch.Tensor]:
        """l_MSE (eq. 4)."""
        return "mse", F.mse_loss(sr, hr)

    def feature_distance(self, f_sr: torch.Tensor, f_hr: torch.Tensor) -> torch.Tensor:
        """l_VGG/5.4: MSE of the relu5_4 maps, rescaled by 1/12.75 (eq. 5)."""
        return F.mse_loss(f_sr * VGG_RESCALE, f_hr * VGG_RESCALE)

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """max log D(I_HR) + log(1 - D(G(I_LR))) (eq. 2)."""
        return losses.d_minimax(real_logits, fake_logits)

    def g_loss(self, sr: torch.Tensor, hr: torch.Tensor, D: nn.Module) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """l_SR = l_X + 1e-3 l_Gen, l_Gen = -log D(G(I_LR)) (eqs. 3, 6)."""
        content = self.content_loss(sr, hr)
        adv = losses.g_nonsaturating(D(sr))
        return content + self.opts.adv_weight * adv, {"content": content, "adv": adv}


@VARIANTS.register("esrgan", description="ESRGAN / RRDB-PSNR super-resolution (Wang et al. 2018)",
                   default_arch={"image": "rrdb"}, requires_data="super-resolution pairs (t91, set5, div2k, sr-folder)")
class ESRGAN(SRVariant):
    Options = ESRGANOptions
    defaults = {"optim": {"g_lr": 1e-4, "d_lr": 1e-4, "beta1": 0.9, "beta2": 0.999},
                "batch_size": 16, "eval": {"num_samples": 64}}  # data.patch_size=128 as the paper (96 by default)
    vgg_layers = VGG54_PREACT_LAYERS
    vgg_content = "vgg54-preact"

    def describe_stage(self) -> str:
        o = self.opts
        if o.stage == "psnr":
            return "RRDB-PSNR (L1)"
        return f"ESRGAN RaGAN content={self.content} adv={o.adv_weight:g} l1={o.l1_weight:g}"

    @staticmethod
    def l1(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        """Mean |HR - SR| on the [0, 1] image scale, the one eta = 0.01 was set for."""
        return 0.5 * F.l1_loss(sr, hr)

    def pixel_loss(self, sr: torch.Tensor, hr: torch.Tensor) -> tuple[str, torch.Tensor]:
        """The PSNR-oriented stage's L1 loss (section 4.1)."""
        return "l1", self.l1(sr, hr)

    def feature_distance(self, f_sr: torch.Tensor, f_hr: torch.Tensor) -> torch.Tensor:
        """L_percep: L1 of the conv5_4 maps before activation (section 3.3; the authors' L1 criterion)."""
        return F.l1_loss(f_sr, f_hr)

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """L_D^Ra = -E[log D_Ra(x_r, x_f)] - E[log(1 - D_Ra(x_f, x_r))] (eq. 1), halved as the
        authors' code averages the real and fake terms."""
        return 0.5 * losses.d_relativistic_average(real_logits, fake_logits)

    def g_loss(self, sr: torch.Tensor, hr: torch.Tensor, D: nn.Module) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """L_G = L_percep + lambda L_G^Ra + eta L_1 (eq. 3), L_G^Ra of eq. 2 halved as in the
        authors' code; C(x_r) needs no gradient (D is frozen and x_r does not depend on G)."""
        o = self.opts
        with torch.no_grad():
            real_logits = D(hr)
        content = self.content_loss(sr, hr)
        adv = 0.5 * losses.g_relativistic_average(real_logits, D(sr))
        l1 = self.l1(sr, hr)
        return content + o.adv_weight * adv + o.l1_weight * l1, {"content": content, "adv": adv, "l1": l1}
