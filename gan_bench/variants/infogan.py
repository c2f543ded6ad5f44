"""InfoGAN (Chen et al. 2016): a GAN whose generator input carries codes c beside the noise z, and
an auxiliary head Q that recovers c from G(z, c), so that c keeps its meaning.

The minimax game is min_{G,Q} max_D V(D, G) - lambda L_I(G, Q) (eq. 6), where L_I = E[log Q(c | x)]
+ H(c) is the variational lower bound of the mutual information I(c; G(z, c)) (eq. 5). Codes, as
in the paper's MNIST experiment (section 7.1): one categorical code of 10 values and two
continuous codes uniform on [-1, 1]. Q shares D's body (everything up to D's output layer: D's
``features`` in the dcgan nets, its conv + FC layers in the infogan nets) and adds
FC 128 - BN - lReLU - FC (appendix C.1). Q outputs the categorical logits and the continuous
codes' means; with a fixed unit std the continuous log-likelihood is -0.5 (c - mu)^2 + const, as
in the authors' MNIST code (openai/InfoGAN, ``Uniform(1, fix_std=True)``). Like there, -lambda L_I
is added to both D's loss (training D's body and Q on the fakes) and G's loss; lambda = 1 for both
kinds of code there (the paper suggests a smaller lambda for continuous codes: ``model.lambda_cont``).

Evaluation samples take categorical code i mod K for sample i, so the codes are balanced; their
continuous codes come from a fixed sequence. :meth:`own_metrics` reports the code-to-class accuracy
``code_acc[<p>]``: samples of each categorical code are classified by the dataset's gan_bench
classifier, and codes are matched one-to-one to classes (Hungarian matching); the paper reports a
5% error on MNIST.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from gan_bench import losses
from gan_bench.config import ConfigError, Range
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Batch, Variant

CONT_SEED = 0  # seed of the fixed sequence of evaluation samples' continuous codes


@dataclass
class InfoGANOptions:
    num_categories: int = field(default=10, metadata=Range(2, 1000))
    num_continuous: int = field(default=2, metadata=Range(0, 100))
    lambda_cat: float = field(default=1.0, metadata=Range(0.0, 1e6))
    lambda_cont: float = field(default=1.0, metadata=Range(0.0, 1e6))
    q_hidden: int = field(default=128, metadata=Range(1, 1 << 16))
    eval_per_code: int = field(default=200, metadata=Range(1, 100_000))  # samples per code for code_acc


class QHead(nn.Module):
    """Q(c | x) on D's body features: FC - BN - lReLU - FC to K logits + the continuous means."""

    def __init__(self, in_features: int, hidden: int, num_categories: int, num_continuous: int) -> None:
        super().__init__()
        self.num_categories = num_categories
        self.net = nn.Sequential(nn.Linear(in_features, hidden, bias=False), nn.BatchNorm1d(hidden),
                                 nn.LeakyReLU(0.2, True), nn.Linear(hidden, num_categories + num_continuous))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(features.flatten(1))
        return out[:, : self.num_categories], out[:, self.num_categories :]


