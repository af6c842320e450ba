"""A config change holds for what is already stored and published: channel rules re-sort stored items, a
channel's look (title, entries, formats, source names) republishes it, a channel or format taken out of the
config loses its documents. File sources, a real SQLite store, outputs read back with feedparser."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from feedgen_util import rss
from test_pipeline import NOW, Clock

from feeds.config import parse_config
from feeds.publish import _feed_updated, feed_updated_key
from feeds.run import Pipeline
from feeds.store import Store

ITEMS_A = [
    {"title": "Uber chief resigns after board revolt", "guid": "a1", "link": "https://a.example/1",
     "date": NOW - timedelta(hours=5)},
    {"title": "New Mac mini reviewed", "guid": "a2", "link": "https://a.example/2", "date": NOW - timedelta(hours=4)},
    {"title": "Storm closes schools across the region", "guid": "a3", "link": "https://a.example/3",
     "date": NOW - timedelta(hours=3)},
]
ITEMS_B = [
    {"title": "Uber boss quits as investors revolt", "guid": "b1", "link": "https://b.example/1",
     "summary": "Uber chief resigns after board revolt, the company says", "date": NOW - timedelta(hours=2)},
]


def write(tmp: Path, channels: str, *, output: str = "", sources: str = "") -> Path:
    (tmp / "a.xml").write_bytes(rss(ITEMS_A))
    (tmp / "b.xml").write_bytes(rss(ITEMS_B))
    srcs = sources or '[[sources]]\nurl = "a.xml"\nname = "Alpha"\n[[sources]]\nurl = "b.xml"\nname = "Beta"\n'
    (tmp / "feeds.toml").write_text(f"""
[output]
dir = "out"
base_url = "https://feeds.example.org/"
{output}
[store]
path = "feeds.db"
{srcs}
{channels}
""")
    return tmp / "feeds.toml"


def run(tmp: Path, clock: Clock) -> None:
    cfg = parse_config((tmp / "feeds.toml").read_text(), tmp / "feeds.toml")
    store = Store.open(cfg.store_path)
    try:
        report = Pipeline(cfg, store, now=clock).run(force_all=True)
        assert not report.publish_errors
    finally:
        store.close()


def feed(tmp: Path, name: str) -> feedparser.FeedParserDict:
    path = tmp / "out" / name
    assert path.exists(), name
    return feedparser.parse(path.read_bytes())


def titles(tmp: Path, slug: str) -> list[str]:
    return sorted(e.title for e in feed(tmp, f"{slug}.atom").entries)


ALL = '[channels.all]\ntitle = "All"\nmatch_all = true\n'


def test_a_channel_added_later_gets_the_stored_items_it_matches(tmp_path: Path) -> None:
    clock = Clock(NOW)
    write(tmp_path, ALL)
    run(tmp_path, clock)
    write(tmp_path, ALL + '[channels.uber]\ntitle = "Uber"\ninclude = ["Uber"]\n')
    clock.t += timedelta(minutes=5)
    run(tmp_path, clock)  # the sources have nothing new
    entries = feed(tmp_path, "uber.atom").entries
    # the two reports of one story: one entry, the other report linked
    assert [e.title for e in entries] == ["Uber chief resigns after board revolt"]
    assert "https://b.example/1" in {link.href for link in entries[0].links}
    assert len(titles(tmp_path, "all")) == 3


def test_narrowed_rules_take_items_out_and_the_fallback_channel_gets_them(tmp_path: Path) -> None:
    clock = Clock(NOW)
    rules = ('[channels.tech]\ntitle = "Tech"\ninclude = ["Mac", "Uber"]\n'
             '[channels.rest]\ntitle = "Rest"\nfallback = true\n')
    write(tmp_path, rules)
    run(tmp_path, clock)
    assert titles(tmp_path, "tech") == ["New Mac mini reviewed", "Uber chief resigns after board revolt"]
    assert titles(tmp_path, "rest") == ["Storm closes schools across the region"]
    write(tmp_path, rules.replace('["Mac", "Uber"]', '["Mac"]'))
    clock.t += timedelta(minutes=5)
    run(tmp_path, clock)
    assert titles(tmp_path, "tech") == ["New Mac mini reviewed"]
    assert titles(tmp_path, "rest") == ["Storm closes schools across the region",
                                        "Uber chief resigns after board revolt"]


def test_a_feeds_updated_does_not_move_back_when_its_newest_entry_leaves(tmp_path: Path) -> None:
    """RFC 4287 `updated` is when the feed last changed: an entry taken out by a rule change (the newest
    here) leaves the feed's `updated` where it was, in every format, and a new entry moves it on again."""
    clock = Clock(NOW)
    rules = '[channels.tech]\ntitle = "Tech"\ninclude = ["Mac", "Storm"]\nformats = ["atom", "json", "rss"]\n'
    write(tmp_path, rules)
    run(tmp_path, clock)
    before = feed(tmp_path, "tech.atom")
    assert [e.title for e in before.entries][0] == "Storm closes schools across the region"
    newest = before.feed.updated_parsed
    assert newest == before.entries[0].updated_parsed
    write(tmp_path, rules.replace('["Mac", "Storm"]', '["Mac"]'))
    clock.t += timedelta(minutes=5)
    run(tmp_path, clock)
    after = feed(tmp_path, "tech.atom")
    assert [e.title for e in after.entries] == ["New Mac mini reviewed"]
    assert after.entries[0].updated_parsed < newest
    assert after.feed.updated_parsed == newest
    assert json.loads((tmp_path / "out" / "tech.json").read_text())["items"][0]["title"] == "New Mac mini reviewed"
    assert feed(tmp_path, "tech.rss").feed.updated_parsed == newest
    # the same feed read again: nothing changes, nothing is written
    mtime = (tmp_path / "out" / "tech.atom").stat().st_mtime_ns
    clock.t += timedelta(minutes=5)
    run(tmp_path, clock)
    assert (tmp_path / "out" / "tech.atom").stat().st_mtime_ns == mtime
    # a newer entry moves it on
    ITEMS = [*ITEMS_A, {"title": "Mac sales rise", "guid": "a4", "link": "https://a.example/4", "date": NOW}]
    (tmp_path / "a.xml").write_bytes(rss(ITEMS))
    run(tmp_path, clock)
    latest = feed(tmp_path, "tech.atom")
    assert latest.entries[0].title == "Mac sales rise"
    assert latest.feed.updated_parsed == latest.entries[0].updated_parsed > newest


