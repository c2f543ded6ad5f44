"""Datasets too large for memory: examples read from disk by worker processes, batch by batch.

A :class:`StreamingDataset` has the interface the trainer and the metrics use of an
:class:`~gan_bench.data.base.ArrayDataset` (``name``, ``spec``, ``meta``, ``y``, ``len``,
:meth:`~StreamingDataset.to`, :meth:`~StreamingDataset.batch`), and ``batch(index)`` returns
exactly what the in-memory dataset returns for the same rows. Only the labels are held in memory;
the images are read when asked for, from

- a folder of image files, decoded and resized by :func:`gan_bench.data.images.read_image` as the
  in-memory loaders decode them (:class:`ImageFiles`), or
- a memory-mapped uint8 ``.npy`` or uncompressed ``.npz`` (``np.savez``) of (N,H,W,C) or (N,H,W)
  images, as the ``folder`` dataset reads them (:class:`MemmapImages`).

Reads run in a pool of ``data.workers`` processes (0 = in this process), each batch split across
them. When the dataset is handed the trainer's :class:`~gan_bench.train.sampler.EpochSampler`
(:meth:`~StreamingDataset.follow`), the next batches are predictable and are read ahead while
the current step trains; a batch that was not predicted is read at once, so prefetching never
changes what a run sees. ``x`` is a :class:`StreamedImages` view: ``x[index]`` reads those rows
(uint8, on the dataset's device), ``x.shape``/``x.dtype``/``x.device`` describe the whole, so
code that gathers a subset of real images (reference features for FID) works unchanged.

Loaders choose with ``data.stream`` (:func:`stream_reason`): ``auto`` (the default) streams when
the decoded uint8 images would exceed ``data.max_memory_gb`` (or half the free memory of the CUDA
device), ``true`` always, ``false`` never.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import struct
import sys
import weakref
import zipfile
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from gan_bench.data.base import ArrayDataset, DataError, DataSpec
from gan_bench.data.images import read_image, resize_images

log = logging.getLogger("gan_bench.data")

STREAM_CHOICES = ("auto", "true", "false")
PREFETCH_BATCHES = 2  # batches read ahead of the trainer: enough to hide one batch's decoding
GIVE_UP_AFTER_MISSES = 3  # consecutive wrong predictions (a sharded or custom order): stop reading ahead
_READ_CHUNK = 1024  # rows per task when gathering many rows (reference images, iter_batches)


def check_stream_option(value: bool | str) -> None:
    """Raise ConfigError unless ``data.stream`` is true, false or one of :data:`STREAM_CHOICES`."""
    from gan_bench.config import ConfigError

    if not isinstance(value, bool) and value not in STREAM_CHOICES:
        raise ConfigError(f"data.stream={value!r} is not one of: auto, true, false", "data.stream")


def stream_reason(stream: bool | str, num: int, shape: Sequence[int], max_memory_gb: float) -> str | None:
    """Why a dataset of ``num`` uint8 examples of ``shape`` should stream, or None to hold it in memory.

    ``auto`` streams when its decoded size exceeds ``max_memory_gb`` GiB, or half the free memory
    of the current CUDA device when there is one (the data would be moved there by ``to``).
    """
    check_stream_option(stream)
    if stream is False or stream == "false":
        return None
    if stream is True or stream == "true":
        return "data.stream=true"
    size = num * math.prod(shape)
    if size > max_memory_gb * 2**30:
        return f"{_bytes(size)} decoded > data.max_memory_gb={max_memory_gb:g}"
    if torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info()
        if size > free / 2:
            return f"{_bytes(size)} decoded > half the CUDA device's free memory ({_bytes(free)})"
    return None


def _bytes(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n:.0f} bytes"


class ExampleSource(Protocol):
    """Where a streaming dataset's images come from; pickled to every worker process."""

    def __len__(self) -> int: ...

    @property
    def chw(self) -> tuple[int, int, int]:
        """One example's shape, (C, H, W), as batches give it."""
        ...

    def read(self, rows: np.ndarray) -> np.ndarray:
        """The uint8 NCHW images at ``rows`` (a 1-D int array), in that order."""
        ...

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        """Work done in the reading process after the workers (resizing); identity by default."""
        ...


