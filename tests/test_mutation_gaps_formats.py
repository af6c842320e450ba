"""What a mutation survey of feeds/formats/ and feeds/discover.py found unpinned: autodiscovery of a page naming
its feed as RSS 1.0 (application/rdf+xml) or application/x-atom+xml, of an HTML5 page that leaves out <html>
under a capitalised doctype, of a comments feed known only by its /comments/ address, of an empty or padded
href, and of the page's first <base href> (a bug: a <base target> before it hid it, mended); the RSS channel's
language, hub and title standing in for its description; the JSON Feed's description, language and "WebSub" hub,
an attachment's default media type and the source's addresses; a headline standing in for an empty summary
escaped in JSON Feed and RSS; and on the HTML pages, no "by" line naming only the outlet, a file of another
kind labelled "File", one autodiscovery link a channel on the index and a lone table reachable by keyboard.
The renderers are pure: each test renders real entries and reads the document back as a reader would
(feedparser for RSS, json for JSON Feed, lxml for HTML; test_discover's page builder for the pages searched),
reusing test_formats_atom's FeedInfo."""

from __future__ import annotations

import html
import json
from dataclasses import replace
from typing import Any

import feedparser
import pytest
from lxml import html as lhtml
from test_discover import alt, page
from test_formats_atom import T0, info

from feeds.discover import FEED_TYPES, feed_links, is_html_page
from feeds.formats.html import ChannelLinks, render_channel_page, render_index
from feeds.formats.jsonfeed import render_json_feed
from feeds.formats.model import RenderEntry, entry_time, plain_time
from feeds.formats.rss import render_rss
from feeds.models import Enclosure

SITE = "https://example.org/blog/"


# -- autodiscovery -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["application/rss+xml", "application/atom+xml", "application/rdf+xml",
                                  "application/feed+json", "application/x.atom+xml", "application/x-atom+xml"])
def test_every_feed_type_a_page_may_name_is_followed(kind: str) -> None:
    """Mutants: "application/x-atom+xml" or "application/rdf+xml" (RSS 1.0) dropped from FEED_TYPES: the
    pipeline test names RSS, the order test Atom and JSON Feed only, so a site naming its RSS 1.0 feed lost it."""
    assert feed_links(page(alt("/feed", kind)), SITE) == ["https://example.org/feed"]
    assert kind in FEED_TYPES


def test_a_page_that_leaves_out_its_html_tag_is_a_page() -> None:
    """Mutant: the doctype compared as written (`stripped[:14] == b"<!doctype html"`, no `.lower()`): HTML5 lets a
    page leave out <html>, and most write the doctype in capitals; such a page was taken for a feed."""
    assert is_html_page(b"<!DOCTYPE html>\n<meta charset=utf-8><title>A site</title><p>Hello")
    assert is_html_page(b"<!DocType HTML><title>A site</title>")


def test_a_comments_feed_named_only_by_its_address_comes_last() -> None:
    """Mutant: the `"/comments/" in url` test dropped (only the title's "comment" kept): the order test's comments
    feed says so in both; a German WordPress names it "Site » Kommentar-Feed" at /comments/feed/, first."""
    body = page(alt("/comments/feed/", title="Site » Kommentar-Feed"), alt("/feed/", title="Site » Feed"))
    assert feed_links(body, SITE) == ["https://example.org/feed/", "https://example.org/comments/feed/"]


def test_an_empty_or_padded_href_names_no_other_address() -> None:
    """Mutants: `not href` dropped (an empty href is the page itself, listed as its own feed) and the href's
    `.strip()` dropped (white space around an href, as templates write it, kept in the URL fetched)."""
    body = page(alt(""), alt("\n    /feed/ \n"))
    assert feed_links(body, SITE) == ["https://example.org/feed/"]


def test_the_first_base_with_an_href_is_the_pages_base() -> None:
    """Mutant: the `break` after the first <base> dropped (the last one wins). HTML: the document's base URL is
    that of the first base element with an href; one giving only a target is passed over (the code stopped at
    it, and read the page's links against the page's own address: mended)."""
    two = page(alt("rss.xml"), base="https://mirror.example.net/news/").replace(
        b"</head>", b'<base href="https://other.example/">' + b"</head>")
    assert feed_links(two, SITE) == ["https://mirror.example.net/news/rss.xml"]
    target_first = page(alt("rss.xml"), base="https://mirror.example.net/news/").replace(
        b"<base ", b'<base target="_blank"><base ')
    assert feed_links(target_first, SITE) == ["https://mirror.example.net/news/rss.xml"]


# -- the documents -------------------------------------------------------------------------------------------

BASE = RenderEntry(id="urn:uuid:4e1d3a52-0000-5000-8000-000000000001", story_id=1, title="Dam breaks",
                   link="https://wire.example/dam", published=plain_time(T0), updated=entry_time(T0, 1),
                   authors=["Ann Lee"], body_html="<p>Water.</p>", categories=["Floods"], source_name="Wire",
                   source_link="https://wire.example/", source_id="http://127.0.0.1:8080/sources/wire",
                   source_updated=plain_time(T0))


def rss_of(*entries: RenderEntry, **kw: object) -> feedparser.FeedParserDict:
    return feedparser.parse(render_rss(info(**kw), entries))  # type: ignore[arg-type]


def json_of(*entries: RenderEntry, **kw: object) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(render_json_feed(info(**kw), entries))  # type: ignore[arg-type]
    return doc


