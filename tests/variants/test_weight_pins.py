"""The variant contract grows without moving a single weight of the variants that already run.

``weight_pins.json`` holds a hash of the final weights of short CPU runs, recorded on the code
before the contract grew (conditions, step index, nets by role, EMA, LR schedules). Each run here
must reproduce its hash bit for bit. Regenerate only for an intended change of a variant's
algorithm, and say so in the commit: ``python tests/variants/test_weight_pins.py --write``.

Float results depend on the CPU's kernels (AVX2 vs AVX512), so the hash is compared where the
recording machine's capability matches; elsewhere a float fingerprint is compared to 1e-5.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
import torch

from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import Trainer

PINS = Path(__file__).with_name("weight_pins.json")
MIX = ["data.num_points=2000", "eval.num_samples=200", "net.width=32", "checkpoint_every=7"]
IMG = ["batch_size=16", "net.width=8", "eval.num_samples=100", "data.num_examples=512", "checkpoint_every=3"]
# name -> (variant, dataset, budget, overrides); overrides keep the policy these runs were pinned under
CASES: dict[str, tuple[str, str, str, list[str]]] = {
    "gan-ns/ring8": ("gan-ns", "ring8", "20steps", MIX),
    "gan-mm/ring8": ("gan-mm", "ring8", "20steps", MIX),
    "lsgan/ring8": ("lsgan", "ring8", "20steps", MIX),
    "wgan/ring8": ("wgan", "ring8", "8steps", MIX),
    "wgan-gp/ring8": ("wgan-gp", "ring8", "8steps", MIX),
    "dragan/ring8": ("dragan", "ring8", "20steps", MIX),
    "vae/ring8": ("vae", "ring8", "20steps", MIX),
    "dcgan/mnist": ("dcgan", "mnist", "6steps", IMG),
    "wgan-gp/mnist": ("wgan-gp", "mnist", "3steps", IMG),
}
# Overrides that select the policies these runs were recorded under, where a default changed since.
# ``model.g_fakes=reuse``: the generator step reused the critic's last fakes (gan_bench.variants.fakes).
_REUSE = ["model.g_fakes=reuse"]
POLICY: dict[str, list[str]] = {v: _REUSE for v in ("gan-ns", "gan-mm", "lsgan", "wgan", "wgan-gp", "dragan", "dcgan")}


def final_weights(tmp: Path, name: str) -> dict[str, torch.Tensor]:
    variant, dataset, budget, extra = CASES[name]
    resolved = resolve(flags={"variant": variant, "dataset": dataset, "budget": budget},
                       overrides=[*extra, *POLICY.get(variant, [])])
    Trainer(resolved, tmp / name.replace("/", "_"), progress=False).run()
    state = torch.load(tmp / name.replace("/", "_") / "checkpoints" / "final.pt", weights_only=True)
    return state["nets"]


def fingerprint(nets: dict[str, torch.Tensor]) -> dict[str, object]:
    digest = hashlib.sha256()
    for key in sorted(nets):
        digest.update(key.encode())
        digest.update(nets[key].detach().cpu().contiguous().numpy().tobytes())
    floats = {k: float(v.double().abs().sum()) for k, v in sorted(nets.items()) if v.is_floating_point()}
    return {"sha256": digest.hexdigest(), "abs_sums": floats}


def machine() -> str:
    return f"torch {torch.__version__.split('+')[0]}, cpu {torch.backends.cpu.get_cpu_capability()}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_final_weights_are_unchanged(tmp_path: Path, name: str, data_root: Path):
    pins = json.loads(PINS.read_text())
    got = fingerprint(final_weights(tmp_path, name))
    want = pins["runs"][name]
    if pins["machine"] == machine():
        assert got["sha256"] == want["sha256"], f"{name}: final weights differ from the pinned run"
    else:  # other kernels: equal to float tolerance
        assert set(got["abs_sums"]) == set(want["abs_sums"])
        for key, value in want["abs_sums"].items():
            assert got["abs_sums"][key] == pytest.approx(value, rel=1e-5, abs=1e-6), key


if __name__ == "__main__" and "--write" in sys.argv:
    import tempfile

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        runs = {name: fingerprint(final_weights(Path(tmp), name)) for name in sorted(CASES)}
    PINS.write_text(json.dumps({"machine": machine(), "runs": runs}, indent=1) + "\n")
    print(f"wrote {PINS} ({len(runs)} runs, {machine()})")