class ImageFiles:
    """Image files read with :func:`read_image` (centre crop, resize, grayscale) as the loaders do.

    Every image must come out as ``shape`` (H, W, C), as :func:`~gan_bench.data.images.decode_images`
    requires; one that does not is a DataError naming it.
    """

    def __init__(self, paths: Sequence[Path], size: int, crop: int, grayscale: bool, shape: tuple[int, int, int]) -> None:
        self.paths = [str(p) for p in paths]
        self.size, self.crop, self.grayscale, self.shape = size, crop, grayscale, tuple(shape)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def chw(self) -> tuple[int, int, int]:
        h, w, c = self.shape
        return c, h, w

    def read(self, rows: np.ndarray) -> np.ndarray:
        h, w, c = self.shape
        out = np.empty((len(rows), c, h, w), dtype=np.uint8)
        for i, row in enumerate(rows):
            path = Path(self.paths[int(row)])
            img = read_image(path, self.size, self.crop, self.grayscale)
            if img.shape != self.shape:
                raise DataError(f"{path} is {img.shape[1]}x{img.shape[0]} but {self.paths[0]} is {w}x{h}; "
                                "set data.image_size to resize them all")
            out[i] = img.transpose(2, 0, 1)
        return out

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        return x


def npy_member(path: Path, key: str | None = None) -> tuple[int, np.dtype, tuple[int, ...], bool, bool]:
    """(byte offset of the data, dtype, shape, fortran order, compressed) of a ``.npy`` file, or of
    member ``key`` (``"x"`` for ``x.npy``) of an ``.npz``, read from its header alone.

    An offset is only meaningful for an uncompressed member; ``compressed`` says which it is.
    """
    try:
        if path.suffix.lower() == ".npy":
            with open(path, "rb") as f:
                version = np.lib.format.read_magic(f)
                shape, fortran, dtype = _read_header(f, version)
                return f.tell(), dtype, shape, fortran, False
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(f"{key}.npy")
            with zf.open(info) as member:
                version = np.lib.format.read_magic(member)
                shape, fortran, dtype = _read_header(member, version)
                header_len = member.tell()
        with open(path, "rb") as f:  # the member's data start: its local file header, then the .npy header
            f.seek(info.header_offset)
            local = f.read(30)
            if local[:4] != b"PK\x03\x04":
                raise ValueError("bad local file header")
            name_len, extra_len = struct.unpack("<HH", local[26:30])
        offset = info.header_offset + 30 + name_len + extra_len + header_len
        return offset, dtype, shape, fortran, info.compress_type != zipfile.ZIP_STORED
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path} is not a readable .npy/.npz ({exc})") from None


def _read_header(f: Any, version: tuple[int, int]) -> tuple[tuple[int, ...], bool, np.dtype]:
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    return np.lib.format.read_array_header_2_0(f)


