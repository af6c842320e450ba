"""Per-run store statements whose cost must not grow with the store's history (the items, runs and forgotten
keys of months past): each statement is checked by its EXPLAIN QUERY PLAN as SQLite runs it (values bound),
or by what it reads, on a store holding a history of old items."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event

from feeds.store import Store

NOW = 1_750_000_000.0
DAY = 86400.0


def fill(db: Path, n: int, *, window: int = 0, runs: int = 0) -> Store:
    """A store of n old items (published 5..365 days before NOW, one story each) and ``window`` items in the
    last hour, each with a story vector; ``runs`` runs over the last 89 days, one a minute."""
    Store.open(db).close()
    con = sqlite3.connect(db)
    with con:
        con.execute("INSERT INTO sources (id, url, name, active, consecutive_failures, gone, redirect_count, "
                    "items_total, last_new) VALUES (1, 'http://127.0.0.1:9/a.xml', 'A', 1, 0, 0, 0, 0, 0)")
        pubs = [NOW - 5 * DAY - 360 * DAY * (n - k) / n for k in range(1, n + 1)] + \
               [NOW - 3600 + k for k in range(window)]
        con.executemany("INSERT INTO items (id, uid, source_id, link, title, summary, content, author, categories, "
                        "published, updated, first_seen, content_hash, story_id, enclosures) "
                        "VALUES (?, ?, 1, ?, 't', '', '', '', '', ?, ?, ?, '', ?, '')",
                        ((k, f"u{k}", f"http://a.example/{k}", p, p, p, k) for k, p in enumerate(pubs, 1)))
        con.executemany("INSERT INTO item_keys (key, item_id) VALUES (?, ?)",
                        ((f"l:a.example/{k}", k) for k in range(1, len(pubs) + 1)))
        con.execute("INSERT INTO stories (id, rep_item_id, size, published, updated) "
                    "SELECT id, id, 1, published, published FROM items")
        con.execute("INSERT INTO item_vectors (item_id, key, vector) SELECT id, x'00', x'00' FROM items "
                    "WHERE published >= ?", (NOW - 2 * 3600,))
        con.executemany("INSERT INTO runs (started, finished, mode, sources, ok, failed, new_items) "
                        "VALUES (?, ?, 'run', 1, 1, 0, 0)", ((NOW - 89 * DAY + j * 60,) * 2 for j in range(runs)))
    con.close()
    return Store.open(db)


@contextmanager
def traced(store: Store) -> Iterator[list[str]]:
    """The SQL statements the store runs meanwhile, as SQLite runs them (values bound)."""
    seen: list[str] = []
    store.engine.dispose()

    def on_connect(dbapi: Any, _record: Any) -> None:
        dbapi.set_trace_callback(seen.append)

    event.listen(store.engine, "connect", on_connect)
    try:
        yield seen
    finally:
        event.remove(store.engine, "connect", on_connect)
        store.engine.dispose()


def plans(db: Path, statements: list[str]) -> dict[str, list[str]]:
    """statement -> its EXPLAIN QUERY PLAN lines, for the reads and writes among ``statements``."""
    con = sqlite3.connect(db)
    try:
        return {sql: [str(r[3]) for r in con.execute("EXPLAIN QUERY PLAN " + sql)] for sql in statements
                if sql.lstrip().upper().startswith(("SELECT", "DELETE", "UPDATE", "INSERT"))}
    finally:
        con.close()


def scans(db: Path, statements: list[str], table: str) -> list[tuple[str, list[str]]]:
    """The statements whose plan reads every row of ``table`` (a SCAN of it, through an index or not)."""
    pat = re.compile(rf"^SCAN {table}\b")
    return [(sql, plan) for sql, plan in plans(db, statements).items() if any(pat.match(p) for p in plan)]


def test_story_starts_reads_the_window_not_the_history(tmp_path: Path) -> None:
    db = tmp_path / "feeds.db"
    st = fill(db, 2000, window=5)
    with traced(st) as seen:
        got = st.story_starts(NOW - 72 * 3600)
    assert got == {}  # each window item is its own story, begun in the window
    assert [s for s in seen if "items" in s], seen
    assert scans(db, seen, "items") == []
    st.close()


def test_window_rows_prune_reads_the_stored_rows_not_the_history(tmp_path: Path) -> None:
    db = tmp_path / "feeds.db"
    st = fill(db, 2000, window=5)
    with traced(st) as seen, st.tx() as c:
        assert st.prune_vectors(c, NOW - 7200) == 0  # the window's rows are all newer
        assert st.prune_vectors(c, NOW) == 5
        assert st.prune_embeddings(c, NOW) == 0
    assert scans(db, seen, "items") == []
    # the empty embeddings table costs one probe, no delete
    assert not [s for s in seen if s.lstrip().upper().startswith("DELETE") and "item_embeddings" in s]
    st.close()
