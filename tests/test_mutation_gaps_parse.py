"""What a mutation survey of feeds/parse.py and feeds/fastparse.py found unpinned: which media file an item's picture
is (a media:thumbnail before itunes:image, a media:content picture before an image enclosure, a medium without a
type) and that a later copy of a file never replaces the type the first gave; the exact bounds of a media URL (2048
characters) and an author's name (200), a JSON true as no length, names beside an address in angle brackets; CJK
dates at 12 o'clock, with "GMT-9" or "+09" zones, and localized dates before 1970; an XHTML title, plain text with
"&" and a source's authors on feedparser's path; a document cut off after its last whole entry or ended before a
host's appended script, a reference past U+10FFFF, a UTF-8 BOM under a multi-byte charset, relative media of a file:
source; and, on the fast path alone, dates in EDT, CST, MST or PST, an itunes:summary that is HTML, a description
after the full text and an alternate link that is no page. Every test parses real bytes with the real parsers (lxml
and feedparser, no mocks): most through test_media_authors' `both` (the fast path must take the document and agree
with feedparser) over its podcast channel, the rest through `parse` with test_review_fixes_fidelity's and
test_jsonfeed_input's document builders."""

from __future__ import annotations

from datetime import UTC, datetime

from test_jsonfeed_input import feed as json_feed
from test_media_authors import PODCAST, URL, atom, both
from test_review_fixes_fidelity import _item, _rss

from feeds.fastparse import fast_parse
from feeds.models import Enclosure
from feeds.parse import MAX_AUTHOR_CHARS, MAX_MEDIA_URL, parse, parse_feedparser

_HEAD = PODCAST.split(b"<item>", 1)[0]  # the podcast's channel, its namespaces and managing editor


def podcast(items: str) -> bytes:
    """test_media_authors' podcast channel holding these items instead of its own."""
    return _HEAD + items.encode() + b"</channel></rss>"


def item(n: int, extra: str) -> str:
    return f'<item><title>Episode {n}</title><guid isPermaLink="false">{n}</guid>{extra}</item>'


# -- a character reference no string can hold ----------------------------------------------------------------

def test_a_reference_past_the_last_code_point_is_dropped_not_the_whole_document() -> None:
    """Mutant: `or value > 0x10FFFF` dropped in _drop_impossible_charrefs(): feedparser's loose parser raised
    on &#x110000; and the whole feed was "not a feed"."""
    doc = podcast(item(1, "") + "<item><title>Two &#x110000;beyond</title><guid>2</guid></item>")
    got = parse(doc, URL)
    assert [e.title for e in got.entries] == ["Episode 1", "Two beyond"]


def test_a_document_cut_off_after_its_last_whole_entry_keeps_that_entry() -> None:
    """Mutant: `< entries` -> `<= entries` in _cut_short(): a document cut off after its last entry's end tag
    (before </channel></rss>) lost that whole entry, as if it were the fragment of one."""
    cut = _rss(_item(1, "First") + _item(2, "Second")).replace("</channel></rss>", "").encode("utf-8")
    assert [e.title for e in parse(cut, URL).entries] == ["First", "Second"]


def test_an_unclosed_entry_of_a_document_whose_root_ends_before_a_hosts_appended_script_is_kept() -> None:
    """Mutant: the window _cut_short() looks for the root's end tag in, the last 4096 bytes, cut to 64: a
    document that ends (</rss>) but has a host's script and comment appended was taken for one cut off, and its
    last entry (written without </item>) was left out."""
    doc = (_rss(_item(1, "First") + "<item><title>Second</title><guid>n2</guid>")
           + '\n<script src="https://host.example/analytics.js"></script>\n<!-- hosted by free.example'
           + " " * 80 + "-->\n")
    assert [e.title for e in parse(doc.encode("utf-8"), URL).entries] == ["First", "Second"]


def test_a_utf8_byte_order_mark_beats_a_multibyte_charset_too() -> None:
    """Mutant: the charset rewrite dropped from _bom_first(): a UTF-8 feed (with its BOM) served as
    ``text/xml; charset=gb2312`` was read as GB2312 (_utf8_over_charset only overrides single-byte
    charsets): its Cyrillic titles published as Chinese mojibake."""
    text = _rss(_item(1, "Курс доллара"), '<?xml version="1.0" encoding="UTF-8"?>')
    got = parse(b"\xef\xbb\xbf" + text.encode("utf-8"), URL, "text/xml; charset=gb2312")
    assert got.entries[0].title == "Курс доллара"


# -- authors -------------------------------------------------------------------------------------------------

def _name_of(length: int) -> str:
    words = ("Ann Smith, Bob Jones, " * 20)[:length - 1]
    return words + "Z" if words[-1] != " " else words[:-1] + "ZZ"


def test_a_name_of_exactly_max_author_chars_is_kept_whole() -> None:
    """Mutant: `len(text) > MAX_AUTHOR_CHARS` -> `>=` in author_name(): a name of exactly 200 characters was
    cut and marked with "…" as if names had been left out."""
    exact, over = _name_of(MAX_AUTHOR_CHARS), _name_of(MAX_AUTHOR_CHARS + 1)
    assert len(exact) == MAX_AUTHOR_CHARS and len(over) == MAX_AUTHOR_CHARS + 1
    first, second = both(podcast(item(1, f"<dc:creator>{exact}</dc:creator>")
                                 + item(2, f"<dc:creator>{over}</dc:creator>"))).entries
    assert first.authors == (exact,)
    assert second.authors[0].endswith("\u2026") and len(second.authors[0]) <= MAX_AUTHOR_CHARS


def test_a_name_beside_an_address_in_angle_brackets_is_the_name() -> None:
    """Mutants: `_TAIL_ANGLE.sub("", name)` -> `name` in person_names() (feedparser reads "editor@pod.exam" of
    "Pat <editor@pod.example>" and leaves "Pat <ple>", which was published as the author's name), and "<>"
    dropped from the empty brackets _split_address() takes out (the fast path gave "Dana <>", feedparser
    "Dana")."""
    pat, dana = both(podcast(item(1, "<author>Pat &lt;editor@pod.example&gt;</author>")
                             + item(2, "<author>Dana &lt;dana@example.org&gt;</author>"))).entries
    assert (pat.authors, dana.authors) == (("Pat",), ("Dana",))


# -- media ---------------------------------------------------------------------------------------------------

def test_a_media_url_of_exactly_max_media_url_characters_is_kept() -> None:
    """Mutant: `len(raw) > MAX_MEDIA_URL` -> `>=` in media_url(): a URL of exactly 2048 characters ("at most
    MAX_MEDIA_URL") was dropped."""
    stem = "https://cdn.example/"
    exact = stem + "a" * (MAX_MEDIA_URL - len(stem) - 4) + ".mp3"
    over = stem + "b" * (MAX_MEDIA_URL - len(stem) - 3) + ".mp3"
    assert len(exact) == MAX_MEDIA_URL
    (e,) = both(podcast(item(1, f'<enclosure url="{exact}" type="audio/mpeg"/><enclosure url="{over}"/>'))).entries
    assert e.enclosures == (Enclosure(exact, "audio/mpeg", None),)


def test_a_json_feed_size_of_true_is_no_length() -> None:
    """Mutant: the `isinstance(raw, bool)` guard dropped in media_length(): JSON's true is Python's 1, and an
    attachment with "size_in_bytes": true was published as one byte long."""
    body = json_feed([{"id": "a", "url": "https://site.example/a", "content_text": "x",
                       "attachments": [{"url": "https://cdn.example/a.mp3", "size_in_bytes": True}]}])
    (e,) = parse(body, "https://site.example/feed.json").entries
    assert e.enclosures == (Enclosure("https://cdn.example/a.mp3", "audio/mpeg", None),)


def test_a_later_copy_of_a_media_file_fills_in_but_never_replaces_its_type() -> None:
    """Mutant: `old_type or mtype` -> `mtype or old_type` in entry_media(): the media:content copy of an
    enclosure replaced the type the enclosure declared."""
    (e,) = both(podcast(item(1, '<enclosure url="https://cdn.example/e.mp3" type="audio/mpeg"/>'
                                '<media:content url="https://cdn.example/e.mp3" type="audio/x-mpeg" fileSize="9"/>'
                                '<enclosure url="https://cdn.example/f" length="4"/>'
                                '<media:content url="https://cdn.example/f" type="audio/ogg"/>'))).entries
    assert e.enclosures == (Enclosure("https://cdn.example/e.mp3", "audio/mpeg", 9),
                            Enclosure("https://cdn.example/f", "audio/ogg", 4))


def test_media_content_without_a_type_is_told_by_its_medium() -> None:
    """Mutants in entry_media(): `medium in ("audio", "video")` without "video" (a video stream with no type nor
    extension was no enclosure), and the `medium == "image"` clause dropped (a picture with no type nor
    extension was no thumbnail)."""
    (e,) = both(podcast(item(1, '<media:content url="https://cdn.example/live?v=1" medium="video"/>'
                                '<media:content url="https://cdn.example/pic?id=3" medium="image"/>'))).entries
    assert e.enclosures == (Enclosure("https://cdn.example/live?v=1", "", None),)
    assert e.image == "https://cdn.example/pic?id=3"


def test_the_thumbnail_is_the_media_thumbnail_then_artwork_then_a_media_picture_then_an_image_file() -> None:
    """Mutants in entry_media(): the itunes:image asked before the media:thumbnail, and the image enclosures
    put before the image media:content, changed an episode's picture."""
    first, second = both(podcast(
        item(1, '<itunes:image href="https://cdn.example/art.jpg"/><media:thumbnail url="https://cdn.example/t.jpg"/>')
        + item(2, '<enclosure url="https://cdn.example/cover.png" type="image/png"/>'
                  '<media:content url="https://cdn.example/photo.jpg" medium="image"/>'))).entries
    assert first.image == "https://cdn.example/t.jpg"
    assert second.image == "https://cdn.example/photo.jpg"


def test_a_file_sources_relative_media_resolve_against_the_items_link() -> None:
    """Mutant: `base = url if url.startswith(("http://", "https://")) else link` -> `base = url` in
    parse._entry(): a feed read from a file: URL (a local source) lost every relative enclosure on feedparser's
    path, while the fast path resolved them against the item's link."""
    doc = podcast('<item><title>One</title><guid isPermaLink="false">1</guid><link>https://pod.example/ep/1</link>'
                  '<enclosure url="one.mp3" type="audio/mpeg"/></item>')
    (e,) = both(doc, "file:///srv/feeds/pod.xml").entries
    assert e.enclosures == (Enclosure("https://pod.example/ep/one.mp3", "audio/mpeg", None),)


# -- dates ---------------------------------------------------------------------------------------------------

def test_a_japanese_date_at_half_past_twelve_in_the_afternoon() -> None:
    """Mutant: `int(hh) % 12` -> `int(hh)` in cjk_date(): "午後12時30分" (12:30 pm) became hour 24, no date at all,
    and the item was dated by when it was first seen."""
    first, second = both(podcast(item(1, "<pubDate>2026年11月27日 午後12時30分</pubDate>")
                                 + item(2, "<pubDate>2026年11月27日 午前12時05分 +0900</pubDate>"))).entries
    assert first.published == datetime(2026, 11, 27, 12, 30, tzinfo=UTC)
    assert second.published == datetime(2026, 11, 26, 15, 5, tzinfo=UTC)  # 00:05 in Tokyo


def test_rfc822_dates_in_every_us_zone_name_are_the_moment_feedparser_reads() -> None:
    """Mutant: EDT's offset -4 -> -5 in the fast path's _ZONES: the date tests name EST and PDT only, and the
    fast path put every EDT item an hour late (feedparser, on the other path, did not)."""
    zones = {"EDT": 14, "CST": 16, "CDT": 15, "MST": 17, "MDT": 16, "PST": 18}
    got = both(podcast("".join(item(n, f"<pubDate>Mon, 02 Jan 2023 10:00:00 {z}</pubDate>")
                               for n, z in enumerate(zones)))).entries
    assert [e.published for e in got] == [datetime(2023, 1, 2, h, tzinfo=UTC) for h in zones.values()]


def test_cjk_dates_with_their_zone_as_gmt_minus_hours_or_two_digits() -> None:
    """Mutants in cjk_date(): "GMT-9" read as "+0900" (its sign lost: the date 18 hours off), and "+09" left
    unpadded (the zone's minutes read from "": a ValueError out of both parse paths, the whole feed lost)."""
    west, tokyo = both(podcast(item(1, "<pubDate>2026年11月27日 10:18 GMT-9</pubDate>")
                               + item(2, "<pubDate>2026年11月27日 10:18:56 +09</pubDate>"))).entries
    assert west.published == datetime(2026, 11, 27, 19, 18, tzinfo=UTC)
    assert tokyo.published == datetime(2026, 11, 27, 1, 18, 56, tzinfo=UTC)


def test_a_date_in_another_languages_words_before_1970_is_read() -> None:
    """Mutant: `1900 <= int(y)` -> `1970 <=` in _stamp(): a German-dated archive item of 1969 was undated, where
    the same date in English words is read (parse_date's own floor is 1900)."""
    (e,) = both(podcast(item(1, "<pubDate>Mo, 03 Mär 1969 08:00:00 +0100</pubDate>"))).entries
    assert e.published == datetime(1969, 3, 3, 7, 0, tzinfo=UTC)


# -- text constructs and categories ------------------------------------------------------------------------

_ATOM = """<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>F</title><id>urn:f</id>
<entry><title{title_type}>{title}</title><id>urn:1</id><updated>2025-07-01T00:00:00Z</updated>
<summary type="text">AT&amp;amp;T &amp; more</summary></entry></feed>"""


def test_an_xhtml_title_is_the_text_a_reader_sees() -> None:
    """Mutant: "application/xhtml+xml" dropped from text_of(): an Atom title of type="xhtml" (left to
    feedparser) kept its markup as text, "<b>Bold</b> move"."""
    doc = _ATOM.format(title_type=' type="xhtml"', title='<div xmlns="http://www.w3.org/1999/xhtml"><b>Bold</b> '
                       "move &amp; more</div>").encode()
    assert fast_parse(doc, URL) is None  # feedparser's path
    assert parse(doc, URL).entries[0].title == "Bold move & more"


def test_plain_text_holding_an_ampersand_is_escaped_on_the_feedparser_path_as_on_the_fast_one() -> None:
    """Mutant: `"<" in value or "&" in value` -> `"<" in value` in _plain_as_html(): the text "AT&amp;T" (as
    written) was kept as HTML on feedparser's path, and a reader saw "AT&T"."""
    doc = _ATOM.format(title_type="", title="Two").encode()
    fast = fast_parse(doc, URL)
    assert fast is not None
    assert parse_feedparser(doc, URL).entries[0].summary == fast.entries[0].summary == "AT&amp;amp;T &amp; more"


def test_a_term_given_twice_with_and_without_a_domain_is_one_category() -> None:
    """Mutant: `term not in cats` dropped in parse._entry(): feedparser keeps both tags (their schemes differ),
    and its path gave the category twice, the fast path once."""
    (e,) = both(podcast(item(1, '<category>Politics</category><category domain="https://x.example/">Politics'
                                "</category>"))).entries
    assert e.categories == ("Politics",)


def test_an_entry_without_authors_has_its_sources_before_its_feeds() -> None:
    """Mutant: the `_names(source)` step dropped in parse._entry(): an Atom entry copied from another feed (its
    <source> naming the author) was credited to the aggregating feed's author (RFC 4287 4.2.1). The fast path
    leaves such an entry to feedparser."""
    doc = atom("""<entry><title>Copied</title><id>urn:1</id><updated>2025-07-01T00:00:00Z</updated><link href="1"/>
  <source><id>urn:orig</id><title>Origin</title><author><name>Orig Writer</name></author></source></entry>""")
    assert fast_parse(doc, URL) is None
    assert parse(doc, URL).entries[0].authors == ("Orig Writer",)


# -- the fast path's walk ------------------------------------------------------------------------------------

def test_the_full_text_then_a_description_is_a_body_and_its_summary() -> None:
    """Mutant: `and not self.has_content` dropped in the walker's summary(): a <description> after an item's
    <content:encoded> was taken for a second body (feedparser's rule for a second summary only), and the
    full text was published as the summary, unlike on feedparser's path."""
    doc = podcast('<item><title>A</title><guid isPermaLink="false">1</guid><content:encoded xmlns:content='
                  '"http://purl.org/rss/1.0/modules/content/">&lt;p&gt;Full text&lt;/p&gt;</content:encoded>'
                  "<description>Short</description></item>")
    (fast,) = both(doc).entries
    (ref,) = parse_feedparser(doc, URL).entries
    assert (fast.summary, fast.content) == (ref.summary, ref.content) == ("Short", "<p>Full text</p>")


def test_an_rss_plain_text_summary_that_looks_like_html_is_html_on_both_paths() -> None:
    """Mutant: feedparser's looks_like_html no longer asked in the fast path's _plain(): an <itunes:summary>
    (plain text by default) holding "Tom <b>bold</b>" was escaped, and readers saw its tags as text, while
    feedparser's path took it for the HTML it is."""
    doc = podcast('<item><title>A</title><guid isPermaLink="false">1</guid><itunes:summary>Tom &lt;b&gt;bold&lt;/b&gt;'
                  " &amp; Jerry</itunes:summary></item>")
    assert both(doc).entries[0].summary == parse_feedparser(doc, URL).entries[0].summary == "Tom <b>bold</b> & Jerry"


def test_an_alternate_link_to_something_other_than_a_page_is_not_the_items_link() -> None:
    """Mutant: `and _map_type(ctype) in _HTML_TYPES` dropped in the walker's link(): an alternate link to a PDF
    after the item's <link> became its link on the fast path (feedparser keeps the page)."""
    (e,) = both(podcast('<item><title>B</title><guid isPermaLink="false">2</guid><link>https://pod.example/b</link>'
                        '<link xmlns="http://www.w3.org/2005/Atom" rel="alternate" type="application/pdf" '
                        'href="https://pod.example/b.pdf"/></item>')).entries
    assert e.link == "https://pod.example/b"
