"""`[store] keep`: old stories are forgotten, a feed still listing them does not bring them back, and what
the channels' documents hold is never pruned (local feed files, an injected clock, a real SQLite file)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from feedgen_util import rss

from feeds.config import parse_config
from feeds.errors import ConfigError
from feeds.run import Pipeline
from feeds.store import Store
from feeds.store import schema as S

NOW = datetime(2025, 7, 5, 12, 0, tzinfo=UTC)
T0 = NOW - timedelta(days=40)  # when the old posts were first read


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


HEADLINES = {1: "Harbour cranes idle as dockers strike", 2: "Council approves new cycle lanes downtown",
             3: "Local bakery wins national bread award", 4: "Storm warning issued for the northern coast",
             5: "Museum reopens after roof repairs", 9: "School choir heads to European finals",
             10: "Ferry timetable changes for winter", 11: "Farmers market moves to the old station",
             12: "Library extends weekend opening hours", 13: "River cleanup draws hundreds of volunteers",
             14: "Tram line extension opens to the airport", 15: "Chess prodigy, 11, beats grandmaster"}


def TITLE_AT(n: int) -> str:  # noqa: N802 - reads as the key it stands for
    """The forgotten-title row of post n (Store.forget_stories: its title key at its link key)."""
    return f"t:l:site.example/posts/{n}\n{HEADLINES[n].lower()}"


def post(n: int, when: datetime) -> dict[str, object]:
    return {"title": HEADLINES[n], "guid": f"p{n}", "link": f"https://site.example/posts/{n}", "date": when,
            "summary": f"{HEADLINES[n]}: the full report."}


def setup(tmp: Path, output: str, keep: str = "30d",
          sources: tuple[str, ...] = ("s",)) -> tuple[Pipeline, Store, Clock]:
    listed = "".join(f'[[sources]]\nurl = "{name}.xml"\nname = "{name.upper()}"\n' for name in sources)
    cfg = parse_config(f"""
[output]
dir = "out"
base_url = "https://feeds.example.org/"
{output}
[store]
path = "feeds.db"
keep = "{keep}"
{listed}
[channels.all]
title = "All"
match_all = true
""", tmp / "feeds.toml")
    store = Store.open(cfg.store_path)
    clock = Clock(T0)
    return Pipeline(cfg, store, now=clock), store, clock


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def titles(tmp: Path) -> list[str]:
    return [e.title for e in feedparser.parse((tmp / "out" / "all.atom").read_bytes()).entries]


def test_old_stories_are_forgotten_and_a_feed_still_listing_them_does_not_bring_them_back(tmp_path: Path) -> None:
    feed = tmp_path / "s.xml"
    old = [post(1, T0 - timedelta(hours=2)), post(2, T0 - timedelta(hours=1))]
    feed.write_bytes(rss(old))
    pipe, store, clock = setup(tmp_path, "entries = 1\narchive = false")
    assert pipe.run(force_all=True).new_items == 2

    clock.t = NOW  # 40 days on: a new post; the two old ones are still listed
    feed.write_bytes(rss([post(3, NOW - timedelta(hours=1)), *old]))
    assert pipe.run(force_all=True).new_items == 1
    db = tmp_path / "feeds.db"
    assert [r[0] for r in query(db, "SELECT title FROM items")] == [HEADLINES[3]]
    assert query(db, "SELECT count(*) FROM stories") == [(1,)]
    for table in ("item_keys", "sightings", "item_channels", "story_channels", "item_vectors"):
        assert query(db, f"SELECT count(*) FROM {table} WHERE item_id NOT IN (SELECT id FROM items)"
                     if table not in ("story_channels",) else
                     f"SELECT count(*) FROM {table} WHERE story_id NOT IN (SELECT id FROM stories)") == [(0,)]
    # (and each post's title at its link, by its own source: a new post at that link is told by it)
    assert sorted(r[0] for r in query(db, "SELECT key FROM forgotten")) == [
        "g:1:p1", "g:1:p2", "l:site.example/posts/1", "l:site.example/posts/2", TITLE_AT(1), TITLE_AT(2)]
    assert titles(tmp_path) == [HEADLINES[3]]

    # the feed changes and still lists the old posts: known (forgotten), not new
    clock.t = NOW + timedelta(hours=1)
    feed.write_bytes(rss([post(4, NOW), post(3, NOW - timedelta(hours=1)), *old]))
    assert pipe.run(force_all=True).new_items == 1
    assert query(db, "SELECT count(*) FROM items") == [(2,)]
    assert query(db, "SELECT count(*) FROM forgotten") == [(6,)]

    # post 1 leaves the feed: its keys are marked, and dropped once unlisted for longer than keep
    clock.t = NOW + timedelta(hours=2)
    feed.write_bytes(rss([post(4, NOW), post(3, NOW - timedelta(hours=1)), old[1]]))
    assert pipe.run(force_all=True).new_items == 0
    assert query(db, "SELECT key, unlisted FROM forgotten ORDER BY key") == [
        ("g:1:p1", clock.t.timestamp()), ("g:1:p2", None), ("l:site.example/posts/1", clock.t.timestamp()),
        ("l:site.example/posts/2", None), (TITLE_AT(1), clock.t.timestamp()), (TITLE_AT(2), None)]
    clock.t = NOW + timedelta(days=31)
    feed.write_bytes(rss([post(5, clock.t), post(4, NOW), post(3, NOW - timedelta(hours=1)), old[1]]))
    assert pipe.run(force_all=True).new_items == 1
    keys = sorted(r[0] for r in query(db, "SELECT key FROM forgotten"))  # (posts 3 and 4 forgotten now too)
    assert keys == ["g:1:p2", "g:1:p3", "g:1:p4", "l:site.example/posts/2", "l:site.example/posts/3",
                    "l:site.example/posts/4", TITLE_AT(2), TITLE_AT(3), TITLE_AT(4)]
    assert query(db, "PRAGMA foreign_key_check") == [] and query(db, "PRAGMA integrity_check") == [("ok",)]


def test_what_a_channel_shows_is_never_forgotten(tmp_path: Path) -> None:
    """A quiet channel's entries may be older than keep: they stay, and so does its document."""
    feed = tmp_path / "s.xml"
    feed.write_bytes(rss([post(1, T0 - timedelta(hours=2)), post(2, T0 - timedelta(hours=1))]))
    pipe, store, clock = setup(tmp_path, "entries = 5\narchive = false")
    pipe.run(force_all=True)
    before = (tmp_path / "out" / "all.atom").read_bytes()
    clock.t = NOW
    feed.write_bytes(rss([post(1, T0 - timedelta(hours=2))]))  # a change, nothing new
    pipe.run(force_all=True)
    assert query(tmp_path / "feeds.db", "SELECT count(*) FROM items") == [(2,)]
    assert query(tmp_path / "feeds.db", "SELECT count(*) FROM forgotten") == [(0,)]
    assert (tmp_path / "out" / "all.atom").read_bytes() == before


