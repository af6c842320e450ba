"""Item identity after a review of exact duplicates (each test failed before its fix): link keys that merged
different pages (a query's bytes that are not UTF-8, hash-bang routes) or kept one page apart (escapes,
IRIs, IDNA hosts), and a source's posts that one title, one link or no title at all made one item. File
sources, a real SQLite store, the Atom output read back with feedparser."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import feedparser
from feedgen_util import rss
from test_pipeline import NOW, setup

from feeds.dedup import canonical_link, item_uid, relink_key

NO_STORIES = "[stories]\nenabled = false\n"


def entries(tmp: Path) -> list[tuple[str, str, str]]:
    """(title, link, summary) of every entry of the channel, sorted."""
    feed = feedparser.parse((tmp / "out" / "all.atom").read_bytes())
    return sorted((e.title, e.link, e.get("summary", "")) for e in feed.entries)


def stored(tmp: Path) -> list[tuple[str, str]]:
    con = sqlite3.connect(tmp / "feeds.db")
    try:
        return sorted((str(r[0]), str(r[1])) for r in con.execute("SELECT title, summary FROM items"))
    finally:
        con.close()


# -- link keys ------------------------------------------------------------------------------------------
def test_a_query_of_bytes_that_are_not_utf8_keeps_them() -> None:
    """EUC-JP and Latin-1 queries (a PukiWiki page name, a search for a surname): every such query was read
    as U+FFFD, so all pages of the wiki had one link key."""
    wiki = "http://wiki.example.jp/pukiwiki/index.php?"
    assert canonical_link(wiki + "%C6%FC%CB%DC") != canonical_link(wiki + "%B2%BB%B3%DA")
    assert canonical_link(wiki + "%C6%FC%CB%DC") == canonical_link(wiki + "%c6%fc%cb%dc")
    assert canonical_link("http://example.de/s.php?name=M%FCller") != canonical_link(
        "http://example.de/s.php?name=M%F6ller")
    assert "%EF%BF%BD" not in (canonical_link("http://example.de/s.php?name=M%FCller") or "")


def test_a_hash_bang_or_route_names_the_page_a_plain_fragment_does_not() -> None:
    forum = "https://groups.google.com/forum/#!topic/golang-nuts/"
    assert canonical_link(forum + "7oHqG1B4Ty0") != canonical_link(forum + "Qm2xS0aF3dE")
    assert canonical_link("https://app.example/#/post/1") != canonical_link("https://app.example/#/post/2")
    assert canonical_link("https://news.example/a#comments") == canonical_link("https://news.example/a")
    assert canonical_link("https://news.example/a#!") == canonical_link("https://news.example/a#/")
    assert canonical_link("https://news.example/a#/") == canonical_link("https://news.example/a")


def test_one_page_in_its_spellings_is_one_key() -> None:
    """RFC 3986 6.2.2: the case of an escape's hex digits, an escaped unreserved character, an IRI and its
    URI; an IDNA host in ASCII and in Unicode; the Guardian's CMP tracker."""
    forms = ["https://anna.example/2026/%d0%bf%d0%be/", "https://anna.example/2026/%D0%BF%D0%BE",
             "https://anna.example/2026/по/"]
    assert len({canonical_link(f) for f in forms}) == 1
    assert canonical_link("http://x.example/%7Euser/a") == canonical_link("http://x.example/~user/a")
    assert canonical_link("http://x.example/a b") == canonical_link("http://x.example/a%20b")
    assert canonical_link("http://bücher.example/a") == canonical_link("http://xn--bcher-kva.example/a")
    # a label that decodes to no IDNA label stays as written (xn--x-qc4g is "\ud800x", which no store can
    # write: every run failed, and the upgrade's rewrite of stored keys too; xn--abc- would be "abc")
    assert canonical_link("https://xn--x-qc4g.example/a") == "xn--x-qc4g.example/a"
    assert canonical_link("https://xn--abc-.example/a") != canonical_link("https://abc.example/a")
    assert canonical_link("https://x\ud800.example/a") is None
    # a joiner is part of a name (Persian domains: ZWNJ, which Python does not count as printable)
    assert canonical_link("https://نامه\u200cها.ir/a") == canonical_link("https://xn--mgba3gcha2927b.ir/a")
    assert canonical_link("https://www.theguardian.com/a?CMP=share_btn_tw") == canonical_link(
        "https://www.theguardian.com/a")
    # what stays apart: an escaped delimiter is not the delimiter, and paths are case-sensitive
    assert canonical_link("http://x.example/a%2Fb") != canonical_link("http://x.example/a/b")
    assert canonical_link("http://x.example/%C3%A9") != canonical_link("http://x.example/%C3%89")


