"""Run configuration: dataclasses, YAML files, dotted ``key=value`` overrides, and validation.

Every key is checked before anything is written: an unknown key, a wrong type or an out-of-range
value raises :class:`ConfigError` with a one-line message naming the dotted key and where it came
from (a file or the command line). The CLI turns that into exit code 2.

Options of a variant, an architecture or a dataset are dataclasses too; they live under the
``model``, ``net`` and ``data`` sections and are validated against the class registered for the
chosen name, so ``model.gp_weight`` is only accepted for variants that have a gradient penalty.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A configuration problem, described in one line; ``key`` is the dotted key at fault, if any."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


def Range(lo: float | None = None, hi: float | None = None) -> dict[str, Any]:
    """Field metadata: the value must lie in [lo, hi] (either bound may be None); NaN and
    infinities never do."""
    return {"range": (lo, hi)}


# Integer fields named ``seed`` (or ``*_seed``) without a Range of their own get this one, so that
# ``torch.manual_seed``/``numpy`` seeding (and small offsets added to a seed) never raise.
SEED_RANGE = (0, 2**31 - 1)
# A config file is a few kB; the caps keep a hostile file (a YAML alias bomb, a huge or deeply
# nested document) from costing more than a moment before it is refused.
MAX_CONFIG_BYTES = 1 << 20
MAX_YAML_NODES = 100_000


def Choice(*options: str) -> dict[str, Any]:
    """Field metadata: the value must be one of ``options``."""
    return {"choices": tuple(options)}


@dataclass
class OptimConfig:
    """Optimiser settings shared by the generator(s) and discriminator(s)."""

    name: str = field(default="adam", metadata=Choice("adam", "rmsprop", "sgd"))
    g_lr: float = field(default=2e-4, metadata=Range(0.0, 10.0))
    d_lr: float = field(default=2e-4, metadata=Range(0.0, 10.0))
    beta1: float = field(default=0.5, metadata=Range(0.0, 1.0))
    beta2: float = field(default=0.999, metadata=Range(0.0, 1.0))
    weight_decay: float = field(default=0.0, metadata=Range(0.0, 1.0))


@dataclass
class EvalConfig:
    """Periodic and final evaluation of the generator."""

    every: int = field(default=0, metadata=Range(0, None))  # generator steps; 0 = only at the end
    num_samples: int = field(default=2500, metadata=Range(1, 10**7))
    seed: int = field(default=1234, metadata=Range(*SEED_RANGE))  # seeds the fixed z used by every evaluation of the run


@dataclass
class EMAConfig:
    """An exponential moving average of the generator(s), used for sampling and saved in checkpoints.

    ``decay`` 0 turns it off (the default, so runs without it are unchanged); BigGAN and StyleGAN2
    use 0.999-0.9999. Before step ``start`` the average copies the live weights."""

    decay: float = field(default=0.0, metadata=Range(0.0, 1.0))
    start: int = field(default=0, metadata=Range(0, None))


@dataclass
class ScheduleConfig:
    """A learning-rate schedule over the budget, as a factor of each optimiser's initial rate.

    The factor is a function of the fraction of the budget consumed, so it means the same under a
    step, image or wall-clock budget and resumes exactly: ``constant`` (1), ``linear`` (1 until
    ``start``, then linearly to ``final`` at the end: CycleGAN's decay over the second half is
    start=0.5 final=0), ``cosine`` (from ``start`` down to ``final``) and ``step`` (times ``gamma``
    at each fraction in ``milestones``)."""

    name: str = field(default="constant", metadata=Choice("constant", "linear", "cosine", "step"))
    start: float = field(default=0.0, metadata=Range(0.0, 1.0))
    final: float = field(default=0.0, metadata=Range(0.0, 1.0))
    milestones: list[float] = field(default_factory=list)
    gamma: float = field(default=0.1, metadata=Range(0.0, 1.0))


@dataclass
class RunConfig:
    """One training run, fully resolved."""

    variant: str
    dataset: str
    arch: str = ""  # "" = the default architecture for the dataset's kind
    budget: str = "2000steps"
    seed: int = field(default=0, metadata=Range(0, 2**31 - 1))
    device: str = field(default="cpu", metadata=Choice("cpu", "cuda", "auto"))
    batch_size: int = field(default=64, metadata=Range(1, 1 << 20))
    z_dim: int = field(default=64, metadata=Range(1, 1 << 16))
    split: str = "train"
    data_root: str = ""
    log_every: int = field(default=50, metadata=Range(1, None))
    checkpoint_every: int = field(default=500, metadata=Range(1, None))
    sample_every: int = field(default=0, metadata=Range(0, None))
    amp: bool = False  # bfloat16 autocast around each step (GPUs, and CPUs with AVX512-BF16/AMX; no loss scaling)
    channels_last: bool = False  # NHWC memory layout for image nets and batches (faster convs on GPUs)
    compile: bool = False  # torch.compile every net (after one eager step); eager where a net cannot compile
    optim: OptimConfig = field(default_factory=OptimConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    ema: EMAConfig = field(default_factory=EMAConfig)
    lr_schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    model: dict[str, Any] = field(default_factory=dict)
    net: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- raw mappings


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many nodes ``node`` becomes once every alias is copied out (shared nodes counted once
    per use, computed once each)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    memo[id(node)] = size
    return size


def _load_limited(text: str, source: str) -> Any:
    """``yaml.safe_load(text)``, refusing (ConfigError) a document that expands past
    :data:`MAX_YAML_NODES` nodes or nests too deeply; YAML syntax errors propagate as
    ``yaml.YAMLError``.

    An alias bomb ("billion laughs") is a few hundred bytes whose aliases expand to billions of
    nodes once anything walks, copies or prints the result; composing it is cheap (aliases share
    one node), so its expanded size is checked before anything is constructed.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_YAML_NODES:
            raise ConfigError(f"{source} expands to more than {MAX_YAML_NODES} YAML nodes through aliases "
                              "(*name); refused as a possible alias bomb")
        return loader.construct_document(node)
    except RecursionError:
        raise ConfigError(f"{source} is nested too deeply to be a config") from None
    finally:
        loader.dispose()


