"""One writer per run or suite folder: an advisory ``flock`` on ``FOLDER/.lock``.

The kernel drops the lock when its holder dies (even by SIGKILL), so a crashed run never leaves a
stale lock behind; the file keeps the last holder's pid, host and command for the error message.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import time
from pathlib import Path
from types import TracebackType

from gan_bench.config import ConfigError

LOCK_NAME = ".lock"


class FolderLockedError(ConfigError):
    """Another process holds the folder; the message names it."""


class FolderLock:
    """``with FolderLock(folder, what):`` holds ``folder/.lock`` or raises :class:`FolderLockedError`.

    Re-entrant within a process for the same folder (a suite in-process holding a run's lock
    must not lock itself out)."""

    _held: dict[str, int] = {}

    def __init__(self, folder: str | os.PathLike[str], what: str = "gan-bench") -> None:
        self.folder = Path(folder)
        self.what = what
        self._fd: int | None = None
        self._key = str(self.folder.resolve())

    def __enter__(self) -> FolderLock:
        if self._key in FolderLock._held:
            FolderLock._held[self._key] += 1
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 500, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise FolderLockedError(f"{self.folder} is in use by {holder}; wait for it to finish or use another folder") from None
        os.ftruncate(fd, 0)
        command = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv[:3]))
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} ({self.what}: {command}; since "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S')})\n".encode(), 0)
        self._fd = fd
        FolderLock._held[self._key] = 1
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        FolderLock._held[self._key] -= 1
        if FolderLock._held[self._key] == 0:
            del FolderLock._held[self._key]
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None
