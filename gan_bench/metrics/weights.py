"""Every weight file the metric harness can use: where it comes from, how it is found, and the
one-line error when it is not there.

A weight is looked up by its file name in, in order:

1. ``--weights-dir DIR`` (``weights_dir=`` here),
2. ``$GAN_BENCH_WEIGHTS_DIR``,
3. the torch hub cache (``$TORCH_HOME/hub/checkpoints``, where torch-fidelity and torchvision
   download to), and for the classifiers gan_bench ships, the package's own ``weights/`` folder.

A file found by name must have the published sha256 (a half-finished download is an error, not a
silent change of protocol). When nothing is found and downloads are allowed (not
``--offline`` / ``$GAN_BENCH_OFFLINE``), the file is downloaded into the first folder of that list
that was configured, checked against its sha256 and moved into place atomically. Otherwise, or
when the download fails, :class:`WeightsMissingError` says in one line which file is missing, its
sha256, its URL and the folder to put it in.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gan_bench.data.base import DataError
from gan_bench.data.download import download_url, file_digest
from gan_bench.metrics.errors import MetricsInputError, WeightsMissingError

log = logging.getLogger(__name__)

ENV_WEIGHTS_DIR = "GAN_BENCH_WEIGHTS_DIR"
ENV_OFFLINE = "GAN_BENCH_OFFLINE"
PACKAGE_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
DOWNLOAD_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class WeightSpec:
    """A weight file the harness knows: its registry key, file name, origin and checksum."""

    key: str
    filename: str
    sha256: str | None  # None only for a shipped classifier whose .json is missing
    url: str | None  # None for files shipped inside a package (no download)
    description: str
    used_by: str
    size: int | None = None  # bytes, where published
    shipped_in: Path | None = None  # folder inside an installed package that holds it

    def search_dirs(self, weights_dir: str | os.PathLike[str] | None = None) -> list[tuple[str, Path]]:
        """(label, folder) pairs searched for this file, in resolution order."""
        dirs = user_dirs(weights_dir)
        if self.shipped_in is not None:
            dirs.append(("package", self.shipped_in))
        else:
            dirs.append(("torch hub cache", torch_hub_checkpoints()))
        return dirs


@dataclass(frozen=True)
class ResolvedWeights:
    """A weight file that was found: where, its sha256, and whether it is the official file."""

    key: str
    path: Path
    sha256: str
    official: bool
    source: str  # "--weights-dir", "GAN_BENCH_WEIGHTS_DIR", "torch hub cache", "package", "downloaded", "explicit"

    def record(self) -> dict[str, Any]:
        """The entry that goes into a metrics protocol object."""
        return {
            "key": self.key,
            "file": self.path.name,
            "sha256": self.sha256,
            "official": self.official,
            "source": self.source,
        }


# --------------------------------------------------------------------------- where to look


def torch_hub_checkpoints() -> Path:
    """``$TORCH_HOME/hub/checkpoints``: where ``torch.hub`` (torch-fidelity, torchvision) caches weights."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def user_dirs(weights_dir: str | os.PathLike[str] | None = None) -> list[tuple[str, Path]]:
    """The user-configured folders: ``--weights-dir`` then ``$GAN_BENCH_WEIGHTS_DIR``."""
    out: list[tuple[str, Path]] = []
    if weights_dir:
        out.append(("--weights-dir", Path(weights_dir).expanduser()))
    env = os.environ.get(ENV_WEIGHTS_DIR)
    if env:
        out.append((ENV_WEIGHTS_DIR, Path(env).expanduser()))
    return out


def downloads_allowed(allow_download: bool | None = None) -> bool:
    """Whether a missing file may be downloaded: an explicit choice, else not when ``$GAN_BENCH_OFFLINE`` is set."""
    if allow_download is not None:
        return allow_download
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("", "0", "false", "no")


# --------------------------------------------------------------------------- checksums