def test_stored_keys_of_the_previous_form_are_made_again() -> None:
    """A store's link keys are rewritten once (Pipeline._follow_link_form) through relink_key."""
    assert relink_key("l:anna.example/2026/%d0%bf%d0%be") == "l:" + (
        canonical_link("https://anna.example/2026/по") or "")
    assert relink_key("l:xn--bcher-kva.example/%7eu") == "l:bücher.example/~u"


# -- through the pipeline -------------------------------------------------------------------------------
def test_two_wiki_pages_linked_with_euc_jp_queries_are_two_entries(tmp_path: Path) -> None:
    wiki = "http://wiki.example.jp/pukiwiki/index.php?"
    a = rss([{"title": "日本", "guid": "w1", "link": wiki + "%C6%FC%CB%DC", "summary": "日本のページ",
              "date": NOW - timedelta(hours=2)}])
    b = rss([{"title": "音楽", "guid": "b1", "link": wiki + "%B2%BB%B3%DA", "summary": "音楽のページ",
              "date": NOW - timedelta(hours=1)}])
    pipe, _, _ = setup(tmp_path, {"wiki": a, "bookmarks": b}, NO_STORIES)
    pipe.run(force_all=True)
    assert [t for t, _, _ in entries(tmp_path)] == ["日本", "音楽"]


def test_two_forum_threads_behind_hash_bangs_are_two_entries(tmp_path: Path) -> None:
    forum = "https://groups.google.com/forum/#!topic/golang-nuts/"
    a = rss([{"title": "Proposal: a new error handling syntax", "guid": "t1", "link": forum + "7oHqG1B4Ty0",
              "summary": "A thread on check/handle.", "date": NOW - timedelta(hours=2)}])
    b = rss([{"title": "Go 1.26 release candidate 1 is out", "guid": "t2", "link": forum + "Qm2xS0aF3dE",
              "summary": "Please test it.", "date": NOW - timedelta(hours=1)}])
    pipe, _, _ = setup(tmp_path, {"gonuts": a, "digest": b}, NO_STORIES)
    pipe.run(force_all=True)
    got = entries(tmp_path)
    assert [t for t, _, _ in got] == ["Go 1.26 release candidate 1 is out", "Proposal: a new error handling syntax"]
    assert all("Also reported by" not in s for _, _, s in got)


def test_a_changelog_dated_by_the_day_keeps_each_post_of_one_title(tmp_path: Path) -> None:
    """Entries with their own ids and links, titled by what they changed and dated by the day alone: the
    second "Lost Ark" of the day, read after the first scrolled off, took the first's item over."""
    day = NOW.replace(hour=0, minute=0, second=0, microsecond=0)

    def post(n: int, title: str, text: str) -> dict[str, object]:
        return {"title": title, "guid": f"c{n}", "link": f"https://log.example/changes/{n}", "summary": text,
                "date": day}

    first = [post(103, "Lost Ark", "Fixed the raid boss health bar."), post(102, "Dota 2", "Hero balance.")]
    later = [post(106, "Lost Ark", "Added the winter event and its rewards."),
             post(105, "Valorant", "Agent tweaks."), post(102, "Dota 2", "Hero balance.")]
    pipe, _, clock = setup(tmp_path, {"log": rss(first)}, NO_STORIES)
    pipe.run(force_all=True)
    (tmp_path / "log.xml").write_bytes(rss(later))
    clock.t += timedelta(hours=6)
    pipe.run(force_all=True)
    assert stored(tmp_path) == [("Dota 2", "Hero balance."), ("Lost Ark", "Added the winter event and its rewards."),
                                ("Lost Ark", "Fixed the raid boss health bar."), ("Valorant", "Agent tweaks.")]


