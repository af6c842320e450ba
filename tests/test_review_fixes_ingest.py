"""Item identity through the pipeline, after a review of de-duplication (each test failed before its
fix): what one item is when ids are missing or change, links identify nothing, titles repeat, and when
an item is edited. File sources, a real SQLite store, the Atom output read back with feedparser."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import feedparser
from feedgen_util import rss
from test_pipeline import NOW, setup

NO_STORIES = "[stories]\nenabled = false\n"


def titles(tmp: Path, slug: str = "all") -> list[str]:
    path = tmp / "out" / f"{slug}.atom"
    return sorted(e.title for e in feedparser.parse(path.read_bytes()).entries) if path.exists() else []


def stored(tmp: Path) -> list[str]:
    con = sqlite3.connect(tmp / "feeds.db")
    try:
        return sorted(r[0] for r in con.execute("SELECT title FROM items"))
    finally:
        con.close()


def key_rows(tmp: Path) -> int:
    con = sqlite3.connect(tmp / "feeds.db")
    try:
        return int(con.execute("SELECT count(*) FROM item_keys").fetchone()[0])
    finally:
        con.close()


def test_id_less_items_sharing_their_home_page_link_are_each_an_item(tmp_path: Path) -> None:
    items = [{"title": f"Quote of the day #{n}", "link": "https://quotes.example/",
              "date": NOW - timedelta(days=n)} for n in (1, 2, 3)]
    pipe, _, _ = setup(tmp_path, {"a": rss(items)}, NO_STORIES)
    pipe.run(force_all=True)
    assert stored(tmp_path) == ["Quote of the day #1", "Quote of the day #2", "Quote of the day #3"]
    assert titles(tmp_path) == stored(tmp_path)


def test_same_titles_in_one_document_follow_the_title_window(tmp_path: Path) -> None:
    """Two episodes of one name a week apart (distinct ids and links) are two items, as they are when
    fetched apart; with `title_window = "0s"` titles merge nothing at all."""
    items = [{"title": "Daily briefing", "guid": f"ep{n}", "link": f"https://pod.example/{n}",
              "date": NOW - timedelta(days=7 * n)} for n in (1, 2)]
    for window in ("48h", "0s"):
        tmp = tmp_path / window
        tmp.mkdir()
        pipe, _, _ = setup(tmp, {"a": rss(items)}, f'{NO_STORIES}[dedup]\ntitle_window = "{window}"\n')
        pipe.run(force_all=True)
        assert stored(tmp) == ["Daily briefing", "Daily briefing"], window
    # within the window, in one document, the same title under two ids is one item when it is the same post
    # (the same date); an hour apart, with its own id, link and date, it is another post reusing the title
    for name, hours in (("same", (1, 1)), ("close", (1, 2))):
        close = [{"title": "Daily briefing", "guid": f"x{n}", "link": f"https://pod.example/x{n}",
                  "date": NOW - timedelta(hours=h)} for n, h in enumerate(hours)]
        tmp = tmp_path / name
        tmp.mkdir()
        pipe, _, _ = setup(tmp, {"a": rss(close)}, NO_STORIES)
        pipe.run(force_all=True)
        assert stored(tmp) == ["Daily briefing"] * (1 if name == "same" else 2), name


def test_a_sources_posts_reusing_one_title_within_the_window_are_each_an_item(tmp_path: Path) -> None:
    """A changelog feed titles each entry by what changed ("Lost Ark", no id, no link, its own date and text):
    six of one title in two days were one item. One source's same title is one item only for the same post --
    its date (ids that change) or its text (a feed that dates its items anew) -- in one document and across
    fetches; another source's same title within the window is still a copy."""
    log = [{"title": "Lost Ark", "summary": f"Anticheat: change {n}", "date": NOW - timedelta(hours=3 * n)}
           for n in (1, 2, 3)]
    daily = [{"title": "Live updates", "guid": "d1", "link": "https://news.example/live/1",
              "summary": "Monday's news", "date": NOW - timedelta(hours=20)}]
    pipe, _, clock = setup(tmp_path, {"log": rss(log), "news": rss(daily)}, NO_STORIES)
    pipe.run(force_all=True)
    assert stored(tmp_path) == ["Live updates"] + ["Lost Ark"] * 3
    assert titles(tmp_path) == stored(tmp_path)
    # next fetch: the changelog has a new entry; the news feed's next day's live page (new id, link, date, text)
    clock.t += timedelta(hours=1)
    later = NOW + timedelta(minutes=30)
    (tmp_path / "log.xml").write_bytes(rss([{"title": "Lost Ark", "summary": "Anticheat: change 0", "date": later},
                                            *log]))
    (tmp_path / "news.xml").write_bytes(rss([{"title": "Live updates", "guid": "d2", "link": "https://news.example/live/2",
                                              "summary": "Tuesday's news", "date": later}, *daily]))
    pipe.run(force_all=True)
    assert stored(tmp_path) == ["Live updates"] * 2 + ["Lost Ark"] * 4
    # the same posts again, dated anew (no id, no link: same text) or under new ids and links (same date): no new item
    clock.t += timedelta(hours=1)
    restamped = [dict(e, date=NOW + timedelta(hours=2)) for e in log]
    (tmp_path / "log.xml").write_bytes(rss(restamped))
    (tmp_path / "news.xml").write_bytes(rss([dict(e, guid="z" + str(e["guid"]), link=str(e["link"]) + "?v=2")
                                             for e in daily]))
    pipe.run(force_all=True)
    assert stored(tmp_path) == ["Live updates"] * 2 + ["Lost Ark"] * 4


