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


def _dump(db: Path, table: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(db)
    try:  # typeof() too: an int stored in a float column would read back equal but be stored as INTEGER
        cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
        sel = ", ".join(f"{c}, typeof({c})" for c in cols)
        return list(con.execute(f"SELECT {sel} FROM {table} ORDER BY rowid"))
    finally:
        con.close()


def test_driver_executemany_stores_what_sqlalchemy_would(tmp_path: Path) -> None:
    """The store's executemany shortcut (_many: compiled once, rows to the driver as tuples) writes the
    same rows, values and storage types as SQLAlchemy's own executemany: ints given for float columns,
    NULLs, bytes, a row without a defaulted column (goes through SQLAlchemy, which fills it in)."""
    from sqlalchemy import insert

    from feeds.store import schema as S
    from feeds.store import sql as Q

    sources = [{"id": i, "url": f"http://h/{i}", "name": f"s{i}", "active": True, "consecutive_failures": 0,
                "gone": False, "redirect_count": 0, "items_total": 0, "last_new": 0} for i in (1, 2)]

    def items(with_defaults: bool) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for i in range(1, 5):
            r: dict[str, object] = {"id": i, "uid": f"u{i}", "source_id": 1 + i % 2, "guid": None if i % 2 else f"g{i}",
                                    "link": f"http://h/{i}", "title": f"t{i}", "published": 1_700_000_000 + i,
                                    "updated": 1.5 * i, "first_seen": 1_700_000_000, "title_key": f"t{i}",
                                    "content_hash": "h", "story_id": i}
            if with_defaults:
                r.update(summary="s", content="", author="a\u00e9", categories="x\ty",
                         enclosures='[["http://h/a.mp3","audio/mpeg",1]]' if i == 1 else "", image=None)
            out.append(r)
        return out

    stmts = [(S.sources, insert(S.sources), sources)]
    for with_defaults in (True, False):
        stmts.append((S.items, insert(S.items), items(with_defaults)))
    stmts.append((S.item_vectors, insert(S.item_vectors),
                  [{"item_id": i, "key": bytes([i]) * 16, "vector": b"\x00\x01" * i} for i in (1, 2, 3)]))
    # an UPDATE with Boolean and float columns (update_sources' shape), and an upsert (_upsert's)
    from sqlalchemy import bindparam, update
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    stmts.append((S.sources, update(S.sources).where(S.sources.c.id == bindparam("b_id")).values(
        gone=bindparam("b_gone"), active=bindparam("b_active"), last_attempt=bindparam("b_at")),
        [{"b_id": 1, "b_gone": True, "b_active": False, "b_at": 5},
         {"b_id": 2, "b_gone": 0, "b_active": 1, "b_at": None}]))
    upsert = sqlite_insert(S.item_vectors)
    stmts.append((S.item_vectors, upsert.on_conflict_do_update(index_elements=["item_id"], set_={
        "key": upsert.excluded.key, "vector": upsert.excluded.vector}),
        [{"item_id": i, "key": b"k" * 16, "vector": bytes([i])} for i in (2, 3, 4)]))
    direct = [True, True, False, True, True, True]  # which batches the driver path takes (2: defaults to fill)
    dumps = []
    for via in ("sqlalchemy", "driver"):
        db = tmp_path / f"{via}.db"
        store = Store.open(db)
        try:
            for n, (_table, stmt, rows) in enumerate(stmts):
                with store.tx() as c:
                    if n == 2:  # the second items batch replaces the first (same ids)
                        c.execute(S.items.delete())
                    if via == "driver":
                        Q._many(c, stmt, rows)
                        assert (Q._DRIVER[stmt, tuple(rows[0])] is not None) == direct[n], n
                    else:
                        c.execute(stmt, rows)
        finally:
            store.close()
        dumps.append([_dump(db, t.name) for t, _, _ in stmts])
    assert dumps[0] == dumps[1]
    assert any(v == "real" for row in dumps[1][1] for v in row)  # the int times were stored as floats
    assert ("" in dumps[1][2][0]) and ("a\u00e9" not in dumps[1][2][0])  # defaults filled in


def test_a_store_path_is_a_file_name_not_a_url(tmp_path: Path) -> None:
    """`%41` and `?` in store.path are part of the file's name (a URL would decode and cut them)."""
    for name in ("feeds%41.db", "f?x.db"):
        store = Store.open(tmp_path / name)
        store.close()
        assert (tmp_path / name).is_file(), name
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".db") == ["f?x.db", "feeds%41.db"]


