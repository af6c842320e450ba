"""What a second mutation survey of feeds/schedule.py, feeds/store/failure.py and the store's schema upgrades
found unpinned: the exact edge of CLOCK_SLACK (a last attempt exactly five minutes ahead of the clock still
counts as now); a store on a filesystem mounted read-only, whose hint said "chmod u+w" to a file its user may
write (a bug, mended with this test); another program's database whose `meta` says this feeds' schema version,
refused untouched like one saying an older version; and a store whose schema version is 0 or no number, said to
be damaged by both the writer and the reader (not a traceback, not "run `feeds run` first").

The schedule's edge is a pure `decide` at a chosen ``now``, as test_schedule.py has it; the read-only store is
a real SQLite store on a real tmpfs in a mount namespace of its own, remounted read-only after a writer was
killed (test_io_messages' rig: root and `unshare -m`); the schema tests open real SQLite files in tmp_path."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from test_io_messages import TMPFS
from test_review_fixes_cli import env
from test_schedule import EXACT, MIN, NOW, fetched

from feeds.errors import StoreError
from feeds.schedule import CLOCK_SLACK, decide, is_due
from feeds.store import Store
from feeds.store.schema import SCHEMA_VERSION

# -- schedule: the clock's slack ---------------------------------------------------------------------------------


def test_a_last_attempt_exactly_the_clock_slack_ahead_still_counts_as_now() -> None:
    """Mutant: `last_attempt > _add(now, CLOCK_SLACK)` -> `>=` in decide(), and CLOCK_SLACK 5 min -> 4 min.
    The docstring: "more than CLOCK_SLACK after now" is a clock set back since; closer (clocks of several
    machines, a small correction) counts as now, so the source waits its interval from that attempt."""
    assert CLOCK_SLACK == 5 * MIN
    now = NOW - CLOCK_SLACK
    d = decide(fetched(), EXACT, key="k", now=now)
    assert (d.next_due, d.reason) == (NOW + 15 * MIN, "interval 15m") and not is_due(d, now)
    # a second further, and it is a clock set back since: due now
    later = decide(fetched(), EXACT, key="k", now=now - MIN / 60)
    assert later.next_due == now - MIN / 60 and later.reason.endswith("(set back since): due now")


# -- failure: a store on a filesystem mounted read-only ------------------------------------------------------------

_WRITE = """\
import os, sys
from pathlib import Path
from sqlalchemy import text
from feeds.store import Store
from feeds.store.failure import store_failure
db = Path(sys.argv[1])
store = Store.open(db)
try:
    with store.tx() as c:
        c.execute(text("INSERT INTO meta VALUES (:k, '1')"), {"k": sys.argv[2]})
except Exception as e:
    print(store_failure(db, e))
    sys.exit(1)
if sys.argv[2] == "killed":
    os._exit(0)  # a writer killed: its -wal and -shm stay
store.close()
"""


def _killed_then_written(tmp_path: Path, store: Path, *, between: str, first: str = "true") -> None:
    """In a mount namespace of its own: ``first``, a writer of ``store`` killed (its -wal and -shm stay),
    ``between``, then a second write, whose words and exit status go to tmp_path's ``said`` and ``rc`` (and the
    store directory's listing to ``files``)."""
    store.parent.mkdir()
    (tmp_path / "write.py").write_text(_WRITE)
    py = f"{sys.executable} {tmp_path}/write.py {store}"
    script = (f"{first} || exit 99\n"
              f"{py} killed || exit 98\n"
              f"{between} || exit 97\n"
              f"{py} again >{tmp_path}/said; echo $? >{tmp_path}/rc; ls -A {store.parent} >{tmp_path}/files\n")
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], env=env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr


@TMPFS
def test_a_store_on_a_filesystem_mounted_read_only_is_told_to_remount_not_to_chmod(tmp_path: Path) -> None:
    """Mutant: `_read_only_mount` always False in failure.py (survived: its check came after the per-file
    check, and on a read-only mount every file reads as not writable, so it was never reached). The hint
    said "feeds.db is this user's but its mode 644 does not let it write: chmod u+w", which cannot help;
    the directory_hint's remount is what does. (Found as a bug: mended in failure.py.)"""
    var = tmp_path / "var"
    store = var / "feeds.db"
    _killed_then_written(tmp_path, store, first=f"mount -t tmpfs -o size=1m tmpfs {var}",
                         between=f"mount -o remount,ro {var}")
    assert (tmp_path / "files").read_text().split() == ["feeds.db", "feeds.db-shm", "feeds.db-wal"]
    assert (tmp_path / "rc").read_text() == "1\n"
    assert (tmp_path / "said").read_text() == (
        f"{store}: writing failed (attempt to write a readonly database): the directory {var} is on a filesystem "
        "mounted read-only, and SQLite makes the store's -wal and -shm files there: mount it read-write, or move "
        "the store\n")


@TMPFS
def test_a_store_file_bound_read_only_over_itself_is_told_to_remount_not_to_chmod(tmp_path: Path) -> None:
    """The survey's note, mended after it: a read-only bind mount of the store file alone (its directory, -wal and
    -shm writable) was told "feeds.db is this user's but its mode 644 does not let it write: chmod u+w", as the
    whole read-only filesystem was before the mend above. The file's own mount is what to change."""
    store = tmp_path / "var" / "feeds.db"
    _killed_then_written(tmp_path, store, between=f"mount --bind {store} {store} && mount -o remount,bind,ro {store}")
    assert (tmp_path / "rc").read_text() == "1\n"
    assert (tmp_path / "said").read_text() == (
        f"{store}: writing failed (attempt to write a readonly database): {store} is mounted read-only (a "
        "read-only bind mount of the file): mount it read-write, or move the store\n")


# -- the store's schema: what is a feeds store, and at which version ------------------------------------------------


def test_another_programs_database_whose_meta_says_this_feeds_schema_version_is_refused_untouched(
        tmp_path: Path) -> None:
    """Mutant: `int(row[0]) > S.SCHEMA_VERSION` -> `>=` in _foreign_tables() (a meta saying the current
    version skipped the check of tables and columns, and the other program's database was taken over: feeds'
    tables created in it). test_store_sqlite pins a meta saying 2; a newer feeds' store (10) is refused by name."""
    db = tmp_path / "app.db"
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); CREATE TABLE users (name TEXT);"
                      f"INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');")
    con.close()
    before = db.read_bytes()
    with pytest.raises(StoreError, match=r"not a feeds store \(it has tables of its own: users\)"):
        Store.open(db)
    assert db.read_bytes() == before and not Path(f"{db}-wal").exists()


@pytest.mark.parametrize("version", ["0", "nine"])
def test_a_store_at_schema_version_0_or_not_a_number_is_said_to_be_damaged_by_writer_and_reader(
        tmp_path: Path, version: str) -> None:
    """Mutants: `version < 1` -> `version < 0` in _schema_version() (a version 0 went to the upgrade steps,
    which have none from 0: a KeyError's traceback from `feeds run`, and "older than this feeds: run `feeds
    run` first" from `feeds status`, which cannot help); `_schema_version(row, where)` -> `int(str(row))` in
    _migrate()'s check for a newer store (a version that is no number: a ValueError's traceback)."""
    db = tmp_path / "feeds.db"
    Store.open(db).close()
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
    con.close()
    damaged = f"{db}: store schema version '{version}' is not a version this feeds knows"
    for opening in (Store.open, Store.open_readonly):
        with pytest.raises(StoreError) as e:
            opening(db)
        assert str(e.value).startswith(damaged), str(e.value)
