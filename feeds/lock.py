"""An advisory lock beside the store: one writer process (a cron run or the daemon) at a time."""

from __future__ import annotations

import fcntl
import os
import stat
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
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as e:  # a read-only directory, a lock path that is a directory, ...
            raise StoreError(f"{self.path}: cannot open the store's lock file ({e.strerror or e}"
                             f"{ownership_hint(self.path) if isinstance(e, PermissionError) else ''})") from e
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
        self.give_away()
        return self

    def store_files(self) -> list[Path]:
        """The lock file, the store beside it and the store's -wal, -shm and -journal."""
        store = self.path.with_name(self.path.name.removesuffix(".lock"))
        return [self.path, store, *(store.with_name(store.name + x) for x in ("-wal", "-shm", "-journal"))]

    def give_away(self) -> None:
        """Run as root, the files this process made beside the store (the lock file, the store and its -wal,
        -shm, -journal) go to the owner of their directory, as publish does for the output (an operator review:
        one `feeds run` as root in the service user's directory left them root's, and the service's runs then
        failed for good). Called when the lock is taken and when it is let go (the store is closed by then, or
        about to be: SQLite, run as root, gives a -wal or -shm it makes the database file's owner)."""
        give_to_directory_owner(self.store_files())

    def release(self) -> None:
        if self._fd is not None:
            self.give_away()
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StoreLock:
        return self if self._fd is not None else self.acquire()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def directory_owner(directory: Path) -> tuple[int, int] | None:
    """Run as root: the (uid, gid) of ``directory`` when it is not root's, else None (nothing to give)."""
    if os.geteuid() != 0:
        return None
    try:
        st = directory.stat()
    except OSError:
        return None
    return None if st.st_uid == 0 else (st.st_uid, st.st_gid)


def give_to_directory_owner(paths: list[Path]) -> None:
    """Run as root: each of ``paths`` that is a plain file of one link and root's (made by this process, or by
    an earlier run as root) is given to the owner of its directory; another user's file, a symlink and a hard
    link are left as they are. Best effort."""
    for p in paths:
        owner = directory_owner(p.parent)
        if owner is None:
            continue
        try:
            st = os.lstat(p)
            # a plain file of one link only: a symlink or a hard link to a file of root's elsewhere (a diff
            # review: a root file linked as feeds.db-journal was given away) stays as it is
            if (st.st_uid == 0 and stat.S_ISREG(st.st_mode) and st.st_nlink == 1
                    and (st.st_uid, st.st_gid) != owner):
                os.lchown(p, *owner)
        except OSError:
            continue


def ownership_hint(path: Path) -> str:
    """For a permission error on ``path`` (or its directory): who owns what, and who this process is; empty
    when nothing says more than the error."""
    who = _user(os.geteuid())
    for p in (path, path.parent):
        try:
            st = p.stat()
        except OSError:
            continue
        if st.st_uid != os.geteuid():
            return (f"; {p} is owned by {_user(st.st_uid)} and this feeds runs as {who}: run feeds as "
                    f"{_user(st.st_uid)}, or give it back (chown) to the user feeds runs as; a run as root "
                    "may have made it")
    return ""


def _user(uid: int) -> str:
    import pwd

    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


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