def safe_yaml(text: str, source: str) -> Any:
    """``text`` parsed like ``yaml.safe_load`` with aliases and nesting bounded; any failure is a
    one-line ConfigError naming ``source`` (a file name, say)."""
    try:
        return _load_limited(text, source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"invalid YAML in {source}{where}") from None


def read_config_text(path: str | Path) -> str:
    """The UTF-8 text of a user's config file (at most :data:`MAX_CONFIG_BYTES`), or a one-line
    ConfigError: unreadable, too large, or not UTF-8."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {p} is larger than {MAX_CONFIG_BYTES // 1024} KiB; is it a config?")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {p} is not UTF-8 text (bad byte at offset {exc.start})") from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from the file ``path`` (see :func:`read_config_text`, :func:`safe_yaml`), or a
    one-line ConfigError."""
    p = Path(path)
    data = safe_yaml(read_config_text(p), str(p))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p} must hold a mapping of keys, not a {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[str, Any]:
    """``a.b=value`` -> (``a.b``, value parsed as YAML: ``3`` is an int, ``[1,2]`` a list)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key=value")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r} has an empty key")
    if not raw.strip():
        return key, ""
    try:
        value = _load_limited(raw, f"override {key}=...")
    except yaml.YAMLError:
        value = raw  # not YAML: the literal string
    return key, value


def set_dotted(target: dict[str, Any], key: str, value: Any) -> None:
    """Set ``target[a][b] = value`` for ``key = 'a.b'``, creating mappings on the way."""
    parts = key.split(".")
    node = target
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """A new mapping: ``top`` over ``base``, merging nested mappings key by key."""
    out = copy.deepcopy(dict(base))
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{'a': {'b': 1}}`` -> ``{'a.b': 1}`` (leaves only)."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


class Layers:
    """Config mappings stacked in order, remembering which source set each dotted key last."""

    def __init__(self) -> None:
        self.merged: dict[str, Any] = {}
        self.origin: dict[str, str] = {}

    def add(self, mapping: Mapping[str, Any], source: str) -> None:
        self.merged = deep_merge(self.merged, mapping)
        for key in flatten(mapping):
            self.origin[key] = source

    def where(self, key: str) -> str:
        """`` (in FILE)`` / `` (from the command line)`` for the source of ``key`` or its parent."""
        parts = key.split(".")
        for i in range(len(parts), 0, -1):
            src = self.origin.get(".".join(parts[:i]))
            if src:
                return f" ({src})"
        for k, src in self.origin.items():  # a section whose children came from one source
            if k.startswith(key + "."):
                return f" ({src})"
        return ""


# --------------------------------------------------------------------------- validation


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, so that a huge value still gives a short line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _check_value(value: Any, tp: Any, key: str) -> Any:
    """``value`` converted to ``tp`` or a ConfigError naming ``key``."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_value(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{key}: invalid value {_short(value)}", key)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, got {_short(value)}", key)
        (item_tp, *_) = typing.get_args(tp) or (Any,)
        items = [_check_value(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} must be a mapping, got {_short(value)}", key)
        return dict(value)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} must be a mapping, got {_short(value)}", key)
        return from_mapping(tp, value, prefix=key + ".")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be true or false, got {_short(value)}", key)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{key} must be an integer, got {_short(value)}", key)
    if tp is float:
        number: float | None = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:  # an int beyond any float
                number = math.inf
        elif isinstance(value, str):  # YAML reads 1e-4 (no dot) as a string
            try:
                number = float(value)
            except ValueError:
                pass
        if number is None:
            raise ConfigError(f"{key} must be a number, got {_short(value)}", key)
        if not math.isfinite(number):  # NaN compares False with every bound: refuse it here
            raise ConfigError(f"{key}={_short(value)} must be a finite number", key)
        return number
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key} must be a string, got {_short(value)}", key)
    raise ConfigError(f"{key}: unsupported type {_type_name(tp)}", key)