def test_a_daily_post_at_one_url_under_one_title_is_a_post_a_day(tmp_path: Path) -> None:
    """A page that shows its newest post ("Today's devotional") at one URL: each day's entry has its own id,
    date and text. The second day's post was taken for the first with a new id (an edit), and the first
    was lost. The same post under a new id (a feed whose ids change on every fetch) is still one item."""
    def day(n: int, text: str, guid: str = "") -> bytes:
        return rss([{"title": "Today's devotional", "guid": guid or f"dev-{n}", "link": "https://church.example/devotional",
                     "summary": text, "date": NOW + timedelta(days=n - 1)}], link="https://church.example/")

    psalm, matthew = "Psalm 23: the Lord is my shepherd, on rest.", "Matthew 5: the Beatitudes and the meek."
    pipe, _, clock = setup(tmp_path, {"church": day(1, psalm)}, NO_STORIES)
    pipe.run(force_all=True)
    (tmp_path / "church.xml").write_bytes(day(1, psalm, guid="dev-1-again"))
    clock.t += timedelta(hours=1)
    pipe.run(force_all=True)
    assert [s for _, s in stored(tmp_path)] == [psalm]
    psalm = "Revised: on green pastures and still waters."  # an edit too, on the same date: still the post
    (tmp_path / "church.xml").write_bytes(day(1, psalm, guid="dev-1-third"))
    clock.t += timedelta(hours=1)
    pipe.run(force_all=True)
    assert [s for _, s in stored(tmp_path)] == [psalm]
    (tmp_path / "church.xml").write_bytes(day(2, matthew))
    clock.t += timedelta(days=1)
    pipe.run(force_all=True)
    assert [s for _, s in stored(tmp_path)] == [matthew, psalm]
    assert sorted(s for _, _, s in entries(tmp_path)) == [matthew, psalm]


def test_untitled_notes_without_ids_links_or_dates_are_each_an_item(tmp_path: Path) -> None:
    """Valid RSS 2.0 items of a description alone: they all had one fallback id, so a document of three
    notes stored one, and the next note overwrote it."""
    notes = ["Deployed the new search index.", "Backups verified, all green.", "Planned maintenance on Sunday."]
    pipe, _, clock = setup(tmp_path, {"status": rss([{"summary": n} for n in notes])}, NO_STORIES)
    pipe.run(force_all=True)
    assert sorted(s for _, s in stored(tmp_path)) == sorted(notes)
    later = ["Incident: login failures, investigating.", *notes]
    (tmp_path / "status.xml").write_bytes(rss([{"summary": n} for n in later]))
    clock.t += timedelta(hours=1)
    pipe.run(force_all=True)
    assert sorted(s for _, s in stored(tmp_path)) == sorted(later)
    assert len(entries(tmp_path)) == 4


def test_a_post_whose_id_link_and_counters_change_on_every_fetch_stays_one_item(tmp_path: Path) -> None:
    """(the diff review of the changelog fix) A forum's links carry a session id, and its text counts points:
    the same title and date with "12 points, 3 comments", then "15 points, 4 comments" made three items."""
    def doc(n: int, points: int, comments: int) -> bytes:
        url = f"https://forum.example/item?id=77&sid=s{n}x"
        return rss([{"title": "Show: a tiny static site generator", "guid": url, "link": url,
                     "summary": f"{points} points, {comments} comments", "date": NOW - timedelta(hours=1)}])

    pipe, _, clock = setup(tmp_path, {"forum": doc(1, 12, 3)}, NO_STORIES)
    pipe.run(force_all=True)
    for n, (points, comments) in enumerate(((15, 4), (31, 9)), start=2):
        (tmp_path / "forum.xml").write_bytes(doc(n, points, comments))
        clock.t += timedelta(minutes=20)
        pipe.run(force_all=True)
    assert stored(tmp_path) == [("Show: a tiny static site generator", "31 points, 9 comments")]


def test_a_revision_with_an_id_of_its_own_is_an_edit_of_the_post(tmp_path: Path) -> None:
    """(the same review) A CMS whose ids name revisions: the stub "Developing story" became the report, with a new
    id, a new date and its text, at the same link and title; it was stored as a second item, and the entry kept
    showing the stub."""
    def doc(rev: int, minutes: int, text: str) -> bytes:
        return rss([{"title": "Fire at the docks", "guid": f"dock-fire-rev{rev}", "link": "https://news.example/fire",
                     "summary": text, "date": NOW - timedelta(hours=1) + timedelta(minutes=minutes)}])

    full = "Three warehouses burned overnight at the east docks; the fire service says nobody was hurt."
    pipe, _, clock = setup(tmp_path, {"news": doc(0, 0, "Developing story. More details to follow.")}, NO_STORIES)
    pipe.run(force_all=True)
    (tmp_path / "news.xml").write_bytes(doc(1, 30, full))
    clock.t += timedelta(minutes=40)
    pipe.run(force_all=True)
    assert stored(tmp_path) == [("Fire at the docks", full)]
    assert [s for _, _, s in entries(tmp_path)] == [full]


