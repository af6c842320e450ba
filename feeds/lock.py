"""An advisory lock beside the store: one writer process (a cron run or the daemon) at a time."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from feeds.errors import LockedError, StoreError


class StoreLock:
    def __init__(self, store_path: Path | str) -> None:
        # beside the store's real path: two configs reaching one store through a symlink share the lock
        try:
            real = Path(store_path).resolve()
        except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13): the store says so
            real = Path(store_path)
        self.path = Path(f"{real}.lock")
        self._fd: int | None = None

    def acquire(self, wait: float = 0.0) -> StoreLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:  # a read-only directory, a lock path that is a directory, ...
            raise StoreError(f"{self.path}: cannot open the store's lock file ({e.strerror or e})") from e
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockedError(str(self.path)) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StoreLock:
        return self if self._fd is not None else self.acquire()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def holder(store_path: Path | str) -> int | None:
    """The pid of a live feeds process that holds (or last held) the store's lock, else None. The lock file
    keeps the pid of its last holder; a process of that pid still running feeds (on Linux, its command line
    names feeds) is taken for the holder. Nothing is locked or written: `feeds status` reads only."""
    path = StoreLock(store_path).path
    try:
        pid = int(path.read_text(encoding="ascii").strip() or 0)
    except (OSError, ValueError):
        return None
    if pid <= 0 or pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # another user's: alive
        pass
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # no /proc (not Linux): alive is all that can be told
        return pid
    return pid if b"feeds" in cmdline else None