def test_posts_dated_by_day_only_are_told_apart_by_their_text(tmp_path: Path) -> None:
    """A feed that dates without a time puts a day's posts at midnight: two "Lost Ark" entries of one day with
    their own ids, links and text are two items (the same date alone made them one); without any text the
    date still decides."""
    midnight = NOW.replace(hour=0, minute=0)
    day = [{"title": "Lost Ark", "guid": f"p-{n}", "link": f"https://log.example/{n}", "summary": f"change {n}",
            "date": midnight} for n in (101, 102)]
    bare = [{"title": "Links", "guid": f"l-{n}", "link": f"https://links.example/{n}", "date": midnight}
            for n in (1, 2)]
    pipe, _, _ = setup(tmp_path, {"log": rss(day), "links": rss(bare)}, NO_STORIES)
    pipe.run(force_all=True)
    assert stored(tmp_path) == ["Links", "Lost Ark", "Lost Ark"]


def test_daily_episodes_repeating_their_shows_description_are_each_an_item(tmp_path: Path) -> None:
    """A podcast's episodes share a title and the show's description, each with its own id, link and date: one
    item each, whether the feed lists the earlier ones (they are still listed under their ids) or only the
    latest (another date). Judged by their text alone, five of eight daily episodes were taken for re-posts."""
    def episode(n: int) -> dict[str, object]:
        return {"title": "The Daily Briefing", "guid": f"ep-{n}", "link": f"https://pod.example/{n}",
                "summary": "Your morning news in ten minutes.", "date": NOW + timedelta(days=n)}

    for name, keep in (("listed", 8), ("latest", 1)):
        tmp = tmp_path / name
        tmp.mkdir()
        pipe, _, clock = setup(tmp, {"pod": rss([episode(0)])}, NO_STORIES)
        for day in range(8):
            clock.t = NOW + timedelta(days=day, hours=1)
            (tmp / "pod.xml").write_bytes(rss([episode(n) for n in range(day, -1, -1)][:keep]))
            pipe.run(force_all=True)
        assert stored(tmp) == ["The Daily Briefing"] * 8, name


def test_a_post_whose_ids_links_and_counter_change_on_every_fetch_stays_one_item(tmp_path: Path) -> None:
    """A feed that puts a session token in its ids and links and a view counter in its text, on every fetch:
    the post keeps its date, and stays one item (judged by its text it became a new item at every fetch)."""
    pipe, _, clock = setup(tmp_path, {"s": rss([])}, NO_STORIES)
    for fetch in range(4):
        clock.t = NOW + timedelta(hours=fetch)
        (tmp_path / "s.xml").write_bytes(rss([
            {"title": "Council votes on the budget", "guid": f"https://s.example/a?sid={fetch}",
             "link": f"https://s.example/a?sid={fetch}", "summary": f"The vote. Views: {1000 + fetch}",
             "date": NOW - timedelta(hours=1)}]))
        pipe.run(force_all=True)
    assert stored(tmp_path) == ["Council votes on the budget"]


