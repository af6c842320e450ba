"""Per-run store statements whose cost must not grow with the store's history (the items, runs and forgotten
keys of months past): each statement is checked by its EXPLAIN QUERY PLAN as SQLite runs it (values bound),
or by what it reads, on a store holding a history of old items."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
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
def on_every_connection(store: Store, setup: Callable[[Any], None]) -> Iterator[None]:
    """``setup`` applied to every SQLite connection the store opens meanwhile (its pool emptied before and after)."""
    store.engine.dispose()

    def on_connect(dbapi: Any, _record: Any) -> None:
        setup(dbapi)

    event.listen(store.engine, "connect", on_connect)
    try:
        yield
    finally:
        event.remove(store.engine, "connect", on_connect)
        store.engine.dispose()


@contextmanager
def traced(store: Store) -> Iterator[list[str]]:
    """The SQL statements the store runs meanwhile, as SQLite runs them (values bound)."""
    seen: list[str] = []
    with on_every_connection(store, lambda dbapi: dbapi.set_trace_callback(seen.append)):
        yield seen


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


@contextmanager
def steps(store: Store, every: int = 50) -> Iterator[list[int]]:
    """How much work SQLite does meanwhile: its virtual machine's instructions, in units of ``every`` (counted
    by a progress handler on every connection the store opens)."""
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    with on_every_connection(store, lambda dbapi: dbapi.set_progress_handler(tick, every)):
        yield count


def run_ids(db: Path) -> list[tuple[int, float]]:
    con = sqlite3.connect(db)
    try:
        return [(int(a), float(b)) for a, b in con.execute("SELECT id, started FROM runs ORDER BY id")]
    finally:
        con.close()


def test_finish_run_does_not_read_the_whole_run_log(tmp_path: Path) -> None:
    cost = []
    for n in (500, 20000):
        st = fill(tmp_path / f"{n}.db", 10, runs=n)
        st.finish_run(st.start_run(NOW, "run"), NOW + 1, 1, 1, 0, 0)  # the first: reads the log, finds it in order
        with steps(st) as count:
            for k in range(3):  # nothing old yet, then the two oldest runs go
                st.finish_run(st.start_run(NOW + 60 * k, "run"), NOW + 60 * k + 1, 1, 1, 0, 0)
            before = run_ids(tmp_path / f"{n}.db")
            st.finish_run(st.start_run(NOW + DAY + 61, "run"), NOW + DAY + 61, 1, 1, 0, 0)
        cost.append(count[0])
        left = run_ids(tmp_path / f"{n}.db")
        assert left[:-1] == [r for r in before if r[1] >= NOW + DAY + 61 - 90 * DAY] == before[2:]
        st.close()
    assert cost[1] < cost[0] * 2, cost  # 40 times the log, not twice the work


def test_a_run_log_out_of_order_still_loses_every_old_run(tmp_path: Path) -> None:
    db = tmp_path / "feeds.db"
    st = fill(db, 10)
    for started in (NOW - 10 * DAY, NOW - 9 * DAY):  # a clock set ahead ...
        st.finish_run(st.start_run(started, "run"), started + 1, 1, 1, 0, 0)
    for started in (NOW - 95 * DAY, NOW - 94 * DAY, NOW - 5 * DAY):  # ... then back (a wrong clock, put right)
        st.finish_run(st.start_run(started, "run"), started + 1, 1, 1, 0, 0)
    # each run lost those started 90 days before it ended, wherever in the log (the run 95 days back, by the next)
    assert [s for _, s in run_ids(db)] == [NOW - 10 * DAY, NOW - 9 * DAY, NOW - 94 * DAY, NOW - 5 * DAY]
    st.finish_run(st.start_run(NOW - 3 * DAY, "run"), NOW - 3 * DAY + 1, 1, 1, 0, 0)  # in order again: 94 d go
    assert [s for _, s in run_ids(db)] == [NOW - 10 * DAY, NOW - 9 * DAY, NOW - 5 * DAY, NOW - 3 * DAY]
    st.finish_run(st.start_run(NOW + 81 * DAY, "run"), NOW + 81 * DAY + 2, 1, 1, 0, 0)
    assert [s for _, s in run_ids(db)] == [NOW - 5 * DAY, NOW - 3 * DAY, NOW + 81 * DAY]
    st.close()


def forgotten_store(db: Path, n: int) -> Store:
    """A store whose source 1 has n forgotten posts, each a link key and its title row (unlisted for a day but
    the last ten, which its document listed), and source 2 one key."""
    st = fill(db, 10)
    con = sqlite3.connect(db)
    with con:
        con.execute("INSERT INTO sources (id, url, name, active, consecutive_failures, gone, redirect_count, "
                    "items_total, last_new) VALUES (2, 'http://127.0.0.1:9/b.xml', 'B', 1, 0, 0, 0, 0, 0)")
        rows = []
        for k in range(n):
            since = None if k >= n - 10 else NOW - DAY
            rows += [(f"l:old.example/{k}", 1, NOW - 2 * DAY, since),
                     (f"t:l:old.example/{k}\nheadline {k}", 1, NOW - 2 * DAY, since)]
        rows.append(("g:2:x", 2, NOW - 2 * DAY, None))
        con.executemany("INSERT INTO forgotten (key, source_id, at, unlisted) VALUES (?, ?, ?, ?)", rows)
    con.close()
    return st


def forgotten_rows(db: Path) -> dict[tuple[str, int], float | None]:
    con = sqlite3.connect(db)
    try:
        return {(str(k), int(s)): u for k, s, u in con.execute("SELECT key, source_id, unlisted FROM forgotten")}
    finally:
        con.close()


def test_forgotten_keys_are_looked_up_by_key_not_read_whole(tmp_path: Path) -> None:
    db = tmp_path / "feeds.db"
    st = forgotten_store(db, 3000)
    before = forgotten_rows(db)
    with traced(st) as seen:
        assert st.forgetting_sources() == {1, 2}
        # the document lists one post forgotten long ago, one of the last ten, and one never forgotten
        with st.tx() as c:
            st.unlisted_forgotten(c, 1, {"l:old.example/5", "l:old.example/2995", "g:1:new"}, NOW)
    assert scans(db, seen, "forgotten") == []
    by_key = [plan for sql, plan in plans(db, seen).items() if "forgotten" in sql and "IS NOT NULL" in sql]
    assert by_key and all("ix_forgotten_source" not in line for plan in by_key for line in plan), by_key
    after = forgotten_rows(db)
    changed = {k: (before[k], v) for k, v in after.items() if before[k] != v}
    assert changed == {  # the listed one back (with its title row), the nine unlisted now
        ("l:old.example/5", 1): (NOW - DAY, None), ("t:l:old.example/5\nheadline 5", 1): (NOW - DAY, None),
        **{(key, 1): (None, NOW) for k in range(2990, 3000) if k != 2995
           for key in (f"l:old.example/{k}", f"t:l:old.example/{k}\nheadline {k}")}}
    st.close()


def test_a_link_reads_the_reports_that_may_have_it_not_the_outlets_history(tmp_path: Path) -> None:
    db = tmp_path / "feeds.db"
    st = fill(db, 3000)
    con = sqlite3.connect(db)
    with con:  # an outlet whose links are no identity (no link keys), a copy by another outlet (a sighting)
        con.execute("DELETE FROM item_keys WHERE item_id > 2000")
        con.execute("INSERT INTO sightings (item_id, source_id, link, title, seen) VALUES (7, 1, ?, NULL, ?)",
                    ("HTTP://b.example/story/x%20y?utm_source=z", NOW))
        con.execute("INSERT INTO sightings (item_id, source_id, link, title, seen) VALUES (8, 1, ?, NULL, ?)",
                    ("http://b.example/t/ne\tws", NOW))  # (a tab inside: dropped as published)
    con.close()
    got = st.items_by_link("http://a.example/1234")
    assert [(row[0], link, keyed) for row, link, keyed in got] == [(1234, "http://a.example/1234", True)]
    got = st.items_by_link("http://A.example/2345/")  # no link key: by its link, for the caller to compare
    assert [(row[0], link, keyed) for row, link, keyed in got] == [(2345, "http://a.example/2345", False)]
    got = st.items_by_link("http://b.example/story/x%20y")  # a copy's link, as an entry publishes it
    assert [(row[0], link, keyed) for row, link, keyed in got] == [
        (7, "HTTP://b.example/story/x%20y?utm_source=z", False)]
    got = st.items_by_link("http://b.example/t/news")
    assert [(row[0], link, keyed) for row, link, keyed in got] == [(8, "http://b.example/t/ne\tws", False)]
    assert [row[0] for row, _, _ in st.items_by_link("http://a.example/")] == list(range(1, 3001))  # (the root)
    st.close()


def test_the_daily_prune_reads_the_old_stories_alone(tmp_path: Path) -> None:
    db = tmp_path / "feeds.db"
    st = fill(db, 3000, window=5)
    con = sqlite3.connect(db)
    with con:  # a story re-posted lately, one a channel updated lately, one with a report read lately
        con.execute("INSERT INTO sightings (item_id, source_id, link, title, seen) VALUES (10, 1, NULL, NULL, ?)",
                    (NOW,))
        con.execute("INSERT INTO story_channels (channel, story_id, updated) VALUES ('c', 20, ?)", (NOW,))
        con.execute("INSERT INTO story_channels (channel, story_id, updated) VALUES ('c', 25, 0)")
        con.execute("UPDATE items SET first_seen = ? WHERE id = 30", (NOW,))
    con.close()
    for before, want in ((NOW - 400 * DAY, []), (NOW - 300 * DAY, "some")):
        with traced(st) as seen:
            got = st.prunable_stories(before, {40})
        for table in ("items", "story_channels", "sightings"):
            assert scans(db, seen, table) == [], table
        if want == []:
            assert got == []
            assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 1  # the stories' dates
        else:
            assert got and got == [k for k in range(1, 3001) if k not in (10, 20, 25, 30, 40)
                                   and NOW - 5 * DAY - 360 * DAY * (3000 - k) / 3000 < before]
    st.close()


def test_many_old_stories_are_told_the_same_read_table_by_table(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import feeds.store.sql as sql

    st = fill(tmp_path / "feeds.db", 3000, window=5)
    con = sqlite3.connect(tmp_path / "feeds.db")
    with con:
        con.execute("INSERT INTO sightings (item_id, source_id, link, title, seen) VALUES (10, 1, NULL, NULL, ?)",
                    (NOW,))
        con.execute("INSERT INTO story_channels (channel, story_id, updated) VALUES ('c', 20, ?)", (NOW,))
        con.execute("INSERT INTO story_channels (channel, story_id, updated) VALUES ('c', 25, 0)")
        con.execute("UPDATE items SET first_seen = ? WHERE id = 30", (NOW,))
    con.close()
    by_story = st.prunable_stories(NOW - 100 * DAY, {40})
    monkeypatch.setattr(sql, "PRUNE_READ_ALL", 10)
    assert st.prunable_stories(NOW - 100 * DAY, {40}) == by_story
    assert len(by_story) > 2000 and not {10, 20, 25, 30, 40} & set(by_story)
    st.close()


def test_a_lowered_keep_prunes_at_the_next_run(tmp_path: Path) -> None:
    from datetime import timedelta

    from feedgen_util import rss
    from test_retention import T0, post, query, setup

    feed = tmp_path / "s.xml"
    feed.write_bytes(rss([post(1, T0)]))
    pipe, store, clock = setup(tmp_path, "entries = 1\narchive = false", keep="40d")
    pipe.run(force_all=True)
    db = tmp_path / "feeds.db"
    when = T0 + timedelta(days=35)
    clock.t = when
    feed.write_bytes(rss([post(2, when), post(1, T0)]))
    pipe.run(force_all=True)  # pruned: nothing 40 days old
    assert query(db, "SELECT count(*) FROM items") == [(2,)]
    store.close()
    pipe, store, clock = setup(tmp_path, "entries = 1\narchive = false", keep="30d")  # the operator lowers keep
    clock.t = when + timedelta(hours=1)
    pipe.run(force_all=True)  # an hour after the last prune, under another keep: post 1 goes
    assert query(db, "SELECT count(*) FROM items") == [(1,)]
    clock.t = when + timedelta(hours=2)
    feed.write_bytes(rss([post(3, when), post(1, T0)]))
    pipe.run(force_all=True)  # the same keep: not again before a day (post 1 still forgotten, post 3 stored)
    assert query(db, "SELECT count(*) FROM items") == [(2,)]
    assert store.meta_value("pruned_at") == repr((when + timedelta(hours=1)).timestamp())
    store.close()


def test_a_quiet_channels_archive_mark_follows_the_newest_row(tmp_path: Path) -> None:
    """(A scaling review) a channel that gains nothing kept its rowid mark where it last published: every publish
    listing it (the site's index) read every channel's rows since, 8 million rows and 13 s after four runs of a
    500-channel site. Its mark now follows the newest row; a channel with a row past its mark keeps it."""
    from datetime import timedelta

    from feedgen_util import rss
    from test_config_changes import run
    from test_pipeline import NOW, Clock

    def items(k: int) -> list[dict[str, Any]]:
        return [{"title": f"Kalu{k}x{j} Ostra{k}x{j} Vemba{k}x{j}", "guid": f"g{k}-{j}",  # 30 stories a run
                 "link": f"https://a.example/{k}/{j}", "date": NOW - timedelta(hours=1, minutes=j)} for j in range(30)]

    (tmp_path / "a.xml").write_bytes(rss(items(0)))
    (tmp_path / "feeds.toml").write_text("""
[output]
dir = "out"
base_url = "https://feeds.example.org/"
entries = 5
[store]
path = "feeds.db"
[[sources]]
url = "a.xml"
name = "Alpha"
[channels.busy]
title = "Busy"
match_all = true
formats = ["atom", "html"]
[channels.quiet]
title = "Quiet"
include = ["zeppelin"]
formats = ["atom", "html"]
""")
    clock = Clock(NOW)
    marks: list[int] = []
    for k in range(1, 4):
        (tmp_path / "a.xml").write_bytes(rss(items(k)))
        clock.t += timedelta(minutes=20)
        run(tmp_path, clock)
        con = sqlite3.connect(tmp_path / "feeds.db")
        top = con.execute("SELECT max(rowid) FROM story_channels").fetchone()[0]
        quiet = con.execute("SELECT rowid_mark FROM archive_marks WHERE channel = 'quiet'").fetchone()
        con.close()
        assert quiet is not None and quiet[0] == top, (k, quiet, top)  # not where it first published
        marks.append(top)
    assert marks[0] < marks[1] < marks[2]  # the busy channel's rows went past it at every run
    # a row of the quiet channel past its mark (a run stopped between sorting an item into it and flagging
    # it): the mark stays, and the channel's next read finds the row
    store = Store.open(tmp_path / "feeds.db")
    try:
        sid = store.unarchived_channel_stories("busy")[0][0][0]
        with store.tx() as c:
            Store.upsert_story_channels(c, [{"channel": "quiet", "story_id": sid, "updated": NOW.timestamp()}])
        store.advance_archive_marks({"quiet"})
        con = sqlite3.connect(tmp_path / "feeds.db")
        assert con.execute("SELECT rowid_mark FROM archive_marks WHERE channel = 'quiet'").fetchone()[0] == marks[2]
        con.close()
        assert sid in [s for s, _up, _gen in store.unarchived_channel_stories("quiet", use_marks=True)[0]]
        # the rows since a mark are read by rowid, the channel picked by SQLite, not through the channel's index
        # (which would read the busy channel's whole history at each publish)
        with traced(store) as seen:
            store.unarchived_channel_stories("busy", use_marks=True)
        got = plans(tmp_path / "feeds.db", [sql for sql in seen if "rowid >" in sql])
        assert got and all(plan == ["SEARCH story_channels USING INTEGER PRIMARY KEY (rowid>?)"]
                           for plan in got.values()), got
    finally:
        store.close()
