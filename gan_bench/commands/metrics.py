"""``gan-bench metrics``: image metrics for one or two inputs under one protocol."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "metrics"
HELP = "FID, KID, IS, precision/recall, density/coverage, LPIPS diversity, Stacked MNIST modes, class-conditional scores"
DESCRIPTION = """\
Score INPUT1 (generated samples) against INPUT2 (the real reference) under one protocol.

An INPUT is an image folder, an .npz of uint8 NHWC images (`x`, with optional class labels `y`), a
dataset split (mnist:test, labelled), or a run directory of `gan-bench train` (samples are drawn
from its generator and streamed in batches, never written to disk; `run:PATH` forces that
reading; a class-conditional run's samples are class-balanced and carry their labels).

Protocols (numbers of two protocols are never comparable):
  legacy-tf             torch-fidelity: TF-compatible Inception-v3, TF1 bilinear resize to 299,
                        2048-d pool features; IS on 1008 logits over 10 splits;
                        KID 100 subsets x 1000, cubic polynomial kernel
  clean                 clean-fid: PIL bicubic resize, StyleGAN2-ADA TorchScript Inception
  mnist-classifier      gan_bench's shipped MNIST classifier (offline domain FID/KID; Stacked
                        MNIST modes); likewise fashion-mnist-classifier, cifar10-classifier,
                        utkface-classifier

Metrics (--metrics, comma separated):
  fid        -> fid                       kid   -> kid_mean, kid_std
  is         -> is_mean, is_std (legacy-tf, INPUT1 only)
  prc        -> precision, recall (k=3)   dc    -> density, coverage (k=5)
  lpips_div  -> lpips_diversity (INPUT1 only; net alex, LPIPS v0.1)
  modes      -> modes, kl_to_uniform (Stacked MNIST, mnist-classifier, INPUT1 only)
class-conditional (INPUT1 a conditional run or labelled .npz; INPUT2 a labelled split):
  class_acc  -> class_acc: the protocol's classifier recognises the asked-for label (*-classifier)
  fid_intra  -> fid_intra: FID per class against INPUT2's examples of that class, averaged
  kid_intra  -> kid_intra: the same with KID
  lpips_class -> lpips_class: LPIPS diversity within each class (--lpips-pairs per class), averaged

Weights come from --weights-dir, then $GAN_BENCH_WEIGHTS_DIR, then the torch hub cache, and are
downloaded only where the network allows (never with --offline or $GAN_BENCH_OFFLINE=1); a missing
file is a one-line error naming it, its sha256, its URL and the folder to put it in (exit 2).
See `gan-bench weights`.

