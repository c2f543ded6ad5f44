"""Suite entries: one variant under several configurations (``variant@label``), and runs that start
from another entry's run (``"@entry"``), ordered so the run they start from finishes first."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from gan_bench.config import ConfigError
from gan_bench.suite import entry_order, load_suite, plan, variant_of
from gan_bench.train.checkpoint import load_checkpoint

# A plugin variant with a warm start (through the base's init_roles_from), so the test needs no
# particular built-in variant's option.
WARM_PLUGIN = '''
from dataclasses import dataclass

import torch

from gan_bench import losses
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Variant


@dataclass
class WarmOptions:
    init_from: str = ""


@VARIANTS.register("warm-gan", description="a GAN whose G and D may start from another run")
class WarmGAN(Variant):
    Options = WarmOptions

    def build(self):
        self.add_net("G", self.ctx.arch.generator(self.z_dim))
        self.add_net("D", self.ctx.arch.discriminator(out_dim=1))
        if self.opts.init_from:
            self.init_roles_from(self.opts.init_from, ("G", "D"))
        self.add_optimizer("G", self.nets["G"].parameters(), self.cfg.optim.g_lr)
        self.add_optimizer("D", self.nets["D"].parameters(), self.cfg.optim.d_lr)

    def step(self, batches):
        G, D = self.nets["G"], self.nets["D"]
        real = batches[0]["x"]
        with torch.no_grad():
            fake = G(self.latent(real.shape[0]))
        self.update("D", losses.d_least_squares(D(real), D(fake)))
        g_loss = losses.g_least_squares(D(G(self.latent(real.shape[0]))))
        self.update("G", g_loss)
        return {"loss/g": g_loss.detach()}
'''

SUITE = """
name: entries
budget: 4steps
seeds: [0, 1]
min_seeds: 1
datasets: [ring8]
variants: [{variants}]
plugins: [{plugin}]
config: {{data: {{num_points: 300}}, eval: {{num_samples: 100}}, net: {{width: 8}}}}
per_variant:
{per_variant}
"""


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("outside_the_repo") / "warm_gan.py"
    path.write_text(WARM_PLUGIN)
    return path


def write_suite(tmp_path: Path, plugin: Path, variants: str, per_variant: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE.format(variants=variants, plugin=plugin, per_variant=per_variant))
    return path


def test_an_entry_starts_from_another_and_each_takes_its_row(tmp_path: Path, plugin: Path, run_cli):
    # listed before the run it starts from: the suite still runs that one first
    suite = write_suite(tmp_path, plugin, "warm-gan@tuned, warm-gan",
                        '  warm-gan@tuned: {model: {init_from: "@warm-gan"}, optim: {g_lr: 1.0e-4}}')
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("suite", suite, "--out", out, "--jobs", "1", "--no-progress")
    assert code == 0, stderr
    assert "4 runs (0 reused, 0 resumed, 4 new; 0 diverged, 0 failed)" in stdout
    board = pd.read_csv(out / "leaderboard.csv").set_index("variant")
    assert sorted(board.index) == ["warm-gan", "warm-gan@tuned"]
    assert (board["status"] == "2/2 done").all()
    for seed in (0, 1):
        (base,) = out.glob(f"runs/warm-gan__ring8__s{seed}__*")
        (tuned,) = out.glob(f"runs/warm-gan@tuned__ring8__s{seed}__*")
        config = (tuned / "config.yaml").read_text()
        assert str(base.resolve()) in config  # "@warm-gan" is the same seed's run folder
        summary = json.loads((tuned / "summary.json").read_text())
        assert summary["variant"] == "warm-gan" and summary["entry"] == "warm-gan@tuned"
        # the tuned run moved on from the base run's final weights: its first-step weights are the
        # base's final ones plus one update, so the two differ, but by far less than a fresh init
        start = load_checkpoint(base / "checkpoints" / "final.pt")["nets"]
        end = load_checkpoint(tuned / "checkpoints" / "final.pt")["nets"]
        w = "G.net.0.weight" if "G.net.0.weight" in start else next(k for k in start if k.endswith("weight"))
        assert not torch.equal(start[w], end[w])
    html = (out / "index.html").read_text()
    assert "warm-gan@tuned" in html


def test_the_warm_start_loads_the_named_run(tmp_path: Path, plugin: Path):
    from gan_bench.plugins import load_plugins
    from gan_bench.train.resolve import resolve
    from gan_bench.train.trainer import Trainer

    load_plugins([str(plugin)])
    flags = {"variant": "warm-gan", "dataset": "ring8", "seed": 0, "budget": "3steps"}
    small = ("data.num_points=300", "eval.num_samples=100", "net.width=8")
    first = tmp_path / "first"
    Trainer(resolve(flags=flags, overrides=small), first, progress=False).run()
    second = resolve(flags={**flags, "seed": 5}, overrides=(*small, f"model.init_from={first}"))
    from gan_bench.data.base import load_dataset
    from gan_bench.train.trainer import build_variant

    data = load_dataset("ring8", "train", None, second.cfg.data)
    variant = build_variant(second, data, torch.device("cpu"))
    final = load_checkpoint(first / "checkpoints" / "final.pt")["nets"]
    for key, value in variant.nets["G"].state_dict().items():
        assert torch.equal(value.cpu(), final[f"G.{key}"]), key


def test_entries_validate_before_anything_runs(tmp_path: Path, plugin: Path, run_cli):
    cases = [
        ("warm-gan, warm-gan@b", '  warm-gan@b: {model: {init_from: "@nowhere"}}', "names no entry"),
        ("warm-gan@a, warm-gan@b", '  warm-gan@a: {model: {init_from: "@warm-gan@b"}}\n'
         '  warm-gan@b: {model: {init_from: "@warm-gan@a"}}', "cycle"),
        ("warm-gan, warm-gan", "  warm-gan: {}", "listed twice"),
        ("warm-gan@", "  warm-gan@: {}", "variant@label"),
    ]
    for variants, per_variant, needle in cases:
        suite = write_suite(tmp_path, plugin, variants, per_variant)
        with pytest.raises(ConfigError, match=needle):
            load_suite(suite)
        code, _, stderr = run_cli("suite", suite, "--out", tmp_path / "out", "--no-progress")
        assert code == 2 and needle in stderr and len(stderr.strip().splitlines()) == 1
        assert not (tmp_path / "out").exists()


def test_order_and_names(tmp_path: Path, plugin: Path):
    suite_path = write_suite(tmp_path, plugin, "warm-gan@c, warm-gan@b, warm-gan",
                             '  warm-gan@c: {model: {init_from: "@warm-gan@b"}}\n'
                             '  warm-gan@b: {model: {init_from: "@warm-gan"}}')
    suite = load_suite(suite_path)
    assert entry_order(suite) == ["warm-gan", "warm-gan@b", "warm-gan@c"]
    assert variant_of("warm-gan@c") == "warm-gan" and variant_of("dcgan") == "dcgan"
    runs = plan(suite, suite_path, tmp_path / "out")
    by_entry = {(r.entry, r.resolved.cfg.seed): r for r in runs}
    assert by_entry[("warm-gan@c", 1)].needs == [by_entry[("warm-gan@b", 1)].run_dir]
    assert by_entry[("warm-gan", 0)].needs == []
    assert all(r.resolved.cfg.variant == "warm-gan" for r in runs)


def test_restricting_to_an_entry_keeps_the_runs_it_starts_from(tmp_path: Path, plugin: Path, run_cli):
    suite = write_suite(tmp_path, plugin, "warm-gan, warm-gan@b",
                        '  warm-gan@b: {model: {init_from: "@warm-gan"}}')
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("suite", suite, "--out", out, "--variants", "warm-gan@b", "--no-progress")
    assert code == 0, stderr
    assert sorted(pd.read_csv(out / "leaderboard.csv")["variant"]) == ["warm-gan", "warm-gan@b"]


def test_seeds_can_be_limited_and_the_report_says_so(tmp_path: Path, plugin: Path, run_cli):
    suite = write_suite(tmp_path, plugin, "warm-gan", "  warm-gan: {}")
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("suite", suite, "--out", out, "--seeds", "1", "--no-progress")
    assert code == 0, stderr
    board = pd.read_csv(out / "leaderboard.csv")
    assert board["seed_list"].astype(str).tolist() == ["1"]
    banner = (out / "index.html").read_text().split("<main>")[0]
    assert "seeds limited to 1" in banner
    for bad in ("7", "x"):
        code, _, stderr = run_cli("suite", suite, "--out", tmp_path / "o2", "--seeds", bad, "--no-progress")
        assert code == 2 and "--seeds" in stderr and not (tmp_path / "o2").exists()


def test_datasets_can_be_limited_and_the_report_says_so(tmp_path: Path, plugin: Path, run_cli):
    text = SUITE.format(variants="warm-gan", plugin=plugin, per_variant="  warm-gan: {}")
    suite = tmp_path / "suite.yaml"
    suite.write_text(text.replace("datasets: [ring8]", "datasets: [ring8, grid25]"))
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("suite", suite, "--out", out, "--datasets", "grid25", "--no-progress")
    assert code == 0, stderr
    assert pd.read_csv(out / "leaderboard.csv")["dataset"].tolist() == ["grid25"]
    assert "datasets limited to grid25" in (out / "index.html").read_text().split("<main>")[0]
    code, _, stderr = run_cli("suite", suite, "--out", tmp_path / "o2", "--datasets", "mnist", "--no-progress")
    assert code == 2 and "--datasets" in stderr and not (tmp_path / "o2").exists()


def test_only_limits_an_entry_to_some_datasets(tmp_path: Path, plugin: Path):
    text = SUITE.format(variants="warm-gan, warm-gan@b", plugin=plugin, per_variant="  warm-gan@b: {}")
    text = text.replace("datasets: [ring8]", "datasets: [ring8, grid25]")
    path = tmp_path / "suite.yaml"
    path.write_text(text + "only: {warm-gan@b: [grid25]}\n")
    runs = plan(load_suite(path), path, tmp_path / "out")
    assert sorted({(r.entry, r.resolved.cfg.dataset) for r in runs}) == [
        ("warm-gan", "grid25"), ("warm-gan", "ring8"), ("warm-gan@b", "grid25")]
    for only, needle in (("{warm-gan@c: [grid25]}", "not in the suite's variants"),
                         ("{warm-gan@b: [mnist]}", "not a dataset of the suite")):
        path.write_text(text + f"only: {only}\n")
        with pytest.raises(ConfigError, match=needle):
            load_suite(path)
    path.write_text(text.replace("warm-gan@b: {}", 'warm-gan@b: {model: {init_from: "@warm-gan"}}')
                    + "only: {warm-gan: [ring8]}\n")
    with pytest.raises(ConfigError, match="does not run on grid25"):
        load_suite(path)


def test_an_entry_may_have_its_own_budget(tmp_path: Path, plugin: Path):
    path = write_suite(tmp_path, plugin, "warm-gan, warm-gan@b", '  warm-gan@b: {model: {init_from: "@warm-gan"}}')
    path.write_text(path.read_text() + "budgets: {warm-gan@b: 2steps}\n")
    runs = plan(load_suite(path), path, tmp_path / "out", scale=2.0)
    assert {(r.entry, r.resolved.budget.text) for r in runs} == {("warm-gan", "8steps"), ("warm-gan@b", "4steps")}
    for budgets, needle in (("{nope: 2steps}", "not in the suite's variants"), ("{warm-gan: lots}", "not a budget")):
        path.write_text(path.read_text().rsplit("budgets:", 1)[0] + f"budgets: {budgets}\n")
        with pytest.raises(ConfigError, match=needle):
            load_suite(path)
