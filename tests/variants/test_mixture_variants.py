"""Every implemented variant takes one step on the CPU: finite losses, every net's parameters move."""

import dataclasses
import math

import pytest
import torch

from gan_bench.config import ConfigError
from gan_bench.data.base import load_dataset
from gan_bench.registry import VARIANTS
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import build_variant

IMPLEMENTED = [e.name for e in VARIANTS if not e.meta.get("planned")]
# The variants that must run on 2-D points; others (conditional, image-only) may refuse them.
FOUNDATION = {"gan-mm", "gan-ns", "dcgan", "lsgan", "wgan", "wgan-gp", "dragan", "ebgan", "began", "gman", "mad-gan", "vae"}


def build_on_points(name: str, dataset_name: str, flags: dict, overrides: list[str], options: dict):
    """(resolved, dataset, variant), skipping a non-foundation variant that is not defined on points."""
    try:
        resolved = resolve(flags={"variant": name, "dataset": dataset_name, **flags}, overrides=overrides)
        dataset = load_dataset(dataset_name, options=options)
        return resolved, dataset, build_variant(resolved, dataset, torch.device("cpu"))
    except ConfigError as e:
        if name in FOUNDATION:
            raise
        pytest.skip(f"{name} does not run on 2-D points: {e}")


def test_the_foundation_variants_are_implemented():
    assert FOUNDATION <= set(IMPLEMENTED)


@pytest.mark.parametrize("name", IMPLEMENTED)
def test_one_step_moves_every_net(name):
    resolved, dataset, variant = build_on_points(name, "grid25", {"batch_size": 16}, ["data.num_points=256"],
                                                 {"num_points": 256})
    before = {k: v.detach().clone() for k, v in variant.nets.state_dict().items() if v.dtype.is_floating_point}
    n_real = VARIANTS.get(name).real_batches(resolved.model_opts)
    batches = [dataset.batch(torch.arange(i * 16, (i + 1) * 16)) for i in range(n_real)]
    out = variant.step(batches)

    assert any(k.startswith("loss/") for k in out)
    for key, value in out.items():
        assert math.isfinite(float(value)), f"{name}: {key} = {value}"
    after = variant.nets.state_dict()
    trainable = {n for n, p in variant.nets.named_parameters() if p.requires_grad}
    for net_name in variant.nets:
        keys = [k for k in trainable if k.startswith(net_name + ".")]
        if not keys:
            continue
        moved = [k for k in keys if not torch.equal(before[k], after[k])]
        assert moved, f"{name}: no parameter of net {net_name!r} changed in one step"


@pytest.mark.parametrize("name", IMPLEMENTED)
def test_sampling_shape(name):
    _, _, variant = build_on_points(name, "ring8", {}, ["data.num_points=64"], {"num_points": 64})
    samples = torch.cat([s.x for s in variant.sample(30, seed=0, batch_size=7)])
    assert samples.shape == (30, 2)
    again = torch.cat([s.x for s in variant.sample(30, seed=0, batch_size=30)])
    assert torch.allclose(samples, again, atol=1e-6)  # a fixed z gives the same samples in any batching


# --------------------------------------------------------------------------- definitions of the papers


def build_grid(name: str, *overrides: str, batch: int = 16):
    resolved = resolve(flags={"variant": name, "dataset": "grid25", "batch_size": batch},
                       overrides=["data.num_points=256", *overrides])
    dataset = load_dataset("grid25", options={"num_points": 256})
    variant = build_variant(resolved, dataset, torch.device("cpu"))
    n_real = VARIANTS.get(name).real_batches(resolved.model_opts)
    batches = [dataset.batch(torch.arange(i * batch, (i + 1) * batch)) for i in range(n_real)]
    return variant, batches


# The variants under the one fake-sampling policy of gan_bench.variants.fakes (model.g_fakes).
G_FAKES_VARIANTS = ["gan-mm", "gan-ns", "dcgan", "lsgan", "wgan", "wgan-gp", "dragan", "ebgan", "began", "gman", "mad-gan"]


@pytest.mark.parametrize("name", G_FAKES_VARIANTS)
def test_generator_step_draws_fresh_z_by_default_and_reuses_on_request(name):
    from gan_bench.variants.fakes import G_FAKES

    field = {f.name: f for f in dataclasses.fields(VARIANTS.get(name).Options)}["g_fakes"]
    assert field.default == "fresh" and tuple(field.metadata["choices"]) == G_FAKES
    draws = {}
    for policy in G_FAKES:
        variant, batches = build_grid(name, f"model.g_fakes={policy}")
        calls = []
        latent = variant.latent
        variant.latent = lambda n, _latent=latent, _calls=calls: _calls.append(n) or _latent(n)
        variant.step(batches)
        draws[policy] = len(calls)
    # one more draw of z for the generator step under "fresh" (GMAN draws all its critics' z at once)
    assert draws["fresh"] == draws["reuse"] + (draws["reuse"] if name == "mad-gan" else 1)


def test_gman_defaults_follow_the_authors_code():
    variant, batches = build_grid("gman")
    opts = variant.opts
    assert (opts.g_objective, opts.aggregation, opts.lam, opts.detach_weights, opts.views, opts.dropout) == (
        "minimax", "soft", 1.0, False, "split", True)
    k = opts.num_discriminators
    assert len(batches) == k  # one real batch per critic
    seen = [[] for _ in range(k)]
    for i, D in enumerate(variant.nets["D"]):
        D.register_forward_pre_hook(lambda m, args, i=i: seen[i].append(args[0].detach().clone()))
    out = variant.step(batches)
    assert float(out["loss/g"]) < 0  # the original objective log(1 - D(G(z))) is negative
    for i in range(k):  # critic i scored real batch i in its update
        assert any(torch.equal(x, batches[i]["x"]) for x in seen[i])
        assert not any(torch.equal(x, batches[j]["x"]) for j in range(k) if j != i for x in seen[i])
    # per-critic dropout: a critic in training mode scores the same input differently each time
    D0 = variant.nets["D"][0]
    x = batches[0]["x"]
    assert not torch.equal(D0(x), D0(x))
    D0.eval()
    assert torch.equal(D0(x), D0(x))


