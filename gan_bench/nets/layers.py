"""Building blocks shared by the image architectures (DCGAN, InfoGAN-style, ResNet).

Conditioning follows two common recipes: the generator gets a label embedding concatenated to z
(:class:`LabelConcat`) or class-conditional BatchNorm (:class:`ConditionalBatchNorm2d`), and the
discriminator a projection term (:class:`Projection`, Miyato & Koyama 2018), which adds
``<embed(y), features>`` to the unconditional score.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from gan_bench.data.base import DataSpec

D_NORMS = ("batch", "layer", "none")


def image_size(spec: DataSpec, arch: str) -> tuple[int, int]:
    """(channels, side) of a square image spec; ValueError naming ``arch`` otherwise."""
    if spec.kind != "image" or len(spec.shape) != 3 or spec.shape[1] != spec.shape[2]:
        raise ValueError(f"{arch} needs square images (C, H, H); got a {spec.kind} spec of shape {spec.shape}")
    return spec.shape[0], spec.shape[1]


def maybe_sn(module: nn.Module, enabled: bool) -> nn.Module:
    """``module`` with spectral normalisation of its weight when ``enabled``."""
    return spectral_norm(module) if enabled else module


def norm2d(kind: str, channels: int) -> nn.Module:
    """A discriminator normalisation over (C, H, W) feature maps.

    ``layer`` normalises each example over all of C, H, W (GroupNorm with one group), the layer
    norm that Gulrajani et al. use in WGAN-GP critics, since batch norm breaks the per-example
    gradient penalty.
    """
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown d_norm {kind!r}; choose one of: {', '.join(D_NORMS)}")


def norm1d(kind: str, features: int) -> nn.Module:
    """The same choice for (N, F) features."""
    if kind == "batch":
        return nn.BatchNorm1d(features)
    if kind == "layer":
        return nn.LayerNorm(features)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown d_norm {kind!r}; choose one of: {', '.join(D_NORMS)}")


def require_labels(y: torch.Tensor | None, num_classes: int, who: str) -> torch.Tensor:
    """``y`` as long, or a clear error when a conditional net is called without labels."""
    if y is None:
        raise ValueError(f"this {who} is conditional on {num_classes} classes: pass y")
    return y.long()


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.'s initialisation: conv/linear weights N(0, 0.02), norm scales N(1, 0.02).

    Parametrised (spectral-norm) weights are skipped: their ``weight`` is computed, not stored.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if not parametrize.is_parametrized(m, "weight"):
                nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class LabelConcat(nn.Module):
    """Concatenates a learned label embedding to z (unconditional: returns z unchanged)."""

    def __init__(self, num_classes: int, max_dim: int = 128) -> None:
        super().__init__()
        self.num_classes = num_classes
        # as wide as a one-hot code for few classes; capped so 1000 classes stay cheap
        self.dim = min(num_classes, max_dim)
        self.embed = nn.Embedding(num_classes, self.dim) if num_classes else None

    def forward(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if self.embed is None:
            return z
        return torch.cat([z, self.embed(require_labels(y, self.num_classes, "generator"))], dim=1)


class Projection(nn.Module):
    """The class term of a projection discriminator: ``<embed(y), h>`` for pooled features h.

    Added to an unconditional score ``linear(h)``, it gives Miyato & Koyama's conditional critic.
    For ``out_dim > 1`` each output has its own class embedding.
    """

    def __init__(self, num_classes: int, features: int, out_dim: int = 1, sn: bool = False) -> None:
        super().__init__()
        self.num_classes, self.out_dim = num_classes, out_dim
        embed = nn.Embedding(num_classes, features * out_dim)
        # xavier rather than Embedding's N(0, 1): unit-variance rows would swamp the unconditional
        # score at the start (the initialisation of Miyato & Koyama's code)
        nn.init.xavier_uniform_(embed.weight)
        self.embed = maybe_sn(embed, sn)

    def forward(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        e = self.embed(require_labels(y, self.num_classes, "discriminator"))
        return (e.view(h.shape[0], self.out_dim, -1) * h.unsqueeze(1)).sum(-1)


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm2d whose scale and shift are looked up per class (plain BN when unconditional)."""

    def __init__(self, channels: int, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.bn = nn.BatchNorm2d(channels, affine=num_classes == 0)
        if num_classes:
            self.gamma = nn.Embedding(num_classes, channels)
            self.beta = nn.Embedding(num_classes, channels)
            nn.init.ones_(self.gamma.weight)
            nn.init.zeros_(self.beta.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.bn(x)
        if self.num_classes == 0:
            return h
        y = require_labels(y, self.num_classes, "generator")
        return h * self.gamma(y)[:, :, None, None] + self.beta(y)[:, :, None, None]


def _owns_state(module: nn.Module) -> bool:
    """True for a module that holds parameters or buffers itself (not only through children)."""
    return any(True for _ in module.parameters(recurse=False)) or any(True for _ in module.buffers(recurse=False))


def _layers(net: nn.Module) -> list[str]:
    """Qualified names of ``net``'s stateful layers in registration order (= forward order in
    every gan_bench net); a parametrised module (spectral norm) counts as one layer."""
    names: list[str] = []
    for name, module in net.named_modules():
        if not name or any(name.startswith(p + ".") for p in names if p):
            continue
        if parametrize.is_parametrized(module) or _owns_state(module):
            names.append(name)
    return names


def last_layer(net: nn.Module) -> str:
    """The qualified name of ``net``'s last stateful layer (its output layer)."""
    names = _layers(net)
    if not names:
        raise ValueError(f"{type(net).__name__} has no layer with parameters")
    return names[-1]


def share_all_but_last(nets: list[nn.Module]) -> None:
    """Tie every stateful layer of ``nets[1:]`` to ``nets[0]``'s, except the last layer.

    Afterwards the nets hold the same module objects for their shared layers (so the parameters,
    and batch-norm statistics, are shared and ``nn.Module.parameters()`` yields each once) and
    their own output layers. The nets must be built by one constructor (same structure). Used for
    MAD-GAN's generators, which share all layers but the last (Ghosh et al. 2018).
    """
    base = nets[0]
    keep = last_layer(base)
    for net in nets[1:]:
        if _layers(net) != _layers(base):
            raise ValueError("share_all_but_last needs nets of one structure")
        for name in _layers(base):
            if name == keep:
                continue
            parent_name, _, attr = name.rpartition(".")
            parent = net.get_submodule(parent_name) if parent_name else net
            setattr(parent, attr, base.get_submodule(name))