def test_another_sources_same_title_within_the_window_is_still_a_copy(tmp_path: Path) -> None:
    a = [{"title": "Quake hits the coast of Chile", "link": "https://a.example/1", "date": NOW - timedelta(hours=2)}]
    b = [{"title": "Quake hits the coast of Chile", "link": "https://b.example/x", "summary": "other words",
          "date": NOW - timedelta(hours=1)}]
    pipe, _, _ = setup(tmp_path, {"a": rss(a), "b": rss(b)}, NO_STORIES)
    pipe.run(force_all=True)
    assert stored(tmp_path) == ["Quake hits the coast of Chile"]


def test_a_one_item_feed_pointing_every_item_at_one_page_keeps_each_item(tmp_path: Path) -> None:
    """A feed of one item whose items all link to one page (another site's, or its own home page):
    the next day's item, with its own id and title, is a new item, not a re-post of the last one."""
    day1 = {"title": "Word of the day: serendipity", "link": "https://words.example/", "guid": "w1",
            "date": NOW - timedelta(days=1)}
    day2 = {"title": "Word of the day: petrichor", "link": "https://words.example/", "guid": "w2", "date": NOW}
    home1 = {"title": "Tip of the day: sleep", "link": "https://site.example/", "date": NOW - timedelta(days=1)}
    home2 = {"title": "Tip of the day: water", "link": "https://site.example/", "date": NOW}
    pipe, _, clock = setup(tmp_path, {"a": rss([day1]), "b": rss([home1])}, NO_STORIES)
    pipe.run(force_all=True)
    (tmp_path / "a.xml").write_bytes(rss([day2]))
    (tmp_path / "b.xml").write_bytes(rss([home2]))  # id-less, linking to the feed's own <link>
    clock.t = NOW + timedelta(hours=1)
    pipe.run(force_all=True)
    assert stored(tmp_path) == ["Tip of the day: sleep", "Tip of the day: water", "Word of the day: petrichor",
                                "Word of the day: serendipity"]
    assert titles(tmp_path) == stored(tmp_path)


def test_an_edit_is_known_by_its_new_title_and_link(tmp_path: Path) -> None:
    """After an edit, another outlet's exact re-post of the edited article is a re-post (a sighting),
    not a second item: the item's title and link keys follow the edit."""
    first = {"title": "Finance minister resigns", "link": "https://a.example/1", "guid": "1",
             "date": NOW - timedelta(hours=2)}
    edited = dict(first, title="Finance minister Jones resigns after audit", link="https://a.example/jones")
    pipe, store, clock = setup(tmp_path, {"a": rss([first]), "b": rss([])}, NO_STORIES)
    pipe.run(force_all=True)
    (tmp_path / "a.xml").write_bytes(rss([edited]))
    clock.t = NOW + timedelta(minutes=20)
    pipe.run(force_all=True)
    (tmp_path / "b.xml").write_bytes(rss([{"title": edited["title"], "link": "https://b.example/copy", "guid": "b1",
                                           "date": NOW - timedelta(hours=1)}]))
    clock.t = NOW + timedelta(minutes=40)
    rep = pipe.run(force_all=True)
    assert stored(tmp_path) == ["Finance minister Jones resigns after audit"]
    assert [o.reposts for o in rep.outcomes if o.name == "b"] == [1]
    # and a copy under the edited link
    (tmp_path / "b.xml").write_bytes(rss([{"title": "Jones quits", "link": "https://a.example/jones", "guid": "b2",
                                           "date": NOW - timedelta(hours=1)}]))
    clock.t = NOW + timedelta(minutes=60)
    pipe.run(force_all=True)
    assert stored(tmp_path) == ["Finance minister Jones resigns after audit"]


