"""A researcher's own variant, written outside the package, runs like a built-in one."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from gan_bench.plugins import PluginError, load_plugin_file
from gan_bench.registry import VARIANTS
from gan_bench.train.checkpoint import load_checkpoint

PLUGIN = '''
"""My new GAN, set beside the zoo."""
from dataclasses import dataclass, field

import torch

from gan_bench import losses
from gan_bench.config import Range
from gan_bench.registry import VARIANTS
from gan_bench.variants.base import Variant


@dataclass
class MyOptions:
    g_steps: int = field(default=2, metadata=Range(1, 10))


@VARIANTS.register("plugin-gan", description="a user's GAN: least-squares critic, several G updates per step")
class PluginGAN(Variant):
    Options = MyOptions

    def build(self):
        self.add_net("G", self.ctx.arch.generator(self.z_dim))
        self.add_net("D", self.ctx.arch.discriminator(out_dim=1))
        self.add_optimizer("G", self.nets["G"].parameters(), self.cfg.optim.g_lr)
        self.add_optimizer("D", self.nets["D"].parameters(), self.cfg.optim.d_lr)

    def step(self, batches):
        G, D = self.nets["G"], self.nets["D"]
        real = batches[0]["x"]
        with torch.no_grad():
            fake = G(self.latent(real.shape[0]))
        d_loss = losses.d_least_squares(D(real), D(fake))
        self.update("D", d_loss)
        for _ in range(self.opts.g_steps):
            g_loss = losses.g_least_squares(D(G(self.latent(real.shape[0]))))
            self.update("G", g_loss)
        if self.cfg.model.get("poison_seed") == self.cfg.seed and self.it == 2:  # a forced divergence
            with torch.no_grad():
                next(G.parameters()).fill_(float("nan"))
        return {"loss/d": d_loss.detach(), "loss/g": g_loss.detach()}
'''
SMALL = ["data.num_points=500", "eval.num_samples=100", "net.width=16"]


@pytest.fixture(scope="module")
def plugin_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("outside_the_repo") / "my_gan.py"
    path.write_text(PLUGIN.replace("MyOptions:\n    g_steps", "MyOptions:\n    poison_seed: int = -1\n    g_steps"))
    return path


def test_a_plugin_variant_trains_through_the_cli(tmp_path: Path, run_cli, plugin_file: Path):
    out = tmp_path / "run"
    code, stdout, stderr = run_cli("train", "--plugin", plugin_file, "--variant", "plugin-gan", "--dataset", "ring8",
                                   "--budget", "5steps", "--out", out, "--no-progress", *SMALL, "model.g_steps=3")
    assert code == 0, stderr
    assert "done; steps=5" in stdout
    assert "plugin-gan" in VARIANTS and not VARIANTS.entry("plugin-gan").meta.get("planned")
    identity = json.loads((out / "run.json").read_text())
    assert identity["variant"] == "plugin-gan" and identity["plugins"] == [str(plugin_file.resolve())]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "done" and "modes" in summary["metrics"]
    state = load_checkpoint(out / "checkpoints" / "final.pt")
    assert any(k.startswith("G.") for k in state["nets"])


def test_a_plugin_takes_its_row_in_a_suite_and_a_diverged_seed_is_shown(tmp_path: Path, run_cli, plugin_file: Path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"""
name: mine
budget: 6steps
seeds: [0, 1, 2]
datasets: [ring8]
variants: [gan-ns, plugin-gan]
plugins: [{plugin_file}]
config: {{data: {{num_points: 500}}, eval: {{num_samples: 100}}, net: {{width: 16}}, checkpoint_every: 2}}
per_variant: {{plugin-gan: {{model: {{poison_seed: 1}}}}}}
""")
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("suite", suite, "--out", out, "--jobs", "2", "--no-progress")
    assert code == 0, stderr
    assert "1 diverged, 0 failed" in stdout
    board = pd.read_csv(out / "leaderboard.csv").set_index("variant")
    assert board.loc["plugin-gan", "status"] == "2/3 done, 1 diverged"
    assert board.loc["plugin-gan", "diverged"] == 1
    # The diverged seed is left out of the means: they are the two finished seeds' means.
    finished = [json.loads(p.read_text())["metrics"]["modes"] for p in out.glob("runs/plugin-gan__ring8__s[02]__*/summary.json")]
    assert board.loc["plugin-gan", "modes_mean"] == pytest.approx(sum(finished) / 2, rel=1e-5)
    (diverged,) = out.glob("runs/plugin-gan__ring8__s1__*")
    assert (diverged / "status").read_text().startswith("diverged at step")
    latest = load_checkpoint(diverged / "checkpoints" / "latest.pt")
    assert all(torch.isfinite(t).all() for t in latest["nets"].values() if t.is_floating_point())
    html = (out / "index.html").read_text()
    assert "plugin-gan" in html and "diverged at step" in html


@pytest.mark.parametrize("body,needle", [
    ("import nonexistent_module_xyz\n", "ModuleNotFoundError"),
    ("def broken(:\n", "SyntaxError"),
    ("raise RuntimeError('boom')\n", "boom"),
    ("from gan_bench.registry import VARIANTS\nVARIANTS.register('gan-ns')(object)\n", "registered twice"),
])
def test_a_broken_plugin_is_one_line_naming_the_file(tmp_path: Path, run_cli, body: str, needle: str):
    path = tmp_path / "broken_gan.py"
    path.write_text(body)
    code, _, stderr = run_cli("train", "--plugin", path, "--variant", "gan-ns", "--dataset", "ring8",
                              "--budget", "2steps", "--out", tmp_path / "r", "--no-progress")
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1 and str(path) in stderr and needle in stderr
    assert not (tmp_path / "r").exists()


def test_missing_plugin_file(tmp_path: Path):
    with pytest.raises(PluginError, match="no such file"):
        load_plugin_file(tmp_path / "nope.py")


def test_entry_point_plugins_are_loaded_with_the_builtins(monkeypatch, tmp_path: Path):
    import importlib.metadata

    from gan_bench import plugins

    calls = []

    class FakeEntryPoint:
        name, value = "demo", "demo_pkg:register"

        def load(self):
            return lambda: calls.append("registered")

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [FakeEntryPoint()] if group == plugins.ENTRY_POINT_GROUP else [])
    plugins.load_entry_points()
    assert calls == ["registered"]

    class Broken(FakeEntryPoint):
        def load(self):
            raise ImportError("no module named demo_pkg")

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [Broken()])
    with pytest.raises(PluginError, match="entry point 'demo'.*demo_pkg"):
        plugins.load_entry_points()