def test_archived_stories_are_forgotten_and_the_archive_pages_stay(tmp_path: Path) -> None:
    feed = tmp_path / "s.xml"
    old = [post(n, T0 - timedelta(hours=n)) for n in range(1, 6)]
    feed.write_bytes(rss(old))
    pipe, store, clock = setup(tmp_path, "entries = 2")
    pipe.run(force_all=True)  # posts 1 and 2 live, 3 to 5 archived
    db = tmp_path / "feeds.db"
    assert query(db, "SELECT count(*) FROM archive_slots") == [(3,)]

    clock.t = NOW
    feed.write_bytes(rss([post(9, NOW - timedelta(hours=1)), *old]))
    assert pipe.run(force_all=True).new_items == 1  # post 2 archived too; then 2 to 5 forgotten
    assert titles(tmp_path) == [HEADLINES[9], HEADLINES[1]]
    assert sorted(r[0] for r in query(db, "SELECT title FROM items")) == sorted([HEADLINES[1], HEADLINES[9]])
    # the archive is as it was published: every archived entry is still on its pages, read back
    archived = [e.title for p in sorted((tmp_path / "out" / "archive" / "all").iterdir())
                for e in feedparser.parse(p.read_bytes()).entries]
    assert sorted(archived) == sorted(HEADLINES[n] for n in range(2, 6))
    assert query(db, "SELECT count(*) FROM archive_slots") == [(4,)]

    clock.t = NOW + timedelta(days=2)  # another prune: the live stories stay, no document changes
    docs = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    feed.write_bytes(rss([post(9, NOW - timedelta(hours=1))]))
    pipe.run(force_all=True)
    assert query(db, "SELECT count(*) FROM items") == [(2,)]
    assert {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()} == docs


def test_the_prune_runs_once_a_day(tmp_path: Path) -> None:
    feed = tmp_path / "s.xml"
    feed.write_bytes(rss([post(1, T0)]))
    pipe, store, clock = setup(tmp_path, "entries = 1\narchive = false")
    pipe.run(force_all=True)
    db = tmp_path / "feeds.db"
    for n, when, items in ((2, T0 + timedelta(days=30, hours=-1), 2),  # post 1 not old yet
                           (3, T0 + timedelta(days=30, hours=1), 3),  # old now, but the last prune was 2 h ago
                           (4, T0 + timedelta(days=31), 3)):  # a day on: post 1 goes
        clock.t = when
        feed.write_bytes(rss([post(n, when), post(1, T0)]))
        pipe.run(force_all=True)
        assert query(db, "SELECT count(*) FROM items") == [(items,)], n