def test_the_rss_channel_says_its_language_and_hub_and_describes_itself_by_its_title() -> None:
    """Mutants in render_rss: <language> dropped, the rel="hub" link dropped (a WebSub reader of the RSS feed
    was never told where to subscribe), and the description with no subtitle left empty (`info.subtitle or
    info.title` made `info.subtitle`: RSS 2.0 requires a description; the review test always has one)."""
    d = rss_of(hub="https://hub.example/")
    assert d.feed.language == "en"
    assert [x.href for x in d.feed.links if x.rel == "hub"] == ["https://hub.example/"]
    assert html.unescape(d.feed.subtitle) == "News & <more>"


def test_the_json_feed_says_its_description_language_and_websub_hub() -> None:
    """Mutants in render_json_feed: the description (the channel's subtitle) dropped, the language dropped, and the
    hub's type written "websub" (JSON Feed 1.1 names it "WebSub"; the tests published without a hub)."""
    doc = json_of(hub="https://hub.example/", subtitle="Floods & dams")
    assert (doc["description"], doc["language"]) == ("Floods & dams", "en")
    assert doc["hubs"] == [{"type": "WebSub", "url": "https://hub.example/"}]
    assert "description" not in json_of()


def test_a_json_feed_item_says_its_files_types_and_its_sources_addresses() -> None:
    """Mutants in jsonfeed._item: a file of unknown type given no mime_type (`x.type or "application/octet-stream"`
    made `x.type`: the field is required, and a feed's enclosure may say no type, stored as ""), and the source's
    home_page_url or feed_url dropped from `_feeds.source` (the tests' sources were files, with neither)."""
    e = replace(BASE, source_feed="https://wire.example/rss",
                enclosures=[Enclosure("https://wire.example/dam.bin", "", None),
                            Enclosure("https://wire.example/dam.mp3", "audio/mpeg", 5)])
    [item] = json_of(e)["items"]
    assert item["attachments"] == [
        {"url": "https://wire.example/dam.bin", "mime_type": "application/octet-stream"},
        {"url": "https://wire.example/dam.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 5}]
    assert item["_feeds"]["source"] == {"title": "Wire", "home_page_url": "https://wire.example/",
                                        "feed_url": "https://wire.example/rss"}


def test_a_headline_standing_in_for_a_missing_summary_is_text_in_json_and_rss() -> None:
    """Mutants: the `html.escape` of the headline dropped where it stands in for an empty summary, in JSON Feed's
    content_html and in RSS's description (both HTML to a reader): "<script>" in a headline went out as markup."""
    e = replace(BASE, title='Dam <script>alert(1)</script> & "more"', body_html="")
    want = "<p>Dam &lt;script&gt;alert(1)&lt;/script&gt; &amp; \"more\"</p>"
    [item] = json_of(e)["items"]
    assert item["content_html"] == want
    [rss_item] = rss_of(e).entries
    assert rss_item.description == want


def page_of(*entries: RenderEntry, archive_href: str | None = None) -> lhtml.HtmlElement:
    """The channel's HTML page holding these entries, parsed."""
    return lhtml.fromstring(render_channel_page(site_title="News", lang="en", slug="world", title="World",
                                                description="", formats=("atom",), entries=entries,
                                                archive_href=archive_href))


def bylines(doc: lhtml.HtmlElement) -> list[str]:
    return [p.text_content() for p in doc.findall(".//article/p[@class='meta']")]


def test_a_page_names_no_author_when_the_only_one_is_the_outlet() -> None:
    """Mutant: `names != [e.source_name]` dropped in html._article: a report without authors is published with its
    outlet's name as its author (publish.authors_of), and the page said "Wire · ... · by Wire"."""
    alone, signed = replace(BASE, authors=["Wire"]), replace(BASE, story_id=2, authors=["Wire", "Ann Lee"])
    lines = bylines(page_of(alone, signed))
    assert "by" not in lines[0] and lines[0].startswith("Wire · ")
    assert lines[1].endswith(" · by Wire, Ann Lee")


def test_a_file_of_another_kind_is_labelled_a_file() -> None:
    """Mutant: the label of a file neither audio, video nor image made "" (`_KINDS.get(..., "File")`): a PDF or a
    file of no stated type was linked as " (application/pdf, 7 bytes)" or as nothing at all."""
    e = replace(BASE, enclosures=[Enclosure("https://wire.example/r.pdf", "application/pdf", 7),
                                  Enclosure("https://wire.example/r.bin", "", None),
                                  Enclosure("https://wire.example/r.mp3", "audio/mpeg", 2_500_000)])
    links = page_of(e).findall(".//article/p[@class='media']/a")
    assert [a.text_content() for a in links] == ["File (application/pdf, 7 bytes)", "File",
                                                 "Audio (audio/mpeg, 2.5 MB)"]


def test_the_index_offers_one_feed_a_channel_for_autodiscovery() -> None:
    """Mutant: `head_links += links[:1]` made `links`: the index's head offered every format of every channel,
    three subscriptions a channel for a reader given the site's address; it names each channel's first format."""
    chans = [ChannelLinks(slug, slug.title(), "", formats, [], has_page=True)
             for slug, formats in (("world", ("atom", "json", "rss")), ("quiet", ("json", "rss")))]
    doc = lhtml.fromstring(render_index(site_title="News", lang="en", channels=chans))
    assert [ln.get("href") for ln in doc.findall(".//head/link[@rel='alternate']")] == ["world.atom", "quiet.json"]


def test_a_summarys_table_alone_can_be_reached_by_the_keyboard() -> None:
    """Mutant: `or "<table" in body_html` dropped in html._page_body: a summary with a table and no <pre> (the
    accessibility test has both) left the table's scrolling box out of the keyboard's reach."""
    e = replace(BASE, body_html="<table><tr><td>1</td></tr></table>")
    [table] = page_of(e).findall(".//div[@class='summary']/table")
    assert table.get("tabindex") == "0"
