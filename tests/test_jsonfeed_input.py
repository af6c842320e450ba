"""JSON Feed sources (feeds.jsonparse): the specification's fields into Entries, clean refusals, and a
JSON Feed fetched from a loopback server through the pipeline to a published Atom feed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loopback import Loopback, static

from feeds.config import parse_config
from feeds.jsonparse import looks_like_json, parse_json_feed
from feeds.parse import ParseFailed, parse
from feeds.run import Pipeline
from feeds.store import Store

READER = Path(__file__).parent / "data" / "corpus-hardening" / "real-feeds" / "reader"  # lemon24/reader's fixtures


def test_the_reference_document_gives_every_field() -> None:
    # reader's full.json (JSON Feed 1.1): the expected values are read off the specification
    p = parse((READER / "full.json").read_bytes(), "https://example.org/feed.json")
    assert (p.title, p.link, p.bozo) == ("My Example Feed", "https://example.org/", None)
    second, first = p.entries
    assert second.guid == "2" and second.link == "https://example.org/second-item" and second.title == "Title"
    assert second.summary == "A summary"
    assert second.content == 'Content with <a href="http://example.com/">link</a>'  # content_html over content_text
    assert second.authors == ("Joe", "Jane")  # the item's only author has no name: the feed's named authors
    assert second.published == datetime(2020, 1, 2, 21, 0, tzinfo=UTC)  # 14:00-07:00
    assert second.updated == datetime(2020, 1, 4, 0, 0, tzinfo=UTC)  # 01:00+0100
    # an untitled post with content only: as on the RSS path the content fills the empty summary (what
    # channel rules and stories read)
    assert first.guid == "1" and first.title == "" and first.summary == "<p>Hello, world!</p>"
    assert first.content == "" and first.author == "Jane"
    assert first.published == datetime(2020, 1, 2, 12, 0, tzinfo=UTC) and first.updated is None


def feed(items: list[object], **top: object) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "T", **top, "items": items}).encode()


def test_version_1_fields_numbers_relative_urls_and_plain_text() -> None:
    body = feed([
        {"id": 7, "url": "/posts/7", "title": "  Seven\n items ", "summary": "a < b claim & more",
         "content_text": "First line.\n\nSecond <para>.", "author": {"name": "Ann"}, "tags": ["x", "x", " y ", 3],
         "date_published": "2024-03-01T10:00:00+01:00"},
        {"id": "e", "external_url": "https://elsewhere.example/a", "content_html": "<p>same</p>",
         "summary": "<p>same</p>"},
        "not an item", 5,
    ], version="http://jsonfeed.org/version/1", author={"name": "Feed Author"}, home_page_url="https://site.example/")
    p = parse(body, "https://site.example/feed.json")
    seven, e = p.entries
    assert seven.guid == "7" and seven.link == "https://site.example/posts/7" and seven.title == "Seven items"
    assert seven.summary == "a &lt; b claim &amp; more"  # plain text, escaped
    assert seven.content == "<p>First line.</p><p>Second &lt;para&gt;.</p>"
    assert seven.author == "Ann" and seven.categories == ("x", "y")
    assert seven.published == datetime(2024, 3, 1, 9, 0, tzinfo=UTC) and seven.updated is None
    assert e.link == "https://elsewhere.example/a" and e.author == "Feed Author" and e.published is None
    assert e.summary == "<p>same</p>" and e.content == ""  # markup in a summary (seen in the wild) stays HTML
    assert p.bozo == "JSON Feed: 2 items are not objects"


def test_what_feeds_in_the_wild_do_against_the_specification() -> None:
    body = feed([
        {"id": "a", "url": "http://[::1", "title": "Bad URL", "content_text": "kept"},  # malformed: no link
        {"url": "https://w.example/no-id", "title": "Caf&eacute; &#8217;s &amp; AT&T"},  # no id: kept
        {"id": 1.5, "external_url": "//[x/", "summary": "Read on &hellip; <a href='/more'>more</a>"},
    ], home_page_url="/home")
    p = parse(body, "https://w.example/feed.json")
    bad, no_id, num = p.entries
    assert bad.link is None and bad.title == "Bad URL" and bad.summary == "<p>kept</p>"
    assert no_id.guid is None and no_id.link == "https://w.example/no-id" and no_id.title == "Café ’s & AT&T"
    # no link of its own: its relative link resolves against the feed (else publishing would drop it)
    assert num.guid == "1.5" and num.link is None and num.summary == 'Read on \u2026 <a href="https://w.example/more">more</a>'
    assert p.link == "https://w.example/home"
    assert p.bozo == "JSON Feed: 1 item has no id; a URL is malformed"


def test_relative_links_of_an_item_without_its_own_url_resolve_against_the_feed() -> None:
    # a linkblog post links elsewhere (external_url) but its HTML was written for the feed's site: its relative
    # links resolve against the feed, not against the other site publishing would resolve them against
    html = '<p>See <a href="/notes/1">my note</a> <img src="pics/p.png" alt=""></p>'
    p = parse(feed([{"id": "a", "external_url": "https://elsewhere.example/story", "content_html": html},
                    {"id": "b", "summary": 'Plain <a HREF="../up">up</a>'},
                    {"id": "c", "url": "/posts/c", "content_html": html}]), "https://site.example/blog/feed.json")
    a, b, c = p.entries
    assert a.link == "https://elsewhere.example/story"
    assert 'href="https://site.example/notes/1"' in a.summary
    assert 'src="https://site.example/blog/pics/p.png"' in a.summary
    assert 'href="https://site.example/up"' in b.summary and b.link is None
    assert c.summary == html  # its own url: publishing resolves against it, as on the RSS path
    from feeds.sanitize import sanitize_html
    assert sanitize_html(a.summary, a.link) == a.summary  # publishing's pass changes nothing more
    # markup the sanitiser once raised on (a tag it unwraps, then a reference to U+0001): the feed still reads
    odd = feed([{"id": "d", "content_html": '<font><b>a</b></font>&#1; <a href="/r">r</a>'}],
               feed_url="https://site.example/blog/feed.json")
    for url in ("https://site.example/blog/feed.json", ""):  # without a URL, feed_url is the base
        (d,) = parse(odd, url).entries
        assert d.summary == '<b>a</b> <a href="https://site.example/r">r</a>'
    (bad,) = parse(feed([{"id": "e", "content_html": '<a href="/r">r</a>'}], feed_url="\u0001http://[::1"), "").entries
    assert bad.summary == '<a href="/r">r</a>'  # a malformed feed_url is no base: left for publishing


def test_markup_after_something_json_like_is_still_read_as_xml() -> None:
    rss = (b'{"status": "ok"}\n<?xml version="1.0"?><rss version="2.0"><channel><title>C</title>'
           b"<item><title>One</title><guid>g1</guid></item></channel></rss>")
    assert [e.title for e in parse(rss).entries] == ["One"]
    with pytest.raises(ParseFailed, match="invalid JSON"):  # no feed either way: the JSON complaint
        parse(b'{"version": "https://jsonfeed.org/version/1", "items": [{"content_html": "<p>cut')


def test_fields_of_the_wrong_type_are_ignored_and_named() -> None:
    p = parse((READER / "invalid.json").read_bytes())
    assert p.entries and p.title == "" and p.link == ""
    assert p.bozo is not None and "title is not a string" in p.bozo and "home_page_url is not a string" in p.bozo


@pytest.mark.parametrize(("body", "why"), [
    (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "invalid JSON"),
    (b'{"items": []}', "without a jsonfeed.org version"),
    (b'{"version": "https://example.org/v1", "items": []}', "without a jsonfeed.org version"),
    (b'{"version": "https://jsonfeed.org/version/1", "items": {"a": 1}}', "items is not a list"),
    (b'{"version": "https://jsonfeed.org/version/1"}', "items is not a list"),
    (b"{" * 100_000, "invalid JSON"),  # nesting past the recursion limit
])
def test_what_is_no_json_feed_is_refused_cleanly(body: bytes, why: str) -> None:
    with pytest.raises(ParseFailed, match=why):
        parse(body)


def test_json_is_told_from_xml_by_its_first_character() -> None:
    assert looks_like_json(b'  \n{"version": 1}') and looks_like_json(b'\xef\xbb\xbf {"a": 1}')
    for enc in ("utf-16", "utf-16-be", "utf-16-le", "utf-32", "utf-32-be", "utf-8-sig"):  # what json.loads reads
        assert looks_like_json(' {"a": 1}'.encode(enc)), enc
    assert not looks_like_json(b'<?xml version="1.0"?><rss/>') and not looks_like_json(b"\xef\xbb\xbf<feed/>")
    assert not looks_like_json('<rss version="2.0"/>'.encode("utf-16")) and not looks_like_json(b"")
    assert not looks_like_json('<rss version="2.0"/>'.encode("utf-32"))
    # JSON in UTF-16 reads like UTF-8
    assert parse_json_feed(feed([{"id": "1", "title": "Ü"}]).decode().encode("utf-16")).entries[0].title == "Ü"


_urlish = st.sampled_from(["http://[::1", "//[x/", "http://a\uff03b/", "javascript:alert(1)", "/rel/ative", "?q",
                          "https://user:pw@h.example/", "&#8217;&amp;", "<b>x</b>", "\x00\ud800", "1e99999",
                          # markup the sanitiser once failed on (a tag it unwraps, then a reference to U+0001)
                          '<font><b>a</b></font>&#1; <a href="/r">r</a>', "\u0001http://x.example/\ufffe"])
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
                     | _urlish,
                     lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children,
                                                                                        max_size=3), max_leaves=12)
_keys = st.sampled_from(["id", "url", "external_url", "title", "summary", "content_html", "content_text", "tags",
                         "author", "authors", "date_published", "date_modified"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(_keys, _json, max_size=8) | _json, max_size=4),
       st.dictionaries(st.sampled_from(["title", "home_page_url", "feed_url", "author", "authors"]), _json),
       st.sampled_from(["https://site.example/feed.json", ""]))  # without a URL, feed_url is the base
def test_any_values_in_any_field_give_entries_never_an_exception(items: list[object], top: dict[str, object],
                                                                 url: str) -> None:
    p = parse_json_feed(feed(items, **top), url)
    assert len(p.entries) == sum(isinstance(i, dict) for i in items)
    for e in p.entries:
        assert isinstance(e.title, str) and isinstance(e.summary, str) and isinstance(e.author, str)
        assert e.guid is None or isinstance(e.guid, str)


def test_a_json_feed_source_is_fetched_stored_and_published(tmp_path: Path) -> None:
    srv = Loopback()
    try:
        body = feed([{"id": f"https://j.example/{i}", "url": f"https://j.example/{i}", "title": f"Post number {i}",
                      "content_html": f"<p>Body {i}</p>", "date_published": f"2025-07-0{i}T08:00:00Z"}
                     for i in (1, 2, 3)]
                    # a microblog post: no title, no url, its text only in content_text
                    + [{"id": "m1", "content_text": "A pelican landed on the pier.",
                        "date_published": "2025-07-04T08:00:00Z"}], home_page_url="https://j.example/")
        srv.routes["/feed.json"] = static(body, etag='"j1"', content_type="application/feed+json")
        (tmp_path / "feeds.toml").write_text(f"""
