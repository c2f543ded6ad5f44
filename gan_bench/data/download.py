"""Finding, checking, downloading and caching dataset files.

Nothing here touches the network unless a loader was asked to (``download=True``, default off):
without it a missing file is a :class:`~gan_bench.data.base.DataError` that names the file and
the folder to put it in. Downloads and cache files are written to a temporary file in the target
folder and moved into place with :func:`os.replace`, so a crash or a concurrent run never leaves a
half-written file under the final name.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.request
import warnings
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gan_bench.atomic import atomic_path
from gan_bench.data.base import DataError

DEFAULT_CACHE_DIR = Path("~/.cache/gan_bench/cache").expanduser()
_CHUNK = 1 << 20


# --------------------------------------------------------------------------- checksums


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of the file at ``path`` (``sha256`` or ``md5``), read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: Path, sha256: str | None = None, md5: str | None = None) -> None:
    """Raise DataError naming ``path`` when its sha256 or md5 differs from the expected one."""
    for algorithm, expected in (("sha256", sha256), ("md5", md5)):
        if expected is None:
            continue
        actual = file_digest(path, algorithm)
        if actual != expected.lower():
            raise DataError(
                f"{path} is corrupt or not the expected file: {algorithm} {actual[:16]}... "
                f"!= {expected[:16]}...; replace it with the original file"
            )


def read_checksum_list(path: Path) -> dict[str, str]:
    """``{relative name: sha256}`` from a ``sha256sum``-style file (``HASH  NAME`` per line)."""
    out: dict[str, str] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise DataError(f"cannot read checksum list {path}: {exc.strerror}") from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        digest, _, name = line.strip().partition(" ")
        name = name.strip().lstrip("*").removeprefix("./")
        if len(digest) != 64 or not name:
            raise DataError(f"{path} line {lineno} is not 'SHA256  NAME'")
        out[name] = digest.lower()
    return out


# --------------------------------------------------------------------------- finding / downloading


def missing_file_error(path: Path, dataset: str, how: str = "") -> DataError:
    """The one-line error for a file that is not there: what is missing and where it goes."""
    extra = f" ({how})" if how else ""
    return DataError(f"{dataset}: missing {path.name}; put it in {path.parent}{extra}")


def download_url(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest`` (atomically), checking its checksum before it appears there.

    Any ``urllib`` URL works (``https://``, ``file://``). Raises DataError on a network error or a
    checksum mismatch; ``dest`` is then left untouched.
    """
    try:
        with atomic_path(dest) as tmp:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out, _CHUNK)
            for algorithm, expected in (("sha256", sha256), ("md5", md5)):
                actual = file_digest(tmp, algorithm) if expected else None
                if expected and actual != expected.lower():
                    raise DataError(f"download of {url} had {algorithm} {actual}, expected {expected}; "
                                    f"not saved as {dest}")
    except OSError as exc:  # URLError is an OSError
        reason = getattr(exc, "reason", None) or exc.strerror or exc
        raise DataError(f"cannot download {url} to {dest}: {reason}") from None
    return dest


def ensure_file(
    path: Path,
    *,
    dataset: str,
    urls: Sequence[str] = (),
    sha256: str | None = None,
    md5: str | None = None,
    download: bool = False,
    verify: bool = False,
) -> Path:
    """``path`` if it exists (checked against its checksum when ``verify``), else downloaded.

    Without ``download`` a missing file raises DataError naming the file and its folder. With it,
    each of ``urls`` is tried in turn and the file is verified before it is kept. ``md5`` is what
    publishers list and is always used for downloads; ``sha256`` is also checked when given.
    """
    if path.is_file():
        if verify:
            verify_file(path, sha256=sha256, md5=None if sha256 else md5)
        return path
    if not download or not urls:
        how = "or pass data.download=true to fetch it" if urls and not download else ""
        raise missing_file_error(path, dataset, how)
    errors = []
    for url in urls:
        try:
            return download_url(url, path, sha256=sha256, md5=md5)
        except DataError as exc:
            errors.append(str(exc))
    raise DataError(f"{dataset}: could not download {path.name} to {path.parent}: {errors[-1]}")


def extract_archive(archive: Path, dest: Path) -> None:
    """Unpack a .zip or .tar(.gz) archive into ``dest``, refusing members that escape it."""
    import tarfile

    dest = dest.resolve()
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                names = zf.namelist()
                _check_members(archive, dest, names)
                zf.extractall(dest)
        else:
            with tarfile.open(archive) as tf:
                _check_members(archive, dest, tf.getnames())
                tf.extractall(dest)
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise DataError(f"cannot unpack {archive}: {exc}") from None


def _check_members(archive: Path, dest: Path, names: Sequence[str]) -> None:
    for name in names:
        target = (dest / name).resolve()
        if target != dest and dest not in target.parents:
            raise DataError(f"{archive} holds a path outside its folder: {name}")


# --------------------------------------------------------------------------- cache


def cache_dir() -> Path:
    """Where decoded arrays are cached: ``$GAN_BENCH_CACHE``, else ``~/.cache/gan_bench/cache``."""
    env = os.environ.get("GAN_BENCH_CACHE")
    return Path(env).expanduser() if env else DEFAULT_CACHE_DIR


def cache_path(name: str, key: Mapping[str, Any]) -> Path:
    """The cache file for ``name`` built with ``key`` (any JSON-able mapping of what shaped it)."""
    blob = json.dumps(dict(key), sort_keys=True, default=str).encode()
    return cache_dir() / f"{name}-{hashlib.sha256(blob).hexdigest()[:20]}.npz"


def save_npz_atomic(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` as an uncompressed .npz at ``path`` via a temp file and os.replace."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file object keeps numpy from appending ".npz" to the name
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())


def cached_arrays(
    name: str,
    key: Mapping[str, Any],
    build: Callable[[], dict[str, np.ndarray]],
    enabled: bool = True,
) -> dict[str, np.ndarray]:
    """``build()``'s arrays, cached as an .npz keyed by ``name`` and ``key``.

    A cache file that cannot be read (truncated, or from an older format) is rebuilt, not trusted.
    A cache folder that cannot be written only costs the rebuild next time.
    """
    if not enabled:
        return build()
    path = cache_path(name, key)
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError):
            pass
    arrays = build()
    try:
        save_npz_atomic(path, arrays)
    except OSError as exc:
        warnings.warn(f"cannot write cache file {path}: {exc.strerror or exc}", stacklevel=2)
    return arrays
