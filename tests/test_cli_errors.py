"""The CLI's error contract: a user-fixable error is one line on stderr and exit code 2; a bug keeps
its traceback."""

from __future__ import annotations

import errno
import os

import pytest

import gan_bench.commands.list as list_command
from gan_bench.cli import main


def _raising(exc: BaseException):
    def run(args):
        raise exc

    return run


@pytest.mark.parametrize("exc, needle", [
    (RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried to "
                  "allocate 1099511627776 bytes.\nError code 12"), "try a smaller batch_size or eval.num_samples"),
    (RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB"), "try a smaller batch_size"),
    (MemoryError(), "try a smaller batch_size"),
    (NotADirectoryError(errno.ENOTDIR, "Not a directory", "runs/x/config.yaml"), "Not a directory: runs/x/config.yaml"),
    (FileExistsError(errno.EEXIST, "File exists", "runs/x"), "File exists: runs/x"),
    (PermissionError(errno.EACCES, "Permission denied", "/ro/run"), "Permission denied: /ro/run"),
    (IsADirectoryError(errno.EISDIR, "Is a directory", "out.json"), "Is a directory: out.json"),
    (OSError(errno.ENOSPC, "No space left on device", "runs/x/latest.pt"), "No space left on device"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "not utf-8 text"),
])
def test_user_errors_are_one_line_exit_2(monkeypatch, capsys, exc, needle):
    import torch

    if "CUDA" in str(exc):
        exc = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)(str(exc))
    monkeypatch.setattr(list_command, "run", _raising(exc))
    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gan-bench list: error:") and needle in err


def test_checkpoint_and_bomb_errors_are_user_errors(monkeypatch, capsys):
    from PIL.Image import DecompressionBombError

    from gan_bench.train.checkpoint import CheckpointError

    for exc in (CheckpointError("cannot load checkpoint x/latest.pt: truncated"), DecompressionBombError("too big")):
        monkeypatch.setattr(list_command, "run", _raising(exc))
        assert main(["list"]) == 2
        assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("exc", [RuntimeError("shape mismatch"), KeyError("x"), OSError(errno.EIO, "I/O error")])
def test_bugs_keep_their_traceback(monkeypatch, exc):
    monkeypatch.setattr(list_command, "run", _raising(exc))
    with pytest.raises(type(exc)):
        main(["list"])


@pytest.mark.parametrize("argv", [
    ["train", "--variant", "gan-ns", "--dataset", "ring8", "--out", ""],
    ["suite", "baselines/quickstart.yaml", "--out", " "],
    ["metrics", "a.npz", "--out", ""],
])
def test_empty_out_is_refused(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out is empty" in err
    assert list(tmp_path.iterdir()) == []  # nothing written here


def test_out_that_is_a_file_or_read_only(tmp_path, capsys):
    taken = tmp_path / "file"
    taken.write_text("keep me")
    args = ["train", "--variant", "gan-ns", "--dataset", "ring8", "--budget", "2steps", "--no-progress",
            "data.num_points=200", "eval.num_samples=50", "net.width=8"]
    assert main([*args, "--out", str(taken)]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and taken.read_text() == "keep me"
    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert main([*args, "--out", str(ro / "run")]) == 2
        assert "Permission denied" in capsys.readouterr().err
    finally:
        ro.chmod(0o700)


def test_device_override_is_validated(tmp_path, capsys):
    assert main(["train", "--variant", "gan-ns", "--dataset", "ring8", "--out", str(tmp_path / "r"), "device=foo"]) == 2
    err = capsys.readouterr().err
    assert "device='foo' is not one of: cpu, cuda, auto" in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_truncated_checkpoint_is_one_line(tmp_path, capsys):
    """A run whose checkpoint was cut short (a full disk): `metrics` on it is one line, exit 2."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("variant: gan-ns\ndataset: ring8\nnet: {width: 8}\ndata: {num_points: 100}\n")
    (run / "checkpoints" / "final.pt").write_bytes(b"PK\x03\x04" + b"\0" * 40)
    assert main(["metrics", str(run), str(run), "--protocol", "mnist-classifier"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "final.pt" in err
