"""RFC 5005 archives: walking prev-archive from the live feed recovers every entry exactly once, full
pages never change, a story updated after it was archived comes back as a new development entry."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from test_publish import BASE, T0, Fill, assert_valid, make_config, snapshot

from feeds.config import Config
from feeds.formats.model import development_id
from feeds.publish import publish
from feeds.store import Store

A = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"
PAGE = 50


def doc_of(out: Path, url: str) -> etree._Element:
    """The document a URL of the site names (a query, as on the link to the open page, names the same file)."""
    assert url.startswith(BASE), url
    return etree.fromstring((out / url[len(BASE):].split("?", 1)[0]).read_bytes())


def links(root: etree._Element, rel: str) -> list[str]:
    return [str(ln.get("href")) for ln in root.findall(f"{A}link") if ln.get("rel") == rel]


def walk(out: Path, slug: str = "news") -> list[tuple[str, list[str]]]:
    """Follow prev-archive from the live feed: (document URL, entry ids) per document, newest first."""
    url = f"{BASE}{slug}.atom"
    seen: list[tuple[str, list[str]]] = []
    while url:
        assert url not in {u for u, _ in seen}, f"prev-archive loop at {url}"
        root = doc_of(out, url)
        seen.append((url, [str(e.findtext(f"{A}id")) for e in root.findall(f"{A}entry")]))
        if seen[1:]:  # an archive page
            assert root.find(f"{FH}archive") is not None
            assert links(root, "current") == [f"{BASE}{slug}.atom"]
        prev = links(root, "prev-archive")
        assert len(prev) <= 1
        url = prev[0] if prev else ""
    return seen


def all_ids(out: Path) -> list[str]:
    return [i for _url, ids in walk(out) for i in ids]


def story_uid(store: Store, story_id: int) -> str:
    return store.story_entries([story_id])[0].rep.uid


def fill(store: Store, n: int, start: int = 0) -> list[int]:
    f = Fill(store)
    f.next_id = 10_000 + start  # distinct uids across calls
    return [f.story(["news"], ("Alpha Wire", "Beta Post", "Gamma Daily")[i % 3], f"Story number {i}", T0 + 60 * i)
            for i in range(start, start + n)]


@pytest.fixture()
def big(tmp_path: Path) -> Iterator[tuple[Config, Store, list[int]]]:
    cfg = make_config(tmp_path, entries=20, formats=("atom",))
    store = Store.open(cfg.store_path)
    ids = fill(store, 250)
    report = publish(cfg, store, page_size=PAGE)
    assert not report.errors
    yield cfg, store, ids
    store.close()


def test_walk_recovers_every_entry_exactly_once(big: tuple[Config, Store, list[int]]) -> None:
    cfg, store, ids = big
    out = cfg.output.dir
    docs = walk(out)
    # live feed, then pages 5 (30 entries), 4, 3, 2, 1 (50 each)
    assert [len(e) for _u, e in docs] == [20, 30, 50, 50, 50, 50]
    # the open page is linked with the archive's size (a reader that keeps archive documents by URL fetches
    # it again once it has gained entries); the full pages by their own URLs
    assert [u for u, _e in docs[1:]] == [f"{BASE}archive/news/5.atom?n=230"] + [
        f"{BASE}archive/news/{n}.atom" for n in (4, 3, 2, 1)]
    found = all_ids(out)
    assert len(found) == len(set(found)) == 250
    assert set(found) == {story_uid(store, s) for s in ids}
    # page k holds a fixed slice of the archive, oldest first: page 1 has the 50 oldest stories
    page1 = set(docs[-1][1])
    assert page1 == {story_uid(store, s) for s in ids[:PAGE]}
    assert set(docs[0][1]) == {story_uid(store, s) for s in ids[-20:]}
    assert_valid(out)
    first = doc_of(out, f"{BASE}archive/news/1.atom")
    assert links(first, "prev-archive") == [] and links(first, "next-archive") == [f"{BASE}archive/news/2.atom"]


def test_full_pages_never_change(big: tuple[Config, Store, list[int]]) -> None:
    cfg, store, ids = big
    out = cfg.output.dir
    before = snapshot(out)
    full = [f"archive/news/{n}.atom" for n in (1, 2, 3, 4)]
    more = fill(store, 60, start=250)
    report = publish(cfg, store, page_size=PAGE)
    after = snapshot(out)
    for name in full:
        assert after[name] == before[name], name  # same bytes, same mtime
    written = {p.relative_to(out).as_posix() for p in report.written}
    assert written == {"news.atom", "archive/news/5.atom", "archive/news/6.atom"}  # pages 1-4 not even rendered
    found = all_ids(out)
    assert len(found) == len(set(found)) == 310
    assert set(found) == {story_uid(store, s) for s in ids + more}
    assert [len(e) for _u, e in walk(out)] == [20, 40, 50, 50, 50, 50, 50]
    assert_valid(out)
    # nothing new: nothing written at all
    assert publish(cfg, store, page_size=PAGE).written == []
    assert snapshot(out) == after


def test_story_updated_after_it_was_archived(big: tuple[Config, Store, list[int]]) -> None:
    cfg, store, ids = big
    out = cfg.output.dir
    before = snapshot(out)
    oldest, live_one = ids[0], ids[-1]
    old_id = story_uid(store, oldest)
    f = Fill(store)
    f.touch(oldest, ["news"], T0 + 60 * 400)  # a development of a story archived on page 1
    f.touch(live_one, ["news"], T0 + 60 * 401)  # and of one still in the live feed
    publish(cfg, store, page_size=PAGE)
    after = snapshot(out)
    for n in (1, 2, 3, 4):
        assert after[f"archive/news/{n}.atom"] == before[f"archive/news/{n}.atom"]
    docs = walk(out)
    live_ids = docs[0][1]
    # the live story keeps its id (an in-place update, newest first now)
    assert live_ids[0] == story_uid(store, live_one)
    # the archived one is back as a new development entry with its own id; the snapshot stays on page 1
    assert old_id not in live_ids and old_id in docs[-1][1]
    dev = live_ids[1]
    assert dev.startswith("urn:uuid:") and dev not in {story_uid(store, s) for s in ids}
    found = all_ids(out)
    assert len(found) == len(set(found)) == 251
    live = etree.fromstring((out / "news.atom").read_bytes())
    dev_entry = live.findall(f"{A}entry")[1]
    page1 = doc_of(out, f"{BASE}archive/news/1.atom")
    snap = next(e for e in page1.findall(f"{A}entry") if e.findtext(f"{A}id") == old_id)
    assert links(dev_entry, "alternate") == links(snap, "alternate")  # the same story, the same article
    assert dev_entry.findtext(f"{A}updated") > snap.findtext(f"{A}updated")
    # (a review) a development is a new entry, published with its news, not at the story's first report days
    # back (readers date entries by `published`); the live story updated in place keeps its first report's
    assert dev_entry.findtext(f"{A}published") == dev_entry.findtext(f"{A}updated")[:19] + "+00:00"
    assert snap.findtext(f"{A}published") < dev_entry.findtext(f"{A}published")
    live_entry = live.findall(f"{A}entry")[0]
    assert live_entry.findtext(f"{A}published") < live_entry.findtext(f"{A}updated")[:19]
    # push the development out of the live feed again: archived once more (as itself), still exactly once
    fill(store, 40, start=500)
    publish(cfg, store, page_size=PAGE)
    found = all_ids(out)
    assert len(found) == len(set(found)) == 291
    assert found.count(dev) == 1 and found.count(old_id) == 1
    assert_valid(out)
    # and a page that was full before all this is still byte-identical
    assert snapshot(out)["archive/news/1.atom"] == before["archive/news/1.atom"]


def test_a_reader_that_keeps_archive_pages_by_url_misses_nothing(tmp_path: Path) -> None:
    """RFC 5005 lets a reader keep an archive document it has fetched and never fetch that URL again. Found by
    a subscriber review: page 1 was published with a next-archive link to an empty page 2 while it was still
    filling, and the open page kept its URL as it gained entries, so a reader polling less often than stories
    passed through the live feed missed what was archived meanwhile. The first page is now the only page
    while it fills, and the live feed links the open page with the archive's size."""
    cfg = make_config(tmp_path, entries=20, formats=("atom",))
    out = cfg.output.dir
    store = Store.open(cfg.store_path)
    kept: dict[str, list[str]] = {}  # the reader's archive documents, by the URL it fetched
    seen: set[str] = set()

    def poll() -> None:  # the live feed, then prev-archive until a document it already keeps
        url = f"{BASE}news.atom"
        root = doc_of(out, url)
        seen.update(str(e.findtext(f"{A}id")) for e in root.findall(f"{A}entry"))
        prev = links(root, "prev-archive")
        while prev and prev[0] not in kept:
            url = prev[0]
            root = doc_of(out, url)
            kept[url] = [str(e.findtext(f"{A}id")) for e in root.findall(f"{A}entry")]
            seen.update(kept[url])
            prev = links(root, "prev-archive")

    ids: list[int] = []
    try:
        for n in (25, 30, 45, 60, 7):  # more stories than the live feed holds between two polls, mostly
            ids += fill(store, n, start=len(ids))
            assert not publish(cfg, store, page_size=PAGE).errors
            poll()
            assert_valid(out)
            if len(ids) == 25:  # 5 archived: page 1 is the only page, linked with the archive's size
                assert links(doc_of(out, f"{BASE}news.atom"), "prev-archive") == [f"{BASE}archive/news/1.atom?n=5"]
                p1 = doc_of(out, f"{BASE}archive/news/1.atom")
                assert links(p1, "next-archive") == links(p1, "prev-archive") == []
        assert seen == {story_uid(store, s) for s in ids}
        # page 1 got its next-archive link when it filled, and the full pages stay as they are
        assert links(doc_of(out, f"{BASE}archive/news/1.atom"), "next-archive") == [f"{BASE}archive/news/2.atom"]
        before = snapshot(out)
        ids += fill(store, 30, start=len(ids))
        assert not publish(cfg, store, page_size=PAGE).errors
        after = snapshot(out)
        assert all(after[f"archive/news/{n}.atom"] == before[f"archive/news/{n}.atom"] for n in (1, 2))
    finally:
        store.close()


