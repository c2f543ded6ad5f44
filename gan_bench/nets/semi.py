"""The fully connected nets of the semi-supervised MNIST experiments (Salimans et al. 2016,
section 5 and their code ``train_mnist_feature_matching.py``; Li et al. 2017, appendix, reuse them).

- Discriminator / classifier: Gaussian noise (std 0.3) on the input, then dense layers of
  1000-500-250-250-250 ReLU units with weight normalisation, Gaussian noise (std 0.5) after each,
  and a weight-normalised linear output. ``features(x)`` is the last hidden layer, the layer the
  paper's feature matching uses. With ``num_classes`` > 0 (Triple-GAN's D(x, y)) the one-hot label
  is concatenated to the input of every layer, as in Li et al.'s code.
- Generator: z -> 500 -> 500 softplus units with batch norm -> a weight-normalised sigmoid output
  (mapped to gan_bench's [-1, 1]); conditional generators concatenate the one-hot label likewise.

- :class:`SemiCNNClassifier`: Triple-GAN's MNIST classifier C (Li et al. 2017, appendix; the
  authors' ``x2y_yz2x_xy2p_ssl_mnist.py``): 32c5-pool-dropout, 64c3, 64c3-pool-dropout, 128c3,
  128c3 (all with batch norm and ReLU), global average pooling, a dense softmax layer.

The widths scale with ``width`` (the first D layer, 1000 by default: 1000-500-250-250-250 and a
500-500 generator). ``data_init`` is weight norm's data-dependent initialisation, on request.
The noise and dropout layers draw from the generator that :func:`attach_noise` gives them (the
run's resumable noise), and are off in eval mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from gan_bench.config import Range
from gan_bench.data.base import DataSpec
from gan_bench.nets.base import one_hot
from gan_bench.registry import ARCHITECTURES


@dataclass
class SemiMLPOptions:
    width: int = field(default=1000, metadata=Range(4, 1 << 16))  # first D layer; the others scale with it
    input_noise: float = field(default=0.3, metadata=Range(0.0, 10.0))  # std on [0, 1] pixels
    hidden_noise: float = field(default=0.5, metadata=Range(0.0, 10.0))


class GaussianNoise(nn.Module):
    """Adds N(0, std^2) noise in training mode; identity in eval mode."""

    def __init__(self, std: float) -> None:
        super().__init__()
        self.std = std
        self.generator: torch.Generator | None = None  # set by attach_noise; None = torch's global RNG

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.std == 0:
            return x
        return x + self.std * torch.randn(x.shape, generator=self.generator, device=x.device, dtype=x.dtype)


class Dropout(nn.Module):
    """Inverted dropout with rate ``p`` in training mode, its masks drawn from ``generator`` (so a
    resumed run is bitwise the same); identity in eval mode."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.generator: torch.Generator | None = None  # set by attach_noise; None = torch's global RNG

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand(x.shape, generator=self.generator, device=x.device, dtype=x.dtype) >= self.p
        return x * keep / (1.0 - self.p)


def attach_noise(module: nn.Module, generator: torch.Generator) -> None:
    """Make every :class:`GaussianNoise` and :class:`Dropout` in ``module`` draw from ``generator``."""
    for m in module.modules():
        if isinstance(m, GaussianNoise | Dropout):
            m.generator = generator


def _cat(h: torch.Tensor, code: torch.Tensor | None) -> torch.Tensor:
    return h if code is None else torch.cat([h, code], dim=1)


def _standardise(layer: nn.Linear, inputs: torch.Tensor) -> None:
    """Set a weight-normalised ``layer``'s scale and bias so its outputs on ``inputs`` are standardised."""
    layer.bias.zero_()
    pre = layer(inputs)
    mean, std = pre.mean(0), pre.std(0) + 1e-6
    g = layer.parametrizations.weight.original0
    g.copy_((g.flatten() / std).view_as(g))
    layer.bias.copy_(-mean / std)