examples:
  gan-bench metrics samples/ mnist:test --protocol mnist-classifier --metrics fid,kid,prc,dc --json
  gan-bench metrics runs/wgan-gp-cifar10 cifar10:test --metrics fid,kid,is --num 10000
  gan-bench metrics fake.npz real.npz --protocol clean --metrics fid,kid
  gan-bench metrics runs/cgan-mnist mnist:test --protocol mnist-classifier --metrics class_acc,fid_intra,kid_intra,lpips_class
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from gan_bench.metrics.family import PROTOCOLS, MetricOptions

    d = MetricOptions()
    parser.add_argument("input1", metavar="INPUT1", help="evaluated images: folder, .npz, NAME:SPLIT or run directory")
    parser.add_argument("input2", metavar="INPUT2", nargs="?", help="real reference images (needed by fid, kid, prc, dc)")
    parser.add_argument("--metrics", default="fid", help="comma-separated metrics (default: fid)")
    parser.add_argument("--protocol", default="legacy-tf", choices=PROTOCOLS, help="feature protocol (default: legacy-tf)")
    parser.add_argument("--num", type=int, default=None, metavar="N", help="use the first N images of each input; samples drawn from a run (default 10000, 26000 for modes)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--out", metavar="FILE", help="also write the JSON result to FILE (atomically)")

    w = parser.add_argument_group("weights")
    w.add_argument("--weights-dir", metavar="DIR", help="folder searched first for weight files")
    w.add_argument("--inception-weights", metavar="FILE", help="use this Inception file (torch-fidelity .pth for legacy-tf, TorchScript for clean); its sha256 is recorded")
    w.add_argument("--classifier-weights", metavar="FILE", help="use this gan_bench classifier .safetensors for a *-classifier protocol")
    w.add_argument("--offline", action="store_true", help="never download; a missing weight is an error")

    r = parser.add_argument_group("running")
    r.add_argument("--device", default="auto", help="cpu, cuda or auto (default: auto)")
    r.add_argument("--batch-size", type=int, default=50, help="images per extractor batch (default: 50)")
    r.add_argument("--data-root", metavar="DIR", help="root of the datasets for NAME:SPLIT inputs")
    r.add_argument("--seed", type=int, default=0, help="seed of the samples drawn from a run directory (default: 0)")
    r.add_argument("--cache-dir", metavar="DIR", help="feature cache (default: $GAN_BENCH_METRICS_CACHE or ~/.cache/gan_bench/metrics)")
    r.add_argument("--no-cache", action="store_true", help="neither read nor write cached features and statistics")
    r.add_argument("--no-channels-last", action="store_true", help="run Inception in NCHW (channels-last is faster on CPU)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")

    o = parser.add_argument_group("metric options (defaults are the published protocols)")
    o.add_argument("--kid-subsets", type=int, default=d.kid_subsets)
    o.add_argument("--kid-subset-size", type=int, default=d.kid_subset_size)
    o.add_argument("--is-splits", type=int, default=d.is_splits)
    o.add_argument("--metric-seed", type=int, default=d.seed, help=f"seed of KID subsets, the IS shuffle and LPIPS pairs (default {d.seed})")
    o.add_argument("--prc-k", type=int, default=d.prc_k, help="neighbourhood of precision/recall (default 3)")
    o.add_argument("--dc-k", type=int, default=d.dc_k, help="neighbourhood of density/coverage (default 5)")
    o.add_argument("--lpips-net", default=d.lpips_net, choices=("alex", "vgg", "squeeze"))
    o.add_argument("--lpips-mode", default=d.lpips_mode, choices=("unconditional", "conditional"), help="conditional: INPUT1 holds one sub-folder (or .npz row) of samples per input")
    o.add_argument("--lpips-pairs", type=int, default=d.lpips_pairs, help="random pairs for unconditional LPIPS, and per class for lpips_class (default 1000)")
    o.add_argument("--lpips-samples", type=int, default=d.lpips_samples_per_input, help="samples per input for conditional LPIPS (default 20)")
    o.add_argument("--lpips-random-backbone", type=int, default=None, metavar="SEED", help="random LPIPS trunk from SEED (offline tests only; not comparable)")


def run(args: argparse.Namespace) -> int:
    from gan_bench.atomic import write_bytes as atomic_write_bytes
    from gan_bench.metrics.errors import MetricsInputError
    from gan_bench.metrics.family import MetricOptions
    from gan_bench.metrics.harness import HarnessConfig, compute_metrics, format_table

    for flag in ("batch_size", "kid_subsets", "kid_subset_size", "is_splits", "prc_k", "dc_k", "lpips_pairs", "lpips_samples"):
        if getattr(args, flag) < 1:
            raise MetricsInputError(f"--{flag.replace('_', '-')} must be at least 1")
    options = MetricOptions(
        kid_subsets=args.kid_subsets,
        kid_subset_size=args.kid_subset_size,
        is_splits=args.is_splits,
        seed=args.metric_seed,
        prc_k=args.prc_k,
        dc_k=args.dc_k,
        lpips_net=args.lpips_net,
        lpips_mode=args.lpips_mode,
        lpips_pairs=args.lpips_pairs,
        lpips_samples_per_input=args.lpips_samples,
        lpips_random_backbone=args.lpips_random_backbone,
    )
    cfg = HarnessConfig(
        metrics=args.metrics,
        protocol=args.protocol,
        weights_dir=args.weights_dir,
        inception_weights=args.inception_weights,
        classifier_weights=args.classifier_weights,
        allow_download=False if args.offline else None,
        num=args.num,
        batch_size=args.batch_size,
        device=args.device,
        cache=not args.no_cache,
        cache_dir=args.cache_dir,
        data_root=args.data_root,
        sample_seed=args.seed,
        channels_last=not args.no_channels_last,
        progress=not args.quiet and sys.stderr.isatty(),
        options=options,
    )
    result = compute_metrics(args.input1, args.input2, cfg)
    text = json.dumps(result, indent=2, default=str)
    if args.out:
        atomic_write_bytes(Path(args.out), (text + "\n").encode())
    print(text if args.json else format_table(result))
    return 0