class SharedBody:
    """Captures the input of D's output layer ``D.out`` at each forward: the body Q shares."""

    def __init__(self, D: nn.Module) -> None:
        out = getattr(D, "out", None)
        if not isinstance(out, nn.Module):
            raise ConfigError(f"infogan shares D's body with Q and needs a discriminator with an `out` layer; "
                              f"{type(D).__name__} has none", "arch")
        self.features: torch.Tensor | None = None
        out.register_forward_pre_hook(self._keep)

    def _keep(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        self.features = inputs[0]

    def take(self) -> torch.Tensor:
        """The features of D's last forward (and forget them)."""
        features, self.features = self.features, None
        assert features is not None, "D has not run"
        return features


@VARIANTS.register("infogan", description="InfoGAN: categorical + continuous codes, Q head on D's body, "
                   "mutual-information lower bound (Chen et al. 2016)", default_arch={"image": "dcgan"})
class InfoGAN(Variant):
    Options: ClassVar[type] = InfoGANOptions
    # the authors' MNIST code: Adam, beta1 0.5, D 2e-4 and G 1e-3 (openai/InfoGAN run_mnist_exp.py)
    defaults = {"optim": {"g_lr": 1e-3, "d_lr": 2e-4, "beta1": 0.5, "beta2": 0.999}}

    def build(self) -> None:
        o = self.opts
        self.code_dim = o.num_categories + o.num_continuous
        self.add_net("G", self.ctx.arch.generator(self.z_dim + self.code_dim))
        D = self.add_net("D", self.ctx.arch.discriminator(out_dim=1))
        self.body = SharedBody(D)
        with torch.no_grad():  # one eval-mode forward (no batch-norm update) to size Q's input
            was_training = D.training
            D.eval()
            D(torch.zeros(2, *self.ctx.spec.shape, device=self.device))
            D.train(was_training)
        in_features = self.body.take()[0].numel()
        self.add_net("Q", QHead(in_features, o.q_hidden, o.num_categories, o.num_continuous))
        self.add_optimizer("G", self.nets["G"].parameters(), self.cfg.optim.g_lr)
        self.add_optimizer("D", [*self.nets["D"].parameters(), *self.nets["Q"].parameters()], self.cfg.optim.d_lr)

    def codes(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """c ~ p(c): categorical codes (n,) uniform over K, continuous codes (n, m) uniform [-1, 1]."""
        o = self.opts
        cat = torch.randint(o.num_categories, (n,), generator=self.ctx.noise, device=self.device)
        cont = torch.rand(n, o.num_continuous, generator=self.ctx.noise, device=self.device) * 2 - 1
        return cat, cont

    def generator_input(self, z: torch.Tensor, cat: torch.Tensor, cont: torch.Tensor) -> torch.Tensor:
        """[z, onehot(c_cat), c_cont]."""
        return torch.cat([z, F.one_hot(cat, self.opts.num_categories).to(z.dtype), cont.to(z.dtype)], dim=1)

    def info_loss(self, cat: torch.Tensor, cont: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(-E log Q(c_cat | x), -E log Q(c_cont | x) + const) on the features of D's last forward."""
        cat_logits, cont_mean = self.nets["Q"](self.body.take())
        nll_cat = F.cross_entropy(cat_logits.float(), cat)
        nll_cont = losses.gaussian_nll(cont, cont_mean.float()) if cont.shape[1] else cat_logits.new_zeros(())
        return nll_cat, nll_cont

    def step(self, batches: list[Batch]) -> dict[str, torch.Tensor | float]:
        G, D, o = self.nets["G"], self.nets["D"], self.opts
        real = batches[0]["x"]
        n = real.shape[0]
        # D (and Q) step: max V(D, G) + lambda L_I on fakes of known codes
        cat, cont = self.codes(n)
        with torch.no_grad():
            fake = G(self.generator_input(self.latent(n), cat, cont))
        real_out = D(real)
        fake_out = D(fake)
        nll_cat, nll_cont = self.info_loss(cat, cont)
        info = o.lambda_cat * nll_cat + o.lambda_cont * nll_cont
        d_loss = losses.d_minimax(real_out, fake_out) + info
        self.update("D", d_loss)
        # G step: min -log D(G(z, c)) - lambda L_I (non-saturating), on fresh z and c
        cat, cont = self.codes(n)
        self.requires_grad(D, False)
        self.requires_grad(self.nets["Q"], False)
        g_out = D(G(self.generator_input(self.latent(n), cat, cont)))
        g_cat, g_cont = self.info_loss(cat, cont)
        g_loss = losses.g_nonsaturating(g_out) + o.lambda_cat * g_cat + o.lambda_cont * g_cont
        self.update("G", g_loss)
        self.requires_grad(D, True)
        self.requires_grad(self.nets["Q"], True)
        return {"loss/d": d_loss.detach(), "loss/g": g_loss.detach(), "loss/info_cat": nll_cat.detach(),
                "loss/info_cont": nll_cont.detach(), "d/real": real_out.detach().mean(),
                "d/fake": fake_out.detach().mean()}

    # ------------------------------------------------------------------ sampling and scores

    def _eval_cont(self, offset: int, n: int) -> torch.Tensor:
        """Rows ``offset .. offset+n`` of a fixed sequence of continuous codes (batching never matters)."""
        gen = torch.Generator().manual_seed(CONT_SEED)
        return (torch.rand(offset + n, self.opts.num_continuous, generator=gen)[offset:] * 2 - 1).to(self.device)

    def generate_at(self, z: torch.Tensor, offset: int, **conditions: torch.Tensor) -> torch.Tensor:
        """Sample ``offset + i`` gets categorical code (offset + i) mod K and the fixed sequence's
        continuous codes."""
        cat = torch.arange(offset, offset + z.shape[0], device=self.device) % self.opts.num_categories
        return self.sampling_net("G")(self.generator_input(z, cat, self._eval_cont(offset, z.shape[0])))

    @torch.no_grad()
    def own_metrics(self) -> dict[str, float]:
        """``code_acc[<p>]``: code-to-class accuracy of ``eval_per_code`` samples per categorical
        code under the dataset's classifier (empty without a classifier over K classes)."""
        from gan_bench.metrics.classifiers import classifier_spec
        from gan_bench.metrics.conditional import classify, code_to_class_accuracy, has_classifier
        from gan_bench.metrics.harness import leaderboard_column

        data, K = self.ctx.data, self.opts.num_categories
        if data is None or data.spec.kind != "image" or not has_classifier(data.name, data.spec.num_classes):
            return {}
        n = K * self.opts.eval_per_code
        z = torch.randn(n, self.z_dim, generator=torch.Generator().manual_seed(self.cfg.eval.seed))
        was_training = self.nets.training
        self.nets.eval()
        try:
            x = torch.cat([self.generate_at(z[i : i + 500].to(self.device), i).float().cpu()
                           for i in range(0, n, 500)])
        finally:
            self.nets.train(was_training)
        _, logits = classify(data.name, x)
        codes = torch.arange(n) % K
        acc = code_to_class_accuracy(codes, logits.argmax(1), K, data.spec.num_classes)
        return {leaderboard_column("code_acc", classifier_spec(data.name).protocol): acc}
