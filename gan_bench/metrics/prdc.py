"""Precision / recall (Kynkaanniemi et al. 2019) and density / coverage (Naeem et al. 2020).

All four use k-nearest-neighbour balls in feature space; INPUT1 is the generated ("fake") set and
INPUT2 the real reference, as in torch-fidelity's ``prc``. The radius of a sample is the distance
to its k-th nearest neighbour in its own set (itself excluded).

- precision = share of fake samples inside at least one real ball (k = 3),
- recall    = share of real samples inside at least one fake ball (k = 3),
  both with ``<=`` as torch-fidelity's ``prc``;
- density   = (1 / k) * mean over fake samples of the number of real balls containing it (k = 5),
- coverage  = share of real samples whose ball contains at least one fake sample (k = 5),
  both with ``<`` as the reference ``prdc`` package.

Distances are Euclidean, in float64, computed in row blocks so 50k x 50k never sits in memory.
"""

from __future__ import annotations

import torch

from gan_bench.metrics.errors import MetricsInputError
from gan_bench.metrics.family import PROTOCOLS, MetricContext
from gan_bench.metrics.features import POOL
from gan_bench.registry import METRICS

BLOCK = 2048


def _as64(x: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(x).double()


def _dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # ||a||^2 + ||b||^2 - 2ab in float64: exact to ~1e-12 relative, far below any neighbour gap.
    d2 = (a * a).sum(1, keepdim=True) + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return d2.clamp_min_(0.0).sqrt_()


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each row of ``x`` to its k-th nearest other row."""
    x = _as64(x)
    if x.shape[0] <= k:
        raise MetricsInputError(f"k-NN radii with k={k} need more than {k} samples, got {x.shape[0]}")
    out = []
    for i in range(0, x.shape[0], BLOCK):
        d = _dist(x[i : i + BLOCK], x)
        out.append(d.kthvalue(k + 1, dim=1).values)  # the (k+1)-th smallest counts the sample itself
    return torch.cat(out)


def prdc(fake: torch.Tensor, real: torch.Tensor, prc_k: int = 3, dc_k: int = 5, which: tuple[str, ...] = ("prc", "dc")) -> dict[str, float]:
    """Any of precision/recall (``prc``, k=prc_k) and density/coverage (``dc``, k=dc_k) in one pass."""
    fake, real = _as64(fake), _as64(real)
    if fake.shape[1] != real.shape[1]:
        raise MetricsInputError(f"feature sizes differ: {fake.shape[1]} vs {real.shape[1]}")
    want_prc, want_dc = "prc" in which, "dc" in which
    real_r_pr = knn_radii(real, prc_k) if want_prc else None
    fake_r_pr = knn_radii(fake, prc_k) if want_prc else None
    real_r_dc = (real_r_pr if (want_prc and dc_k == prc_k) else knn_radii(real, dc_k)) if want_dc else None
    n_fake, n_real = fake.shape[0], real.shape[0]
    precise = 0
    density_sum = 0.0
    recalled = torch.zeros(n_real, dtype=torch.bool)
    nearest_fake = torch.full((n_real,), float("inf"), dtype=torch.float64)
    for i in range(0, n_fake, BLOCK):
        d = _dist(fake[i : i + BLOCK], real)  # (block of fake, all real)
        if want_prc:
            precise += int((d <= real_r_pr[None, :]).any(dim=1).sum())
            recalled |= (d <= fake_r_pr[i : i + BLOCK, None]).any(dim=0)
        if want_dc:
            density_sum += float((d < real_r_dc[None, :]).sum())
            nearest_fake = torch.minimum(nearest_fake, d.min(dim=0).values)
    out: dict[str, float] = {}
    if want_prc:
        out["precision"] = precise / n_fake
        out["recall"] = float(recalled.double().mean())
    if want_dc:
        out["density"] = density_sum / (dc_k * n_fake)
        out["coverage"] = float((nearest_fake < real_r_dc).double().mean())
    return out


def _shared_pass(ctx: MetricContext) -> dict[str, float]:
    """prc and dc from one pass over the distances when both were asked for."""
    which = tuple(w for w in ("prc", "dc") if w in ctx.requested) or ("prc", "dc")
    key = ("prdc", which, ctx.options.prc_k, ctx.options.dc_k)
    if key not in ctx.memo:
        ctx.memo[key] = prdc(ctx.features(1, POOL), ctx.features(2, POOL), ctx.options.prc_k, ctx.options.dc_k, which)
    return ctx.memo[key]


@METRICS.register(
    "prc",
    harness="image",
    kinds=(),  # not a training-time evaluator (those take (samples, dataset))
    default=False,
    keys=("precision", "recall"),
    arity=2,
    features=(POOL,),
    protocols=PROTOCOLS,
    description="improved precision and recall, k=3 (Kynkaanniemi et al.)",
)
def compute_prc(ctx: MetricContext) -> dict[str, float]:
    """Precision and recall of input 1 (generated) against input 2 (real)."""
    k = ctx.options.prc_k
    ctx.details["prc"] = {"k": k, "fake": "input1", "real": "input2", "ball": "<= k-th NN distance"}
    out = _shared_pass(ctx)
    return {"precision": out["precision"], "recall": out["recall"]}


@METRICS.register(
    "dc",
    harness="image",
    kinds=(),  # not a training-time evaluator (those take (samples, dataset))
    default=False,
    keys=("density", "coverage"),
    arity=2,
    features=(POOL,),
    protocols=PROTOCOLS,
    description="density and coverage, k=5 (Naeem et al.)",
)
def compute_dc(ctx: MetricContext) -> dict[str, float]:
    """Density and coverage of input 1 (generated) against input 2 (real)."""
    k = ctx.options.dc_k
    ctx.details["dc"] = {"k": k, "fake": "input1", "real": "input2", "ball": "< k-th NN distance"}
    out = _shared_pass(ctx)
    return {"density": out["density"], "coverage": out["coverage"]}