def test_a_story_follows_its_reports_into_a_channel_limited_to_one_source(tmp_path: Path) -> None:
    clock = Clock(NOW)
    write(tmp_path, ALL)
    run(tmp_path, clock)
    write(tmp_path, ALL + '[channels.beta]\ntitle = "Beta"\nmatch_all = true\nsources = ["Beta"]\n')
    run(tmp_path, clock)
    # the story of Beta's report, which stands for it there: the channel takes Beta's reports only
    (e,) = feed(tmp_path, "beta.atom").entries
    assert (e.title, e.link, e.author) == ("Uber boss quits as investors revolt", "https://b.example/1", "Beta")
    assert [x.href for x in e.links if x.rel == "related"] == ["https://a.example/1"]
    assert e.id == next(x.id for x in feed(tmp_path, "all.atom").entries if x.title == ITEMS_A[0]["title"])
    # Beta renamed: the channel names a source that no longer exists, so it loses the story
    write(tmp_path, ALL + '[channels.beta]\ntitle = "Beta"\nmatch_all = true\nsources = ["Alpha"]\n')
    run(tmp_path, clock)
    assert titles(tmp_path, "beta") == sorted(e["title"] for e in ITEMS_A)


def test_a_changed_title_entry_count_or_source_name_is_published_without_new_items(tmp_path: Path) -> None:
    clock = Clock(NOW)
    write(tmp_path, ALL)
    run(tmp_path, clock)
    assert feed(tmp_path, "all.atom").feed.title == "All"
    assert len(feed(tmp_path, "all.atom").entries) == 3
    write(tmp_path, ALL.replace('"All"', '"Everything"'), output="entries = 2",
          sources='[[sources]]\nurl = "a.xml"\nname = "Alpha Daily"\n[[sources]]\nurl = "b.xml"\nname = "Beta"\n')
    clock.t += timedelta(minutes=5)
    run(tmp_path, clock)
    doc = feed(tmp_path, "all.atom")
    assert doc.feed.title == "Everything"
    assert len(doc.entries) == 2
    assert "Alpha Daily" in (tmp_path / "out" / "all.atom").read_text()