def test_an_untitled_note_dated_to_the_second_keeps_its_id_and_its_corrections(tmp_path: Path) -> None:
    """(the diff review of the untitled-notes fix) A dated untitled note keeps the id it always had: a store made
    before keeps its notes (they came back as new items), and a corrected note is an edit, not a second item."""
    at = NOW.replace(minute=17, second=5, microsecond=0) - timedelta(hours=1)
    pipe, _, clock = setup(tmp_path, {"s": rss([{"summary": "Deploy at 10:00.", "date": at}])}, NO_STORIES)
    assert at.minute % 15 or at.second  # dated to the second: not a day's date in any zone
    pipe.run(force_all=True)
    (tmp_path / "s.xml").write_bytes(rss([{"summary": "Deploy moved to 11:00.", "date": at}]))
    clock.t += timedelta(minutes=10)
    pipe.run(force_all=True)
    assert [s for _, s in stored(tmp_path)] == ["Deploy moved to 11:00."]
    from feeds.dedup import fallback_id
    from feeds.models import Entry

    def fid(text: str, **kw: object) -> str:
        return fallback_id(Entry(guid=None, link=None, title="", summary=text, content="", **kw))  # type: ignore[arg-type]

    assert fid("a", published=at) == fid("b", published=at)  # its date alone, as before
    day = at.replace(hour=0, minute=0, second=0)
    assert fid("a", published=day) != fid("b", published=day) and fid("a") != fid("b")


def test_posts_at_one_url_under_one_title_more_than_an_hour_apart_are_posts(tmp_path: Path) -> None:
    """(the second diff review) A forecast every six hours, and daily results whose texts differ in their numbers
    only, at one link under one title with an id each: a 12-hour window and numbers set aside merged them, and
    each post overwrote the one before."""
    def doc(n: int, hours: int, text: str, title: str) -> bytes:
        return rss([{"title": title, "guid": f"p-{n}", "link": "https://site.example/latest", "summary": text,
                     "date": NOW + timedelta(hours=hours)}])

    forecasts = ["Sun, 8 degrees.", "Rain, 4 degrees, wind from the west.", "Snow showers overnight.",
                 "Clear and cold, -3."]
    draws = [f"Winning numbers: {a} {b} 22 35 41 48" for a, b in ((3, 14), (5, 6), (7, 9), (1, 2))]
    for title, step, texts in (("Weather forecast for Oslo", 6, forecasts), ("Lotto results", 24, draws)):
        tmp = tmp_path / str(step)
        tmp.mkdir()
        pipe, _, clock = setup(tmp, {"s": doc(0, 0, texts[0], title)}, NO_STORIES)
        pipe.run(force_all=True)
        for n, text in enumerate(texts[1:], start=1):
            (tmp / "s.xml").write_bytes(doc(n, n * step, text, title))
            clock.t = NOW + timedelta(hours=n * step, minutes=5)
            pipe.run(force_all=True)
        assert sorted(s for _, s in stored(tmp)) == sorted(texts), title


def test_untitled_notes_dated_by_the_day_in_another_zone_are_each_an_item(tmp_path: Path) -> None:
    """(the same review) A day-only date in +01:00 is 23:00 UTC: the notes were taken for dated to the minute,
    shared one id, and two of three were lost."""
    notes = ["Bought milk today.", "Called the plumber.", "Read two chapters."]
    for zone in ("+0100", "+0530", "+0545"):  # (a fourth review: India's and Nepal's days are not whole hours)
        tmp = tmp_path / zone
        tmp.mkdir()
        items = [{"summary": n, "date": f"Fri, 27 Nov 2026 00:00:00 {zone}"} for n in notes]
        pipe, _, _ = setup(tmp, {"s": rss(items)}, NO_STORIES)
        pipe.run(force_all=True)
        assert sorted(s for _, s in stored(tmp)) == sorted(notes), zone