def test_an_edit_that_leaves_a_channels_rules_leaves_the_channel(tmp_path: Path) -> None:
    channel = ('[channels.ukraine]\ntitle = "Ukraine"\ninclude = ["Ukraine"]\n'
               'exclude = ["Ukraine International Airlines"]\n')
    item = {"title": "Ukraine flight cancelled", "link": "https://a.example/1", "guid": "1",
            "date": NOW - timedelta(hours=1)}
    pipe, _, clock = setup(tmp_path, {"a": rss([item])}, NO_STORIES + channel)
    pipe.run(force_all=True)
    assert titles(tmp_path, "ukraine") == ["Ukraine flight cancelled"]
    (tmp_path / "a.xml").write_bytes(rss([dict(item, title="Ukraine International Airlines flight cancelled")]))
    clock.t = NOW + timedelta(minutes=20)
    pipe.run(force_all=True)
    assert titles(tmp_path, "ukraine") == []
    assert titles(tmp_path) == ["Ukraine International Airlines flight cancelled"]  # still in the catch-all


def test_an_id_less_item_whose_tracking_parameters_change_gets_its_edits(tmp_path: Path) -> None:
    """An item without an id is known by its link without tracking parameters: a `utm_*` that changes on
    every fetch neither hides its edits nor adds a key row per fetch."""
    pipe, _, clock = setup(tmp_path, {"a": rss([])}, NO_STORIES)
    rows = []
    for n in range(4):
        (tmp_path / "a.xml").write_bytes(rss([{
            "title": "Budget passes" if n < 3 else "Budget passes the Senate", "summary": f"Version {n}",
            "link": f"https://a.example/budget?utm_source=rss&utm_campaign={n}", "date": NOW - timedelta(hours=1)}]))
        clock.t = NOW + timedelta(minutes=20 * n)
        pipe.run(force_all=True)
        rows.append(key_rows(tmp_path))
    assert stored(tmp_path) == ["Budget passes the Senate"]
    assert titles(tmp_path) == ["Budget passes the Senate"]
    assert rows[-1] == rows[0]


def test_channels_match_the_summary_text_readers_see(tmp_path: Path) -> None:
    channel = '[channels.ukraine]\ntitle = "Ukraine"\ninclude = ["Ukraine"]\n'
    items = [{"title": "Maths quiz", "summary": "if 3 &lt; 5 and Ukraine &gt; 2", "guid": "1",
              "link": "https://a.example/1", "date": NOW - timedelta(hours=1)},
             {"title": "Photo of the day", "summary": '<img src="x.jpg" alt="a > Ukraine"> A sunset',
              "guid": "2", "link": "https://a.example/2", "date": NOW - timedelta(hours=2)},
             {"title": "Weekly notes", "summary": "<!-- Ukraine > draft --><p>Nothing to see</p>", "guid": "3",
              "link": "https://a.example/3", "date": NOW - timedelta(hours=3)}]
    pipe, _, _ = setup(tmp_path, {"a": rss(items)}, NO_STORIES + channel)
    pipe.run(force_all=True)
    assert titles(tmp_path, "ukraine") == ["Maths quiz"]


def test_an_item_whose_id_changed_is_still_found_when_its_link_changes(tmp_path: Path) -> None:
    """A feed whose ids change on every fetch: its item, found by its link, is known by its current id,
    so a later change of its link (same id) is an edit of it, not a second item (found by the final
    review; title matching off, so only the keys can tell)."""
    pipe, _, clock = setup(tmp_path, {"a": rss([])}, NO_STORIES + '[dedup]\ntitle_window = "0s"\n')
    versions = [("cms1-42", "https://a.example/budget", "Budget passes"),
                ("cms2-42", "https://a.example/budget", "Budget passes"),
                ("cms2-42", "https://a.example/2025/budget-passes", "Budget passes the Senate")]
    rows = []
    for n, (guid, link, title) in enumerate(versions):
        (tmp_path / "a.xml").write_bytes(rss([{"title": title, "guid": guid, "link": link,
                                               "date": NOW - timedelta(hours=1)}]))
        clock.t = NOW + timedelta(minutes=20 * n)
        pipe.run(force_all=True)
        rows.append(key_rows(tmp_path))
    assert stored(tmp_path) == ["Budget passes the Senate"]
    (e,) = feedparser.parse((tmp_path / "out" / "all.atom").read_bytes()).entries
    assert e.link == "https://a.example/2025/budget-passes"
    assert rows[1] == rows[0] + 1  # the first id key kept (the entry id derives from it) and the current one