def test_a_sources_new_language_is_published_without_new_items(tmp_path: Path) -> None:
    """A source's `language` tags its entries: setting it republishes what is stored (no new item needed), and
    a config with no language at all keeps the digest it had (nothing republished by an upgrade)."""
    clock = Clock(NOW)
    write(tmp_path, ALL)
    run(tmp_path, clock)
    before = (tmp_path / "out" / "all.atom").read_bytes()
    run(tmp_path, clock)
    assert (tmp_path / "out" / "all.atom").read_bytes() == before
    write(tmp_path, ALL, sources='[[sources]]\nurl = "a.xml"\nname = "Alpha"\nlanguage = "de"\n'
                                 '[[sources]]\nurl = "b.xml"\nname = "Beta"\n')
    clock.t += timedelta(minutes=5)
    run(tmp_path, clock)
    # three entries, each represented by an Alpha report (Beta's re-report joined Alpha's story)
    assert [e.title_detail.language for e in feed(tmp_path, "all.atom").entries] == ["de", "de", "de"]


def test_a_removed_channel_and_a_dropped_format_lose_their_documents(tmp_path: Path) -> None:
    clock = Clock(NOW)
    two = ALL + '[channels.uber]\ntitle = "Uber"\ninclude = ["Uber"]\nformats = ["atom", "json", "rss", "html"]\n'
    write(tmp_path, two, output="archive = true")
    run(tmp_path, clock)
    out = tmp_path / "out"
    for ext in ("atom", "json", "rss", "html"):
        assert (out / f"uber.{ext}").exists()
    (out / "archive" / "uber").mkdir(parents=True, exist_ok=True)
    (out / "archive" / "uber" / "1.atom").write_text("<feed/>")  # as an archive page
    (out / "notes.txt").write_text("mine")  # not feeds': kept
    (out / "uber.atom.bak").write_text("mine")
    # the json format dropped
    write(tmp_path, two.replace('["atom", "json", "rss", "html"]', '["atom", "rss", "html"]'), output="archive = true")
    run(tmp_path, clock)
    assert not (out / "uber.json").exists()
    assert (out / "uber.rss").exists() and (out / "uber.html").exists()
    # the channel removed: its documents and archive go, the store forgets it
    write(tmp_path, ALL, output="archive = true")
    run(tmp_path, clock)
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("uber")) == ["uber.atom.bak"]
    assert not (out / "archive" / "uber").exists()
    assert (out / "notes.txt").read_text() == "mine"
    con = sqlite3.connect(tmp_path / "feeds.db")
    try:
        for table, col in (("item_channels", "channel"), ("story_channels", "channel"), ("channels", "slug"),
                           ("archive_slots", "channel"), ("archive_marks", "channel")):
            assert con.execute(f"SELECT count(*) FROM {table} WHERE {col} = 'uber'").fetchone()[0] == 0, table
    finally:
        con.close()
    assert "uber" not in (out / "index.opml").read_text()
    # added again: it starts afresh, with the stored items it matches
    write(tmp_path, two, output="archive = true")
    run(tmp_path, clock)
    assert titles(tmp_path, "uber") == ["Uber chief resigns after board revolt"]


def test_an_unchanged_config_sorts_and_republishes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import feeds.publish

    clock = Clock(NOW)
    write(tmp_path, ALL + '[channels.uber]\ntitle = "Uber"\ninclude = ["Uber"]\n')
    run(tmp_path, clock)
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()}
    calls: list[str] = []
    reads, publish = Store.items_for_rules, feeds.publish.publish
    monkeypatch.setattr(Store, "items_for_rules", lambda *a, **k: calls.append("sort") or reads(*a, **k))
    monkeypatch.setattr(feeds.publish, "publish", lambda *a, **k: calls.append("publish") or publish(*a, **k))
    clock.t += timedelta(minutes=5)
    run(tmp_path, clock)  # the same config, nothing new from the sources
    assert calls == []
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()} == before
    # a source added (no channel names sources): nothing to sort again; the documents are published again
    (tmp_path / "c.xml").write_bytes(rss([]))
    write(tmp_path, ALL + '[channels.uber]\ntitle = "Uber"\ninclude = ["Uber"]\n',
          sources='[[sources]]\nurl = "a.xml"\nname = "Alpha"\n[[sources]]\nurl = "b.xml"\nname = "Beta"\n'
                  '[[sources]]\nurl = "c.xml"\nname = "Gamma"\n')
    run(tmp_path, clock)
    assert calls == ["publish"]
    calls.clear()
    # a change of the rules: sorted again (two chunks: the items, then none left) and published
    write(tmp_path, ALL + '[channels.uber]\ntitle = "Uber"\ninclude = ["Uber", "Mac"]\n')
    run(tmp_path, clock)
    assert calls == ["sort", "sort", "publish"]
    assert titles(tmp_path, "uber") == ["New Mac mini reviewed", "Uber chief resigns after board revolt"]


