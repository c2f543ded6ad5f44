"""``gan-bench train-classifier``: train the small offline classifier behind a ``*-classifier`` protocol."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

NAME = "train-classifier"
HELP = "train the offline feature classifier of a dataset (mnist, fashion_mnist, cifar10, utkface)"
DESCRIPTION = """\
Train the small CNN whose penultimate features define the offline domain metrics
(`gan-bench metrics --protocol mnist-classifier`, and the Stacked MNIST mode count) for DATASET:

  mnist          digits, 10 classes (the shipped weights reach >= 99% test accuracy)
  fashion_mnist  clothing types, 10 classes
  cifar10        object classes, trained on the 10k-image training subset in the data folder
  utkface        Age-cGAN age groups 0-18, 19-29, 30-39, 40-49, 50-59, 60+ of the 64x64 faces of
                 `utkface:train`, split 80/20 by a hash of each file name

Training is reproducible: fixed seed, deterministic algorithms, seeded data order and augmentation
(same torch version and --threads give the same file). Writes DATASET's <protocol>.safetensors and
<protocol>.json (sha256, test accuracy, seed, recipe and this command) into --out. The package
ships the files made by `gan-bench train-classifier DATASET --out gan_bench/weights`.
Exit code 1 when the test accuracy is below the dataset's bar (MNIST: 0.99).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", metavar="DATASET", choices=("mnist", "fashion_mnist", "cifar10", "utkface"), help="mnist, fashion_mnist, cifar10 or utkface")
    parser.add_argument("--data-root", metavar="DIR", help="dataset root (default: $GAN_BENCH_DATA or ~/.cache/gan_bench/data)")
    parser.add_argument("--out", metavar="DIR", help="output folder (default: $GAN_BENCH_WEIGHTS_DIR, else the current folder)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default: the dataset's recipe)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (recorded; fix it to reproduce a file)")


def run(args: argparse.Namespace) -> int:
    import torch

    from gan_bench.metrics.classifiers import classifier_spec, load_classifier_data, save_classifier, train_classifier
    from gan_bench.metrics.errors import MetricsInputError

    if args.epochs is not None and args.epochs < 1:
        raise MetricsInputError("--epochs must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = classifier_spec(args.dataset)
    out = Path(args.out or os.environ.get("GAN_BENCH_WEIGHTS_DIR") or ".").expanduser()
    data = load_classifier_data(spec, args.data_root)
    print(f"training {spec.protocol} on {data.x_train.shape[0]} images, testing on {data.x_test.shape[0]}", file=sys.stderr)
    model, report = train_classifier(spec, data, seed=args.seed, epochs=args.epochs, progress=lambda m: print(m, file=sys.stderr))
    report["command"] = "gan-bench " + " ".join(shlex.quote(a) for a in sys.argv[sys.argv.index(NAME):]) if NAME in sys.argv else f"gan-bench {NAME} {args.dataset} --seed {args.seed}"
    path = save_classifier(model, spec, out, report)
    acc = report["test_accuracy"]
    print(f"wrote {path} (test accuracy {acc:.4f})")
    if acc < spec.min_accuracy:
        print(f"test accuracy {acc:.4f} is below the {spec.dataset} bar {spec.min_accuracy}", file=sys.stderr)
        return 1
    return 0
