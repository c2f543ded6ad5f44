"""The image-metric harness: metrics for one or two inputs under one protocol, with its record.

:func:`compute_metrics` resolves the inputs, builds the protocol's feature extractor once,
extracts each input's features once (or reads them from the cache), hands them to every requested
metric family, and returns a flat dict of numbers plus a ``protocol`` object saying exactly how
they were made (library and version, extractor, weights sha256, resize, sample counts, reference).

Class-conditional families (class accuracy, intra-class FID/KID, LPIPS per class) declare
``labels=(1,)`` or ``(1, 2)``: the inputs that must carry class labels. The harness checks that up
front (an unconditional run or an unlabelled folder is a one-line error), fetches the labels once
(a conditional run records them while its samples stream) and hands them to the families through
:func:`class_labels`, with the number of classes both inputs share.

Protocols never mix: ``legacy-tf`` (torch-fidelity), ``clean`` (clean-fid) and the
``<dataset>-classifier`` domain protocols give different numbers for the "same" metric, so a
leaderboard column is a (metric, protocol) pair; :func:`leaderboard_column` names it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from gan_bench.metrics import weights as W
from gan_bench.metrics.classifiers import CLASSIFIERS
from gan_bench.metrics.errors import MetricsInputError
from gan_bench.metrics.family import INCEPTION_PROTOCOLS, PROTOCOLS, MetricContext, MetricOptions
from gan_bench.metrics.features import (
    POOL,
    ClassifierFeatures,
    CleanFidInception,
    FeatureCache,
    FeatureExtractor,
    FidelityInception,
    extract_features,
)
from gan_bench.metrics.frechet import gaussian_statistics
from gan_bench.metrics.inputs import MIN_IMAGES, ImageInput, RunInput, resolve_input
from gan_bench.metrics.stacked_mnist_modes import PROTOCOL_SAMPLES
from gan_bench.registry import METRICS, Entry

log = logging.getLogger(__name__)

LABELS = "labels"  # MetricContext.memo key: {input index: long class labels}
NUM_CLASSES = "num_classes"  # MetricContext.memo key: the classes the labels range over
ALIASES = {"lpips_div": "lpips-div", "lpips": "lpips-div", "isc": "is", "pr": "prc", "stacked-mnist": "modes"}


@dataclass
class HarnessConfig:
    """Everything :func:`compute_metrics` needs besides the inputs (the CLI's options)."""

    metrics: list[str] = field(default_factory=lambda: ["fid"])
    protocol: str = "legacy-tf"
    weights_dir: str | None = None
    inception_weights: str | None = None  # any file in the protocol's weights format
    classifier_weights: str | None = None  # a gan_bench classifier file for a classifier protocol
    allow_download: bool | None = None  # None: unless $GAN_BENCH_OFFLINE
    num: int | None = None
    batch_size: int = 50
    device: str = "auto"
    cache: bool = True
    cache_dir: str | None = None
    data_root: str | None = None
    sample_seed: int = 0  # seed of the samples drawn from run directories
    channels_last: bool = True
    progress: bool = False
    options: MetricOptions = field(default_factory=MetricOptions)


def image_metric_names() -> list[str]:
    """Registered image-metric families (the valid ``--metrics`` names)."""
    return [e.name for e in METRICS if e.meta.get("harness") == "image"]


def parse_metric_names(text: str | list[str]) -> list[str]:
    """``"fid,kid,lpips_div"`` -> registered names, in order, without duplicates."""
    items = text.split(",") if isinstance(text, str) else list(text)
    valid = image_metric_names()
    out: list[str] = []
    for raw in items:
        name = raw.strip().lower()
        if not name:
            continue
        name = ALIASES.get(name, name.replace("_", "-"))
        if name not in valid:
            raise MetricsInputError(f"unknown metric {raw.strip()!r}; choose from: {', '.join(valid)} (lpips_div = lpips-div)")
        if name not in out:
            out.append(name)
    if not out:
        raise MetricsInputError("no metric given; use --metrics fid,kid,...")
    return out


def leaderboard_column(key: str, protocol: str) -> str:
    """The column a number belongs to: ``fid[legacy-tf]`` and ``fid[clean]`` never share one."""
    return f"{key}[{protocol}]"


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        torch.device(device)
    except RuntimeError:
        raise MetricsInputError(f"--device {device!r} is not a device; use cpu, cuda, cuda:N or auto") from None
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise MetricsInputError("--device cuda requested but CUDA is not available")
    return device


def build_extractor(cfg: HarnessConfig, device: str) -> FeatureExtractor:
    """The protocol's feature extractor with its weights resolved (one-line error when missing)."""
    p = cfg.protocol
    if p in INCEPTION_PROTOCOLS:
        key = "inception-fidelity" if p == "legacy-tf" else "inception-cleanfid"
        weights = W.resolve_file(key, cfg.inception_weights) if cfg.inception_weights else W.resolve(key, cfg.weights_dir, cfg.allow_download)
        if p == "legacy-tf":
            return FidelityInception(weights, device, channels_last=cfg.channels_last)
        return CleanFidInception(weights, device)
    spec = CLASSIFIERS[p]
    weights = W.resolve_file(p, cfg.classifier_weights) if cfg.classifier_weights else W.resolve(p, cfg.weights_dir, False)
    return ClassifierFeatures(spec, weights, device)


def _check_request(entries: list[Entry[Any]], cfg: HarnessConfig, have_input2: bool) -> None:
    if cfg.protocol not in PROTOCOLS:
        raise MetricsInputError(f"unknown protocol {cfg.protocol!r}; choose one of: {', '.join(PROTOCOLS)}")
    for e in entries:
        if cfg.protocol not in e.meta["protocols"]:
            raise MetricsInputError(
                f"metric {e.name} is not defined under protocol {cfg.protocol} (only {', '.join(e.meta['protocols'])})"
            )
        if e.meta["arity"] == 2 and not have_input2:
            raise MetricsInputError(f"metric {e.name} compares two inputs; give INPUT2 (the real reference)")
    if cfg.options.lpips_mode == "conditional" and any(e.name != "lpips-div" for e in entries):
        raise MetricsInputError("--lpips-mode conditional takes grouped samples; run it alone with --metrics lpips_div")


def _label_inputs(entries: list[Entry[Any]]) -> list[int]:
    """The inputs (1, 2) that some requested family needs class labels on."""
    return sorted({i for e in entries for i in e.meta.get("labels", ())})


def _check_labels(entries: list[Entry[Any]], inputs: dict[int, ImageInput | None]) -> None:
    """One-line error, before any extraction, when a family needs labels an input lacks."""
    for which in _label_inputs(entries):
        inp = inputs[which]
        if inp is None:
            continue  # an arity-2 family without INPUT2 is reported by _check_request
        if not inp.has_labels():
            keys = [k for e in entries if which in e.meta.get("labels", ()) for k in e.meta["keys"]]
            what = "class-conditional samples" if which == 1 else "a class-labelled reference"
            raise MetricsInputError(f"{', '.join(keys)} need{'s' if len(keys) == 1 else ''} {what}: {inp.no_labels_reason()}")
        if not isinstance(inp, RunInput):
            inp.labels()  # a malformed label array is reported before any extraction (a run's come while it streams)


def _resolve_labels(entries: list[Entry[Any]], inputs: dict[int, ImageInput | None]) -> tuple[dict[int, torch.Tensor], int]:
    """The labels of every input that needs them and the number of classes they share (an input's
    declared K, a dataset's or a conditional run's, else the largest label + 1)."""
    labels: dict[int, torch.Tensor] = {}
    declared: dict[int, int] = {}
    for which in _label_inputs(entries):
        inp = inputs[which]
        if inp is None:
            continue
        y = inp.labels()
        if y is None:
            raise MetricsInputError(f"input {which}: {inp.no_labels_reason()}")
        labels[which] = y.long().cpu()
        if inp.num_classes:
            declared[which] = int(inp.num_classes)
    if len(set(declared.values())) > 1:
        parts = " and ".join(f"INPUT{i} ({getattr(inputs[i], 'spec', '')}) {k}" for i, k in declared.items())
        raise MetricsInputError(f"the inputs' label spaces differ: {parts} classes; class-conditional metrics compare the same classes")
    num_classes = next(iter(declared.values()), 0) or max((int(y.max()) + 1 for y in labels.values() if len(y)), default=0)
    for which, y in labels.items():
        if len(y) and int(y.max()) >= num_classes:
            raise MetricsInputError(f"INPUT{which} has class label {int(y.max())}, out of range for {num_classes} classes")
    return labels, num_classes


def class_labels(ctx: MetricContext, which: int) -> tuple[torch.Tensor, int]:
    """(class labels of input ``which``, number of classes) for a family declared with ``labels``."""
    labels = ctx.memo.get(LABELS, {})
    if which not in labels:
        raise KeyError(f"input {which} has no class labels (declare labels=({which},) on the family)")
    return labels[which], int(ctx.memo[NUM_CLASSES])


def _statistics(
    inp: ImageInput, feats: dict[str, torch.Tensor], extractor: FeatureExtractor, cache: FeatureCache | None
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian statistics of the pool features, cached next to the features for cacheable inputs."""
    content = inp.content_hash() if cache is not None else None
    if content is None or cache is None:
        return gaussian_statistics(feats[POOL])
    key = FeatureCache.key(content, extractor, extractor.stored_kinds([POOL]))
    hit = cache.load(key, "-stats")
    if hit is not None:
        return hit["mu"].numpy(), hit["sigma"].numpy()
    mu, sigma = gaussian_statistics(feats[POOL])
    cache.save(key, {"mu": torch.from_numpy(mu), "sigma": torch.from_numpy(sigma)}, {"input": inp.describe()}, "-stats")
    return mu, sigma


def compute_metrics(input1: str | ImageInput, input2: str | ImageInput | None, cfg: HarnessConfig) -> dict[str, Any]:
    """Numbers for ``cfg.metrics`` plus the ``protocol`` object (see the module docstring).

    INPUT1 is the evaluated (generated) set, INPUT2 the real reference.
    """
    names = parse_metric_names(cfg.metrics)
    entries = [METRICS.entry(n) for n in names]
    _check_request(entries, cfg, input2 is not None)
    device = resolve_device(cfg.device)
    conditional = cfg.options.lpips_mode == "conditional"

    num = cfg.num

    def _resolve(x: str | ImageInput) -> ImageInput:
        if isinstance(x, ImageInput):
            return x
        inp = resolve_input(x, num=num, data_root=cfg.data_root, device=device, seed=cfg.sample_seed)
        if isinstance(inp, RunInput) and num is None and "modes" in names:
            inp.num = PROTOCOL_SAMPLES  # the VEEGAN/PacGAN sample count
        if len(inp) < MIN_IMAGES:
            raise MetricsInputError(f"{inp.spec} has {len(inp)} image{'s' if len(inp) != 1 else ''}; "
                                    f"metrics need at least {MIN_IMAGES} (FID: a covariance)")
        return inp

    in1: ImageInput | str = input1 if conditional else _resolve(input1)
    in2 = _resolve(input2) if input2 is not None else None
    if isinstance(in1, ImageInput):
        _check_labels(entries, {1: in1, 2: in2})

    kinds1 = sorted({k for e in entries for k in e.meta["features"]})
    kinds2 = sorted({k for e in entries if e.meta["arity"] == 2 for k in e.meta["features"]})
    cache = FeatureCache(cfg.cache_dir) if cfg.cache else None
    extractor = build_extractor(cfg, device) if (kinds1 or kinds2) else None

    cache_state: dict[str, str] = {}
    feats1: dict[str, torch.Tensor] = {}
    feats2: dict[str, torch.Tensor] | None = None
    if extractor is not None and kinds1:
        assert isinstance(in1, ImageInput)
        feats1, hit = extract_features(in1, extractor, kinds1, batch_size=cfg.batch_size, cache=cache, progress=cfg.progress)
        cache_state["input1"] = "off" if cache is None or in1.content_hash() is None else ("hit" if hit else "stored")
    if extractor is not None and kinds2 and in2 is not None:
        feats2, hit = extract_features(in2, extractor, kinds2, batch_size=cfg.batch_size, cache=cache, progress=cfg.progress)
        cache_state["input2"] = "off" if cache is None or in2.content_hash() is None else ("hit" if hit else "stored")

    ctx = MetricContext(
        feats1=feats1,
        feats2=feats2,
        options=cfg.options,
        input1=in1,
        input2=in2,
        device=device,
        weights_dir=cfg.weights_dir,
        allow_download=cfg.allow_download,
        progress=cfg.progress,
        requested=tuple(names),
    )
    if isinstance(in1, ImageInput) and _label_inputs(entries):
        # after extraction: a conditional run has recorded its labels while streaming its samples
        ctx.memo[LABELS], ctx.memo[NUM_CLASSES] = _resolve_labels(entries, {1: in1, 2: in2})
    if extractor is not None and "fid" in names:
        assert isinstance(in1, ImageInput) and in2 is not None and feats2 is not None
        ctx.stats1 = _statistics(in1, feats1, extractor, cache)
        ctx.stats2 = _statistics(in2, feats2, extractor, cache)

    results: dict[str, Any] = {}
    for e in entries:
        results.update(e.obj(ctx))
    for w in ctx.warnings:
        log.warning("%s", w)

    protocol = _protocol_record(cfg, extractor, in1, in2, ctx, device, cache_state)
    return {**results, "protocol": protocol, "warnings": list(ctx.warnings)}


def _protocol_record(
    cfg: HarnessConfig,
    extractor: FeatureExtractor | None,
    in1: ImageInput | str,
    in2: ImageInput | None,
    ctx: MetricContext,
    device: str,
    cache_state: dict[str, str],
) -> dict[str, Any]:
    from gan_bench import __version__

    rec: dict[str, Any] = {"name": cfg.protocol}
    if extractor is not None:
        rec.update(extractor.record())
    d1 = in1.describe() if isinstance(in1, ImageInput) else {"input": in1, "kind": "grouped"}
    rec["samples"] = {"input1": d1.get("num")}
    rec["inputs"] = {"input1": d1}
    if in2 is not None:
        d2 = in2.describe()
        rec["samples"]["input2"] = d2.get("num")
        rec["inputs"]["input2"] = d2
        rec["reference"] = in2.spec
        rec["reference_split"] = in2.spec if d2.get("kind") == "dataset" else None
    rec["metrics"] = dict(ctx.details)
    rec["columns"] = {k: leaderboard_column(k, cfg.protocol) for k in _keys(cfg)}
    rec["cache"] = cache_state or "off"
    rec["runtime"] = {"gan_bench": __version__, "torch": torch.__version__, "device": device, "batch_size": cfg.batch_size}
    return rec


def _keys(cfg: HarnessConfig) -> list[str]:
    return [k for n in parse_metric_names(cfg.metrics) for k in METRICS.entry(n).meta["keys"]]


def format_table(result: dict[str, Any]) -> str:
    """A human-readable summary: one line per number, tagged with its protocol."""
    proto = result["protocol"]
    name = proto["name"]
    lines = [f"protocol {name}: {proto.get('extractor', 'no feature extractor')}"]
    weights = proto.get("weights")
    if weights:
        flag = "" if weights.get("official") else "  (NOT the official weights: not comparable)"
        lines.append(f"  weights {weights['file']} sha256 {weights['sha256'][:16]}...{flag}")
    samples = proto.get("samples", {})
    lines.append("  samples " + ", ".join(f"{k}={v}" for k, v in samples.items()))
    for key, column in proto.get("columns", {}).items():
        value = result.get(key)
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        lines.append(f"{column:28s} {shown}")
    return "\n".join(lines)