_HASH_MEMO: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file, memoised per (path, size, mtime) because weight files are large."""
    p = Path(path)
    st = p.stat()
    memo_key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if memo_key not in _HASH_MEMO:
        _HASH_MEMO[memo_key] = file_digest(p, "sha256")
    return _HASH_MEMO[memo_key]


# --------------------------------------------------------------------------- the registry


def _shipped_sha256(stem: str) -> str | None:
    meta = PACKAGE_WEIGHTS_DIR / f"{stem}.json"
    try:
        return str(json.loads(meta.read_text())["sha256"])
    except (OSError, KeyError, ValueError):
        return None


def _lpips_package_dir() -> Path | None:
    try:
        import lpips
    except ImportError:  # lpips is a dependency, but the registry must not need it to import
        return None
    return Path(lpips.__file__).resolve().parent / "weights" / "v0.1"


def _build_registry() -> dict[str, WeightSpec]:
    specs = [
        WeightSpec(
            key="inception-fidelity",
            filename="weights-inception-2015-12-05-6726825d.pth",
            sha256="6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
            url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
            "weights-inception-2015-12-05-6726825d.pth",
            size=95_628_359,
            description="TF 2015-12-05 Inception-v3 converted by torch-fidelity (FID/KID/IS/PR features)",
            used_by="protocol legacy-tf",
        ),
        WeightSpec(
            key="inception-cleanfid",
            filename="inception-2015-12-05.pt",
            sha256="f58cb9b6ec323ed63459aa4fb441fe750cfe39fafad6da5cb504a16f19e958f4",
            url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt",
            size=95_607_719,
            description="TF 2015-12-05 Inception-v3 as TorchScript (StyleGAN2-ADA), used by clean-fid",
            used_by="protocol clean",
        ),
        WeightSpec(
            key="lpips-alex-backbone",
            filename="alexnet-owt-7be5be79.pth",
            sha256="7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02",
            url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
            size=244_408_911,
            description="torchvision ImageNet AlexNet, the trunk of LPIPS net=alex",
            used_by="lpips_div, lpips_class (net alex)",
        ),
        WeightSpec(
            key="lpips-vgg-backbone",
            filename="vgg16-397923af.pth",
            sha256="397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0",
            url="https://download.pytorch.org/models/vgg16-397923af.pth",
            size=553_433_881,
            description="torchvision ImageNet VGG16, the trunk of LPIPS net=vgg",
            used_by="lpips_div, lpips_class (net vgg)",
        ),
        WeightSpec(
            key="lpips-squeeze-backbone",
            filename="squeezenet1_1-b8a52dc0.pth",
            sha256="b8a52dc049b60e4b6ab68ad0df457362afab8b6304b2febdc1650a5dab4d7e7b",
            url="https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth",
            size=4_958_839,
            description="torchvision ImageNet SqueezeNet 1.1, the trunk of LPIPS net=squeeze",
            used_by="lpips_div, lpips_class (net squeeze)",
        ),
    ]
    lpips_dir = _lpips_package_dir()
    for net, sha in (
        ("alex", "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0"),
        ("vgg", "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868"),
        ("squeeze", "4a5350f23600cb79923ce65bb07cbf57dca461329894153e05a1346bd531cf76"),
    ):
        specs.append(
            WeightSpec(
                key=f"lpips-{net}-linear-v0.1",
                filename=f"{net}.pth",
                sha256=sha,
                url=None,
                description=f"LPIPS v0.1 calibrated linear heads for net={net} (shipped in the lpips package)",
                used_by=f"lpips_div, lpips_class (net {net})",
                shipped_in=lpips_dir,
            )
        )
    from gan_bench.metrics.classifiers import CLASSIFIERS  # the specs are plain data; no cycle at call time

    for spec in CLASSIFIERS.values():
        specs.append(
            WeightSpec(
                key=spec.protocol,
                filename=spec.weights_filename,
                sha256=_shipped_sha256(spec.protocol),
                url=None,
                description=f"gan_bench {spec.dataset} classifier ({spec.task}); retrain: gan-bench train-classifier {spec.dataset}",
                used_by=f"protocol {spec.protocol}",
                shipped_in=PACKAGE_WEIGHTS_DIR,
            )
        )
    return {s.key: s for s in specs}


_REGISTRY: dict[str, WeightSpec] | None = None


def registry() -> dict[str, WeightSpec]:
    """All known weight files by key (built on first use)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _build_registry()
    return _REGISTRY


def spec(key: str) -> WeightSpec:
    """The :class:`WeightSpec` registered under ``key``."""
    specs = registry()
    if key not in specs:
        raise MetricsInputError(f"unknown weight {key!r}; choose one of: {', '.join(sorted(specs))}")
    return specs[key]


# --------------------------------------------------------------------------- resolving


