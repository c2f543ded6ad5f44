"""Result files are replaced atomically: a failed write never leaves a torn or missing file."""

import os
from pathlib import Path

import pytest

from gan_bench import atomic


def test_write_and_read_back(tmp_path: Path):
    atomic.write_json(tmp_path / "a" / "x.json", {"v": float("nan"), "w": [1, 2]})
    assert (tmp_path / "a" / "x.json").read_text().count("null") == 1
    atomic.write_jsonl(tmp_path / "m.jsonl", [{"step": 1}, {"step": 2}])
    with open(tmp_path / "m.jsonl", "a") as fh:
        fh.write('{"step": 3, "tor')  # a run killed mid-line
    assert [r["step"] for r in atomic.read_jsonl(tmp_path / "m.jsonl")] == [1, 2]
    mode = (tmp_path / "m.jsonl").stat().st_mode & 0o777
    assert mode & 0o044  # readable by others: results are meant to be shared


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "board.csv"
    target.write_text("old")

    def broken_writer(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic.atomic_write(target, broken_writer)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["board.csv"]
