"""Fuzz the command line with malformed configs, command lines and files.

Every case runs ``gan-bench`` in-process and must end the way a user error ends: exit code 2, an
error line ``gan-bench <cmd>: error: ...`` last on stderr (argparse prints its usage above it; any
other error is that one line alone), no traceback, and no existing file of a finished run, a
leaderboard or a report changed (each is hashed before and after). Cases are built from seeded
combinations, so the list (and every test id) is the same on every run.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import pickle
import random
import shutil
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from gan_bench.cli import main

REPO = Path(__file__).resolve().parents[1]
SEED = 20261201
TINY = ["data.num_points=500", "eval.num_samples=100", "net.width=16"]
TRAIN = ["train", "--variant", "gan-ns", "--dataset", "ring8", "--budget", "2steps", "--no-progress", *TINY]
PAYLOAD_MARKER = "pwned"  # what a crafted pickle would create if it ever ran
_HELD_LOCKS: list[int] = []  # file descriptors of folder locks a case holds as "another writer"


# --------------------------------------------------------------------------- the world every case must leave alone


@dataclass
class World:
    """A finished tiny run, a leaderboard and a report (named like the base suite, so a suite case
    that wrongly publishes overwrites them), and shared inputs the cases point at."""

    root: Path
    run: Path
    leaderboard: Path
    report: Path
    suite: Path  # a valid tiny suite file, the base of the suite cases
    real_npz: Path  # 8 valid 28x28 images

    def guarded(self) -> list[Path]:
        return [self.run, self.leaderboard.parent, self.report.parent, REPO / "leaderboards"]


SUITE_BASE = {
    "name": "fuzz",
    "variants": ["gan-ns"],
    "datasets": ["ring8"],
    "budget": "2steps",
    "seeds": [0],
    "min_seeds": 1,
    "config": {"data": {"num_points": 500}, "eval": {"num_samples": 100}, "net": {"width": 16}},
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    import yaml

    root = tmp_path_factory.mktemp("fuzz_world")
    run = root / "run"
    assert main([*TRAIN, "--out", str(run)]) == 0, "the tiny run of the fixture must train"
    board = root / "leaderboards" / "fuzz.csv"
    board.parent.mkdir()
    shutil.copy(REPO / "leaderboards" / "quickstart.csv", board)
    report = root / "reports" / "fuzz" / "index.html"
    report.parent.mkdir(parents=True)
    report.write_text("<!doctype html><title>fuzz</title><p>a published report</p>\n")
    suite = root / "suite.yaml"
    suite.write_text(yaml.safe_dump(SUITE_BASE))
    real = root / "real.npz"
    np.savez(real, x=np.random.default_rng(0).integers(0, 256, (8, 28, 28), dtype=np.uint8))
    return World(root, run, board, report, suite, real)


def _snapshot(paths: list[Path]) -> dict[str, str]:
    """sha256 of every file under ``paths``; the repo's reports (18 MB) by size and mtime only."""
    out: dict[str, str] = {}
    for top in paths:
        for p in sorted(top.rglob("*")) if top.is_dir() else [top]:
            if p.is_file():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    for p in sorted((REPO / "reports").rglob("*")):
        if p.is_file():
            st = p.stat()
            out[str(p)] = f"{st.st_size} {st.st_mtime_ns}"
    return out


# --------------------------------------------------------------------------- file makers


def _crafted_pickle(marker: Path) -> bytes:
    """A pickle whose loading would create ``marker`` (``open(marker, 'w')`` via ``__reduce__``)."""

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    return pickle.dumps({b"data": Payload(), "x": Payload()})


def _alias_bomb() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