def test_an_id_an_item_was_first_stored_under_keeps_finding_it(tmp_path: Path) -> None:
    """The id keys replaced as an item's id changes spare the one it was first stored under: its entry id
    derives from that key, and an entry under that id again (ids reused, a feed switching back) must be
    this item, not a new one with the same entry id (a unique-constraint failure of the whole source)."""
    pipe, store, clock = setup(tmp_path, {"a": rss([])}, NO_STORIES)
    versions = [("A", "https://a.example/x", "Budget passes"), ("B", "https://a.example/x", "Budget passes"),
                ("C", "https://a.example/x", "Budget passes"), ("A", "https://a.example/y", "Budget passes the Senate")]
    for n, (guid, link, title) in enumerate(versions):
        (tmp_path / "a.xml").write_bytes(rss([{"title": title, "guid": guid, "link": link,
                                               "date": NOW - timedelta(hours=1)}]))
        clock.t = NOW + timedelta(minutes=20 * n)
        rep = pipe.run(force_all=True)
        assert [o.error for o in rep.outcomes] == [None], n
    assert stored(tmp_path) == ["Budget passes the Senate"]
    assert store.duplicate_uids() == 0
    # ids that change on every fetch: the first and the current id key, not one more row per fetch
    rows = []
    for n, guid in enumerate("DEFG"):
        (tmp_path / "a.xml").write_bytes(rss([{"title": "Budget passes the Senate", "guid": guid,
                                               "link": "https://a.example/y", "date": NOW - timedelta(hours=1)}]))
        clock.t = NOW + timedelta(hours=2, minutes=20 * n)
        pipe.run(force_all=True)
        rows.append(key_rows(tmp_path))
    assert stored(tmp_path) == ["Budget passes the Senate"] and len(set(rows)) == 1


def sightings(tmp: Path) -> list[tuple[str, str]]:
    """(item title, sighting source name) of every sighting: a report of a stored item by another source."""
    con = sqlite3.connect(tmp / "feeds.db")
    try:
        return sorted((str(t), str(n)) for t, n in con.execute(
            "SELECT i.title, s.name FROM sightings g JOIN items i ON i.id = g.item_id "
            "JOIN sources s ON s.id = g.source_id"))
    finally:
        con.close()


def test_two_outlets_recurring_generic_title_are_each_their_own_posts(tmp_path: Path) -> None:
    """Two outlets' "Morning Briefing" (a generic title: the kind of post, not the post) with their own texts
    are two posts, not a copy: the second outlet's briefing was hidden under the first's, and its next day's
    briefing matched the first outlet's briefing of the day before and was lost altogether."""
    d1, d2 = NOW - timedelta(hours=30), NOW - timedelta(hours=6)
    fa = [{"title": "Morning Briefing", "guid": "x1", "link": "https://fa.example/b/1", "date": d1,
           "summary": "France votes on the pension reform; markets wait for the central bank."}]
    fb = [{"title": "Morning briefing", "guid": "y1", "link": "https://fb.example/m/1", "date": d1 + timedelta(hours=1),
           "summary": "Storm warning for the north coast; schools closed in three counties."}]
    pipe, _, clock = setup(tmp_path, {"fa": rss(fa), "fb": rss(fb)}, NO_STORIES)
    clock.t = d1 + timedelta(hours=2)
    pipe.run(force_all=True)
    fa.insert(0, {"title": "Morning Briefing", "guid": "x2", "link": "https://fa.example/b/2", "date": d2,
                  "summary": "Day two: the pension vote passes by eleven votes after a night session."})
    fb.insert(0, {"title": "Morning briefing", "guid": "y2", "link": "https://fb.example/m/2",
                  "date": d2 + timedelta(hours=1), "summary": "Day two at FB: a heatwave follows the storm inland."})
    (tmp_path / "fa.xml").write_bytes(rss(fa))
    (tmp_path / "fb.xml").write_bytes(rss(fb))
    clock.t = NOW
    pipe.run(force_all=True)
    assert stored(tmp_path) == ["Morning Briefing"] * 2 + ["Morning briefing"] * 2
    assert sightings(tmp_path) == []
    assert len(feedparser.parse((tmp_path / "out" / "all.atom").read_bytes()).entries) == 4