def test_a_post_a_day_at_one_url_with_ids_that_change_on_every_fetch_is_one_item_a_day(tmp_path: Path) -> None:
    """(a third diff review) The page's link key stayed with its first post, so each later fetch of the day's post
    (its id new at every fetch) was compared with the first post and stored again: 17 items for 3 posts. And a
    stub revised into the report 40 minutes later, each day, is one post a day."""
    posts = ["Psalm 23: the Lord is my shepherd.", "Matthew 5: the Beatitudes.", "John 1: in the beginning."]
    pipe, _, clock = setup(tmp_path, {"c": rss([])}, NO_STORIES)
    fetch = 0
    for day, text in enumerate(posts):
        for hour in (0, 3, 6, 9):
            fetch += 1
            for revised in (False, True):
                body = text if revised else "Today's reading follows shortly."
                (tmp_path / "c.xml").write_bytes(rss([{
                    "title": "Today's devotional", "guid": f"dev-{day}-{fetch}-{revised}",
                    "link": "https://church.example/devotional", "summary": body,
                    "date": NOW + timedelta(days=day, minutes=40 if revised else 0)}], link="https://church.example/"))
                clock.t = NOW + timedelta(days=day, hours=hour, minutes=45 if revised else 5)
                pipe.run(force_all=True)
    assert sorted(s for _, s in stored(tmp_path)) == sorted(posts)


def test_an_untitled_note_with_a_counter_stays_one_item(tmp_path: Path) -> None:
    """(the same review) An untitled, undated status line ("Last checked N minutes ago"), and one dated by the
    day: their words made a new id at every change of the number, so each fetch was a new item."""
    for name, date in (("undated", None), ("day", "Fri, 20 Nov 2026 00:00:00 +0000")):
        tmp = tmp_path / name
        tmp.mkdir()

        def doc(n: int, date: str | None = date) -> bytes:
            item: dict[str, object] = {"summary": f"All systems operational. Last checked {n} minutes ago."}
            if date:
                item["date"] = date
            return rss([item])

        pipe, _, clock = setup(tmp, {"s": doc(1)}, NO_STORIES)
        pipe.run(force_all=True)
        for n in range(2, 6):
            (tmp / "s.xml").write_bytes(doc(n))
            clock.t += timedelta(hours=1)
            pipe.run(force_all=True)
        assert [s for _, s in stored(tmp)] == ["All systems operational. Last checked 5 minutes ago."], name


def test_an_untitled_note_stored_under_its_ids_older_form_is_found_again(tmp_path: Path) -> None:
    """(the same review) A store made before untitled notes' ids hashed their words: each note still listed came
    back as a new item. The store is made so here by leaving a note only its older key."""
    notes = ["Read two chapters.", "Called the plumber."]
    pipe, store, clock = setup(tmp_path, {"s": rss([{"summary": notes[0]}])}, NO_STORIES)
    pipe.run(force_all=True)
    con = sqlite3.connect(tmp_path / "feeds.db")
    with con:
        keys = [k for (k,) in con.execute("SELECT key FROM item_keys WHERE key LIKE 'g:%'")]
        assert len(keys) == 2  # its key and its older form
        from feeds.dedup import fallback_id
        from feeds.models import Entry
        old = fallback_id(Entry(guid=None, link=None, title="", summary=notes[0], content=""), words=False)
        (old_key,) = [k for k in keys if k.endswith(old)]
        con.execute("DELETE FROM item_keys WHERE key LIKE 'g:%' AND key != ?", (old_key,))
        con.execute("UPDATE items SET uid = ?", (item_uid(old_key),))  # its entry id from the key it had then
    con.close()
    (tmp_path / "s.xml").write_bytes(rss([{"summary": n} for n in reversed(notes)]))
    clock.t += timedelta(hours=1)
    pipe.run(force_all=True)
    assert sorted(s for _, s in stored(tmp_path)) == sorted(notes)


def test_a_post_whose_id_and_link_change_on_every_fetch_keeps_its_item_when_dated_to_the_second(
        tmp_path: Path) -> None:
    """(the same review) Session tokens in both id and link, a date to the second: a stub become the report, or
    "1 comment" become "2 comments", was a second item once the texts had to agree; they need to only for a
    date of the day alone (the changelog)."""
    at = NOW.replace(minute=17, second=5, microsecond=0) - timedelta(hours=2)
    texts = ["", "Three warehouses burned overnight at the east docks.", "1 comment", "2 comments"]
    pipe, _, clock = setup(tmp_path, {"f": rss([])}, NO_STORIES)
    for n, text in enumerate(texts):
        url = f"https://forum.example/t?id=9&sid=x{n}"
        item: dict[str, object] = {"title": "Fire at the docks", "guid": url, "link": url, "date": at}
        if text:
            item["summary"] = text
        (tmp_path / "f.xml").write_bytes(rss([item]))
        clock.t += timedelta(minutes=15)
        pipe.run(force_all=True)
    assert [t for t, _ in stored(tmp_path)] == ["Fire at the docks"]
