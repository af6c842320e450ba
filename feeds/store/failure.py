"""A store write that failed for a reason its operator can fix, as one line: which file, what was being done, what
failed, what became of the data and what to do (an I/O review: "the store failed: database or disk is full" said
none of it). Only the full disk and the store SQLite may not write are told this way; any other error keeps its
caller's own words."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


def driver_error(e: BaseException) -> BaseException:
    """SQLite's own error under a SQLAlchemy one (its ``orig``), else ``e``."""
    orig = getattr(e, "orig", None)
    return orig if isinstance(orig, BaseException) else e


def _kind(e: BaseException) -> tuple[int | None, str, str]:
    """SQLite's primary result code (None: not known), its extended name and the one-line reason of a
    database error."""
    err = driver_error(e)
    reason = (str(err).splitlines() or [type(err).__name__])[0]
    code = getattr(err, "sqlite_errorcode", None)
    name = str(getattr(err, "sqlite_errorname", "") or "")
    if isinstance(code, int):
        return code & 0xFF, name, reason
    # an error without SQLite's codes (another driver, a test's stand-in): its words
    if "disk is full" in reason:
        return sqlite3.SQLITE_FULL, "SQLITE_FULL", reason
    if "readonly" in reason.replace("read-only", "readonly"):
        return sqlite3.SQLITE_READONLY, "SQLITE_READONLY", reason
    return None, name, reason


def is_full(e: BaseException) -> bool:
    """The error is SQLite's "database or disk is full"."""
    return _kind(e)[0] == sqlite3.SQLITE_FULL


def _read_only_mount(d: Path) -> bool:
    try:
        return bool(os.statvfs(d).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def directory_hint(d: Path, store: Path) -> str:
    """Why this user may not make files in ``d`` (the store's directory, where SQLite makes its -wal, -shm and
    -journal files) and what gives it back: chmod when the directory is this user's, chown (or running feeds as
    its owner) when it is another's, a remount when its filesystem is read-only."""
    from feeds.lock import _user

    why = "and SQLite makes the store's -wal and -shm files there"
    if _read_only_mount(d):
        return f"the directory {d} is on a filesystem mounted read-only, {why}: mount it read-write, or move the store"
    me = _user(os.geteuid())
    try:
        st = d.stat()
    except OSError:
        return f"the directory {d} is not writable by this user ({me}), {why}"
    mode = st.st_mode & 0o777
    if st.st_uid == os.geteuid():
        return f"the directory {d} is not writable by this user ({me}; its mode is {mode:o}), {why}: chmod u+w {d}"
    return (f"the directory {d} is not writable by this user ({me}; it is {_user(st.st_uid)}'s, mode {mode:o}), "
            f"{why}: run feeds as its owner, or give it (and {store.name}, its -wal and -shm and {store.name}.lock) "
            "to this user with chown")


def _readonly_cause(store: Path) -> str:
    """The first of the store's files, or its directory, this process may not write, with its owner and the
    fix; empty when none is."""
    from feeds.lock import _user

    if _read_only_mount(store.parent):  # first: on it every file reads as not writable, and no chmod helps
        return directory_hint(store.parent, store)
    for p in (store, Path(f"{store}-wal"), Path(f"{store}-shm"), Path(f"{store}-journal")):
        try:
            st = p.stat()
        except OSError:
            continue
        if _read_only_mount(p):  # the file alone bound read-only over itself (its directory writable)
            return (f"{p} is mounted read-only (a read-only bind mount of the file): mount it read-write, or move "
                    "the store")
        if not os.access(p, os.W_OK):
            if st.st_uid == os.geteuid():  # its owner runs feeds: the mode is what stops it (an I/O review: a -shm
                # left 0444 by a store made read-only for a while; chown changed nothing)
                return f"{p} is this user's but its mode {st.st_mode & 0o777:o} does not let it write: chmod u+w {p}"
            return (f"{p} is owned by {_user(st.st_uid)} with mode {st.st_mode & 0o777:o}, and this feeds runs "
                    f"as {_user(os.geteuid())}: run feeds as its owner, or give the store, its -wal and -shm and "
                    f"{store.name}.lock back to this user with chown; a run as root may have made them")
    if not os.access(store.parent, os.W_OK):
        return directory_hint(store.parent, store)
    return ""


def readonly_hint(store: Path) -> str:
    """Why SQLite found the store read-only (an operator review: "attempt to write a readonly database" after a
    run as root left feeds.db and its -wal/-shm root's), as " (...)" to append to the error; empty when nothing
    says more than the error."""
    cause = _readonly_cause(store)
    return f" ({cause})" if cause else ""


def store_failure(store: Path, e: BaseException, *, doing: str | None = None,
                  then: str = " and run again") -> str | None:
    """One line for a write to the store at ``store`` that failed on a full disk or a store SQLite may not
    write; None for any other error. ``doing``: what was being written (the Store's `doing`, which SQLAlchemy's
    error carries as ``feeds_doing``); ``then``: what comes once the cause is gone (a daemon tries again at its
    next tick)."""
    code, name, reason = _kind(e)
    doing = doing or getattr(e, "feeds_doing", None)
    during = f" while {doing}" if doing else ""
    if code == sqlite3.SQLITE_FULL:
        # SQLite rolls back the transaction a full disk stopped (its journal or write-ahead log keeps the store
        # as it was before it); what was committed before stays, and the next run or tick does the rest
        return (f"{store}: the disk is full{during} ({reason}); nothing stored is lost, SQLite rolled that write "
                f"back: free space on the store's filesystem ({store.parent}){then}")
    if code == sqlite3.SQLITE_READONLY:
        cause = (directory_hint(store.parent, store) if name == "SQLITE_READONLY_DIRECTORY"
                 else _readonly_cause(store))
        return f"{store}: writing failed{during} ({reason}){': ' + cause if cause else ''}"
    return None