def forget_formats(tmp: Path) -> None:
    """Make the store one from before the formats were recorded."""
    con = sqlite3.connect(tmp / "feeds.db")
    try:
        con.execute("DELETE FROM meta WHERE key = 'output.formats'")
        con.commit()
    finally:
        con.close()


def test_files_feeds_never_wrote_are_left_alone(tmp_path: Path) -> None:
    """Only formats a channel was published in are deleted when the config stops asking for them: the
    operator's own news.html beside a channel published as Atom only survives any config change, and a
    store from before the formats were recorded deletes no format at all."""
    clock = Clock(NOW)
    news = '[channels.news]\ntitle = "News"\nmatch_all = true\n'
    write(tmp_path, news)
    run(tmp_path, clock)
    out = tmp_path / "out"
    (out / "news.html").write_text("<p>mine</p>")
    (out / "news.json").write_text("{}")
    write(tmp_path, news.replace('"News"', '"World news"'))  # a change that republishes
    run(tmp_path, clock)
    assert (out / "news.html").read_text() == "<p>mine</p>" and (out / "news.json").read_text() == "{}"
    assert feed(tmp_path, "news.atom").feed.title == "World news"
    # published as JSON too, then not: that JSON goes (feeds wrote it); the HTML page never was feeds'
    write(tmp_path, news.replace("match_all", 'formats = ["atom", "json"]\nmatch_all'))
    run(tmp_path, clock)
    assert json.loads((out / "news.json").read_text())["title"] == "News"
    write(tmp_path, news)
    run(tmp_path, clock)
    assert not (out / "news.json").exists() and (out / "news.html").read_text() == "<p>mine</p>"
    # a store that never recorded its formats (an earlier version): no format is taken for feeds'
    write(tmp_path, news.replace("match_all", 'formats = ["atom", "rss"]\nmatch_all'))
    run(tmp_path, clock)
    forget_formats(tmp_path)
    write(tmp_path, news)
    run(tmp_path, clock)
    assert (out / "news.rss").exists() and (out / "news.html").exists()
    # ... while a channel taken out of such a store's config loses every document feeds may have published
    write(tmp_path, news + '[channels.more]\ntitle = "More"\nmatch_all = true\nformats = ["atom", "rss"]\n')
    run(tmp_path, clock)
    forget_formats(tmp_path)
    write(tmp_path, news)
    run(tmp_path, clock)
    assert not (out / "more.atom").exists() and not (out / "more.rss").exists()


def test_a_sources_new_public_address_is_published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The documents carry each source's public feed address (RSS <source url>, JSON Feed feed_url): a source
    moved to another http(s) address is a change to publish, not only a renamed one."""
    import feeds.publish

    clock = Clock(NOW)
    one = '[[sources]]\nurl = "http://127.0.0.1:1/a.xml"\nname = "Alpha"\n'
    write(tmp_path, ALL, sources=one)
    run(tmp_path, clock)  # the fetch is refused: a failed source, published all the same
    calls: list[str] = []
    formats = feeds.publish.document_formats
    monkeypatch.setattr(feeds.publish, "document_formats", lambda *a: calls.append("changed") or formats(*a))
    run(tmp_path, clock)
    assert calls == []
    write(tmp_path, ALL, sources=one.replace("a.xml", "feed/a.xml"))
    run(tmp_path, clock)
    assert calls == ["changed"]


def test_a_copy_of_the_site_in_another_directory_is_not_a_config_change(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The config, store and output copied elsewhere (a move, a backup restored) resolve to other absolute
    paths: nothing is sorted or published again for that (a copied benchmark run republished everything)."""
    import shutil

    import feeds.publish

    clock = Clock(NOW)
    first = tmp_path / "one"
    first.mkdir()
    write(first, ALL)
    run(first, clock)
    second = tmp_path / "two"
    shutil.copytree(first, second)
    calls: list[str] = []
    formats = feeds.publish.document_formats  # read only when the config differs from the store's record
    monkeypatch.setattr(feeds.publish, "document_formats", lambda *a: calls.append("changed") or formats(*a))
    # (its file sources are other URLs there: new sources, fetched as such; that is not what is checked)
    run(second, clock)
    assert calls == []
    write(second, ALL.replace('"All"', '"Everything"'))  # and a real change is seen there
    run(second, clock)
    assert calls == ["changed"]