@pytest.mark.parametrize(("extra", "expected"), [
    ('keep = "3d"', "a duration from 7d"),
    ('keep = "10d"\n[stories]\nwindow = "14d"', "longer than stories.window"),
    ("keep = true", "a duration"),
])
def test_keep_is_checked(tmp_path: Path, extra: str, expected: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(f'[output]\ndir = "out"\n[store]\n{extra}\n', tmp_path / "feeds.toml")
    assert "store.keep" in str(e.value) and expected in str(e.value)


def test_old_posts_read_for_the_first_time_are_kept_for_keep_after_that(tmp_path: Path) -> None:
    """A source added today whose feed lists posts published two months ago: kept 30 days from now."""
    feed = tmp_path / "s.xml"
    # (post 1, listed last, is also the newest item: never forgotten, so that no item id is given twice)
    feed.write_bytes(rss([post(2, NOW - timedelta(days=61)), post(1, NOW - timedelta(days=60))]))
    pipe, store, clock = setup(tmp_path, "entries = 1\narchive = false")
    clock.t = NOW
    assert pipe.run(force_all=True).new_items == 2
    db = tmp_path / "feeds.db"
    assert query(db, "SELECT count(*) FROM items") == [(2,)]
    clock.t = NOW + timedelta(days=31)
    pipe.run(force_all=True)
    assert query(db, "SELECT title FROM items") == [(HEADLINES[1],)]  # the one the channel shows stays


def test_an_item_id_is_never_given_twice(tmp_path: Path) -> None:
    """Ids (and so story ids, which archive slots name) are max + 1: the newest item is never forgotten, even
    when no channel shows it, so a forgotten id is never given to a new item."""
    feed = tmp_path / "s.xml"
    feed.write_bytes(rss([post(1, NOW - timedelta(days=60)), post(2, NOW - timedelta(days=61))]))
    pipe, store, clock = setup(tmp_path, "entries = 1\narchive = false")
    clock.t = NOW
    pipe.run(force_all=True)
    db = tmp_path / "feeds.db"
    assert query(db, "SELECT id, title FROM items ORDER BY id") == [(1, HEADLINES[1]), (2, HEADLINES[2])]
    clock.t = NOW + timedelta(days=31)  # post 2 (id 2) is old and not shown (post 1 is newer)
    pipe.run(force_all=True)
    clock.t = NOW + timedelta(days=32)
    feed.write_bytes(rss([post(3, clock.t), post(1, NOW - timedelta(days=60)), post(2, NOW - timedelta(days=61))]))
    pipe.run(force_all=True)
    assert query(db, "SELECT max(id) FROM items WHERE title = ?".replace("?", repr(HEADLINES[3]))) == [(3,)]


def test_status_says_how_long_the_store_keeps_things(tmp_path: Path) -> None:
    import json

    from feeds.status import _json_ready, collect, render

    feed = tmp_path / "s.xml"
    feed.write_bytes(rss([post(1, T0)]))
    pipe, store, clock = setup(tmp_path, "entries = 1\narchive = false")
    cfg = pipe.cfg
    assert "keeps: stories of the last 30 days; old ones last looked for never" in render(collect(cfg, T0))
    pipe.run(force_all=True)
    clock.t = T0 + timedelta(hours=3)
    assert "keeps: stories of the last 30 days; old ones last looked for 3h ago" in render(collect(cfg, clock.t))
    doc = json.loads(json.dumps(_json_ready(collect(cfg, clock.t))))
    assert doc["keep"] == 30 * 86400 and doc["pruned_at"] == T0.isoformat().replace("+00:00", "Z")
    plain = parse_config('[output]\ndir = "out"\n[store]\npath = "feeds.db"\n', tmp_path / "plain.toml")
    assert "keeps: every item ([store] keep is not set)" in render(collect(plain, clock.t))


def test_old_archive_pages_give_their_stored_entries_up_and_stay_as_published(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from feeds import publish

    monkeypatch.setattr(publish, "ARCHIVE_PAGE_SIZE", 2)
    feed = tmp_path / "s.xml"
    old = [post(n, T0 - timedelta(hours=n)) for n in (1, 2, 3, 4, 5, 10, 11, 12)]
    feed.write_bytes(rss(old))
    pipe, store, clock = setup(tmp_path, "entries = 2")
    pipe.run(force_all=True)  # 2 live, 6 archived: pages 1 to 3 full, page 4 open
    db = tmp_path / "feeds.db"
    archive = tmp_path / "out" / "archive" / "all"
    pages = {p.name: p.read_bytes() for p in archive.iterdir()}
    assert sorted(pages) == ["1.atom", "2.atom", "3.atom", "4.atom"]

    clock.t = NOW
    feed.write_bytes(rss([post(9, NOW - timedelta(hours=1)), *old]))
    pipe.run(force_all=True)  # one more archived (page 4); the old stories forgotten, then pages 1 and 2's slots
    assert query(db, "SELECT seq FROM archive_slots ORDER BY seq") == [(4,), (5,), (6,)]
    assert query(db, "SELECT value FROM meta WHERE key = 'archive.floor.all'") == [("4",)]
    for name in ("1.atom", "2.atom", "3.atom"):  # as published
        assert (archive / name).read_bytes() == pages[name]
    # the chain still holds every archived entry once, from the pages on disk
    seen: list[str] = []
    doc = feedparser.parse((tmp_path / "out" / "all.atom").read_bytes())
    while True:
        prev = [ln.href for ln in doc.feed.get("links", []) if ln.rel == "prev-archive"]
        if not prev:
            break
        doc = feedparser.parse((archive / prev[0].rsplit("/", 1)[1].split("?", 1)[0]).read_bytes())
        seen += [e.title for e in doc.entries]
    assert sorted(seen) == sorted(HEADLINES[n] for n in (2, 3, 4, 5, 10, 11, 12))

    # a page whose slots are gone is never written again, even when missing; new slots follow on
    (archive / "1.atom").unlink()
    clock.t = NOW + timedelta(hours=1)
    feed.write_bytes(rss([post(13, clock.t), post(9, NOW - timedelta(hours=1)), *old]))
    pipe.run(force_all=True)
    assert not (archive / "1.atom").exists() and (archive / "2.atom").read_bytes() == pages["2.atom"]
    assert query(db, "SELECT seq FROM archive_slots ORDER BY seq") == [(4,), (5,), (6,), (7,)]
    assert [e.title for e in feedparser.parse((archive / "4.atom").read_bytes()).entries] == [
        HEADLINES[1], HEADLINES[2]]  # archived now and at the run before
    # the daily prune looks for missing pages below the floor (a publish's cost does not grow with them)
    assert "archive pages" not in caplog.text
    clock.t = NOW + timedelta(days=1, hours=1)
    pipe.run(force_all=True)
    assert "all: archive pages 1 are missing and cannot be written again" in caplog.text
    caplog.clear()
    clock.t += timedelta(days=1)
    feed.write_bytes(rss([post(14, clock.t), post(13, NOW + timedelta(hours=1)), post(9, NOW - timedelta(hours=1)),
                          *old]))
    pipe.run(force_all=True)
    assert "archive pages" not in caplog.text  # said once


def test_an_archive_page_is_droppable_when_all_there_and_old_and_a_stored_storys_slot_stays(tmp_path: Path) -> None:
    """A story still stored (a quiet channel shows it, a development of it is live) keeps its slot when its
    page is dropped: its snapshots count its generations. It no longer holds the page (and every later one)
    in the store: one such story kept a busy channel's whole archive for ever (found by a review)."""
    store = Store.open(tmp_path / "feeds.db")
    store.add_archive_slots("all", [{"seq": n, "story_id": 10 + n, "gen": 1, "updated": 100.0 + n, "entry": "<entry/>"}
                                    for n in range(4)])
    with store.tx() as c:
        assert store.archive_droppable(c, "all", 0, 2, 200.0)
        assert not store.archive_droppable(c, "all", 2, 4, 102.5)  # seq 3 archived after the time
        assert not store.archive_droppable(c, "all", 2, 6, 200.0)  # not all there
        c.execute(S.stories.insert().values(id=11, rep_item_id=11, size=1, published=100.0, updated=150.0))
        assert store.archive_droppable(c, "all", 0, 2, 200.0)  # story 11 is stored: its slot stays (below)
        store.drop_archive_slots(c, "all", 2)
    assert store.archive_size("all") == 4 and store.archive_floor("all") == 2
    assert [seq for seq, _ in store.archive_entries("all", 0, 4)] == [1, 2, 3]
    with store.tx() as c:  # story 11 forgotten: the same floor again drops its slot
        c.execute(S.stories.delete().where(S.stories.c.id == 11))
        store.drop_archive_slots(c, "all", 2)
    assert [seq for seq, _ in store.archive_entries("all", 0, 4)] == [2, 3]
    with store.tx() as c:  # a channel taken out of the config: a channel added again under its slug starts afresh
        store.forget_channels(c, ["all"])
    assert store.archive_size("all") == 0 and store.archive_floor("all") == 0
    store.close()


def test_a_feed_that_lists_forgotten_posts_again_after_a_gap_still_finds_them(tmp_path: Path) -> None:
    """A truncated document (or a feed of "popular" posts) leaves old posts out for a while: not new after."""
    feed = tmp_path / "s.xml"
    old = [post(n, T0 - timedelta(hours=n)) for n in (1, 2, 3)]
    feed.write_bytes(rss(old))
    pipe, store, clock = setup(tmp_path, "entries = 1\narchive = false")
    pipe.run(force_all=True)
    clock.t = NOW
    feed.write_bytes(rss([post(9, NOW), *old]))
    pipe.run(force_all=True)
    db = tmp_path / "feeds.db"
    assert query(db, "SELECT count(*) FROM items") == [(1,)]
    clock.t = NOW + timedelta(hours=1)
    feed.write_bytes(rss([post(9, NOW)]))  # a short document
    assert pipe.run(force_all=True).new_items == 0
    clock.t = NOW + timedelta(days=3)
    feed.write_bytes(rss([post(10, clock.t), post(9, NOW), *old]))  # the full list again
    assert pipe.run(force_all=True).new_items == 1
    assert query(db, "SELECT count(*) FROM forgotten WHERE unlisted IS NOT NULL") == [(0,)]


def test_a_post_another_source_re_posted_stays_known_while_that_source_lists_it(tmp_path: Path) -> None:
    """Source B (an aggregator whose ids change on every build) re-posts A's post, found by its link."""
    a, b = tmp_path / "a.xml", tmp_path / "b.xml"
    first = post(1, T0 - timedelta(hours=1))

    def b_doc(build: int) -> bytes:
        return rss([dict(first, guid=f"b-{build}", title="Harbour cranes idle as dockers strike (via A)")])

    a.write_bytes(rss([first]))
    b.write_bytes(b_doc(0))
    pipe, store, clock = setup(tmp_path, "entries = 1\narchive = false", sources=("a", "b"))
    pipe.run(force_all=True)
    db = tmp_path / "feeds.db"
    assert query(db, "SELECT count(*) FROM items") == [(1,)] and query(db, "SELECT count(*) FROM sightings") == [(1,)]
    clock.t = NOW
    a.write_bytes(rss([post(9, NOW), first]))
    b.write_bytes(b_doc(1))
    pipe.run(force_all=True)
    assert query(db, "SELECT count(*) FROM items") == [(1,)]  # post 1 forgotten
    assert sorted(query(db, "SELECT key, source_id FROM forgotten WHERE key LIKE 'l:%'")) == [
        ("l:site.example/posts/1", 1), ("l:site.example/posts/1", 2)]
    clock.t = NOW + timedelta(days=40)  # A dropped post 1 long ago; B still lists it, under a new id
    a.write_bytes(rss([post(10, clock.t)]))
    pipe.run(force_all=True)
    b.write_bytes(b_doc(2))
    assert pipe.run(force_all=True).new_items == 0


def test_forgotten_link_keys_follow_a_new_link_form(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "feeds.db")
    with store.tx() as c:
        c.execute(S.forgotten.insert(), [{"key": "l:old/1", "source_id": 1, "at": 5.0, "unlisted": None},
                                         {"key": "l:old/1", "source_id": 2, "at": 5.0, "unlisted": 7.0},
                                         {"key": "l:new/2", "source_id": 1, "at": 6.0, "unlisted": None},
                                         {"key": "l:old/2", "source_id": 1, "at": 5.0, "unlisted": None},
                                         {"key": "g:1:x", "source_id": 1, "at": 5.0, "unlisted": None},
                                         {"key": "t:l:old/1\na title", "source_id": 1, "at": 5.0, "unlisted": None}])
        store.relink_keys(c, lambda k: k.replace("l:old/", "l:new/") if k.startswith("l:old/") else None)
        rows = sorted(c.execute(S.forgotten.select()).all())
    assert rows == [("g:1:x", 1, 5.0, None), ("l:new/1", 1, 5.0, None), ("l:new/1", 2, 5.0, 7.0),
                    ("l:new/2", 1, 6.0, None), ("t:l:new/1\na title", 1, 5.0, None)]  # (a title at its link)
    store.close()


def test_a_removed_source_s_forgotten_keys_go_after_keep(tmp_path: Path) -> None:
    feed = tmp_path / "s.xml"
    feed.write_bytes(rss([post(1, T0 - timedelta(hours=1))]))
    other = tmp_path / "t.xml"
    other.write_bytes(rss([post(2, T0 - timedelta(hours=2))]))
    pipe, store, clock = setup(tmp_path, "entries = 1\narchive = false", sources=("s", "t"))
    pipe.run(force_all=True)
    clock.t = NOW
    feed.write_bytes(rss([post(9, NOW), post(1, T0 - timedelta(hours=1))]))
    pipe.run(force_all=True)
    db = tmp_path / "feeds.db"
    assert {r[0] for r in query(db, "SELECT source_id FROM forgotten")} == {1, 2}
    pipe2, _, clock2 = setup(tmp_path, "entries = 1\narchive = false")  # t taken out of the config
    clock2.t = NOW + timedelta(days=2)
    pipe2.run(force_all=True)
    assert {r[0] for r in query(db, "SELECT source_id FROM forgotten")} == {1, 2}  # not yet: forgotten 2 days ago
    clock2.t = NOW + timedelta(days=31)
    pipe2.run(force_all=True)
    assert {r[0] for r in query(db, "SELECT source_id FROM forgotten")} == {1}


def test_a_story_re_posted_lately_is_kept(tmp_path: Path) -> None:
    a, b = tmp_path / "a.xml", tmp_path / "b.xml"
    first = post(1, T0 - timedelta(hours=1))
    a.write_bytes(rss([first]))
    b.write_bytes(rss([]))
    pipe, store, clock = setup(tmp_path, "entries = 1\narchive = false", sources=("a", "b"))
    pipe.run(force_all=True)
    clock.t = NOW - timedelta(days=1)
    b.write_bytes(rss([dict(first, guid="b1")]))  # another outlet re-posts it yesterday
    pipe.run(force_all=True)
    clock.t = NOW
    a.write_bytes(rss([post(9, NOW), first]))
    pipe.run(force_all=True)
    db = tmp_path / "feeds.db"
    assert sorted(r[0] for r in query(db, "SELECT title FROM items")) == sorted([HEADLINES[1], HEADLINES[9]])


def test_the_channel_row_inserted_last_is_never_forgotten(tmp_path: Path) -> None:
    """SQLite gives a new row the largest rowid + 1, and a channel's archive marks find new rows by rowid:
    forgetting the row inserted last would give its rowid again, below a mark."""
    db = tmp_path / "feeds.db"
    store = Store.open(db)
    con = sqlite3.connect(db)
    with con:
        con.execute("INSERT INTO sources (id, url, name, active, consecutive_failures, gone, redirect_count, "
                    "items_total, last_new) VALUES (1, 'u', 'S', 1, 0, 0, 0, 0, 0)")
        for n, story in ((1, 1), (2, 2), (3, 3)):
            con.execute("INSERT INTO items (id, uid, source_id, title, summary, content, author, categories, "
                        "published, updated, first_seen, content_hash, story_id, enclosures) "
                        "VALUES (?, ?, 1, 't', '', '', '', '', 10, 10, 10, 'h', ?, '')", (n, f"u{n}", story))
            con.execute("INSERT INTO stories (id, rep_item_id, size, published, updated) VALUES (?, ?, 1, 10, 10)",
                        (story, n))
        for story in (3, 2, 1):  # story 1's row is the last one
            con.execute("INSERT INTO story_channels (channel, story_id, updated) VALUES ('all', ?, 10)", (story,))
    con.close()
    assert store.prunable_stories(100.0, ()) == [2]  # 3: the newest item's; 1: the last channel row's
    store.close()


def test_a_source_whose_document_lists_nothing_lets_its_keys_go_and_a_failing_one_keeps_them(tmp_path: Path) -> None:
    feed = tmp_path / "s.xml"
    old = [post(1, T0 - timedelta(hours=1))]
    feed.write_bytes(rss(old))
    pipe, store, clock = setup(tmp_path, "entries = 1\narchive = false", sources=("s", "t"))
    other = tmp_path / "t.xml"
    other.write_bytes(rss([post(2, T0 - timedelta(hours=2))]))
    pipe.run(force_all=True)
    clock.t = NOW
    feed.write_bytes(rss([post(9, NOW), *old]))
    pipe.run(force_all=True)
    db = tmp_path / "feeds.db"
    # (a post's g: and l: keys and its title at its link)
    assert sorted(query(db, "SELECT source_id, unlisted FROM forgotten")) == [(1, None)] * 3 + [(2, None)] * 3
    clock.t = NOW + timedelta(hours=1)
    feed.write_bytes(rss([]))  # s lists nothing now
    other.unlink()  # t fails from now on
    pipe.run(force_all=True)
    assert sorted(query(db, "SELECT source_id, unlisted FROM forgotten")) == [
        (1, clock.t.timestamp())] * 3 + [(2, None)] * 3
    clock.t = NOW + timedelta(days=32)
    pipe.run(force_all=True)
    # s's keys went (unlisted for longer than keep); t, failing, keeps its own: they stop growing when it fails,
    # and a feed back from an outage still finds the posts it lists known (it dropped them after keep before)
    assert query(db, "SELECT source_id, unlisted FROM forgotten") == [(2, None)] * 3
    pipe2, _, clock2 = setup(tmp_path, "entries = 1\narchive = false")  # t taken out of the config
    clock2.t = NOW + timedelta(days=33)
    pipe2.run(force_all=True)
    assert query(db, "SELECT count(*) FROM forgotten") == [(3,)]  # removed a day ago
    clock2.t = NOW + timedelta(days=63)
    pipe2.run(force_all=True)
    assert query(db, "SELECT count(*) FROM forgotten") == [(0,)]  # not read for longer than keep


def test_a_prune_that_fails_is_a_warning_and_the_next_run_does_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    from sqlalchemy.exc import OperationalError

    feed = tmp_path / "s.xml"
    old = [post(1, T0 - timedelta(hours=1))]
    feed.write_bytes(rss(old))
    pipe, store, clock = setup(tmp_path, "entries = 1\narchive = false")
    pipe.run(force_all=True)
    def full_disk(*args: object) -> int:
        raise OperationalError("DELETE", {}, Exception("database or disk is full"))

    monkeypatch.setattr(Store, "forget_stories", staticmethod(full_disk))
    clock.t = NOW
    feed.write_bytes(rss([post(9, NOW), *old]))
    report = pipe.run(force_all=True)
    assert report.new_items == 1 and titles(tmp_path) == [HEADLINES[9]]  # the run's work is done
    assert "could not forget old stories" in caplog.text
    db = tmp_path / "feeds.db"
    assert query(db, "SELECT count(*) FROM items") == [(2,)]
    monkeypatch.undo()
    clock.t = NOW + timedelta(hours=1)
    pipe.run(force_all=True)  # pruned_at was not written: the next run prunes
    assert query(db, "SELECT count(*) FROM items") == [(1,)]


def test_a_quiet_channels_story_does_not_keep_a_busy_channels_archive_in_the_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A quiet channel shows one old story for good (what a channel shows is never forgotten); that story
    is also on the busy channel's first archive page. Pages are dropped from the first on, so that one page
    kept every later page's stored entries: archive_slots grew for ever (found by a review, over 120 days)."""
    from feeds import publish

    monkeypatch.setattr(publish, "ARCHIVE_PAGE_SIZE", 2)
    feed = tmp_path / "s.xml"
    store = Store.open(tmp_path / "feeds.db")
    clock = Clock(T0)
    text = """
[output]
dir = "out"
base_url = "https://feeds.example.org/"
entries = 2
[store]
path = "feeds.db"
keep = "10d"
[[sources]]
url = "s.xml"
name = "S"
[channels.all]
title = "All"
match_all = true
[channels.quakes]
title = "Quakes"
include = ["earthquake"]
"""
    pipe = Pipeline(parse_config(text, tmp_path / "feeds.toml"), store, now=clock)
    posts: list[dict[str, object]] = []
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo",
             "lima", "mike", "november"]
    for day in range(40):
        clock.t = T0 + timedelta(days=day)
        for _ in range(2):
            n = len(posts)
            title = ("Earthquake shakes the northern coast" if n == 3
                     else f"{words[n % 14]} {words[(n // 14) % 14]} council report number {n}")
            posts.append({"title": title, "guid": f"p{n}", "link": f"https://s.example/{n}", "date": clock.t,
                          "summary": f"{title}."})
        feed.write_bytes(rss(list(reversed(posts[-6:]))))
        pipe.run(force_all=True)
    db = tmp_path / "feeds.db"
    quake = query(db, "SELECT story_id FROM items WHERE title LIKE 'Earthquake%'")
    assert quake  # still stored: the quakes channel shows it
    assert [e.title for e in feedparser.parse((tmp_path / "out" / "quakes.atom").read_bytes()).entries] == [
        "Earthquake shakes the northern coast"]
    floor = int(store.meta_value("archive.floor.all") or 0)
    assert floor > 50  # 80 posts archived in "all": most of its pages were dropped despite the quake's page
    below = query(db, f"SELECT story_id FROM archive_slots WHERE channel = 'all' AND seq < {floor}")
    assert below == quake  # the stored story's slot stays (its generations); the others' went
    assert query(db, "SELECT count(*) FROM archive_slots")[0][0] < 30
    # nothing new for longer than keep: every page but the newest full one is dropped (the floor stops)
    clock.t += timedelta(days=11)
    pipe.run(force_all=True)
    floor = int(store.meta_value("archive.floor.all") or 0)
    assert query(db, f"SELECT story_id FROM archive_slots WHERE channel = 'all' AND seq < {floor}") == quake
    # the quakes channel taken out: the story is forgotten at the next prune, and its slot goes with it,
    # though no page was dropped then
    clock.t += timedelta(days=1)
    Pipeline(parse_config(text.split("[channels.quakes]")[0], tmp_path / "feeds.toml"), store, now=clock).run(
        force_all=True)
    assert query(db, "SELECT count(*) FROM items WHERE title LIKE 'Earthquake%'") == [(0,)]
    assert int(store.meta_value("archive.floor.all") or 0) == floor
    assert query(db, f"SELECT story_id FROM archive_slots WHERE channel = 'all' AND seq < {floor}") == []


@pytest.mark.parametrize("how", ["moved", "put-back"])
def test_a_source_moved_or_put_back_still_finds_the_forgotten_posts_it_lists(tmp_path: Path, how: str) -> None:
    """A feed lists a pinned post for good. It is forgotten; then the source moves to a new URL (a new source
    row: another outlet's keys were not its own), or is out of the config for a few days: the pinned post
    came back as new once the first row's keys went (those of a removed source went `keep` after they were
    forgotten, however short the removal) (found by a review)."""
    pinned = {"title": HEADLINES[1], "guid": "pin", "link": "https://site.example/pinned", "date": T0,
              "summary": "Read this first."}
    posts: list[dict[str, object]] = []

    def config(url: str | None) -> Pipeline:
        listed = f'[[sources]]\nurl = "{url}"\nname = "S"\n' if url else ""
        text = f"""
[output]
dir = "out"
base_url = "https://feeds.example.org/"
entries = 1
archive = false
[store]
path = "feeds.db"
keep = "10d"
[[sources]]
url = "o.xml"
name = "O"
{listed}
[channels.all]
title = "All"
match_all = true
"""
        return Pipeline(parse_config(text, tmp_path / "feeds.toml"), store, now=clock)

    store = Store.open(tmp_path / "feeds.db")
    clock = Clock(T0)
    (tmp_path / "o.xml").write_bytes(rss([]))
    url = "s.xml"
    for day in range(40):
        clock.t = T0 + timedelta(days=day)
        posts.append({"title": f"Daily council notes for day number {day}", "guid": f"d{day}",
                      "link": f"https://site.example/d/{day}", "date": clock.t, "summary": f"Notes {day}."})
        doc = rss([*reversed(posts[-3:]), pinned])
        if how == "moved" and day >= 20:
            url = "s2.xml"
        (tmp_path / "s.xml").write_bytes(doc)
        (tmp_path / "s2.xml").write_bytes(doc)
        out = how == "put-back" and 20 <= day < 25
        report = config(None if out else url).run(force_all=True)
        if day > 0 and not out:
            assert report.new_items == (1 if how == "moved" or day != 25 else 3), day  # never the pinned post
    db = tmp_path / "feeds.db"
    assert query(db, "SELECT count(*) FROM items WHERE guid = 'pin'") == [(0,)]  # forgotten, never back


def test_a_prune_dated_in_the_future_does_not_stop_the_next_ones(tmp_path: Path) -> None:
    """One run under a clock set a year ahead wrote pruned_at a year ahead: no prune ran until that date, and
    `status` said it happened "305d ago" (found by a review)."""
    feed = tmp_path / "s.xml"
    feed.write_bytes(rss([post(1, T0)]))
    pipe, store, clock = setup(tmp_path, "entries = 1\narchive = false", keep="10d")
    clock.t = NOW + timedelta(days=365)
    pipe.run(force_all=True)
    ahead = float(store.meta_value("pruned_at") or 0)
    assert ahead == clock.t.timestamp()
    from feeds import status

    assert "in the future" in status._ago(ahead, NOW)
    clock.t = NOW
    pipe.run(force_all=True)
    assert float(store.meta_value("pruned_at") or 0) == NOW.timestamp()


def test_explain_of_a_forgotten_entry_id_says_the_store_may_have_forgotten_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    feed = tmp_path / "s.xml"
    feed.write_bytes(rss([post(1, T0 - timedelta(hours=1))]))
    pipe, store, clock = setup(tmp_path, "entries = 1\narchive = false")
    pipe.run(force_all=True)
    (uid,) = query(tmp_path / "feeds.db", "SELECT uid FROM items")[0]
    clock.t = NOW
    feed.write_bytes(rss([post(3, NOW)]))
    pipe.run(force_all=True)
    pipe.close()
    store.close()
    (tmp_path / "feeds.toml").write_text(
        '[output]\ndir = "out"\nbase_url = "https://feeds.example.org/"\n[store]\npath = "feeds.db"\nkeep = "30d"\n'
        '[[sources]]\nurl = "s.xml"\nname = "S"\n[channels.all]\ntitle = "All"\nmatch_all = true\n')
    r = subprocess.run([sys.executable, "-m", "feeds", "-c", str(tmp_path / "feeds.toml"), "explain", str(uid),
                        "Harbour cranes idle"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert f"no item with the entry id {uid}" in r.stderr and "[store] keep = 30d" in r.stderr


def test_a_new_post_on_a_page_a_forgotten_post_linked_to_is_new(tmp_path: Path) -> None:
    """A source listing its newest post only, each post with an id and a title of its own, all linking to one
    page (a live blog, a show's page): once the prune forgot a post, every later one was taken for it by the
    forgotten link key and dropped, for good (found by a review of retention). As for a stored item found by
    its link: another title is another post; the same title under a new id is the forgotten post."""
    live = "https://site.example/live"

    def on_page(guid: str, title: str, when: datetime) -> dict[str, object]:
        return {"title": title, "guid": guid, "link": live, "date": when, "summary": f"{title}."}

    feed, other = tmp_path / "s.xml", tmp_path / "t.xml"
    feed.write_bytes(rss([on_page("p1", HEADLINES[1], T0)]))
    other.write_bytes(rss([]))
    pipe, store, clock = setup(tmp_path, "entries = 1\narchive = false", sources=("s", "t"))
    pipe.run(force_all=True)
    clock.t = NOW  # 40 days on: another source's post; p1 is forgotten
    other.write_bytes(rss([post(2, NOW)]))
    pipe.run(force_all=True)
    db = tmp_path / "feeds.db"
    assert query(db, "SELECT count(*) FROM items WHERE guid = 'p1'") == [(0,)]
    for day, (guid, n) in enumerate([("p3", 3), ("p4", 4)], start=1):
        clock.t = NOW + timedelta(days=day)
        feed.write_bytes(rss([on_page(guid, HEADLINES[n], clock.t)]))
        assert pipe.run(force_all=True).new_items == 1, guid
        assert HEADLINES[n] in titles(tmp_path)
    # the forgotten post itself, listed again under its id (its title edited too) or under a new one (its
    # title): not new
    for day, guid, n in ((3, "p1", 1), (4, "p1-again", 1), (5, "p1", 5)):
        clock.t = NOW + timedelta(days=day)
        feed.write_bytes(rss([on_page(guid, HEADLINES[n], T0)]))
        assert pipe.run(force_all=True).new_items == 0, (guid, n)
    assert query(db, "SELECT count(*) FROM items WHERE title = ?".replace("?", repr(HEADLINES[1]))) == [(0,)]
