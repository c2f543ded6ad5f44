"""Helpers shared by the metric-harness tests: real data from the shared folder, PNG writing."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
if not DATA.is_dir():  # the repo may be checked out elsewhere; the data lives at /work/shared/data
    DATA = Path("/work/shared/data")


def read_idx(path: Path) -> np.ndarray:
    """An idx(.gz) file as a numpy array (the MNIST container format)."""
    with gzip.open(path) as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mnist(split: str = "test", name: str = "mnist") -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels) of MNIST-like data from the shared folder."""
    prefix = "t10k" if split == "test" else "train"
    folder = DATA / name
    return read_idx(folder / f"{prefix}-images-idx3-ubyte.gz"), read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz")


def write_pngs(folder: Path, images: np.ndarray) -> Path:
    """Save uint8 images (N, H, W) or (N, H, W, 3) as zero-padded PNGs."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"{i:05d}.png")
    return folder


def rel(a: float, b: float) -> float:
    """Relative difference |a - b| / max(|b|, tiny)."""
    return abs(a - b) / max(abs(b), 1e-30)


def write_png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that declares ``width`` x ``height`` pixels in a few bytes (its IDAT is a stub): what a
    decompression bomb looks like to a reader before it decodes anything."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path