def test_the_index_page_goes_with_the_last_html_channel(tmp_path: Path) -> None:
    # html dropped from every channel: each channel page was deleted but index.html stayed for good, listing
    # removed channels and linking the deleted pages
    clock = Clock(NOW)
    html = ALL.replace("match_all = true", 'match_all = true\nformats = ["atom", "html"]')
    write(tmp_path, html)
    run(tmp_path, clock)
    out = tmp_path / "out"
    assert (out / "all.html").exists() and (out / "index.html").exists()
    write(tmp_path, ALL)
    run(tmp_path, clock)
    assert not (out / "all.html").exists() and not (out / "index.html").exists()
    assert (out / "all.atom").exists() and (out / "index.opml").exists()


def test_the_language_a_feed_declares_tags_its_entries_unless_it_is_the_outputs(tmp_path: Path) -> None:
    """A source's documents' declared language (here RSS <language>; the root's xml:lang is read alike, see
    test_parse) is stored (store schema 8) and tags its entries when it is not the output's language (an
    Arabic feed's entries were labelled English: an accessibility review); a feed declaring the output's
    ("en-us" in an "en" site) adds nothing; a feed that changes its language has its entries republished
    without new items; the config's `language` goes before what a feed declares."""
    clock = Clock(NOW)
    write(tmp_path, ALL, output='language = "en"\nformats = ["atom", "json"]')
    (tmp_path / "a.xml").write_bytes(rss(ITEMS_A).replace(b"<channel>", b"<channel><language>ar</language>", 1))
    own = {"title": "Harbour festival draws record crowds", "guid": "b2", "link": "https://b.example/2",
           "date": NOW - timedelta(hours=1)}
    (tmp_path / "b.xml").write_bytes(rss([*ITEMS_B, own]).replace(b"<channel>", b"<channel><language>en-us</language>",
                                                                   1))
    run(tmp_path, clock)
    store = Store.open(tmp_path / "feeds.db")
    try:
        assert {s.name: s.language for s in store.sources()} == {"Alpha": "ar", "Beta": "en-us"}
    finally:
        store.close()
    # Alpha's three stories (Beta's Uber report joined Alpha's) are Arabic; Beta's own story is the site's "en"
    langs = {e.title: e.title_detail.language for e in feed(tmp_path, "all.atom").entries}
    assert sorted(langs.values()) == ["ar", "ar", "ar", "en"] and langs[own["title"]] == "en"
    json_items = json.loads((tmp_path / "out" / "all.json").read_text())["items"]
    assert sorted(str(it.get("language")) for it in json_items) == ["None", "ar", "ar", "ar"]
    # the feed now says German: its entries follow, though nothing in them is new (a diff review)
    (tmp_path / "a.xml").write_bytes(rss(ITEMS_A).replace(b"<channel>", b"<channel><language>de</language>", 1))
    clock.t += timedelta(minutes=5)
    run(tmp_path, clock)
    langs = {e.title: e.title_detail.language for e in feed(tmp_path, "all.atom").entries}
    assert sorted(langs.values()) == ["de", "de", "de", "en"]
    write(tmp_path, ALL, output='language = "en"\nformats = ["atom", "json"]',  # the config's word goes first
          sources='[[sources]]\nurl = "a.xml"\nname = "Alpha"\nlanguage = "en"\n'
                  '[[sources]]\nurl = "b.xml"\nname = "Beta"\n')
    (tmp_path / "a.xml").write_bytes(rss(ITEMS_A).replace(b"<channel>", b"<channel><language>ar</language>", 1))
    clock.t += timedelta(minutes=5)
    run(tmp_path, clock)
    assert [e.title_detail.language for e in feed(tmp_path, "all.atom").entries] == ["en"] * 4