def test_a_store_whose_creation_was_killed_gets_its_indexes(tmp_path: Path) -> None:
    """SQLite's driver commits each CREATE on its own: a first run killed after CREATE TABLE items left
    the table without its indexes, which the next open (create_all skips existing tables) never made."""
    from sqlalchemy.schema import CreateTable

    from feeds.store import schema as S

    db = tmp_path / "feeds.db"
    con = sqlite3.connect(db)
    con.execute(str(CreateTable(S.items).compile(dialect=sqlite_dialect())))
    con.commit()
    con.close()
    Store.open(db).close()
    con = sqlite3.connect(db)
    try:
        have = {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    finally:
        con.close()
    want = {ix.name for t in S.metadata.sorted_tables for ix in t.indexes}
    assert want and want <= have


def sqlite_dialect() -> object:
    from sqlalchemy.dialects import sqlite

    return sqlite.dialect()


def test_another_programs_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    import pytest

    from feeds.errors import StoreError

    for n, script in enumerate([
            "CREATE TABLE items (sku TEXT, qty INTEGER); INSERT INTO items VALUES ('a', 1);",
            # with a meta table of its own that even says schema_version (found by the final review)
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); INSERT INTO meta VALUES ('schema_version', '2');"
            "CREATE TABLE users (name TEXT);"]):
        db = tmp_path / f"app{n}.db"
        con = sqlite3.connect(db)
        con.executescript(script)
        con.close()
        before = db.read_bytes()
        with pytest.raises(StoreError, match="not a feeds store"):
            Store.open(db)
        assert db.read_bytes() == before and not (tmp_path / f"app{n}.db-wal").exists()


def test_a_source_put_back_in_the_config_starts_afresh_at_its_configured_url(tmp_path: Path) -> None:
    """A source moved by a permanent redirect (or to the feed its page named) and later taken out of the
    config and put back is fetched at its configured URL again: removing and re-adding it was the only way
    back, and it kept the moved URL (and its validators) for good."""
    store = Store.open(tmp_path / "feeds.db")
    try:
        rows = store.sync_sources([("https://a.example/feed", "A")])
        with store.tx() as c:
            store.update_source(c, rows["https://a.example/feed"].id, fetch_url="https://b.example/dead",
                                etag='"x"', validators_url="https://b.example/dead", gone=True, redirect_count=2,
                                redirect_target="https://c.example/", body_hash="h")
        assert store.sync_sources([]) == {}
        back = store.sync_sources([("https://a.example/feed", "A")])["https://a.example/feed"]
        assert (back.fetch_url, back.etag, back.validators_url, back.gone, back.redirect_count,
                back.redirect_target, back.body_hash) == (None, None, None, False, 0, None, None)
        # a source that stays in the config keeps what it learnt
        with store.tx() as c:
            store.update_source(c, back.id, fetch_url="https://b.example/new")
        assert store.sync_sources([("https://a.example/feed", "A")])["https://a.example/feed"].fetch_url == \
            "https://b.example/new"
    finally:
        store.close()


def test_the_run_log_keeps_90_days_and_status_finds_the_last_run_that_fetched(tmp_path: Path) -> None:
    """cron every minute added a run row a minute for ever; and `feeds status` showed only the last run,
    a no-op one ("0 fetched") most of the time."""
    from feeds.store.sql import RUNS_KEPT

    store = Store.open(tmp_path / "feeds.db")
    try:
        day = 86400.0
        t0 = 1_700_000_000.0
        for d in range(0, 100, 10):  # a run every ten days, fetching on the first five
            rid = store.start_run(t0 + d * day, "run")
            store.finish_run(rid, t0 + d * day + 1, 3 if d < 50 else 0, 3 if d < 50 else 0, 0, 1)
        started = sorted(r["started"] for r in store.last_runs(100))
        assert started[0] >= t0 + 90 * day - RUNS_KEPT.total_seconds()  # older ones forgotten
        assert len(started) == 10 - 1  # the run of day 0 is more than 90 days before the last one
        assert store.last_runs(1)[0]["sources"] == 0
        assert store.last_runs(1, fetching=True)[0]["started"] == t0 + 40 * day
    finally:
        store.close()


def test_a_schema_7_store_gains_the_sources_language_and_reads_every_source_again(tmp_path: Path) -> None:
    """Schema 8 keeps the language a source's feed declares. A store from before has none: its sources'
    validators and body hashes are forgotten, so the next run reads each document in full once and finds it
    (with validators kept, a feed answering 304 would never be read again until it changed)."""
    db = tmp_path / "feeds.db"
    store = Store.open(db)
    rows = store.sync_sources([("https://a.example/feed", "A")])
    with store.tx() as c:
        store.update_source(c, rows["https://a.example/feed"].id, etag='"v1"', last_modified="x", body_hash="h",
                            feed_title="A feed")
    store.close()
    con = sqlite3.connect(db)  # as feeds at schema 7 left it
    with con:
        con.execute("ALTER TABLE sources DROP COLUMN language")
        con.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    con.close()
    store = Store.open(db)
    try:
        (row,) = store.sources()
        assert (row.etag, row.last_modified, row.body_hash, row.language, row.feed_title) == (
            None, None, None, None, "A feed")
    finally:
        store.close()
    assert sqlite3.connect(db).execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("9",)