[output]
dir = "out"
base_url = "https://feeds.example.org/"
[store]
path = "feeds.db"
[[sources]]
url = "{srv.url('/feed.json')}"
name = "Jay"
[channels.all]
title = "All"
match_all = true
[channels.birds]
title = "Birds"
include = ["pelican"]
""")
        cfg = parse_config((tmp_path / "feeds.toml").read_text(), tmp_path / "feeds.toml")
        store = Store.open(cfg.store_path)
        pipe = Pipeline(cfg, store)
        try:
            run = pipe.run(force_all=True)
            assert [(o.error, o.new) for o in run.outcomes] == [(None, 4)]
            out = feedparser.parse((tmp_path / "out" / "all.atom").read_bytes())
            # the untitled post is called by its first words, as readers show such posts
            assert sorted(e.title for e in out.entries) == ["A pelican landed on the pier.", "Post number 1",
                                                            "Post number 2", "Post number 3"]
            assert sorted(e.link for e in out.entries if e.title.startswith("Post")) == [
                f"https://j.example/{i}" for i in (1, 2, 3)]
            birds = feedparser.parse((tmp_path / "out" / "birds.atom").read_bytes()).entries
            assert len(birds) == 1 and "pelican" in birds[0].summary  # the post's text reached the channel rule
            assert "application/feed+json" in srv.hits("/feed.json")[0].headers["accept"]
            again = pipe.run(force_all=True)  # conditional GET: 304, nothing new
            assert [(o.error, o.new) for o in again.outcomes] == [(None, 0)]
            assert srv.hits("/feed.json")[-1].headers.get("if-none-match") == '"j1"'
        finally:
            pipe.close()
            store.close()
    finally:
        srv.close()