def test_a_site_moved_to_another_base_url_has_its_archive_pages_name_it(tmp_path: Path) -> None:
    """Moving the site (output.base_url) republished the live feeds, but no archive page: each kept the old
    address in its self, current and prev/next-archive links, so a reader's walk broke at the second page
    once the old domain was gone (found by an operations review). Entry ids stay."""
    clock = Clock(NOW)
    write(tmp_path, ALL, output="entries = 1")
    run(tmp_path, clock)
    page = tmp_path / "out" / "archive" / "all" / "1.atom"
    assert page.exists() and "https://feeds.example.org/" in page.read_text()
    ids = sorted(e.id for e in feed(tmp_path, "archive/all/1.atom").entries)
    cfg = tmp_path / "feeds.toml"
    cfg.write_text(cfg.read_text().replace("https://feeds.example.org/", "https://news.example.net/feeds/"))
    clock.t += timedelta(minutes=5)
    run(tmp_path, clock)
    doc = feed(tmp_path, "archive/all/1.atom")  # (an archived entry's <source><id> is an id: it stays)
    assert not [ln for ln in doc.feed.links if "feeds.example.org" in ln.href] and doc.feed.links
    assert {ln.href for ln in doc.feed.links if ln.rel in ("self", "current")} == {
        "https://news.example.net/feeds/archive/all/1.atom", "https://news.example.net/feeds/all.atom"}
    assert sorted(e.id for e in doc.entries) == ids
    mtime = page.stat().st_mtime_ns
    clock.t += timedelta(minutes=5)
    run(tmp_path, clock)  # once: the next run writes nothing again
    assert page.stat().st_mtime_ns == mtime
    # a store from before the base URL was recorded only records it: its full pages are final (rendered
    # again, they would take what else changed in the config since: a final review)
    con = sqlite3.connect(tmp_path / "feeds.db")
    with con:
        con.execute("DELETE FROM meta WHERE key = 'output.base_url'")
    con.close()
    cfg.write_text(cfg.read_text().replace('[output]\n', '[output]\nauthor = "Another desk"\n', 1))
    clock.t += timedelta(minutes=5)
    run(tmp_path, clock)
    assert page.stat().st_mtime_ns == mtime and "Another desk" not in page.read_text()


def test_two_sources_swapping_names_re_sort_a_channel_limited_to_one_of_them(tmp_path: Path) -> None:
    # (the rules' digest held the set of names a channel's `sources` use, unchanged by a swap: the channel kept
    # the source it no longer names until an unrelated rule edit; a review of channel rules)
    clock = Clock(NOW)
    beta = '[channels.beta]\ntitle = "Beta"\nmatch_all = true\nsources = ["Beta"]\n'
    write(tmp_path, ALL + beta)
    run(tmp_path, clock)
    assert titles(tmp_path, "beta") == ["Uber boss quits as investors revolt"]
    swapped = '[[sources]]\nurl = "a.xml"\nname = "Beta"\n[[sources]]\nurl = "b.xml"\nname = "Alpha"\n'
    write(tmp_path, ALL + beta, sources=swapped)
    clock.t += timedelta(minutes=5)
    run(tmp_path, clock)
    assert titles(tmp_path, "beta") == sorted(e["title"] for e in ITEMS_A)


def test_a_feed_updated_written_under_a_clock_set_ahead_is_no_floor(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "feeds.db")
    try:
        newest = datetime(2025, 7, 5, 12, tzinfo=UTC)
        now = datetime(2025, 7, 6, tzinfo=UTC).timestamp()
        assert _feed_updated(store, "x", newest, now) == newest  # nothing published yet
        store.set_meta(feed_updated_key("x"), "2025-07-05T18:00:00+00:00")
        assert _feed_updated(store, "x", newest, now) == datetime(2025, 7, 5, 18, tzinfo=UTC)
        store.set_meta(feed_updated_key("x"), "2031-01-01T00:00:00+00:00")  # a clock years ahead wrote it
        assert _feed_updated(store, "x", newest, now) == newest
        store.set_meta(feed_updated_key("x"), "garbage")
        assert _feed_updated(store, "x", newest, now) == newest
    finally:
        store.close()


