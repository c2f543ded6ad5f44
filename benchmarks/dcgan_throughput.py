"""DCGAN on MNIST: gan_bench's training loop against a plain single-file PyTorch loop.

Both sides train the same nets (gan_bench's ``dcgan`` architecture at 28 px, built by the same
constructor from the same seed) with Adam(2e-4, 0.5, 0.999), the non-saturating GAN loss and batch
64, and are timed in the same process over the same number of steps after a warm-up:

(a) ``gan_bench``: ``Trainer.run`` on ``--variant dcgan --dataset mnist`` (data held on the device as
    one uint8 tensor, ``EpochSampler`` indices, ``variant.step``); steps are timed through the
    trainer's ``on_step`` hook, so the rate includes everything the loop does per step (sampling,
    batch conversion, logging, the per-step divergence check) but not the final evaluation.
(b) ``plain``: the loop most reference GAN scripts use (pytorch/examples ``dcgan/main.py``): a
    ``Dataset`` whose ``__getitem__`` returns one normalised float image, a shuffling
    ``DataLoader(batch_size=64)``, ``zero_grad / backward / step`` with ``BCEWithLogitsLoss``,
    the fake batch reused for the generator step, and a ``.item()`` log line every 50 steps.

The two sides alternate ``--repeats`` times and the median rate of each is reported, which keeps
the comparison fair when other processes share the CPU.

    python benchmarks/dcgan_throughput.py --steps 200 --threads 1 --matrix
    python benchmarks/dcgan_throughput.py --device cuda --steps 1000 --amp --channels-last
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from gan_bench.config import RunConfig
from gan_bench.data.base import DataSpec, data_root
from gan_bench.data.idx import MNIST, read_split
from gan_bench.nets.dcgan import DCGAN, DCGANOptions
from gan_bench.train.environment import cpu_has_bf16
from gan_bench.train.resolve import resolve
from gan_bench.train.trainer import Trainer

LOG_EVERY = 50  # the reference scripts print losses (one .item() per loss) this often


@dataclass
class Measurement:
    """Steps per second of one side over ``steps`` timed steps, one entry per repeat."""

    name: str
    steps: int
    rates: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------- (a) gan_bench


@dataclass(frozen=True)
class Setting:
    """One gan_bench configuration to time: bfloat16 autocast and/or channels_last."""

    amp: bool = False
    channels_last: bool = False

    @property
    def label(self) -> str:
        parts = (["amp=true"] if self.amp else []) + (["channels_last=true"] if self.channels_last else [])
        return "gan_bench " + (" ".join(parts) if parts else "(defaults, fp32)")


#: ``--matrix``: the defaults, channels_last alone, and the AMP + channels_last setting of the issue's GPU target.
MATRIX = (Setting(), Setting(channels_last=True), Setting(amp=True, channels_last=True))


def _trainer_overrides(args: argparse.Namespace, setting: Setting) -> tuple[list[str], list[str]]:
    """``key=value`` overrides for the gan_bench run, and notes on options the trainer lacks."""
    overrides = [
        f"batch_size={args.batch_size}",
        f"z_dim={args.z_dim}",
        f"net.width={args.width}",
        "eval.num_samples=64",  # the final evaluation is outside the timed window; keep it short
        "eval.every=0",
        f"checkpoint_every={10**9}",  # the plain loop writes no checkpoints either
        f"log_every={LOG_EVERY}",
    ]
    notes = []
    fields = RunConfig.__dataclass_fields__
    for on, key in ((setting.amp, "amp"), (setting.channels_last, "channels_last")):
        if not on:
            continue
        if key in fields:
            overrides.append(f"{key}=true")
        else:
            notes.append(f"gan_bench's RunConfig has no '{key}' option: measured without it")
    return overrides, notes


def time_gan_bench(args: argparse.Namespace, setting: Setting, device: torch.device, out_root: Path,
                   tag: str) -> tuple[float, list[str]]:
    """Steps per second of ``Trainer.run`` over ``args.steps`` steps after ``args.warmup``."""
    overrides, notes = _trainer_overrides(args, setting)
    flags = {"variant": "dcgan", "dataset": "mnist", "arch": "dcgan", "seed": args.seed,
             "budget": f"{args.warmup + args.steps}steps", "device": device.type, "data_root": args.data_root}
    resolved = resolve(flags=flags, overrides=overrides)
    stamps: dict[int, float] = {}

    def on_step(step: int, variant: object) -> None:
        if step in (args.warmup, args.warmup + args.steps):
            _sync(device)
            stamps[step] = time.perf_counter()

    result = Trainer(resolved, out_root / f"gan_bench_{tag}", progress=False, on_step=on_step).run()
    if result.status != "done":
        raise RuntimeError(f"gan_bench run ended with status {result.status!r}")
    return args.steps / (stamps[args.warmup + args.steps] - stamps[args.warmup]), notes


# --------------------------------------------------------------------------- (b) the plain loop


class MnistItems(Dataset):
    """MNIST the way reference scripts read it: one normalised float image per ``__getitem__``.

    ``tensor``: uint8 array -> float in [0, 1] -> Normalize((0.5,), (0.5,)), torchvision-free.
    ``pil``: PIL image -> ``transforms.ToTensor()`` -> ``transforms.Normalize``, exactly what
    ``torchvision.datasets.MNIST`` with the usual transform does per item.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, item: str = "tensor") -> None:
        # np.array: a writable copy, as a reference script's own arrays would be
        self.images, self.labels, self.item = np.array(images), np.array(labels), item
        if item == "pil":
            from PIL import Image
            from torchvision import transforms

            self._to_pil = Image.fromarray
            self._transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if self.item == "pil":
            return self._transform(self._to_pil(self.images[i], mode="L")), int(self.labels[i])
        x = torch.from_numpy(self.images[i]).float().div(255.0).unsqueeze(0)
        return (x - 0.5) / 0.5, int(self.labels[i])


