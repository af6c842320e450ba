"""The SQLite store's connection settings and what a closed store leaves on disk (real files)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

from feeds.store import Store
from feeds.store.sql import JOURNAL_SIZE_LIMIT, WAL_AUTOCHECKPOINT


def test_every_connection_gets_the_wal_settings(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "feeds.db")
    try:
        with store.engine.connect() as c:
            assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert c.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
            assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert c.execute(text("PRAGMA wal_autocheckpoint")).scalar() == WAL_AUTOCHECKPOINT
            assert c.execute(text("PRAGMA journal_size_limit")).scalar() == JOURNAL_SIZE_LIMIT
    finally:
        store.close()


def test_closing_the_store_checkpoints_the_wal_into_the_database(tmp_path: Path) -> None:
    """Writes below the auto-checkpoint size stay in the WAL while the store is open; closing the store
    (the end of a cron run) moves them into the database file, which another reader then sees whole."""
    db = tmp_path / "feeds.db"
    store = Store.open(db)
    with store.engine.begin() as c:
        c.execute(text("CREATE TABLE probe (n INTEGER)"))
        c.execute(text("INSERT INTO probe VALUES (1), (2), (3)"))
    wal = db.with_name(db.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0
    store.close()
    assert not wal.exists() or wal.stat().st_size == 0
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert con.execute("SELECT sum(n) FROM probe").fetchone() == (6,)
    finally:
        con.close()