class MemmapImages:
    """uint8 (N,H,W,C) or (N,H,W) images memory-mapped from a ``.npy`` or an uncompressed ``.npz``
    member; ``rows`` (optional) picks a subset; ``size`` > 0 resizes as the ``folder`` loader does
    (bilinear, antialiased, in the reading process: resizing needs torch, workers only numpy)."""

    def __init__(self, path: Path, offset: int, shape: tuple[int, ...], rows: np.ndarray | None = None,
                 size: int = 0) -> None:
        self.path, self.offset, self.file_shape = str(path), offset, tuple(shape)
        self.rows = rows
        self.size = size
        self._array: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rows) if self.rows is not None else self.file_shape[0]

    @property
    def chw(self) -> tuple[int, int, int]:
        c = self.file_shape[3] if len(self.file_shape) == 4 else 1
        h, w = (self.size, self.size) if self.size else self.file_shape[1:3]
        return c, h, w

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_array": None}  # each process maps the file itself

    def _map(self) -> np.ndarray:
        if self._array is None:
            try:
                self._array = np.memmap(self.path, dtype=np.uint8, mode="r", offset=self.offset, shape=self.file_shape)
            except (OSError, ValueError) as exc:
                raise DataError(f"cannot memory-map {self.path}: {exc}") from None
        return self._array

    def read(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        if self.rows is not None:
            rows = self.rows[rows]
        x = np.asarray(self._map()[rows])
        if x.ndim == 3:
            x = x[..., None]
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        return resize_images(x, self.size) if self.size else x


# One source per worker process, set by the pool's initializer.
_WORKER_SOURCE: ExampleSource | None = None


def _init_worker(source: ExampleSource) -> None:
    global _WORKER_SOURCE
    _WORKER_SOURCE = source


def _read_in_worker(rows: np.ndarray) -> np.ndarray:
    assert _WORKER_SOURCE is not None
    return _WORKER_SOURCE.read(rows)


def pool_context() -> multiprocessing.context.BaseContext:
    """fork on Linux, as torch's DataLoader does: a worker starts at once, needs no import guard
    in the user's script, and only runs PIL and numpy (never CUDA or torch's thread pools, which
    do not survive a fork); spawn elsewhere."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _copy_sampler(sampler: Any) -> Any:
    """A detached copy of an EpochSampler: drawing from it leaves the original untouched."""
    from gan_bench.train.sampler import EpochSampler

    copy = EpochSampler.__new__(EpochSampler)
    copy.size = sampler.size
    copy.generator = torch.Generator().manual_seed(0)
    copy.generator.set_state(sampler.generator.get_state())
    copy.perm, copy.pos, copy.epoch = sampler.perm, sampler.pos, sampler.epoch  # perm is replaced, never mutated
    return copy


class StreamedImages:
    """The images of a :class:`StreamingDataset`, read on indexing: ``x[index]`` is the uint8
    NCHW rows at ``index`` (an int, slice, list, array or tensor) on the dataset's device.

    Whole-array operations (``.cpu()``, ``.to()``, arithmetic) are not offered: the whole array is
    what does not fit in memory. Read a subset (``x[index]``, ``x[:n]``) or iterate
    :meth:`StreamingDataset.iter_batches`.
    """

    dtype = torch.uint8

    def __init__(self, dataset: StreamingDataset) -> None:
        self._dataset = weakref.proxy(dataset)  # no cycle: the dataset's finalizer stays prompt

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self._dataset), *self._dataset.spec.shape))

    @property
    def device(self) -> torch.device:
        return self._dataset.device

    def dim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return len(self._dataset)

    def __getitem__(self, key: Any) -> torch.Tensor:
        if isinstance(key, torch.Tensor):
            key = key.cpu().numpy()
        rows = np.arange(len(self._dataset))[key]
        if np.ndim(rows) == 0:
            return self._dataset.read(np.array([rows]))[0]
        return self._dataset.read(rows)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"'{name}': the images of a streamed dataset are not held in memory; "
                             "read rows with x[index] or iterate dataset.iter_batches(n)")

    def __repr__(self) -> str:
        return f"StreamedImages(shape={tuple(self.shape)}, dtype=torch.uint8, device={self.device})"


class StreamingDataset(ArrayDataset):
    """An :class:`ArrayDataset` whose images stay on disk and are read per batch by worker processes.

    ``reason`` says why it streams (logged by the loaders). The pool starts on the first read and
    stops when the dataset is garbage-collected, at :meth:`close` or at exit.
    """

    def __init__(self, name: str, source: ExampleSource, spec: DataSpec, y: torch.Tensor | None = None,
                 meta: dict[str, Any] | None = None, workers: int = 2, reason: str = "") -> None:
        if len(source) == 0:
            raise DataError(f"{name}: no examples to stream")
        self.name, self.spec, self.y, self.meta = name, spec, y, meta or {}
        self.source, self.workers, self.reason = source, workers, reason
        self.device = torch.device("cpu")
        self.x = StreamedImages(self)  # type: ignore[assignment]
        self._pool: ProcessPoolExecutor | None = None
        self._finalizer: weakref.finalize | None = None
        self._sampler: Any = None  # the trainer's sampler, when followed
        self._shadow: Any = None  # a copy of it, advanced past the batches read ahead
        # reads ahead: (rows, the sampler's (epoch, pos) before drawing them, their futures)
        self._ahead: deque[tuple[np.ndarray, tuple[int, int], list[Future[np.ndarray]]]] = deque()
        self._misses = 0
        self._rank, self._world_size = 0, 1
        self.read_ahead_hits = 0  # batches served from reads ahead (a measure of prefetching)

    def __len__(self) -> int:
        return len(self.source)

    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("_pool", "_finalizer", "_ahead", "x")}
        return {**state, "_pool": None, "_finalizer": None, "_sampler": None, "_shadow": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._ahead = deque()
        self.x = StreamedImages(self)  # type: ignore[assignment]

    def to(self, device: torch.device | str) -> StreamingDataset:
        """Record ``device`` (batches are put there) and move the labels; images stay on disk."""
        self.device = torch.device(device)
        if self.y is not None:
            self.y = self.y.to(self.device)
        return self

    def follow(self, sampler: Any, rank: int = 0, world_size: int = 1) -> None:
        """Read ahead the batches ``sampler`` (an EpochSampler whose ``next`` gives the indices
        of the following :meth:`batch` calls) will ask for; under data parallelism each batch is
        process ``rank``'s contiguous slice of a global draw ``world_size`` times as large (as
        :func:`gan_bench.train.distributed.shard` cuts it). Wrong guesses only cost the reads."""
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in a world of {world_size}")
        self._sampler, self._shadow, self._misses = sampler, None, 0
        self._rank, self._world_size = rank, world_size
        self._ahead.clear()

    def batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """The examples at ``index``, exactly as :meth:`ArrayDataset.batch` gives them: ``x``
        float in [-1, 1], ``index`` and, when labelled, ``y`` (long), all on the device."""
        index = index.to(self.device)
        rows = index.cpu().numpy().astype(np.int64, copy=False)
        x = self._take_ahead(rows)
        if x is None:
            x = self.read(rows)
        else:
            x = x.to(self.device)
        self._read_ahead(len(rows))
        out = {"x": x.float().div_(127.5).sub_(1.0), "index": index}
        if self.y is not None:
            out["y"] = self.y[index].long()
        return out

    def read(self, rows: np.ndarray) -> torch.Tensor:
        """The uint8 NCHW images at ``rows``, on the device (many rows: in chunks, every worker busy)."""
        rows = np.asarray(rows, dtype=np.int64)
        n = len(self)
        if rows.size and (rows.min() < -n or rows.max() >= n):
            raise IndexError(f"{self.name}: row {int(rows.max())} out of range for {n} examples")
        rows = rows % n if rows.size else rows
        return self._gather(self._submit(rows)).to(self.device)

    def iter_batches(self, batch_size: int) -> Iterator[dict[str, torch.Tensor]]:
        """Every example once, in order, as :meth:`batch` dicts of up to ``batch_size`` rows; the
        next batch is read while the caller works on the current one."""
        starts = list(range(0, len(self), batch_size))
        pending = [self._submit(np.arange(s, min(s + batch_size, len(self)))) for s in starts[:1]]
        for i, start in enumerate(starts):
            if i + 1 < len(starts):
                nxt = starts[i + 1]
                pending.append(self._submit(np.arange(nxt, min(nxt + batch_size, len(self)))))
            x = self._gather(pending.pop(0)).to(self.device)
            index = torch.arange(start, min(start + batch_size, len(self)), device=self.device)
            out = {"x": x.float().div_(127.5).sub_(1.0), "index": index}
            if self.y is not None:
                out["y"] = self.y[index].long()
            yield out

    def close(self) -> None:
        """Stop the worker processes (they start again on the next read)."""
        self._ahead.clear()
        if self._finalizer is not None:
            self._finalizer()
        self._pool = self._finalizer = None

    # -- reading -------------------------------------------------------------------------------

    def _executor(self) -> ProcessPoolExecutor | None:
        if self.workers <= 0:
            return None
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=pool_context(), initializer=_init_worker,
                                             initargs=(self.source,))
            self._finalizer = weakref.finalize(self, self._pool.shutdown, wait=False, cancel_futures=True)
        return self._pool

    def _submit(self, rows: np.ndarray) -> list[Future[np.ndarray]] | np.ndarray:
        """Futures of ``rows`` split across the workers, or the images themselves without workers."""
        pool = self._executor()
        if pool is None:
            return self.source.read(rows)
        parts = max(self.workers, math.ceil(len(rows) / _READ_CHUNK))
        chunks = [c for c in np.array_split(rows, min(parts, max(len(rows), 1)))]
        try:
            return [pool.submit(_read_in_worker, c) for c in chunks]
        except BrokenProcessPool as exc:
            raise self._broken(exc) from None

    def _gather(self, parts: list[Future[np.ndarray]] | np.ndarray) -> torch.Tensor:
        if isinstance(parts, np.ndarray):
            x = parts
        else:
            try:
                x = np.concatenate([f.result() for f in parts])
            except BrokenProcessPool as exc:
                raise self._broken(exc) from None
        return self.source.finish(torch.from_numpy(x))

    def _broken(self, exc: BaseException) -> DataError:
        self.close()
        return DataError(f"{self.name}: a streaming worker process died ({exc}); "
                         "data.workers=0 reads in the training process")

    def _take_ahead(self, rows: np.ndarray) -> torch.Tensor | None:
        """The images read ahead for ``rows``, or None when they were not read ahead.

        A request while the sampler still stands where the next read ahead starts is outside its
        order (evaluation, a labelled subset) and leaves the reads ahead in place; otherwise the
        sampler drew something else (a resumed state, another batch size, a shard): predict again.
        """
        if not self._ahead:
            return None
        head, before, futures = self._ahead[0]
        if np.array_equal(head, rows):
            self._ahead.popleft()
            self._misses = 0
            self.read_ahead_hits += 1
            return self._gather(futures)
        if (self._sampler.epoch, self._sampler.pos) != before:
            self._misses += 1
            self._shadow = None
            self._ahead.clear()  # reads in flight finish and are dropped
        return None

    def _read_ahead(self, n: int) -> None:
        if self._sampler is None or self.workers <= 0 or self._misses >= GIVE_UP_AFTER_MISSES:
            return
        if self._shadow is None:
            self._shadow = _copy_sampler(self._sampler)
        while len(self._ahead) < PREFETCH_BATCHES:
            before = (self._shadow.epoch, self._shadow.pos)
            rows = self._shadow.next(n * self._world_size)[self._rank * n : (self._rank + 1) * n]
            rows = rows.numpy().astype(np.int64, copy=False)
            self._ahead.append((rows, before, self._submit(rows)))  # type: ignore[arg-type]


def stream_images(
    name: str,
    source: ExampleSource,
    spec: DataSpec,
    y: torch.Tensor | None,
    meta: dict[str, Any],
    workers: int,
    reason: str,
) -> StreamingDataset:
    """A StreamingDataset, with the one log line saying that it streams and why."""
    log.info("%s: streaming %d examples of %s from disk through %s (%s)", name, len(source),
             "x".join(str(s) for s in spec.shape),
             f"{workers} worker processes" if workers > 0 else "the training process", reason)
    return StreamingDataset(name, source, spec, y=y, meta=meta, workers=workers, reason=reason)

