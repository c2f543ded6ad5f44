"""The shared download/checksum/cache helpers, offline: downloads use file:// URLs."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gan_bench.data.base import DataError
from gan_bench.data.download import (
    cache_path,
    cached_arrays,
    ensure_file,
    extract_archive,
    file_digest,
    read_checksum_list,
    verify_file,
)


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GAN_BENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _payload(tmp_path: Path) -> tuple[Path, str, str]:
    src = tmp_path / "src" / "payload.bin"
    src.parent.mkdir()
    data = bytes(range(256)) * 100
    src.write_bytes(data)
    return src, hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()


def test_verify_file_accepts_the_right_digest_and_names_the_path_on_mismatch(tmp_path: Path) -> None:
    src, sha, md5 = _payload(tmp_path)
    assert file_digest(src) == sha and file_digest(src, "md5") == md5
    verify_file(src, sha256=sha, md5=md5)
    with pytest.raises(DataError, match=r"payload\.bin is corrupt.*sha256"):
        verify_file(src, sha256="0" * 64)


def test_missing_file_without_download_names_file_and_folder(tmp_path: Path) -> None:
    dest = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    with pytest.raises(DataError) as err:
        ensure_file(dest, dataset="mnist", urls=["file:///nowhere"], download=False)
    msg = str(err.value)
    assert "train-images-idx3-ubyte.gz" in msg and str(dest.parent) in msg and "data.download=true" in msg
    assert "\n" not in msg and not dest.exists()


def test_download_checks_the_checksum_before_the_file_appears(tmp_path: Path) -> None:
    src, sha, md5 = _payload(tmp_path)
    dest = tmp_path / "data" / "payload.bin"
    with pytest.raises(DataError, match="had md5 [0-9a-f]{32}, expected 0{32}"):
        ensure_file(dest, dataset="x", urls=[src.as_uri()], md5="0" * 32, download=True)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # no temp file left behind
    # the first mirror fails, the second works
    got = ensure_file(dest, dataset="x", urls=["file:///no/such/mirror", src.as_uri()], md5=md5, download=True)
    assert got == dest and dest.read_bytes() == src.read_bytes()
    ensure_file(dest, dataset="x", sha256=sha, verify=True)  # present and verified: no download needed


def test_unreachable_download_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="could not download payload.bin"):
        ensure_file(tmp_path / "payload.bin", dataset="x", urls=["file:///no/such/file"], download=True)


def test_checksum_list_parsing(tmp_path: Path) -> None:
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{'a' * 64}  ./x/one.jpg\n{'B' * 64} *two.jpg\n\n")
    assert read_checksum_list(sums) == {"x/one.jpg": "a" * 64, "two.jpg": "b" * 64}
    sums.write_text("nonsense\n")
    with pytest.raises(DataError, match="line 1"):
        read_checksum_list(sums)


def test_cached_arrays_builds_once_and_rebuilds_on_new_key_or_corrupt_file(_cache: Path) -> None:
    calls = []

    def build() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"x": np.arange(12, dtype=np.uint8).reshape(3, 4)}

    first = cached_arrays("t", {"size": 4}, build)
    second = cached_arrays("t", {"size": 4}, build)
    assert len(calls) == 1 and np.array_equal(first["x"], second["x"])
    path = cache_path("t", {"size": 4})
    assert path.is_file() and [p.name for p in _cache.iterdir()] == [path.name]  # no temp files

    cached_arrays("t", {"size": 8}, build)
    assert len(calls) == 2

    path.write_bytes(b"not an npz")
    again = cached_arrays("t", {"size": 4}, build)
    assert len(calls) == 3 and np.array_equal(again["x"], first["x"])
    cached_arrays("t", {"size": 4}, build, enabled=False)
    assert len(calls) == 4


def test_extract_archive_refuses_paths_outside_the_folder(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("d/a.txt", "hi")
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../evil.txt", "x")
    extract_archive(good, tmp_path / "out")
    assert (tmp_path / "out" / "d" / "a.txt").read_text() == "hi"
    with pytest.raises(DataError, match="outside its folder"):
        extract_archive(bad, tmp_path / "out2")
    assert not (tmp_path / "evil.txt").exists()
