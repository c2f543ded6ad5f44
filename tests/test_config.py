"""Config files and overrides: merged in order, every key validated, one-line errors, exit 2."""

from pathlib import Path

import pytest

from gan_bench.config import ConfigError
from gan_bench.train.resolve import resolve


def test_layers_and_variant_defaults(tmp_path: Path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("batch_size: 32\noptim:\n  g_lr: 0.001\n")
    r = resolve([cfg_file], {"variant": "wgan", "dataset": "ring8"}, ["optim.d_lr=3e-4", "model.clip=0.02"])
    assert r.cfg.batch_size == 32  # file beats the dataset default (100)
    assert r.cfg.optim.name == "rmsprop"  # the variant's default
    assert r.cfg.optim.g_lr == 0.001 and r.cfg.optim.d_lr == 3e-4
    assert r.model_opts.clip == 0.02 and r.model_opts.n_critic == 5
    assert r.cfg.arch == "mlp" and r.cfg.z_dim == 2  # defaults for point data


@pytest.mark.parametrize("override,needle", [
    ("optim.g_lrr=1", "unknown key 'optim.g_lrr'"),
    ("batch_size=abc", "batch_size must be an integer"),
    ("batch_size=0", "batch_size=0 is out of range"),
    ("optim.name=adamw", "optim.name='adamw' is not one of"),
    ("model.gp_weight=10", "unknown key 'model.gp_weight'"),  # gan-ns has no gradient penalty
    ("net.width=-3", "net.width=-3 is out of range"),
    ("data.std=-1", "data.std=-1.0 is out of range"),
    ("budget=12parsecs", "budget='12parsecs'"),
])
def test_bad_override_names_the_key(override, needle):
    with pytest.raises(ConfigError) as info:
        resolve(flags={"variant": "gan-ns", "dataset": "ring8"}, overrides=[override])
    assert needle in str(info.value)
    assert "command line" in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_key_in_file_names_the_file(tmp_path: Path):
    cfg_file = tmp_path / "bad.yaml"
    cfg_file.write_text("eval:\n  num_sampels: 10\n")
    with pytest.raises(ConfigError, match=r"unknown key 'eval.num_sampels'.*bad.yaml"):
        resolve([cfg_file], {"variant": "gan-ns", "dataset": "ring8"})


def test_unknown_names_and_planned_variants():
    with pytest.raises(ConfigError, match="unknown variant 'gan-xyz'"):
        resolve(flags={"variant": "gan-xyz", "dataset": "ring8"})
    with pytest.raises(ConfigError, match="unknown dataset"):
        resolve(flags={"variant": "gan-ns", "dataset": "nope"})
    with pytest.raises(ConfigError, match="planned but not implemented"):
        resolve(flags={"variant": "planned-example", "dataset": "ring8"})


@pytest.mark.parametrize("args,needle", [
    (["optim.g_lrr=1"], "unknown key 'optim.g_lrr'"),
    (["seed=-1"], "seed=-1 is out of range"),
    (["--budget", "soon"], "budget='soon'"),
])
def test_cli_bad_config_exits_2_and_writes_nothing(tmp_path: Path, run_cli, args, needle):
    out = tmp_path / "run"
    code, stdout, stderr = run_cli("train", "--variant", "gan-ns", "--dataset", "ring8", "--out", out, *args)
    assert code == 2
    assert needle in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_bad_yaml_file(tmp_path: Path, run_cli):
    bad = tmp_path / "bad.yaml"
    bad.write_text("batch_size: [1, 2\n")
    code, _, stderr = run_cli("train", "--config", bad, "--variant", "gan-ns", "--dataset", "ring8", "--out", tmp_path / "r")
    assert code == 2 and "invalid YAML" in stderr and str(bad) in stderr


def _alias_bomb(levels: int = 9) -> str:
    """The classic "billion laughs": each level holds nine aliases of the one before (9**levels)."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_is_refused_quickly(tmp_path: Path):
    import time

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(_alias_bomb())
    assert bomb.stat().st_size < 600
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="alias bomb") as info:
        resolve([bomb], {"variant": "gan-ns", "dataset": "ring8"})
    assert time.perf_counter() - start < 1.0
    assert str(bomb) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="alias bomb"):  # the same through a key=value override
        resolve(flags={"variant": "gan-ns", "dataset": "ring8"}, overrides=["model=" + _alias_bomb().replace("\n", ", ").join("{}")])


def test_a_few_aliases_are_still_fine(tmp_path: Path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("optim: &o {g_lr: 0.001, d_lr: 0.001}\nmodel: {}\n")
    assert resolve([cfg_file], {"variant": "gan-ns", "dataset": "ring8"}).cfg.optim.d_lr == 0.001


@pytest.mark.parametrize("content,needle", [
    (b"batch_size: 32\nnote: \xff\xfe caf\xe9\n", "not UTF-8"),
    (b"[" * 50_000, "nested too deeply"),
    (b"# " + b"x" * (1 << 20) + b"\n", "larger than"),
    (b"- 1\n- 2\n", "must hold a mapping"),
    (b"!!python/object/apply:os.system ['true']\n", "invalid YAML"),
])
def test_hostile_config_files_are_one_line(tmp_path: Path, content: bytes, needle: str):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content)
    with pytest.raises(ConfigError, match=needle) as info:
        resolve([bad], {"variant": "gan-ns", "dataset": "ring8"})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("override", [
    "optim.g_lr=.nan", "optim.d_lr=.inf", "optim.beta1=-.inf", "optim.g_lr=nan", "optim.g_lr=1e999",
    "ema.decay=.nan", "data.std=.nan", "lr_schedule.milestones=[.nan]",
])
def test_nan_and_inf_fail_range_checks(override):
    with pytest.raises(ConfigError, match="must be a finite number"):
        resolve(flags={"variant": "gan-ns", "dataset": "ring8"}, overrides=[override])


@pytest.mark.parametrize("override", ["seed=4294967296", "eval.seed=99999999999", "eval.seed=-1", "data.seed=2147483648",
                                      "data.seed=-5"])
def test_seeds_are_bounded(override):
    with pytest.raises(ConfigError, match=r"seed=-?\d+ is out of range \[0, 2147483647\]"):
        resolve(flags={"variant": "gan-ns", "dataset": "ring8"}, overrides=[override])


def test_largest_seeds_seed_numpy_and_torch():
    import numpy as np
    import torch

    r = resolve(flags={"variant": "gan-ns", "dataset": "ring8"},
                overrides=["seed=2147483647", "eval.seed=2147483647", "data.seed=2147483647"])
    for seed in (r.cfg.seed, r.cfg.eval.seed, r.data_opts.seed):
        np.random.seed(seed + 1)
        torch.manual_seed(seed + 1)