class SemiMLPDiscriminator(nn.Module):
    """Noise-regularised, weight-normalised MLP: ``forward(x, y) = out(noise(features(x, y)), y)``."""

    def __init__(self, spec: DataSpec, opts: SemiMLPOptions, out_dim: int = 1, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        w = opts.width
        widths = [w, w // 2, w // 4, w // 4, w // 4]
        self.input_noise = GaussianNoise(opts.input_noise)
        self.layers = nn.ModuleList()
        self.noises = nn.ModuleList()
        d_in = spec.numel
        for i, width in enumerate(widths):
            self.layers.append(weight_norm(nn.Linear(d_in + num_classes, width)))
            if i < len(widths) - 1:
                self.noises.append(GaussianNoise(opts.hidden_noise))
            d_in = width
        self.out_noise = GaussianNoise(opts.hidden_noise)
        self.feature_dim = d_in
        self.out = weight_norm(nn.Linear(d_in + num_classes, out_dim))

    def features(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The last hidden layer's activations (N, width // 4): what feature matching matches."""
        code = one_hot(y, self.num_classes)
        h = self.input_noise((x.flatten(1) + 1.0) * 0.5)  # the paper's noise levels are for [0, 1] pixels
        for i, layer in enumerate(self.layers):
            h = torch.relu(layer(_cat(h, code)))
            if i < len(self.noises):
                h = self.noises[i](h)
        return h

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.out_noise(self.features(x, y))
        return self.out(_cat(h, one_hot(y, self.num_classes)))

    @torch.no_grad()
    def data_init(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        """Weight norm's data-dependent initialisation (Salimans & Kingma 2016, section 3), as the
        paper's code does: layer by layer, scale g and bias b so that every unit's pre-activation
        has mean 0 and variance 1 on the batch ``x`` (noise off)."""
        code = one_hot(y, self.num_classes)
        h = (x.flatten(1) + 1.0) * 0.5
        out = [self.out] if parametrize.is_parametrized(self.out, "weight") else []  # not a swapped-in head
        for layer in [*self.layers, *out]:
            _standardise(layer, _cat(h, code))
            h = torch.relu(layer(_cat(h, code)))


class SemiMLPGenerator(nn.Module):
    """z (and a one-hot y) -> 500 -> 500 (linear, batch norm, softplus) -> sigmoid pixels, in [-1, 1]."""

    def __init__(self, z_dim: int, spec: DataSpec, opts: SemiMLPOptions, num_classes: int = 0) -> None:
        super().__init__()
        self.spec, self.num_classes = spec, num_classes
        width = opts.width // 2
        self.hidden = nn.ModuleList([nn.Linear(z_dim + num_classes, width), nn.Linear(width + num_classes, width)])
        self.norms = nn.ModuleList([nn.BatchNorm1d(width), nn.BatchNorm1d(width)])
        self.out = weight_norm(nn.Linear(width + num_classes, spec.numel))

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        code = one_hot(y, self.num_classes)
        h = z
        for layer, norm in zip(self.hidden, self.norms):
            h = nn.functional.softplus(norm(layer(_cat(h, code))))  # Lasagne's batch_norm: BN before the nonlinearity
        # 2 sigmoid(a) - 1 = tanh(a / 2): the paper's sigmoid output on gan_bench's [-1, 1] scale
        return torch.tanh(0.5 * self.out(_cat(h, code))).view(z.shape[0], *self.spec.shape)


@ARCHITECTURES.register("semi-mlp", options=SemiMLPOptions, kinds=("image",))
class SemiMLP:
    """Salimans et al. 2016's MNIST nets: noisy weight-normalised MLP D (1000-500-250-250-250),
    softplus + batch-norm MLP G (500-500)."""

    Options = SemiMLPOptions

    def __init__(self, spec: DataSpec, opts: SemiMLPOptions | None = None) -> None:
        self.spec, self.opts = spec, opts or SemiMLPOptions()

    def generator(self, z_dim: int, num_classes: int = 0) -> nn.Module:
        return SemiMLPGenerator(z_dim, self.spec, self.opts, num_classes)

    def discriminator(self, out_dim: int = 1, num_classes: int = 0) -> nn.Module:
        return SemiMLPDiscriminator(self.spec, self.opts, out_dim, num_classes)


class SemiCNNClassifier(nn.Module):
    """Triple-GAN's MNIST classifier (the authors' ``x2y_yz2x_xy2p_ssl_mnist.py``, ``cla_layers``):
    input in [0, 1]; conv 5x5 (valid) -> max-pool 2 -> dropout 0.5; conv 3x3 (same); conv 3x3
    (valid) -> max-pool 2 -> dropout 0.5; conv 3x3 (same) twice; every conv with batch norm and
    ReLU; global average pooling; a dense layer to K logits (their softmax is in the losses here).

    ``width`` is the first layer's channels (the authors' 32; the others are 2x, 2x, 4x, 4x), so a
    CPU budget can take a narrower net. Returns (N, K) logits."""

    def __init__(self, spec: DataSpec, num_classes: int, width: int = 32, dropout: float = 0.5) -> None:
        super().__init__()
        c = spec.shape[0]

        def conv(c_in: int, c_out: int, k: int, pad: int) -> list[nn.Module]:
            # Lasagne's batch_norm removes the conv bias and applies the nonlinearity after BN.
            return [nn.Conv2d(c_in, c_out, k, padding=pad, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        w = width
        self.body = nn.Sequential(
            *conv(c, w, 5, 0), nn.MaxPool2d(2), Dropout(dropout),
            *conv(w, 2 * w, 3, 1),
            *conv(2 * w, 2 * w, 3, 0), nn.MaxPool2d(2), Dropout(dropout),
            *conv(2 * w, 4 * w, 3, 1),
            *conv(4 * w, 4 * w, 3, 1),
        )
        self.out = nn.Linear(4 * w, num_classes)
        nn.init.normal_(self.out.weight, std=1e-2)  # the authors' Normal(1e-2) last layer
        nn.init.zeros_(self.out.bias)
        for m in self.body:
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.05)  # their W=Normal(0.05)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body((x + 1.0) * 0.5)  # their pixels are in [0, 1]
        return self.out(h.mean((2, 3)))


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016, section 3.2): features f (N, A) -> M = f T
    (N, B, C); o(x_i)_b = sum_{j != i} exp(-||M_i,b - M_j,b||_1); returns [f, o] (N, A + B)."""

    def __init__(self, in_features: int, kernels: int = 100, kernel_dim: int = 5) -> None:
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(0.05 * torch.randn(in_features, kernels * kernel_dim))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        f = h.flatten(1)
        m = (f @ self.T).view(-1, self.kernels, self.kernel_dim)
        l1 = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(3)  # (N, N, B)
        o = torch.exp(-l1).sum(1) - 1.0  # minus the example's own term, exp(0)
        return torch.cat([f, o], dim=1)