def test_missing_page_is_rendered_again_identically(big: tuple[Config, Store, list[int]]) -> None:
    cfg, store, _ids = big
    page = cfg.output.dir / "archive/news/2.atom"
    data = page.read_bytes()
    page.unlink()
    report = publish(cfg, store, page_size=PAGE)
    assert [p.relative_to(cfg.output.dir).as_posix() for p in report.written] == ["archive/news/2.atom"]
    assert page.read_bytes() == data


def test_archive_off_keeps_the_newest_only(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, entries=20, archive=False, formats=("atom",))
    store = Store.open(cfg.store_path)
    try:
        fill(store, 30)
        publish(cfg, store, page_size=PAGE)
    finally:
        store.close()
    out = cfg.output.dir
    assert not (out / "archive").exists()
    assert [len(e) for _u, e in walk(out)] == [20]
    assert_valid(out)


def test_late_arrivals_dated_before_the_live_window_are_archived(big: tuple[Config, Store, list[int]]) -> None:
    cfg, store, ids = big
    out = cfg.output.dir
    before = snapshot(out)
    f = Fill(store)
    f.next_id = 50_000
    # a story first seen now but dated long ago (older than every live story): straight to the archive
    late = f.story(["news"], "Beta Post", "Old news found late", T0 - 3600)
    # an old story that only now joins this channel (e.g. reclassified), with its old time
    other = f.story(["elsewhere"], "Gamma Daily", "Story from another channel", T0 + 30)
    with store.tx() as c:
        store.set_story_channels(c, other, ["news"], T0 + 30)
    # a development of an archived story dated before the live window: older than anything live, so it
    # is not in the live feed; it goes to the open archive page as a new generation beside the snapshot
    # (it was left out when the archive's marks were above its date, archived when they were below: the
    # documents depended on the path the store took, found by a crash campaign's full-publish check)
    f.touch(ids[5], ["news"], T0 + 60 * 100)
    report = publish(cfg, store, page_size=PAGE)
    written = {p.relative_to(out).as_posix() for p in report.written}
    # the open page, and the live feed only for its link to the open page, which names the archive's new size
    # (253 entries, 20 of them live)
    assert written == {"archive/news/5.atom", "news.atom"}
    assert links(doc_of(out, f"{BASE}news.atom"), "prev-archive") == [f"{BASE}archive/news/5.atom?n=233"]
    found = all_ids(out)
    assert len(found) == len(set(found)) == 253
    assert {story_uid(store, late), story_uid(store, other), story_uid(store, ids[5]),
            development_id(story_uid(store, ids[5]), 2)} <= set(found)
    assert publish(cfg, store, page_size=PAGE).written == []  # a full publish after it finds nothing stale
    after = snapshot(out)
    assert all(after[f"archive/news/{n}.atom"] == before[f"archive/news/{n}.atom"] for n in (1, 2, 3, 4))
    assert_valid(out)