def test_gman_old_behaviour_is_reachable():
    old = ["model.g_objective=nonsaturating", "model.detach_weights=true", "model.views=shared", "model.dropout=false"]
    variant, batches = build_grid("gman", *old)
    assert len(batches) == 1
    D0 = variant.nets["D"][0]
    x = batches[0]["x"]
    assert torch.equal(D0(x), D0(x))
    assert float(variant.step(batches)["loss/g"]) > 0  # -log D(G(z)) is positive


def test_gman_soft_mean_weights_carry_gradient():
    from gan_bench import losses

    v = torch.tensor([-0.3, -1.2, -0.7], requires_grad=True)
    (g,) = torch.autograd.grad(losses.aggregate_soft_mean(v, 1.0), v)
    (g_detached,) = torch.autograd.grad(losses.aggregate_soft_mean(v, 1.0, detach_weights=True), v)
    w = torch.softmax(v.detach(), 0)
    assert torch.allclose(g_detached, w)
    # d/dV_i of softmax(V).V = w_i (1 + V_i - sum_j w_j V_j)
    assert torch.allclose(g, w * (1 + v.detach() - (w * v.detach()).sum()))
    assert float(losses.aggregate_soft_mean(v.detach(), 0.0)) == pytest.approx(float(v.detach().mean()))


def test_mad_gan_generators_share_all_but_the_last_layer():
    variant, batches = build_grid("mad-gan")
    gens = variant.nets["G"]
    assert len(gens) == 5
    g0, g1 = gens[0].net, gens[1].net
    assert g1[0] is g0[0] and g1[1] is g0[1]  # first linear layer and its batch norm: one module
    assert g1[-1] is not g0[-1]  # own output layers
    params = [p for group in variant.optimizers["G"].param_groups for p in group["params"]]
    assert len({id(p) for p in params}) == len(params)  # a shared parameter is updated once
    per_head = sum(p.numel() for p in g0[-1].parameters())
    body = sum(p.numel() for p in gens[0].parameters()) - per_head
    assert sum(p.numel() for p in params) == body + 5 * per_head
    before = g0[0].weight.detach().clone()
    variant.step(batches)
    assert not torch.equal(before, g1[0].weight)  # the shared layer moved, seen through G_1 too

    independent, _ = build_grid("mad-gan", "model.share_layers=false")
    i0, i1 = independent.nets["G"][0].net, independent.nets["G"][1].net
    assert i1[0] is not i0[0]


def test_began_k_uses_the_critic_losses_of_one_point_and_stays_on_the_device():
    import copy

    from gan_bench import losses

    variant, batches = build_grid("began", "model.k_init=0.5", "model.lambda_k=0.5", "optim.d_lr=0.05")
    assert isinstance(variant.k, torch.Tensor) and variant.k.device.type == "cpu"
    k0 = float(variant.k)
    # L(x) and L(G(z_D)) as the critic update sees them, before it: replay the same z on copies
    state = variant.ctx.noise.get_state()
    G, D = copy.deepcopy(variant.nets["G"]), copy.deepcopy(variant.nets["D"])
    real = batches[0]["x"]
    with torch.no_grad():
        fake = G(variant.latent(real.shape[0]))
        rl = losses.reconstruction_energy(real, D(real)[0], p=1).mean()
        fl = losses.reconstruction_energy(fake, D(fake)[0], p=1).mean()
    variant.ctx.noise.set_state(state)
    out = variant.step(batches)
    expected = min(max(k0 + 0.5 * (variant.opts.gamma * float(rl) - float(fl)), 0.0), 1.0)
    assert 0.0 < expected < 1.0
    assert float(variant.k) == pytest.approx(expected, abs=1e-6)
    assert float(out["began/k"]) == pytest.approx(k0)
    # checkpointed and restored exactly, also from a checkpoint that stored k as a float
    saved = variant.extra_state()
    variant.load_extra_state({"k": 0.25})
    assert isinstance(variant.k, torch.Tensor) and float(variant.k) == 0.25
    variant.load_extra_state(saved)
    assert torch.equal(variant.k, saved["k"])


def test_began_resumes_k_exactly_from_its_checkpointed_state(tmp_path):
    def fresh():
        torch.manual_seed(0)
        return build_grid("began", "model.lambda_k=0.5")

    straight, batches = fresh()
    for _ in range(4):
        straight.step(batches)

    first, _ = fresh()
    for _ in range(2):
        first.step(batches)
    torch.save({"nets": first.nets.state_dict(), "opt": {k: o.state_dict() for k, o in first.optimizers.items()},
                "noise": first.ctx.noise.get_state(), "extra": first.extra_state()}, tmp_path / "ckpt.pt")
    state = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    resumed, _ = fresh()
    resumed.nets.load_state_dict(state["nets"])
    for k, o in resumed.optimizers.items():
        o.load_state_dict(state["opt"][k])
    resumed.ctx.noise.set_state(state["noise"])
    resumed.load_extra_state(state["extra"])
    for _ in range(2):
        resumed.step(batches)
    assert torch.equal(resumed.k, straight.k) and 0.0 < float(straight.k)
    for key, value in straight.nets.state_dict().items():
        assert torch.equal(value, resumed.nets.state_dict()[key]), key