def missing_message(s: WeightSpec, target: Path, reason: str = "") -> str:
    """The one-line 'missing weight' message: file, sha256, URL and the folder to put it in."""
    why = f" ({reason})" if reason else ""
    if s.url is None:
        return (
            f"missing weight file {s.filename} (sha256 {s.sha256 or 'unknown'}){why}: it ships with "
            f"{'the lpips package' if 'lpips' in s.key else 'gan_bench'}; reinstall it or put the file in {target}"
        )
    return (
        f"missing weight file {s.filename} (sha256 {s.sha256}){why}: download {s.url} "
        f"and put it in {target} (or pass --weights-dir DIR)"
    )


def _check_found(s: WeightSpec, path: Path, label: str) -> ResolvedWeights:
    digest = file_sha256(path)
    official = s.sha256 is not None and digest == s.sha256
    if not official and s.shipped_in is None:
        raise MetricsInputError(
            f"{path} has sha256 {digest}, not the published {s.sha256} of {s.filename}; "
            f"it is corrupt or a different file: delete it, or pass it explicitly as a non-official file"
        )
    if not official:
        log.warning("%s (sha256 %s) is not the shipped %s; results will record this sha256", path, digest[:16], s.key)
    return ResolvedWeights(s.key, path, digest, official, label)


def locate(key: str, weights_dir: str | os.PathLike[str] | None = None) -> ResolvedWeights | None:
    """The first copy of weight ``key`` in the search folders, checked; None when there is none."""
    s = spec(key)
    for label, folder in s.search_dirs(weights_dir):
        path = folder / s.filename
        if path.is_file():
            return _check_found(s, path, label)
    return None


def download_target(s: WeightSpec, weights_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where a missing file should go: the first configured folder, else the torch hub cache."""
    dirs = user_dirs(weights_dir)
    return dirs[0][1] if dirs else (s.shipped_in or torch_hub_checkpoints())


def download(s: WeightSpec, folder: Path) -> Path:
    """Download ``s`` into ``folder``, verify its sha256, and move it into place atomically.

    Raises :class:`WeightsMissingError` (one line) on any network or checksum failure.
    """
    if s.url is None:
        raise WeightsMissingError(missing_message(s, folder, "it cannot be downloaded"))
    log.info("downloading %s to %s", s.url, folder / s.filename)
    try:
        return download_url(s.url, folder / s.filename, sha256=s.sha256, timeout=DOWNLOAD_TIMEOUT_S)
    except DataError as exc:
        raise WeightsMissingError(missing_message(s, folder, f"download failed: {exc}")) from None


def resolve(
    key: str,
    weights_dir: str | os.PathLike[str] | None = None,
    allow_download: bool | None = None,
) -> ResolvedWeights:
    """Find weight ``key`` (see the module docstring for the order), downloading it if allowed.

    Raises :class:`WeightsMissingError` naming the file, its sha256, its URL and the folder.
    """
    found = locate(key, weights_dir)
    if found is not None:
        return found
    s = spec(key)
    target = download_target(s, weights_dir)
    if not downloads_allowed(allow_download) or s.url is None:
        raise WeightsMissingError(missing_message(s, target))
    path = download(s, target)
    return ResolvedWeights(key, path, file_sha256(path), True, "downloaded")


def resolve_file(key: str, path: str | os.PathLike[str]) -> ResolvedWeights:
    """An explicitly given file standing in for weight ``key`` (``--inception-weights FILE``).

    Any file is accepted; its sha256 is recorded, with a warning when it is not the official one.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise MetricsInputError(f"weights file {p} does not exist")
    s = spec(key)
    digest = file_sha256(p)
    official = digest == s.sha256
    if not official:
        log.warning(
            "%s is not the official %s (sha256 %s..., expected %s...): its numbers are not comparable "
            "with published ones",
            p,
            s.filename,
            digest[:16],
            (s.sha256 or "?")[:16],
        )
    return ResolvedWeights(key, p, digest, official, "explicit")


def status(weights_dir: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """One row per known weight file: where it is (or would go), and whether it checks out."""
    rows = []
    for s in registry().values():
        row: dict[str, Any] = {
            "key": s.key,
            "file": s.filename,
            "sha256": s.sha256,
            "url": s.url,
            "used_by": s.used_by,
            "description": s.description,
        }
        try:
            found = locate(s.key, weights_dir)
        except MetricsInputError as exc:
            row.update(present=False, state="bad checksum", path=None, detail=str(exc))
        else:
            if found is None:
                row.update(present=False, state="missing", path=str(download_target(s, weights_dir)))
            else:
                row.update(
                    present=True,
                    state="ok" if found.official else "present (not the shipped file)",
                    path=str(found.path),
                    found_sha256=found.sha256,
                    source=found.source,
                )
        rows.append(row)
    return rows