def _png_header(width: int, height: int) -> bytes:
    """A PNG declaring ``width`` x ``height`` 8-bit gray pixels, a few bytes long (a bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


# --------------------------------------------------------------------------- cases

Build = Callable[[World, Path], list[str]]


@dataclass(frozen=True)
class Case:
    id: str
    cmd: str  # the subcommand whose error line is expected
    build: Build  # (world, case folder) -> argv; may write files in the case folder
    xfail: str | None = None  # pending work of another owner (see the report of issue 8)


def _yaml_value(value: object) -> str:
    return value if isinstance(value, str) else repr(value)


def _nested(key: str, raw: str) -> str:
    """``a.b: raw`` as nested YAML block text."""
    parts = key.split(".")
    lines = [f"{'  ' * i}{p}:" for i, p in enumerate(parts[:-1])]
    lines.append(f"{'  ' * (len(parts) - 1)}{parts[-1]}: {raw}")
    return "\n".join(lines) + "\n"


def _config_cases(rng: random.Random) -> list[Case]:
    """Bad keys and values, each through a --config file and as a key=value override."""
    unknown = ["batchsize", "optim.g_lrr", "eval.num_sampels", "model.gp_weight", "net.widht", "data.num_pionts",
               "lr_schedule.nme", "ema.dcay", "foo.bar", "optim.adam.beta1"]
    wrong_type = [("batch_size", "abc"), ("batch_size", "[1, 2]"), ("optim", "3"), ("amp", "'yes please'"),
                  ("optim.g_lr", "fast"), ("eval", "[1]"), ("net.width", "2.5"), ("device", "1"), ("data", "x"),
                  ("lr_schedule.milestones", "0.5"), ("seed", "zero"), ("eval.every", "{a: 1}")]
    floats = ["optim.g_lr", "optim.d_lr", "optim.beta1", "optim.beta2", "optim.weight_decay", "ema.decay",
              "lr_schedule.start", "lr_schedule.final", "lr_schedule.gamma", "data.std", "data.radius"]
    non_finite = [(k, v) for k, v in itertools.product(floats, [".nan", ".inf", "-.inf"])]
    out_of_range = [("batch_size", "0"), ("batch_size", "-1"), ("z_dim", "0"), ("log_every", "0"),
                    ("checkpoint_every", "0"), ("eval.num_samples", "0"), ("optim.beta1", "1.5"), ("ema.decay", "2"),
                    ("net.width", "-3"), ("data.num_points", "0"), ("optim.name", "adamw"), ("device", "foo"),
                    ("lr_schedule.name", "wavy"), ("budget", "0steps")]
    seeds = [(k, str(v)) for k, v in itertools.product(["seed", "eval.seed", "data.seed"],
                                                       [2**31, 2**32, 2**64, 10**30, -1])]
    pairs = [(k, "1") for k in unknown] + wrong_type + non_finite + out_of_range + seeds
    cases = []
    for key, raw in pairs:
        label = f"{key}={raw}".replace(" ", "")

        def by_file(w: World, d: Path, key: str = key, raw: str = raw) -> list[str]:
            # the tiny settings come from an earlier file, so that the bad value is the one that wins
            (d / "tiny.yaml").write_text("budget: 2steps\ndata: {num_points: 500}\neval: {num_samples: 100}\nnet: {width: 16}\n")
            (d / "c.yaml").write_text(_nested(key, raw))
            return ["train", "--variant", "gan-ns", "--dataset", "ring8", "--no-progress", "--config", str(d / "tiny.yaml"),
                    "--config", str(d / "c.yaml"), "--out", str(d / "new")]

        def by_override(w: World, d: Path, key: str = key, raw: str = raw) -> list[str]:
            return [*TRAIN, "--out", str(d / "new"), f"{key}={raw}"]

        cases.append(Case(f"config-file-{label}", "train", by_file))
        cases.append(Case(f"config-override-{label}", "train", by_override))

    garbage = bytes(rng.getrandbits(8) for _ in range(64))
    files: dict[str, bytes | None] = {
        "alias-bomb": _alias_bomb().encode(),
        "not-utf8": b"batch_size: 32\nnote: caf\xe9 \xff\xfe\n",
        "binary-garbage": garbage,
        "list": b"- 1\n- 2\n",
        "scalar": b"42\n",
        "string": b"just words\n",
        "deep-nesting": b"[" * 20_000,
        "huge": b"# " + b"x" * (1 << 20) + b"\n",
        "python-tag": b"!!python/object/apply:os.system ['touch pwned']\n",
        "two-documents": b"a: 1\n---\nb: 2\n",
        "unhashable-key": b"? [1, 2]\n: 3\n",
        "directory": None,
    }
    for name, content in files.items():

        def build(w: World, d: Path, content: bytes | None = content) -> list[str]:
            path = d / "c.yaml"
            if content is None:
                path.mkdir()
            else:
                path.write_bytes(content)
            return [*TRAIN, "--config", str(path), "--out", str(d / "new")]

        cases.append(Case(f"config-file-{name}", "train", build))

    def empty(w: World, d: Path) -> list[str]:  # an empty file is an empty mapping: variant is missing
        (d / "c.yaml").write_bytes(b"")
        return ["train", "--config", str(d / "c.yaml"), "--out", str(d / "new")]

    def missing(w: World, d: Path) -> list[str]:
        return [*TRAIN, "--config", str(d / "nope.yaml"), "--out", str(d / "new")]

    def bomb_override(w: World, d: Path) -> list[str]:
        return [*TRAIN, "--out", str(d / "new"), "model={" + _alias_bomb().replace("\n", ", ") + "}"]

    cases += [Case("config-file-empty", "train", empty), Case("config-file-missing", "train", missing),
              Case("config-override-alias-bomb", "train", bomb_override)]
    return cases


def _train_command_cases() -> list[Case]:
    base = ["train", "--no-progress"]
    vd = ["--variant", "gan-ns", "--dataset", "ring8"]
    argvs: dict[str, Callable[[World, Path], list[str]]] = {
        "no-out": lambda w, d: [*base, *vd],
        "no-variant": lambda w, d: [*base, "--dataset", "ring8", "--out", str(d / "new")],
        "no-dataset": lambda w, d: [*base, "--variant", "gan-ns", "--out", str(d / "new")],
        "unknown-variant": lambda w, d: [*base, "--variant", "gan-xyz", "--dataset", "ring8", "--out", str(d / "new")],
        "unknown-dataset": lambda w, d: [*base, "--variant", "gan-ns", "--dataset", "ring9", "--out", str(d / "new")],
        "planned-variant": lambda w, d: [*base, "--variant", "planned-example", "--dataset", "ring8", "--out", str(d / "new")],
        "unknown-arch": lambda w, d: [*base, *vd, "--arch", "nope", "--out", str(d / "new")],
        "image-arch-on-points": lambda w, d: [*base, *vd, "--arch", "dcgan", "--out", str(d / "new")],
        "device-flag": lambda w, d: [*base, *vd, "--device", "foo", "--out", str(d / "new")],
        "device-override": lambda w, d: [*base, *vd, "--out", str(d / "new"), "device=foo"],
        "seed-flag-text": lambda w, d: [*base, *vd, "--seed", "abc", "--out", str(d / "new")],
        "seed-flag-negative": lambda w, d: [*base, *vd, "--seed", "-1", "--out", str(d / "new")],
        "seed-flag-huge": lambda w, d: [*base, *vd, "--seed", str(2**40), "--out", str(d / "new")],
        "unknown-flag": lambda w, d: [*base, *vd, "--bogus", "--out", str(d / "new")],
        "override-no-equals": lambda w, d: [*base, *vd, "--out", str(d / "new"), "batch_size"],
        "override-empty-key": lambda w, d: [*base, *vd, "--out", str(d / "new"), "=3"],
        "out-empty": lambda w, d: [*TRAIN, "--out", ""],
        "out-blank": lambda w, d: [*TRAIN, "--out", "   "],
        "out-is-leaderboard-file": lambda w, d: [*TRAIN, "--out", str(w.leaderboard)],
        "out-is-report-file": lambda w, d: [*TRAIN, "--out", str(w.report)],
        "out-under-a-file": lambda w, d: [*TRAIN, "--out", str(w.leaderboard / "run")],
        "missing-data": lambda w, d: [*base, "--variant", "dcgan", "--dataset", "mnist", "--data-root", str(d / "none"),
                                      "--out", str(d / "new")],
    }
    for budget in ["0steps", "-5s", "abc", "5", "1.5steps", "", "10parsecs", "0kimg", "1e999s", "nan s"]:
        argvs[f"budget-{budget.replace(' ', '_') or 'empty'}"] = (
            lambda w, d, budget=budget: [*base, *vd, f"--budget={budget}", "--out", str(d / "new")])
    cases = [Case(f"train-{name}", "train", build) for name, build in argvs.items()]

    def read_only(w: World, d: Path) -> list[str]:
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        (d / "ro").mkdir()
        (d / "ro").chmod(0o500)
        return [*TRAIN, "--out", str(d / "ro" / "run")]

    cases.append(Case("train-out-read-only", "train", read_only))
    # the finished run, asked to be something else: it must not say "already done"
    for name, extra in {"other-variant": ["--variant", "lsgan"], "other-seed": ["--seed", "7"],
                        "other-lr": ["optim.g_lr=1e-3"], "other-dataset": ["--dataset", "grid25"]}.items():
        cases.append(Case(f"train-finished-run-{name}", "train",
                          lambda w, d, extra=extra: [*TRAIN, *extra, "--out", str(w.run)]))
    return cases


def _suite_command_cases() -> list[Case]:
    argvs: dict[str, Callable[[World, Path], list[str]]] = {
        "no-file": lambda w, d: ["suite", "--out", str(d / "out")],
        "no-out": lambda w, d: ["suite", str(w.suite)],
        "missing-file": lambda w, d: ["suite", str(d / "nope.yaml"), "--out", str(d / "out")],
        "jobs-0": lambda w, d: ["suite", str(w.suite), "--out", str(d / "out"), "--jobs", "0"],
        "jobs-text": lambda w, d: ["suite", str(w.suite), "--out", str(d / "out"), "--jobs", "many"],
        "scale-0": lambda w, d: ["suite", str(w.suite), "--out", str(d / "out"), "--scale", "0"],
        "scale-negative": lambda w, d: ["suite", str(w.suite), "--out", str(d / "out"), "--scale", "-1"],
        "scale-nan": lambda w, d: ["suite", str(w.suite), "--out", str(d / "out"), "--scale", "nan"],
        "scale-text": lambda w, d: ["suite", str(w.suite), "--out", str(d / "out"), "--scale", "abc"],
        "unknown-variant-filter": lambda w, d: ["suite", str(w.suite), "--out", str(d / "out"), "--variants", "nope"],
        "bad-override": lambda w, d: ["suite", str(w.suite), "--out", str(d / "out"), "optim.g_lrr=1"],
        "nan-override": lambda w, d: ["suite", str(w.suite), "--out", str(d / "out"), "optim.g_lr=.nan"],
        "budget-override": lambda w, d: ["suite", str(w.suite), "--out", str(d / "out"), "budget=-5s"],
        "device-override": lambda w, d: ["suite", str(w.suite), "--out", str(d / "out"), "device=foo"],
        "out-empty": lambda w, d: ["suite", str(w.suite), "--out", ""],
        "out-is-leaderboard-file": lambda w, d: ["suite", str(w.suite), "--out", str(w.leaderboard),
                                                 "--publish", str(w.root)],
        "out-is-report-file": lambda w, d: ["suite", str(w.suite), "--out", str(w.report)],
    }
    return [Case(f"suite-{name}", "suite", build) for name, build in argvs.items()]


def _metrics_command_cases() -> list[Case]:
    m = ["--protocol", "mnist-classifier"]
    argvs: dict[str, Callable[[World, Path], list[str]]] = {
        "no-input": lambda w, d: ["metrics"],
        "missing-input": lambda w, d: ["metrics", str(d / "nope.npz"), str(w.real_npz), *m],
        "unknown-split": lambda w, d: ["metrics", "mnist:nope", str(w.real_npz), *m],
        "unknown-dataset-split": lambda w, d: ["metrics", "nope:test", str(w.real_npz), *m],
        "bad-metric": lambda w, d: ["metrics", str(w.real_npz), str(w.real_npz), *m, "--metrics", "fid,bogus"],
        "no-metric": lambda w, d: ["metrics", str(w.real_npz), str(w.real_npz), *m, "--metrics", ","],
        "bad-protocol": lambda w, d: ["metrics", str(w.real_npz), str(w.real_npz), "--protocol", "nope"],
        "num-0": lambda w, d: ["metrics", str(w.real_npz), str(w.real_npz), *m, "--num", "0"],
        "num-negative": lambda w, d: ["metrics", str(w.real_npz), str(w.real_npz), *m, "--num", "-3"],
        "num-too-many": lambda w, d: ["metrics", str(w.real_npz), str(w.real_npz), *m, "--num", "100"],
        "num-1": lambda w, d: ["metrics", str(w.real_npz), str(w.real_npz), *m, "--num", "1"],
        "batch-size-0": lambda w, d: ["metrics", str(w.real_npz), str(w.real_npz), *m, "--batch-size", "0"],
        "kid-subsets-0": lambda w, d: ["metrics", str(w.real_npz), str(w.real_npz), *m, "--kid-subsets", "0"],
        "device-foo": lambda w, d: ["metrics", str(w.real_npz), str(w.real_npz), *m, "--device", "foo"],
        "fid-without-reference": lambda w, d: ["metrics", str(w.real_npz), *m],
        "conditional-with-fid": lambda w, d: ["metrics", str(w.real_npz), str(w.real_npz), *m, "--metrics",
                                              "fid,lpips_div", "--lpips-mode", "conditional"],
        "out-empty": lambda w, d: ["metrics", str(w.real_npz), str(w.real_npz), *m, "--out", ""],
        "points-run-as-images": lambda w, d: ["metrics", str(w.run), str(w.real_npz), *m, "--num", "4"],
    }
    return [Case(f"metrics-{name}", "metrics", build) for name, build in argvs.items()]


def _npz_cases(rng: random.Random) -> list[Case]:
    """Malformed .npz inputs, as the generated (INPUT1) and as the reference (INPUT2) side."""

    def content(kind: str, d: Path) -> Path:
        path = d / "bad.npz"
        if kind == "zero-bytes":
            path.write_bytes(b"")
        elif kind == "no-arrays":
            np.savez(path)
        elif kind == "zero-images":
            np.savez(path, x=np.zeros((0, 28, 28), np.uint8))
        elif kind == "one-image":
            np.savez(path, x=np.zeros((1, 28, 28), np.uint8))
        elif kind == "float-images":
            np.savez(path, x=np.zeros((4, 28, 28), np.float32))
        elif kind == "five-channels":
            np.savez(path, x=np.zeros((4, 28, 28, 5), np.uint8))
        elif kind == "two-unnamed-arrays":
            np.savez(path, a=np.zeros((4, 28, 28), np.uint8), b=np.zeros((4, 28, 28), np.uint8))
        elif kind == "object-array":
            arr = np.empty(4, dtype=object)
            np.savez(path, x=arr)
        elif kind == "crafted-pickle":
            path.write_bytes(_crafted_pickle(d / PAYLOAD_MARKER))
        elif kind == "truncated-zip":
            np.savez(path, x=np.zeros((4, 28, 28), np.uint8))
            path.write_bytes(path.read_bytes()[: rng.randrange(10, 60)])
        elif kind == "random-bytes":
            path.write_bytes(bytes(rng.getrandbits(8) for _ in range(200)))
        elif kind == "grouped-5d":
            np.savez(path, x=np.zeros((2, 3, 28, 28, 1), np.uint8))
        return path

    kinds = ["zero-bytes", "no-arrays", "zero-images", "one-image", "float-images", "five-channels",
             "two-unnamed-arrays", "object-array", "crafted-pickle", "truncated-zip", "random-bytes", "grouped-5d"]
    cases = []
    for kind, side in itertools.product(kinds, ["input1", "input2"]):

        def build(w: World, d: Path, kind: str = kind, side: str = side) -> list[str]:
            bad = str(content(kind, d))
            pair = [bad, str(w.real_npz)] if side == "input1" else [str(w.real_npz), bad]
            return ["metrics", *pair, "--protocol", "mnist-classifier", "--metrics", "fid,kid"]

        cases.append(Case(f"npz-{kind}-as-{side}", "metrics", build))
    return cases


def _image_folder_cases() -> list[Case]:
    def folder(kind: str, d: Path) -> Path:
        f = d / "imgs" / "class_a"
        f.mkdir(parents=True)
        if kind == "bomb-200mp":
            (f / "a.png").write_bytes(_png_header(20_000, 10_000))
            (f / "b.png").write_bytes(_png_header(20_000, 10_000))
        elif kind == "bomb-95mp":
            (f / "a.png").write_bytes(_png_header(10_000, 10_000))
            (f / "b.png").write_bytes(_png_header(10_000, 10_000))
        elif kind == "one-image":
            (f / "a.png").write_bytes(_png_header(28, 28))
        elif kind == "not-images":
            (f / "a.png").write_bytes(b"not a png")
            (f / "b.jpg").write_bytes(b"\xff\xd8 nor a jpeg")
        elif kind == "empty":
            pass
        return d / "imgs"

    cases = []
    for kind, cmd in itertools.product(["bomb-200mp", "bomb-95mp", "one-image", "not-images", "empty"],
                                       ["metrics", "train"]):

        def build(w: World, d: Path, kind: str = kind, cmd: str = cmd) -> list[str]:
            path = folder(kind, d)
            if cmd == "metrics":
                return ["metrics", str(path), str(w.real_npz), "--protocol", "mnist-classifier"]
            return ["train", "--variant", "dcgan", "--dataset", "folder", "--budget", "2steps", "--no-progress",
                    "--out", str(d / "new"), f"data.path={path}", "data.cache=false", "batch_size=2"]

        cases.append(Case(f"folder-{kind}-{cmd}", cmd, build))
    return cases


def _run_dir_cases(rng: random.Random) -> list[Case]:
    """A copy of the finished run with a damaged checkpoint or config.yaml (and run.json), read by
    `metrics` and resumed by `train`."""

    def damage(kind: str, w: World, d: Path, resume: bool) -> Path:
        run = d / "run"
        shutil.copytree(w.run, run)
        ckpts = run / "checkpoints"
        if resume:  # an interrupted run: only latest.pt, not done
            (ckpts / "final.pt").unlink()
            (run / "status").write_text("running\n")
            for name in ("summary.json",):
                (run / name).unlink(missing_ok=True)
        target = ckpts / ("latest.pt" if resume else "final.pt")
        raw = target.read_bytes()
        if kind == "ckpt-empty":
            target.write_bytes(b"")
        elif kind == "ckpt-truncated":
            target.write_bytes(raw[: rng.randrange(len(raw) // 4, 3 * len(raw) // 4)])
        elif kind == "ckpt-head-only":
            target.write_bytes(raw[:64])
        elif kind == "ckpt-garbage":
            target.write_bytes(bytes(rng.getrandbits(8) for _ in range(4096)))
        elif kind == "ckpt-crafted-pickle":
            target.write_bytes(_crafted_pickle(d / PAYLOAD_MARKER))
        elif kind == "ckpt-is-directory":
            target.unlink()
            target.mkdir()
        elif kind == "config-bad-yaml":
            (run / "config.yaml").write_text("variant: [gan-ns\n")
        elif kind == "config-not-mapping":
            (run / "config.yaml").write_text("- gan-ns\n")
        elif kind == "config-unknown-key":
            (run / "config.yaml").write_text((run / "config.yaml").read_text() + "bogus_key: 1\n")
        elif kind == "config-not-utf8":
            (run / "config.yaml").write_bytes(b"variant: gan-ns\ndataset: \xff\xfe\n")
        elif kind == "config-alias-bomb":
            (run / "config.yaml").write_text(_alias_bomb())
        elif kind == "config-empty":
            (run / "config.yaml").write_text("")
        if resume and kind.startswith("config-"):
            # the trainer knows a run by run.json and rewrites config.yaml from it: break both
            shutil.copy(run / "config.yaml", run / "run.json")
        return run

    ckpt_kinds = ["ckpt-empty", "ckpt-truncated", "ckpt-head-only", "ckpt-garbage", "ckpt-crafted-pickle",
                  "ckpt-is-directory"]
    config_kinds = ["config-bad-yaml", "config-not-mapping", "config-unknown-key", "config-not-utf8",
                    "config-alias-bomb", "config-empty"]
    cases = []
    for kind, cmd in itertools.product(ckpt_kinds + config_kinds, ["metrics", "train"]):

        def build(w: World, d: Path, kind: str = kind, cmd: str = cmd) -> list[str]:
            if cmd == "metrics":
                run = damage(kind, w, d, resume=False)
                return ["metrics", str(run), str(w.real_npz), "--protocol", "mnist-classifier", "--num", "8"]
            run = damage(kind, w, d, resume=True)
            return [*TRAIN, "--out", str(run)]

        cases.append(Case(f"rundir-{kind}-{cmd}", cmd, build))
    return cases


def _cifar_cases() -> list[Case]:
    def batch(kind: str, d: Path) -> Path:
        folder = d / "data" / "cifar10" / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        good = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}
        payloads: dict[str, bytes] = {
            "crafted-pickle": _crafted_pickle(d / PAYLOAD_MARKER),
            "garbage": b"\x80\x04 not really a pickle",
            "empty": b"",
            "truncated": pickle.dumps(good)[:100],
            "not-a-dict": pickle.dumps([1, 2, 3]),
            "no-data": pickle.dumps({b"labels": [0]}),
            "wrong-shape": pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}),
            "float-data": pickle.dumps({b"data": np.zeros((2, 3072), np.float64), b"labels": [0, 1]}),
            "label-count": pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}),
            "label-text": pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": ["a", "b"]}),
            "label-range": pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 99]}),
        }
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            (folder / name).write_bytes(payloads[kind])
        return d / "data"

    kinds = ["crafted-pickle", "garbage", "empty", "truncated", "not-a-dict", "no-data", "wrong-shape", "float-data",
             "label-count", "label-text", "label-range"]
    cases = []
    for kind, cmd in itertools.product(kinds, ["train", "metrics"]):

        def build(w: World, d: Path, kind: str = kind, cmd: str = cmd) -> list[str]:
            root = batch(kind, d)
            if cmd == "train":
                return ["train", "--variant", "dcgan", "--dataset", "cifar10", "--budget", "2steps", "--no-progress",
                        "--data-root", str(root), "--out", str(d / "new"), "data.verify=false", "data.source=python"]
            (root / "cifar10" / "cifar-10-batches-py" / "data_batch_1").unlink(missing_ok=False)
            return ["metrics", "cifar10:test", str(w.real_npz), "--protocol", "cifar10-classifier", "--data-root",
                    str(root)]

        cases.append(Case(f"cifar-{kind}-{cmd}", cmd, build))
    return cases


def _suite_file_cases() -> list[Case]:
    import yaml

    outside = "__OUTSIDE__"  # replaced by a CSV outside the repo and the suite's folder
    mutations: dict[str, tuple[dict | None, str | None]] = {
        "unknown-key": ({"variantz": ["gan-ns"]}, None),
        "no-variants": ({"variants": []}, None),
        "no-datasets": ({"datasets": []}, None),
        "no-seeds": ({"seeds": []}, None),
        "too-few-seeds": ({"min_seeds": 3}, None),
        "unknown-variant": ({"variants": ["gan-xyz"]}, None),
        "unknown-dataset": ({"datasets": ["ring9"]}, None),
        "bad-budget": ({"budget": "-5s"}, None),
        "zero-budget": ({"budget": "0steps"}, None),
        "bad-run-config": ({"config": {"optim": {"g_lrr": 1}}}, None),
        "nan-run-config": ({"config": {"optim": {"g_lr": float("nan")}}}, None),
        "huge-seed": ({"seeds": [2**40]}, None),
        "per-variant-not-in-suite": ({"per_variant": {"lsgan": {}}}, None),
        "name-dotdot": ({"name": "../x"}, None),
        "name-dotdot-deep": ({"name": "../../../../tmp/x"}, None),
        "name-absolute": ({"name": "/tmp/gan_bench_fuzz_x"}, None),
        "name-slash": ({"name": "a/b"}, None),
        "name-empty": ({"name": ""}, None),
        "name-dot": ({"name": ".."}, None),
        "references-outside-absolute": ({"references": [outside]}, None),
        "references-outside-relative": ({"references": ["../../" + "outside.csv"]}, None),
        "references-etc-passwd": ({"references": ["/etc/passwd"]}, None),
        "references-missing": ({"references": ["nope.csv"]}, None),
        "name-missing": (None, "name"),
        "variants-missing": (None, "variants"),
        "budget-missing": (None, "budget"),
    }
    raw_files = {"not-mapping": b"- a\n- b\n", "not-utf8": b"name: caf\xe9\n", "alias-bomb": _alias_bomb().encode(),
                 "empty": b"", "bad-yaml": b"name: [fuzz\n"}
    cases = []
    for name, (update, drop) in mutations.items():

        def build(w: World, d: Path, update: dict | None = update, drop: str | None = drop) -> list[str]:
            suite = {**SUITE_BASE, **(update or {})}
            if drop:
                del suite[drop]
            if suite.get("references") == [outside]:
                (d / "outside.csv").write_text("variant,dataset,modes\nx,ring8,8\n")
                suite["references"] = [str(d / "outside.csv")]
            (d / "sub" / "deeper").mkdir(parents=True)
            (d / "outside.csv").write_text("variant,dataset,modes\nx,ring8,8\n")
            path = d / "sub" / "deeper" / "suite.yaml"
            path.write_text(yaml.safe_dump(suite))
            return ["suite", str(path), "--out", str(d / "out"), "--publish", str(w.root), "--no-progress"]

        cases.append(Case(f"suitefile-{name}", "suite", build))
    for name, content in raw_files.items():

        def build_raw(w: World, d: Path, content: bytes = content) -> list[str]:
            (d / "suite.yaml").write_bytes(content)
            return ["suite", str(d / "suite.yaml"), "--out", str(d / "out"), "--publish", str(w.root)]

        cases.append(Case(f"suitefile-{name}", "suite", build_raw))
    return cases


def _hold_lock(folder: Path) -> None:
    """Hold ``folder/.lock`` the way another gan-bench process would (flock conflicts between two
    open files even within one process); released after the case."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, b"pid 99999 on fuzz-host (gan-bench train: fuzz)\n")
    _HELD_LOCKS.append(fd)