@pytest.mark.parametrize("how", ["disk-full", "killed"])
def test_a_publish_stopped_between_saving_slots_and_writing_pages_is_mended_by_the_next(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    import feeds.publish as P
    from feeds.errors import PublishError

    cfg = make_config(tmp_path, entries=20, formats=("atom",))
    store = Store.open(cfg.store_path)
    ids = fill(store, 250)
    assert not publish(cfg, store, page_size=PAGE).errors
    more = fill(store, 60, start=250)
    real = P.atomic_write

    def failing(path: Path, data: bytes) -> bool:
        if path.name == "5.atom":  # the open page, after the new slots were saved
            if how == "killed":
                raise SystemExit("killed")  # what SIGKILL or a power cut at this point leaves behind
            raise PublishError(str(path), "No space left on device")
        return real(path, data)

    monkeypatch.setattr(P, "atomic_write", failing)
    with contextlib.suppress(SystemExit):
        P.publish(cfg, store, page_size=PAGE)
    monkeypatch.setattr(P, "atomic_write", real)
    assert not publish(cfg, store, page_size=PAGE).errors  # the disk is fine again
    found = all_ids(cfg.output.dir)
    assert sorted(found) == sorted(story_uid(store, s) for s in ids + more)  # every entry once
    # the live feed, the open page, then the full pages, each page with its links (the helper follows them)
    assert [len(e) for _url, e in walk(cfg.output.dir)] == [20, 40] + [PAGE] * 5
    again = snapshot(cfg.output.dir)
    assert not publish(cfg, store, page_size=PAGE).errors and snapshot(cfg.output.dir) == again


def test_a_v3_store_writes_its_short_archive_pages_again_once(tmp_path: Path) -> None:
    """A feeds before schema 4 saved slots before writing their pages, so a run killed in between left a page
    short of its entries for good. The upgrade renders every page again once: the short page is mended, the
    others keep their bytes and times (they were taken as written, the short page stayed short: found by a
    review of upgrades)."""
    import sqlite3

    cfg = make_config(tmp_path, entries=20, formats=("atom",))
    store = Store.open(cfg.store_path)
    fill(store, 130)
    assert not publish(cfg, store, page_size=PAGE).errors
    store.close()
    out = cfg.output.dir
    page1 = out / "archive/news/1.atom"
    whole = page1.read_bytes()
    cut = whole.rindex(b"<entry>")  # the page as a run killed before its last entry was written left it
    page1.write_bytes(whole[:cut].rstrip() + b"\n</feed>\n")
    assert len(etree.fromstring(page1.read_bytes()).findall(f"{A}entry")) == PAGE - 1
    con = sqlite3.connect(cfg.store_path)
    with con:  # the store as schema 3 left it
        con.execute("ALTER TABLE archive_marks DROP COLUMN written")
        con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    con.close()
    before = snapshot(out)
    store = Store.open(cfg.store_path)
    try:
        assert store.archive_written("news") == 0 and store.archive_size("news") == 110
        report = publish(cfg, store, page_size=PAGE)
        assert not report.errors
        assert [p.relative_to(out).as_posix() for p in report.written] == ["archive/news/1.atom"]
        assert page1.read_bytes() == whole
        after = snapshot(out)
        assert {k: v for k, v in after.items() if k != "archive/news/1.atom"} == {
            k: v for k, v in before.items() if k != "archive/news/1.atom"}
        assert store.archive_written("news") == 110
        assert publish(cfg, store, page_size=PAGE).written == []  # once
    finally:
        store.close()


@pytest.mark.parametrize("how", ["leaves", "channel-removed", "older-feeds"])
def test_a_story_entering_a_channel_under_a_reused_rowid_is_still_archived(
        big: tuple[Config, Store, list[int]], how: str) -> None:
    """The archive finds a channel's new entries by rowid (rows inserted after its mark). SQLite gives a new
    row max(rowid) + 1, so deleting the last inserted row (a story leaving a channel: an edit the rules now
    exclude, a re-sort; or a channel taken out of the config) hands its rowid to the next row: that row,
    dated before the live window, was taken for one already seen and never reached the archive (gone from
    every document). Two protections each keep it: no mark stays above the last rowid after a deletion, and
    setting a row's `updated` lowers the channel's updated mark (the row is found by its date). "older-feeds":
    a store an older feeds left with its mark above the last rowid (it deleted the row and kept the mark):
    only the lowered updated mark finds the row there."""
    cfg, store, ids = big
    out = cfg.output.dir
    f = Fill(store)
    f.next_id = 60_000
    if how == "channel-removed":  # the last row is another channel's, seen by this channel's mark too
        f.story(["elsewhere"], "Gamma Daily", "A story of a channel about to go", T0 + 60 * 300)
        assert not publish(cfg, store, page_size=PAGE).errors
    with store.engine.connect() as c:
        last = c.exec_driver_sql("SELECT story_id, rowid FROM story_channels ORDER BY rowid DESC LIMIT 1").one()
    with store.tx() as c:
        if how == "leaves":
            assert last[0] == ids[-1]
            store.delete_story_channels(c, ids[-1], {"news"})  # the newest story leaves the channel
        elif how == "older-feeds":  # the delete alone, as a feeds before the mark's clamp did it
            c.exec_driver_sql("DELETE FROM story_channels WHERE rowid = ?", (last[1],))
        else:
            store.forget_channels(c, {"elsewhere"})
    if how == "older-feeds":
        with store.engine.connect() as c:
            assert c.exec_driver_sql("SELECT rowid_mark FROM archive_marks WHERE channel = 'news'").scalar() \
                == last[1]  # the damage: the mark sits on the rowid the next row gets
        store.close()
        store = Store.open(cfg.store_path)
        f = Fill(store)
        f.next_id = 60_000
    late = f.story(["news"], "Beta Post", "Old news found late", T0 - 3600)  # dated before the live window
    with store.engine.connect() as c:
        reused = c.exec_driver_sql("SELECT rowid FROM story_channels WHERE story_id = ?", (late,)).scalar()
    assert reused == last[1]  # what SQLite does: the precondition of the case
    report = publish(cfg, store, page_size=PAGE)
    assert not report.errors
    found = all_ids(out)
    assert story_uid(store, late) in found
    assert len(found) == len(set(found))
    assert_valid(out)


def test_explain_takes_a_developments_entry_id(big: tuple[Config, Store, list[int]],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A development of an archived story is published under an id derived from the story's: `feeds explain`
    said no item had it (found by a review of upgrades), though readers have it in their feeds."""
    import argparse
    import json

    from feeds.explain import explain_main

    cfg, store, ids = big
    Fill(store).touch(ids[5], ["news"], T0 + 60 * 400)  # archived, then changed: generation 2, live
    assert not publish(cfg, store, page_size=PAGE).errors
    dev = development_id(story_uid(store, ids[5]), 2)
    assert dev in all_ids(cfg.output.dir)
    code = explain_main(cfg, argparse.Namespace(a=dev, b=story_uid(store, ids[5]), json=True))
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["now"] == "one story" and doc["same_story"] and doc["score"] > 0.99  # the story's own report
    assert explain_main(cfg, argparse.Namespace(a=development_id(story_uid(store, ids[5]), 4), b="x",
                                                json=True)) == 2  # a generation not published yet is no id