def test_a_generic_title_with_the_same_text_is_still_a_copy(tmp_path: Path) -> None:
    text = "The central bank held its rate at 4.5 per cent on Thursday, as markets had expected, and signalled"
    a = [{"title": "Markets update", "guid": "a1", "link": "https://a.example/1", "date": NOW - timedelta(hours=2),
          "summary": text + " two cuts later this year."}]
    b = [{"title": "Markets Update", "guid": "b1", "link": "https://b.example/x", "date": NOW - timedelta(hours=1),
          "summary": text + " a cut in the spring. (Wire)"}]
    pipe, _, _ = setup(tmp_path, {"a": rss(a), "b": rss(b)}, NO_STORIES)
    pipe.run(force_all=True)
    assert stored(tmp_path) == ["Markets update"]
    assert sightings(tmp_path) == [("Markets update", "b")]


def test_a_cjk_wire_headline_is_one_post_however_its_teaser_was_cut(tmp_path: Path) -> None:
    """Two outlets carry one wire story under its Japanese headline with teasers cut differently: one post,
    as an English wire headline is (the headline was one "word" to split(), so never distinct, and the
    teasers' clauses were their words, so they shared one)."""
    title = "日本銀行が政策金利の引き上げを決定"
    a = [{"title": title, "guid": "a1", "link": "https://a.example/1", "date": NOW - timedelta(hours=2),
          "summary": "日本銀行は31日、金融政策決定会合で政策金利を引き上げることを決めた。"}]
    b = [{"title": title, "guid": "b1", "link": "https://b.example/x", "date": NOW - timedelta(hours=1),
          "summary": "日本銀行は31日の会合で、短期の政策金利を0.5%程度に引き上げると発表した。"}]
    pipe, _, _ = setup(tmp_path, {"a": rss(a), "b": rss(b)}, NO_STORIES)
    pipe.run(force_all=True)
    assert stored(tmp_path) == [title]
    assert sightings(tmp_path) == [(title, "b")]
    assert len(feedparser.parse((tmp_path / "out" / "all.atom").read_bytes()).entries) == 1


def test_a_copy_is_credited_to_the_nearest_report_in_time_not_the_oldest(tmp_path: Path) -> None:
    """One outlet's daily post and a second outlet re-posting it each day: the second day's copy belongs to
    the second day's post (the oldest within the window was taken: the copy was lost, its sighting already
    there)."""
    title = "Harbour crane collapse inquiry hears from engineers"
    d1, d2 = NOW - timedelta(hours=30), NOW - timedelta(hours=4)
    a = [{"title": title, "guid": "a2", "link": "https://a.example/2", "date": d2, "summary": "Second day."},
         {"title": title, "guid": "a1", "link": "https://a.example/1", "date": d1, "summary": "First day."}]
    b = [{"title": title, "guid": "b2", "link": "https://b.example/2", "date": d2 + timedelta(minutes=30)},
         {"title": title, "guid": "b1", "link": "https://b.example/1", "date": d1 + timedelta(minutes=30)}]
    pipe, store, _ = setup(tmp_path, {"a": rss(a), "b": rss(b)}, NO_STORIES)
    pipe.run(force_all=True)
    con = sqlite3.connect(tmp_path / "feeds.db")
    try:
        got = sorted(con.execute("SELECT i.link, g.link FROM sightings g JOIN items i ON i.id = g.item_id"))
    finally:
        con.close()
    assert got == [("https://a.example/1", "https://b.example/1"), ("https://a.example/2", "https://b.example/2")]