def test_a_long_slugs_feed_updated_key_fits_the_key_column() -> None:
    long_a, long_b = "a" * 64, "a" * 63 + "b"
    assert feed_updated_key("x") == "feed.updated:x"
    assert len(feed_updated_key(long_a)) <= 64 and len(feed_updated_key(long_b)) <= 64
    assert feed_updated_key(long_a) != feed_updated_key(long_b)


def test_a_long_slugs_archive_keys_fit_the_key_column_and_a_removed_channel_forgets_them(tmp_path: Path) -> None:
    # every per-channel meta key of a 64-character slug fits the key column's 64 characters (PostgreSQL would
    # refuse a longer one); a store written before, where SQLite took the whole key, is still read; and a
    # channel removed forgets its keys, its feed-level `updated` too (added again, it starts afresh)
    from feeds.store.sql import ARCHIVE_FLOOR, ARCHIVE_LOST, FEED_UPDATED

    long, short, old = "a" * 64, "b", "c" * 64
    store = Store.open(tmp_path / "feeds.db")
    try:
        with store.tx() as c:
            Store.drop_archive_slots(c, long, 50)
            Store.drop_archive_slots(c, short, 25)
            Store.set_meta_value(c, ARCHIVE_FLOOR + old, "75")  # as a store written before the digest holds it
        assert store.lost_pages_changed(long, 2) and not store.lost_pages_changed(long, 2)
        store.set_meta(feed_updated_key(long), "2025-07-05T18:00:00+00:00")
        with store.engine.connect() as c:
            keys = {k for (k,) in c.exec_driver_sql("SELECT key FROM meta")}
        assert all(len(k) <= 64 for k in keys - {ARCHIVE_FLOOR + old}), keys
        assert ARCHIVE_FLOOR + short in keys and not any(long in k for k in keys)
        assert (store.archive_floor(long), store.archive_floor(short), store.archive_floor(old)) == (50, 25, 75)
        with store.tx() as c:
            Store.forget_channels(c, [long, old])
        with store.engine.connect() as c:
            left = {k for (k,) in c.exec_driver_sql("SELECT key FROM meta")}
        prefixes = (ARCHIVE_FLOOR, ARCHIVE_LOST, FEED_UPDATED)
        assert not any(k.startswith(prefixes) for k in left - {ARCHIVE_FLOOR + short})
        assert (store.archive_floor(long), store.archive_floor(short), store.archive_floor(old)) == (0, 25, 0)
        assert store.slug_meta(FEED_UPDATED, long) is None
    finally:
        store.close()


def test_a_site_moved_with_file_sources_in_a_channels_list_is_not_sorted_again(tmp_path: Path) -> None:
    # (a scaling review) the rules' digest held each named file source's absolute path: a site moved or copied
    # elsewhere sorted every stored item again (and, at 500 channels, republished them all)
    import shutil

    from feeds.run import RULES_KEY

    beta = '[channels.beta]\ntitle = "Beta"\nmatch_all = true\nsources = ["Beta"]\n'
    site = tmp_path / "site"
    site.mkdir()
    write(site, ALL + beta)
    run(site, Clock(NOW))
    moved = tmp_path / "elsewhere" / "site"
    shutil.copytree(site, moved)
    before = {p.name: p.stat().st_mtime_ns for p in (moved / "out").iterdir() if p.is_file()}
    run(moved, Clock(NOW + timedelta(minutes=5)))
    digests = []
    for d in (site, moved):
        store = Store.open(d / "feeds.db")
        try:
            digests.append(store.meta_value(RULES_KEY))
        finally:
            store.close()
    assert digests[0] == digests[1] and digests[0]
    assert {p.name: p.stat().st_mtime_ns for p in (moved / "out").iterdir() if p.is_file()} == before
    assert titles(moved, "beta") == ["Uber boss quits as investors revolt"]
    # (a diff review) the same config opened through a symlink to its directory: the same digest
    (tmp_path / "link").symlink_to(moved)
    run(tmp_path / "link", Clock(NOW + timedelta(minutes=10)))
    store = Store.open(moved / "feeds.db")
    try:
        assert store.meta_value(RULES_KEY) == digests[0]
    finally:
        store.close()