def build_plain_nets(args: argparse.Namespace, device: torch.device) -> tuple[nn.Module, nn.Module]:
    """G and D exactly as gan_bench builds them for this run (same constructor, same seed)."""
    torch.manual_seed(args.seed)
    arch = DCGAN(DataSpec(shape=(1, 28, 28), kind="image"), DCGANOptions(width=args.width))
    return arch.generator(args.z_dim).to(device), arch.discriminator(out_dim=1).to(device)


def time_plain(args: argparse.Namespace, device: torch.device, images: np.ndarray, labels: np.ndarray) -> float:
    """Steps per second of the reference-style loop over ``args.steps`` steps after ``args.warmup``."""
    netG, netD = build_plain_nets(args, device)
    criterion = nn.BCEWithLogitsLoss()
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loader = DataLoader(MnistItems(images, labels, args.item), batch_size=args.batch_size, shuffle=True,
                        num_workers=args.num_workers, drop_last=True, pin_memory=device.type == "cuda",
                        persistent_workers=args.num_workers > 0)
    total = args.warmup + args.steps
    step, start = 0, 0.0
    while step < total:
        for real, _ in loader:
            real = real.to(device, non_blocking=True)
            b = real.size(0)
            # (1) update D: maximise log D(x) + log(1 - D(G(z)))
            netD.zero_grad()
            label = torch.full((b,), 1.0, device=device)
            errD_real = criterion(netD(real).view(-1), label)
            errD_real.backward()
            noise = torch.randn(b, args.z_dim, device=device)
            fake = netG(noise)
            label.fill_(0.0)
            errD_fake = criterion(netD(fake.detach()).view(-1), label)
            errD_fake.backward()
            optD.step()
            # (2) update G: maximise log D(G(z))
            netG.zero_grad()
            label.fill_(1.0)
            errG = criterion(netD(fake).view(-1), label)
            errG.backward()
            optG.step()
            step += 1
            if step % LOG_EVERY == 0:
                _ = (errD_real.item() + errD_fake.item(), errG.item())
            if step == args.warmup:
                _sync(device)
                start = time.perf_counter()
            if step == total:
                break
    _sync(device)
    return args.steps / (time.perf_counter() - start)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--steps", type=int, default=200, help="timed steps per repeat (default 200)")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps first (default 20)")
    p.add_argument("--repeats", type=int, default=3, help="alternating repeats of both sides; medians are reported")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--z-dim", type=int, default=64, help="latent size (gan_bench's default, 64)")
    p.add_argument("--width", type=int, default=64, help="ngf = ndf of the DCGAN nets (default 64)")
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader workers of the plain loop (0 or 2)")
    p.add_argument("--item", default="tensor", choices=["tensor", "pil"],
                   help="per-item transform of the plain loop's Dataset (pil needs torchvision)")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = leave torch's default)")
    p.add_argument("--amp", action="store_true", help="gan_bench with amp=true (bfloat16 autocast)")
    p.add_argument("--channels-last", action="store_true", help="gan_bench with channels_last=true")
    p.add_argument("--matrix", action="store_true",
                   help="time gan_bench in three settings (defaults; channels_last; amp + channels_last) against "
                        "the same plain loop, alternating; ignores --amp/--channels-last")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-root", default=None, help="default: $GAN_BENCH_DATA, else ~/.cache/gan_bench/data")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("dcgan_throughput: --device cuda but CUDA is not available", file=sys.stderr)
        return 2
    images, labels, _ = read_split(data_root(args.data_root), MNIST, "train")

    settings = MATRIX if args.matrix else (Setting(args.amp, args.channels_last),)
    ours = [Measurement(st.label, args.steps) for st in settings]
    plain = Measurement(f"plain (DataLoader, num_workers={args.num_workers}, item={args.item})", args.steps)
    with tempfile.TemporaryDirectory(prefix="dcgan_throughput_") as tmp:
        for r in range(args.repeats):
            for st, m in zip(settings, ours):
                rate, m.notes = time_gan_bench(args, st, device, Path(tmp), f"{r}_{len(m.rates)}_{id(m)}")
                m.rates.append(rate)
            plain.rates.append(time_plain(args, device, images, labels))
            rates = ", ".join(f"{m.name} {m.rates[-1]:.2f}" for m in ours)
            print(f"repeat {r + 1}/{args.repeats}: {rates}, plain {plain.rates[-1]:.2f} steps/s", flush=True)

    print(f"device={device.type} threads={torch.get_num_threads()} batch={args.batch_size} width={args.width} "
          f"z_dim={args.z_dim} steps={args.steps} (+{args.warmup} warm-up) repeats={args.repeats} torch={torch.__version__}")
    for m in (*ours, plain):
        print(f"  {m.name:<52s} {m.median:8.2f} steps/s  (repeats: {', '.join(f'{x:.2f}' for x in m.rates)})")
    for m in ours:
        print(f"  ratio {m.name} / plain: {m.median / plain.median:.2f}x")
    for note in dict.fromkeys(n for m in ours for n in m.notes):
        print(f"  note: {note}")
    if args.json:
        record: dict[str, Any] = {
            "args": vars(args), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cpu_count": os.cpu_count(), "cpu_bf16": cpu_has_bf16(),
            "gan_bench": [{**asdict(m), "median": m.median, "ratio": m.median / plain.median} for m in ours],
            "plain": {**asdict(plain), "median": plain.median},
        }
        Path(args.json).write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