def test_a_site_moved_to_another_domain_keeps_its_items_and_takes_their_new_links(tmp_path: Path) -> None:
    """A site moves domain; its guids are its permalinks, so ids and links change together. Its posts are
    the same posts (same titles and dates): found by their titles, they take the new links and ids, and the
    source is not shown as having "also reported" its own posts."""
    def doc(host: str) -> bytes:
        return ("<?xml version='1.0'?><rss version='2.0'><channel><title>Eps2</title><link>https://x/</link>"
                "<description>d</description>" + "".join(
                    f"<item><title>Bakery wins national bread award, part {n}</title>"
                    f"<link>{host}/2026/11/bakery-{n}/</link><guid>{host}/2026/11/bakery-{n}/</guid>"
                    f"<pubDate>{format_datetime(NOW - timedelta(hours=n))}</pubDate>"
                    f"<description>The bakery on Mill Street, story {n}.</description></item>"
                    for n in (1, 2)) + "</channel></rss>").encode()

    pipe, _, clock = setup(tmp_path, {"eps2": doc("http://eps2.example.com")})
    pipe.run(force_all=True)
    before = {e.id: e for e in feedparser.parse((tmp_path / "out" / "all.atom").read_bytes()).entries}
    (tmp_path / "eps2.xml").write_bytes(doc("https://eps2news.org"))
    clock.t = NOW + timedelta(minutes=20)
    pipe.run(force_all=True)
    after = feedparser.parse((tmp_path / "out" / "all.atom").read_bytes()).entries
    assert sorted(e.id for e in after) == sorted(before)  # the same entries
    for e in after:
        assert e.link.startswith("https://eps2news.org/2026/11/bakery-"), e.link
        assert not [x for x in e.links if x.rel == "related"]
        assert "Also reported by" not in e.summary
    assert sightings(tmp_path) == []
    assert len(stored(tmp_path)) == 2


def test_a_corrected_headline_moves_the_entrys_updated_and_a_summary_edit_does_not(tmp_path: Path) -> None:
    """A source corrects a headline (same id, same dates): the entry showed the new title under the old
    `updated`, so readers that refresh an entry only when it moves kept the wrong headline. A summary's
    edit (a counter, a typo) leaves it, as before."""
    post = {"title": "Finance minister resigns", "link": "https://a.example/1", "guid": "1",
            "date": NOW - timedelta(hours=2), "summary": "The minister resigned on Monday."}
    pipe, _, clock = setup(tmp_path, {"a": rss([post])})
    pipe.run(force_all=True)

    def entry() -> feedparser.FeedParserDict:
        es = feedparser.parse((tmp_path / "out" / "all.atom").read_bytes()).entries
        assert len(es) == 1
        return es[0]

    first = entry()
    (tmp_path / "a.xml").write_bytes(rss([dict(post, summary="The minister resigned on Monday, aides said.")]))
    clock.t = NOW + timedelta(minutes=20)
    pipe.run(force_all=True)
    assert entry().summary != first.summary and entry().updated == first.updated
    (tmp_path / "a.xml").write_bytes(rss([dict(post, title="Finance minister Jones resigns after audit")]))
    clock.t = NOW + timedelta(minutes=40)
    pipe.run(force_all=True)
    e = entry()
    assert e.title == "Finance minister Jones resigns after audit" and e.id == first.id
    assert e.updated_parsed > first.updated_parsed


def only_entry(tmp: Path, slug: str) -> feedparser.FeedParserDict:
    """The one entry of a channel's published Atom feed."""
    es = feedparser.parse((tmp / "out" / f"{slug}.atom").read_bytes()).entries
    assert len(es) == 1
    return es[0]


def test_a_corrected_headline_of_the_report_a_channel_shows_moves_the_story(tmp_path: Path) -> None:
    """The story's representative is Alpha's report; a channel limited to Beta shows Beta's. Beta corrects
    its headline: the entry that channel shows changed, but only a correction of the story's representative
    moved the story (found by the final review)."""
    alpha = {"title": "Magnitude 7.1 earthquake strikes off the coast of northern Japan", "guid": "a1",
             "link": "https://a.example/q", "date": NOW - timedelta(hours=3)}
    beta = {"title": "Earthquake of magnitude 7.1 strikes northern Japan coast", "guid": "b1",
            "link": "https://b.example/q", "date": NOW - timedelta(hours=2)}
    extra = '[channels.beta]\ntitle = "Beta"\nmatch_all = true\nsources = ["b"]\n'
    pipe, _, clock = setup(tmp_path, {"a": rss([alpha]), "b": rss([beta])}, extra)
    pipe.run(force_all=True)

    def beta_entry() -> feedparser.FeedParserDict:
        return only_entry(tmp_path, "beta")

    first = beta_entry()
    assert first.link == "https://b.example/q"
    corrected = dict(beta, title="Earthquake of magnitude 7.3 strikes northern Japan coast")
    (tmp_path / "b.xml").write_bytes(rss([corrected]))
    clock.t = NOW + timedelta(minutes=30)
    pipe.run(force_all=True)
    e = beta_entry()
    assert e.title == "Earthquake of magnitude 7.3 strikes northern Japan coast" and e.id == first.id
    assert e.updated_parsed > first.updated_parsed