def _lock_cases() -> list[Case]:
    def locked_run(w: World, d: Path) -> list[str]:
        shutil.copytree(w.run, d / "run")
        (d / "run" / "checkpoints" / "final.pt").unlink()
        (d / "run" / "status").write_text("running\n")
        _hold_lock(d / "run")
        return [*TRAIN, "--out", str(d / "run")]

    def locked_new_run(w: World, d: Path) -> list[str]:
        _hold_lock(d / "new")
        return [*TRAIN, "--out", str(d / "new")]

    def locked_suite(w: World, d: Path) -> list[str]:
        _hold_lock(d / "out")
        return ["suite", str(w.suite), "--out", str(d / "out"), "--publish", str(w.root), "--no-progress"]

    return [Case("lock-run-in-use", "train", locked_run), Case("lock-new-run-in-use", "train", locked_new_run),
            Case("lock-suite-in-use", "suite", locked_suite)]


def generate_cases() -> list[Case]:
    """Every case, in a fixed order (the generator is seeded)."""
    rng = random.Random(SEED)
    cases = (_config_cases(rng) + _train_command_cases() + _suite_command_cases() + _metrics_command_cases()
             + _npz_cases(rng) + _image_folder_cases() + _run_dir_cases(rng) + _cifar_cases() + _suite_file_cases()
             + _lock_cases())
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return cases


CASES = generate_cases()


def test_there_are_at_least_200_cases() -> None:
    assert len(CASES) >= 200


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(reason=c.xfail, strict=False)] if c.xfail else []) for c in CASES],
)
def test_malformed_input_is_one_line_exit_2(case: Case, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # an output that wrongly lands in "." lands here
    monkeypatch.setenv("GAN_BENCH_OFFLINE", "1")
    monkeypatch.setenv("GAN_BENCH_METRICS_CACHE", str(tmp_path / "feature_cache"))
    before = _snapshot(world.guarded())
    argv = case.build(world, tmp_path)
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    finally:
        while _HELD_LOCKS:
            os.close(_HELD_LOCKS.pop())
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert "Traceback" not in err
    assert code == 2, f"exit {code}; stderr: {err[-500:]}"
    prefix = f"gan-bench {case.cmd}: error:"
    assert lines and lines[-1].startswith(prefix) and lines[-1][len(prefix):].strip(), err
    assert len(lines) == 1 or lines[0].startswith("usage:"), err  # argparse prints its usage first
    assert _snapshot(world.guarded()) == before, "an existing file of a run, leaderboard or report changed"
    assert not (tmp_path / PAYLOAD_MARKER).exists(), "a crafted pickle ran"
