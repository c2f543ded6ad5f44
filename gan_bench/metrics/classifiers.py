"""Small image classifiers that gan_bench trains itself, so every dataset here has an offline score.

No FID Inception weights can be assumed on an offline machine, so each real dataset gets a small
CNN trained reproducibly by ``gan-bench train-classifier DATASET`` (fixed seed, deterministic
algorithms, fixed data order). Its penultimate layer is the feature space of a *domain* FID/KID
(``protocol: mnist-classifier`` and so on): a different number from Inception FID, always reported
under its own protocol name. The MNIST one also classifies each channel of Stacked MNIST samples
for the VEEGAN/PacGAN mode count.

Weights are stored as safetensors with the architecture config in the file's metadata, so loading
never unpickles anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from gan_bench.atomic import write_bytes as atomic_write_bytes
from gan_bench.metrics.errors import MetricsInputError

log = logging.getLogger(__name__)

WEIGHTS_FORMAT = "gan_bench-classifier/1"
UTKFACE_AGE_GROUPS = ("0-18", "19-29", "30-39", "40-49", "50-59", "60+")  # Age-cGAN's, as data/utkface.py


@dataclass(frozen=True)
class ClassifierSpec:
    """One classifier: the data it is trained on, its architecture and its training recipe."""

    protocol: str  # also the weight key and file stem: "mnist-classifier"
    dataset: str  # gan_bench dataset name, the argument of `gan-bench train-classifier`
    task: str
    in_channels: int
    image_size: int
    classes: tuple[str, ...]
    blocks: tuple[tuple[int, ...], ...]  # conv widths per stage; each stage ends with a 2x2 max-pool
    feat_dim: int
    head: str  # "flatten" or "gap": how the last stage becomes a vector
    epochs: int
    batch_size: int
    lr: float
    augment: tuple[str, ...] = ()  # "flip", "crop"
    min_accuracy: float = 0.0  # the bar `train-classifier` checks (MNIST: 0.99)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def weights_filename(self) -> str:
        return f"{self.protocol}.safetensors"

    def arch_config(self) -> dict[str, Any]:
        """What the network is made of; stored in the weights file and enough to rebuild it."""
        return {
            "in_channels": self.in_channels,
            "image_size": self.image_size,
            "blocks": [list(b) for b in self.blocks],
            "feat_dim": self.feat_dim,
            "num_classes": self.num_classes,
            "head": self.head,
        }


_DIGITS = tuple(str(i) for i in range(10))
CLASSIFIERS: dict[str, ClassifierSpec] = {
    s.protocol: s
    for s in (
        ClassifierSpec(
            protocol="mnist-classifier",
            dataset="mnist",
            task="digit, 10 classes",
            in_channels=1,
            image_size=28,
            classes=_DIGITS,
            blocks=((16,), (32, 32), (64, 64)),
            feat_dim=128,
            head="flatten",
            epochs=3,
            batch_size=128,
            lr=3e-3,
            augment=(),
            min_accuracy=0.99,
        ),
        ClassifierSpec(
            protocol="fashion-mnist-classifier",
            dataset="fashion_mnist",
            task="clothing type, 10 classes",
            in_channels=1,
            image_size=28,
            classes=("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"),
            blocks=((16,), (32, 32), (64, 64)),
            feat_dim=128,
            head="flatten",
            epochs=3,
            batch_size=128,
            lr=3e-3,
            augment=(),
        ),
        ClassifierSpec(
            protocol="cifar10-classifier",
            dataset="cifar10",
            task="object class, 10 classes",
            in_channels=3,
            image_size=32,
            classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
            blocks=((32,), (64,), (128,)),
            feat_dim=128,
            head="gap",
            epochs=15,
            batch_size=128,
            lr=3e-3,
            augment=("flip", "crop"),
        ),
        ClassifierSpec(
            protocol="utkface-classifier",
            dataset="utkface",
            task="age group, 6 classes (" + ", ".join(UTKFACE_AGE_GROUPS) + ")",
            in_channels=3,
            image_size=64,
            classes=UTKFACE_AGE_GROUPS,
            blocks=((16,), (32,), (64,), (128,)),
            feat_dim=128,
            head="gap",
            epochs=10,
            batch_size=128,
            lr=3e-3,
            augment=("flip", "crop"),
        ),
    )
}


def classifier_spec(name: str) -> ClassifierSpec:
    """The spec for a protocol (``mnist-classifier``) or a dataset name (``mnist``)."""
    for s in CLASSIFIERS.values():
        if name in (s.protocol, s.dataset):
            return s
    names = ", ".join(s.dataset for s in CLASSIFIERS.values())
    raise MetricsInputError(f"no classifier for {name!r}; choose one of: {names}")


# --------------------------------------------------------------------------- the network


class SmallCNN(nn.Module):
    """conv3x3-BN-ReLU stages with 2x2 max-pools, a ``feat_dim`` penultimate layer, a linear head.

    Inputs are float images in [-1, 1] of the configured size and channel count.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.config = dict(config)
        layers: list[nn.Module] = []
        ch = int(config["in_channels"])
        size = int(config["image_size"])
        for stage in config["blocks"]:
            for width in stage:
                layers += [nn.Conv2d(ch, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
                ch = width
            layers.append(nn.MaxPool2d(2))
            size //= 2
        self.trunk = nn.Sequential(*layers)
        flat = ch * size * size if config["head"] == "flatten" else ch
        self.fc = nn.Linear(flat, int(config["feat_dim"]))
        self.dropout = nn.Dropout(0.3)
        self.out = nn.Linear(int(config["feat_dim"]), int(config["num_classes"]))

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(penultimate features after ReLU, logits) for images in [-1, 1]."""
        h = self.trunk(x)
        h = h.flatten(1) if self.config["head"] == "flatten" else h.mean(dim=(2, 3))
        feat = F.relu(self.fc(h))
        return feat, self.out(self.dropout(feat))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[1]


def to_model_input(x: torch.Tensor, in_channels: int, image_size: int) -> torch.Tensor:
    """uint8 NCHW images -> float in [-1, 1] with the classifier's channels and size.

    Gray inputs are repeated to 3 channels; RGB inputs to a 1-channel classifier must be gray
    (equal channels), and their first channel is used. Other sizes are resized bilinearly with
    antialiasing.
    """
    if x.shape[1] == in_channels:
        pass
    elif x.shape[1] == 1 and in_channels == 3:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] == 3 and in_channels == 1:
        if not (torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])):
            raise MetricsInputError(
                "this classifier reads grayscale images but the input has colour (unequal RGB channels)"
            )
        x = x[:, :1]
    else:
        raise MetricsInputError(f"cannot feed {x.shape[1]}-channel images to a {in_channels}-channel classifier")
    y = x.float().div(127.5).sub(1.0)
    if y.shape[-1] != image_size or y.shape[-2] != image_size:
        y = F.interpolate(y, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True)
    return y


# --------------------------------------------------------------------------- saving / loading


def save_classifier(model: SmallCNN, spec: ClassifierSpec, out_dir: Path, report: dict[str, Any]) -> Path:
    """Write ``<protocol>.safetensors`` and ``<protocol>.json`` (sha256, accuracy, seed, command) atomically."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    # One metadata entry holding sorted JSON: safetensors writes several entries in hash-map order,
    # which would make the file's sha256 differ between identical trainings.
    info = {"format": WEIGHTS_FORMAT, "protocol": spec.protocol, "config": model.config}
    blob = save(state, metadata={"gan_bench": json.dumps(info, sort_keys=True)})
    path = out_dir / spec.weights_filename
    atomic_write_bytes(path, blob)
    record = {
        "protocol": spec.protocol,
        "dataset": spec.dataset,
        "task": spec.task,
        "classes": list(spec.classes),
        "file": path.name,
        "sha256": hashlib.sha256(blob).hexdigest(),
        "bytes": len(blob),
        "arch": model.config,
        **report,
    }
    atomic_write_bytes(out_dir / f"{spec.protocol}.json", (json.dumps(record, indent=2) + "\n").encode())
    return path


def load_classifier(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> SmallCNN:
    """A :class:`SmallCNN` from a safetensors file written by :func:`save_classifier` (no pickle)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            info = json.loads((f.metadata() or {}).get("gan_bench", "{}"))
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (OSError, SafetensorError, ValueError) as exc:
        raise MetricsInputError(f"cannot read classifier weights {path}: {exc}") from None
    if info.get("format") != WEIGHTS_FORMAT:
        raise MetricsInputError(f"{path} is not a gan_bench classifier file (format {info.get('format')!r})")
    model = SmallCNN(info["config"])
    model.load_state_dict(state)
    return model.to(device).eval().requires_grad_(False)


# --------------------------------------------------------------------------- training data


@dataclass
class ClassifierData:
    """uint8 NCHW images and integer labels of a train and a test split."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    source: dict[str, Any] = field(default_factory=dict)


def _utkface_is_test(filename: str) -> bool:
    # A split by file-name hash is fixed forever and independent of file order: 20% test.
    return int(hashlib.sha1(filename.encode()).hexdigest()[:8], 16) % 5 == 0


def split_utkface(ds: Any) -> ClassifierData:
    """UTKFace (one 'train' split in gan_bench) cut 80/20 by a hash of each file name."""
    names = ds.meta.get("filenames")
    if names is None or ds.y is None:
        raise MetricsInputError("the utkface loader gave no file names or labels to split on")
    test = torch.tensor([_utkface_is_test(n) for n in names])
    x, y = ds.x.cpu(), ds.y.cpu().long()
    return ClassifierData(x[~test], y[~test], x[test], y[test], {"train": "utkface:train (80%, sha1 of file name)", "test": "the other 20%"})


def load_classifier_data(spec: ClassifierSpec, data_root: str | os.PathLike[str] | None = None) -> ClassifierData:
    """Train/test data for ``spec`` from the registered dataset loaders (UTKFace: age groups, 80/20)."""
    from gan_bench.data.base import load_dataset

    if spec.dataset == "utkface":
        ds = load_dataset("utkface", "train", data_root, {"age_bins": True, "image_size": spec.image_size})
        return split_utkface(ds)
    parts = {}
    for split in ("train", "test"):
        ds = load_dataset(spec.dataset, split, data_root)
        if ds.y is None:
            raise MetricsInputError(f"{spec.dataset}:{split} has no labels to train a classifier on")
        parts[split] = (ds.x.cpu(), ds.y.cpu().long())
    return ClassifierData(*parts["train"], *parts["test"], {"train": f"{spec.dataset}:train", "test": f"{spec.dataset}:test"})


# --------------------------------------------------------------------------- training


def _augment(x: torch.Tensor, spec: ClassifierSpec, gen: torch.Generator) -> torch.Tensor:
    if "flip" in spec.augment:
        flip = torch.rand(x.shape[0], generator=gen) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if "crop" in spec.augment:  # random translation by up to 4 px with reflection padding
        pad = 4
        padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
        dx, dy = torch.randint(0, 2 * pad + 1, (2,), generator=gen).tolist()
        x = padded[:, :, dy : dy + x.shape[2], dx : dx + x.shape[3]]
    return x


@torch.no_grad()
def evaluate(model: SmallCNN, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Top-1 accuracy of ``model`` on uint8 images ``x`` with labels ``y``."""
    model.eval()
    cfg = model.config
    correct = 0
    for i in range(0, x.shape[0], batch_size):
        inp = to_model_input(x[i : i + batch_size], cfg["in_channels"], cfg["image_size"])
        correct += int((model(inp).argmax(1) == y[i : i + batch_size]).sum())
    return correct / max(1, x.shape[0])


def train_classifier(
    spec: ClassifierSpec,
    data: ClassifierData,
    seed: int = 0,
    epochs: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[SmallCNN, dict[str, Any]]:
    """Train ``spec``'s network on ``data`` reproducibly; returns the model and a report.

    Reproducible = same seed, data, torch version and thread count give the same weights:
    initialisation, shuffling and augmentation draw from seeded generators and torch runs in
    deterministic-algorithms mode. AdamW with a one-cycle schedule, cross-entropy.
    """
    epochs = epochs or spec.epochs
    say = progress or (lambda msg: log.info("%s", msg))
    prev_det = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        # channels-last is ~30% faster for these convolutions on CPU and changes no result's meaning
        model = SmallCNN(spec.arch_config()).to(memory_format=torch.channels_last)
        n = data.x_train.shape[0]
        steps_per_epoch = math.ceil(n / spec.batch_size)
        opt = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=5e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=spec.lr, total_steps=epochs * steps_per_epoch)
        t0 = time.time()
        for epoch in range(epochs):
            model.train()
            perm = torch.randperm(n, generator=gen)
            total = 0.0
            for i in range(0, n, spec.batch_size):
                idx = perm[i : i + spec.batch_size]
                x = to_model_input(data.x_train[idx], spec.in_channels, spec.image_size)
                x = _augment(x, spec, gen).contiguous(memory_format=torch.channels_last)
                loss = F.cross_entropy(model(x), data.y_train[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() * idx.numel()
            acc = evaluate(model, data.x_test, data.y_test)
            say(f"epoch {epoch + 1}/{epochs}: train loss {total / n:.4f}, test accuracy {acc:.4f} ({time.time() - t0:.0f}s)")
    finally:
        torch.use_deterministic_algorithms(prev_det)
    report = {
        "test_accuracy": round(acc, 6),
        "train_accuracy": round(evaluate(model, data.x_train, data.y_train), 6),
        "seed": seed,
        "epochs": epochs,
        "recipe": {
            "optimizer": "AdamW(weight_decay=5e-4), OneCycleLR",
            "max_lr": spec.lr,
            "batch_size": spec.batch_size,
            "augment": list(spec.augment),
        },
        "num_train": int(n),
        "num_test": int(data.x_test.shape[0]),
        "data": data.source,
        "train_seconds": round(time.time() - t0, 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    return model.to(memory_format=torch.contiguous_format).eval(), report


def spec_dict(spec: ClassifierSpec) -> dict[str, Any]:
    """The spec as plain data (for ``--json`` listings)."""
    return asdict(spec)