# one story told by Alpha and by Beta, in a Kyiv channel only through Beta's report (its headline names Kyiv)
RAVENOR_ALPHA = {"title": "Officials announce Ravenor emergency plan for power grid", "guid": "a1",
                 "link": "https://a.example/1", "date": NOW - timedelta(hours=2),
                 "summary": "Officials announce a Ravenor emergency plan for the power grid on Tuesday."}
RAVENOR_BETA = {"title": "Kyiv officials announce Ravenor emergency plan for power grid", "guid": "b1",
                "link": "https://b.example/1", "date": NOW - timedelta(hours=1),
                "summary": "Kyiv officials announce a Ravenor emergency plan for the power grid on Tuesday."}
KYIV_CHANNEL = '[channels.kyiv]\ntitle = "Kyiv"\ninclude = ["Kyiv"]\n'


def test_an_edited_report_republishes_every_channel_its_story_is_in(tmp_path: Path) -> None:
    """Alpha's report stands for the story; the story is in a Kyiv channel only through Beta's report. Alpha
    corrects its headline: the story moved in both channels, but only the channels Alpha's report is sorted
    into were published again, so the Kyiv channel kept the old `updated` and headline for good (found by
    the crash-campaign review)."""
    alpha, beta, extra = RAVENOR_ALPHA, RAVENOR_BETA, KYIV_CHANNEL
    pipe, _, clock = setup(tmp_path, {"a": rss([alpha]), "b": rss([beta])}, extra)
    pipe.run(force_all=True)

    def kyiv() -> feedparser.FeedParserDict:
        return only_entry(tmp_path, "kyiv")

    def related(e: feedparser.FeedParserDict) -> list[str]:
        return [ln.get("title", "") for ln in e.links if ln.rel == "related"]

    first = kyiv()
    assert first.title == beta["title"]  # the channel shows the report its rules took; Alpha's is related
    assert related(first) == [f"a: {alpha['title']}"]
    corrected = dict(alpha, title="Officials announce Ravenor emergency plan for power grid (corrected)")
    (tmp_path / "a.xml").write_bytes(rss([corrected]))
    clock.t = NOW + timedelta(minutes=30)
    pipe.run(force_all=True)
    e = kyiv()
    assert e.id == first.id and related(e) == [f"a: {corrected['title']}"]
    assert e.updated_parsed > first.updated_parsed


def test_a_re_post_republishes_every_channel_its_story_is_in(tmp_path: Path) -> None:
    """A third outlet re-posts Alpha's report (same link): the story's entry credits one more outlet in every
    channel the story is in, but only the channels Alpha's report is sorted into were published again: the
    Kyiv channel (the story is there through Beta's report) stayed stale until something else touched it
    (found after a crash campaign: a full publish after a completed run rewrote documents)."""
    alpha, beta, extra = RAVENOR_ALPHA, RAVENOR_BETA, KYIV_CHANNEL
    pipe, store, clock = setup(tmp_path, {"a": rss([alpha]), "b": rss([beta]), "c": rss([])}, extra)
    pipe.run(force_all=True)
    kyiv = tmp_path / "out" / "kyiv.atom"
    first = kyiv.read_bytes()
    (tmp_path / "c.xml").write_bytes(rss([dict(alpha, guid="c1")]))  # c re-posts Alpha's report
    clock.t = NOW + timedelta(minutes=30)
    assert pipe.run(force_all=True).new_items == 0
    after = kyiv.read_bytes()
    assert after != first  # published again
    from feeds.publish import publish

    publish(pipe.cfg, store)  # a full publish finds nothing stale
    assert kyiv.read_bytes() == after
