"""The DCGAN throughput benchmark runs end to end (its numbers are not tested: speed is not a test)."""

import importlib.util
import json
import sys
from pathlib import Path

import torch

from gan_bench.data.base import load_dataset
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import build_variant

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "dcgan_throughput.py"


def load_script():
    spec = importlib.util.spec_from_file_location("dcgan_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script is executed
    spec.loader.exec_module(module)
    return module


def test_matrix_times_every_setting_against_one_plain_loop(tmp_path: Path, data_root: Path):
    bench = load_script()
    out = tmp_path / "bench.json"
    code = bench.main(["--steps", "2", "--warmup", "1", "--repeats", "1", "--width", "8", "--batch-size", "16",
                       "--matrix", "--data-root", str(data_root), "--json", str(out)])
    record = json.loads(out.read_text())
    assert code == 0
    assert [m["name"] for m in record["gan_bench"]] == [s.label for s in bench.MATRIX]
    for m in record["gan_bench"]:
        assert m["median"] > 0 and m["ratio"] == m["median"] / record["plain"]["median"]
        assert not m["notes"]  # the trainer has every option the matrix asks for
    assert isinstance(record["cpu_bf16"], bool)


def test_plain_loop_trains_the_same_nets_as_gan_bench(data_root: Path):
    """Same constructor, same seed: the plain loop starts from gan_bench's exact weights."""
    bench = load_script()
    args = bench.parse_args(["--width", "8", "--data-root", str(data_root)])
    plain = dict(zip("GD", bench.build_plain_nets(args, torch.device("cpu"))))
    resolved = resolve(flags={"variant": "dcgan", "dataset": "mnist", "arch": "dcgan", "seed": args.seed},
                       overrides=[f"net.width={args.width}", f"z_dim={args.z_dim}", "data.num_examples=64"])
    dataset = load_dataset("mnist", "train", str(data_root), {"num_examples": 64})
    ours = build_variant(resolved, dataset, torch.device("cpu")).nets
    for name, net in plain.items():
        theirs = net.state_dict()
        assert list(theirs) == list(ours[name].state_dict())
        assert all(torch.equal(theirs[k], v) for k, v in ours[name].state_dict().items())