def _is_seed(name: str) -> bool:
    return name == "seed" or name.endswith("_seed")


def _check_metadata(value: Any, meta: Mapping[str, Any], key: str) -> None:
    if "range" not in meta and isinstance(value, int) and _is_seed(key.rsplit(".", 1)[-1]):
        meta = {**meta, "range": SEED_RANGE}
    lo, hi = meta.get("range", (None, None))
    if value is not None and (lo is not None and value < lo or hi is not None and value > hi):
        bounds = f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
        raise ConfigError(f"{key}={_short(value)} is out of range {bounds}", key)
    choices = meta.get("choices")
    if choices and value not in choices:
        raise ConfigError(f"{key}={_short(value)} is not one of: {', '.join(choices)}", key)


def from_mapping(cls: type, mapping: Mapping[str, Any], prefix: str = "") -> Any:
    """An instance of dataclass ``cls`` from ``mapping``, every key and value checked."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in mapping:
        if key not in fields:
            valid = ", ".join(sorted(fields)) or "none"
            raise ConfigError(f"unknown key '{prefix}{key}' (valid keys here: {valid})", prefix + str(key))
    kwargs = {}
    for name, f in fields.items():
        key = prefix + name
        if name not in mapping:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"missing required key '{key}'", key)
            continue
        value = _check_value(mapping[name], hints[name], key)
        _check_metadata(value, f.metadata, key)
        kwargs[name] = value
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """A dataclass (possibly nested) as plain dicts/lists, ready for YAML or JSON."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj
