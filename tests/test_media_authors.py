"""Podcast enclosures, media thumbnails and authors as the parsers read them.

RSS ``<enclosure>``, Atom ``<link rel="enclosure">``, Media RSS ``media:content`` / ``media:thumbnail``,
``itunes:image``, JSON Feed ``attachments`` / ``image``: absolute http(s) URLs only, bounded; every author's
name, never an e-mail address; an entry without authors has its feed's (RFC 4287 4.2.1; RSS
managingEditor, channel dc:creator; JSON Feed). Both XML parse paths give the same values: checked here on
each document, on a real podcast feed (tests/data/media) and under hypothesis. Storing and publishing them:
tests/test_publish_media.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.fastparse import fast_parse
from feeds.models import Enclosure, Entry, ParsedFeed
from feeds.parse import MAX_ENCLOSURES, author_names, media_url, parse, parse_feedparser

DATA = Path(__file__).parent / "data"
URL = "https://example.com/feeds/main.xml"


def fields(e: Entry) -> tuple[object, ...]:
    return e.guid, e.title, e.link, e.published, e.updated, e.authors, e.categories, e.enclosures, e.image


def both(data: bytes, url: str = URL) -> ParsedFeed:
    """The document read by the fast path, after checking it took it and agrees with feedparser."""
    fast = fast_parse(data, url)
    assert fast is not None, "expected the fast path"
    ref = parse_feedparser(data, url)
    assert [fields(e) for e in fast.entries] == [fields(e) for e in ref.entries]
    return fast


# -- parsing -------------------------------------------------------------------------------------------
PODCAST = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">
<channel><title>Pod</title><link>https://pod.example/</link><description>d</description>
<managingEditor>editor@pod.example (Pat Editor)</managingEditor>
<item><title>One</title><guid isPermaLink="false">1</guid><link>https://pod.example/1</link>
  <author>hello@example.co.uk (Simone Silvestroni)</author>
  <enclosure url="/media/one.mp3" length="1234" type="audio/mpeg"/>
  <media:content url="https://example.com/media/one.mp3" fileSize="1234" type="audio/mpeg"/>
  <media:content url="https://cdn.example/one.jpg" medium="image"/>
  <media:content url="https://0.gravatar.com/avatar/abc?s=96" medium="image"/>
  <media:thumbnail url="https://cdn.example/one-thumb.jpg"/>
</item>
<item><title>Two</title><guid isPermaLink="false">2</guid>
  <dc:creator>Dana</dc:creator><dc:creator>Eli</dc:creator>
  <enclosure url="javascript:alert(1)" length="1" type="audio/mpeg"/>
  <enclosure url="data:audio/mpeg;base64,AAAA" length="1" type="audio/mpeg"/>
  <enclosure url="ftp://files.example/two.mp3" length="1" type="audio/mpeg"/>
  <enclosure url="mailto:two@pod.example" length="1" type="audio/mpeg"/>
  <enclosure url="https://cdn.example/two.m4a" length="0"/>
  <itunes:image href="https://cdn.example/two.jpg"/>
</item>
<item><title>Three</title><guid isPermaLink="false">3</guid>
  <media:content url="https://2.gravatar.com/avatar/def?s=96" medium="image"/>
  <media:content url="https://cdn.example/three.mp4" medium="video"/>
  <media:content url="https://www.youtube.com/v/x?version=3" type="application/x-shockwave-flash"/>
  <enclosure url="https://cdn.example/cover.png" type="image/png" length="10"/>
</item>
</channel></rss>"""


def test_rss_enclosures_media_and_authors() -> None:
    one, two, three = both(PODCAST).entries
    # relative: against the document; the media:content copy of it is the same file; an image media:content is
    # no enclosure (a picture of the post), the thumbnail wins over it, an author's avatar is neither
    assert one.enclosures == (Enclosure("https://example.com/media/one.mp3", "audio/mpeg", 1234),)
    assert one.image == "https://cdn.example/one-thumb.jpg"
    assert one.authors == ("Simone Silvestroni",)  # RSS's "address (Name)": the name
    # javascript:, data:, ftp: and mailto: are never kept; no type: the extension's; length 0 is unknown
    assert two.enclosures == (Enclosure("https://cdn.example/two.m4a", "audio/mp4", None),)
    assert two.image == "https://cdn.example/two.jpg"  # itunes:image, an episode's artwork
    assert two.authors == ("Dana", "Eli")  # every author, not the last one
    assert two.author == "Dana\tEli"  # as the store keeps them
    # enclosures first, then audio/video media:content (a Flash player is nothing to play); no thumbnail: the
    # first image enclosure (an author's Gravatar is not the item's picture)
    assert three.enclosures == (Enclosure("https://cdn.example/cover.png", "image/png", 10),
                                Enclosure("https://cdn.example/three.mp4", "video/mp4", None))
    assert three.image == "https://cdn.example/cover.png"
    assert three.authors == ("Pat Editor",)  # none of its own: the channel's managingEditor, without the address


def atom(entries: str, feed_author: str = "<author><name>Russ Writer</name></author>") -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example/posts/">
<title>Blog</title><id>urn:blog</id><updated>2025-07-01T00:00:00Z</updated>{feed_author}
{entries}</feed>""".encode()


def test_atom_feed_authors_are_inherited_and_names_lose_their_addresses() -> None:
    doc = atom("""
<entry><title>Inherits</title><id>urn:1</id><updated>2025-07-01T00:00:00Z</updated><link href="1"/></entry>
<entry><title>Own</title><id>urn:2</id><updated>2025-07-01T00:00:00Z</updated><link href="2"/>
  <author><name>Caleb</name><email>noreply@blogger.com</email></author></entry>
<entry><title>Two</title><id>urn:3</id><updated>2025-07-01T00:00:00Z</updated><link href="3"/>
  <author><name>Dana</name></author><author><name>Eli</name><email>eli@example.org</email></author></entry>
<entry><title>Address</title><id>urn:4</id><updated>2025-07-01T00:00:00Z</updated><link href="4"/>
  <author><email>anon@example.org</email></author></entry>""")
    inherits, own, two, address = both(doc).entries
    assert inherits.authors == ("Russ Writer",)  # RFC 4287 4.2.1: the feed's author, not the source's name
    assert own.authors == ("Caleb",)
    assert two.authors == ("Dana", "Eli")
    assert address.authors == ()  # an address alone is no name; nor is the feed's author its author
    (plain,) = both(atom("""<entry><title>x</title><id>urn:9</id><updated>2025-07-01T00:00:00Z</updated>
        <link href="9"/></entry>""", feed_author="")).entries
    assert plain.authors == ()  # no author anywhere: publishing credits the outlet


def test_atom_enclosure_links_are_resolved_checked_and_bounded() -> None:
    links = "".join(f'<link rel="enclosure" href="part{i}.mp3" length="{i}"/>' for i in range(1, 9))
    doc = atom(f"""
<entry><title>Episode</title><id>urn:1</id><updated>2025-07-01T00:00:00Z</updated><link href="1"/>
  <link rel="enclosure" href="javascript:alert(1)" type="audio/mpeg"/>
  <link rel="enclosure" href="https://cdn.example/{"x" * 3000}.mp3" type="audio/mpeg"/>
  <link rel="enclosure" href="ep.ogg" type="audio/ogg; codecs=opus" length="5"/>
  <link rel="enclosure" href="notes"/>
  {links}</entry>""")
    (e,) = both(doc).entries
    assert len(e.enclosures) == MAX_ENCLOSURES  # a hostile feed cannot bloat every document
    assert e.enclosures[:3] == (
        Enclosure("https://blog.example/posts/ep.ogg", "audio/ogg", 5),  # xml:base; the type's parameters dropped
        Enclosure("https://blog.example/posts/notes", "", None),  # no type, no known extension: unknown
        Enclosure("https://blog.example/posts/part1.mp3", "audio/mpeg", 1))  # no type: the extension's
    assert e.image is None


def test_json_feed_attachments_image_and_authors() -> None:
    doc = json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": "J", "feed_url": "https://j.example/feed.json",
        "authors": [{"name": "Feed Person"}, {"name": "ops@j.example"}],
        "items": [
            {"id": "1", "url": "https://j.example/1", "content_text": "one", "image": "/img/1.png",
             "authors": [{"name": "Dana"}, {"name": "Eli <eli@j.example>"}],
             "attachments": [{"url": "/ep1.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 1200},
                             {"url": "javascript:alert(1)", "mime_type": "audio/mpeg"},
                             {"url": "https://j.example/ep1.pdf", "mime_type": "Application/PDF"}]},
            {"id": "2", "url": "https://j.example/2", "content_text": "two", "attachments": "not a list"},
        ]}).encode()
    one, two = parse(doc, "https://j.example/feed.json").entries
    assert one.authors == ("Dana", "Eli")
    assert one.enclosures == (Enclosure("https://j.example/ep1.mp3", "audio/mpeg", 1200),
                              Enclosure("https://j.example/ep1.pdf", "application/pdf", None))
    assert one.image == "https://j.example/img/1.png"
    assert two.authors == ("Feed Person",) and two.enclosures == () and two.image is None


def test_author_names_of_stored_and_odd_author_strings() -> None:
    assert author_names(["Caleb (noreply@blogger.com)", "hello@example.co.uk (Simone Silvestroni)",
                         "Dana <dana@example.org>", "mailto:x@example.org", "@handle", "Caleb", " ", "\u2014"]) == (
        "Caleb", "Simone Silvestroni", "Dana", "@handle")
    assert author_names(["x" * 500]) == ("x" * 200,)
    assert author_names(f"n{i}" for i in range(30)) == tuple(f"n{i}" for i in range(10))


def test_a_podcast_feed_gives_every_episode_and_its_file() -> None:
    expected = json.loads((DATA / "media" / "atp.expected.json").read_text())
    data = (DATA / "media" / "atp.rss").read_bytes()
    p = both(data, "http://atp.fm/episodes?format=rss")
    assert len(p.entries) == expected["items"]
    every = expected["every_item"]
    for e in p.entries:
        episode = e.title.split(":", 1)[0]
        assert [(x.url, x.type) for x in e.enclosures] == [(every["enclosure"].format(episode=episode), every["type"])]
        assert e.enclosures[0].length is not None and list(e.authors) == every["authors"]
        assert e.image == every["image"]
    for which, e in (("first", p.entries[0]), ("last", p.entries[-1])):
        assert e.title == expected[which]["title"]
        assert [[x.url, x.type, x.length] for x in e.enclosures] == expected[which]["enclosures"]


FRAGMENTS = st.sampled_from([
    "<item>", "</item>", "<title>t</title>", "<guid>g</guid>", "<link>https://l.example/a</link>",
    '<enclosure url="a.mp3" length="12" type="audio/mpeg"/>', '<enclosure url="javascript:x" type="audio/mpeg"/>',
    '<enclosure url="https://c.example/b.jpg" type="IMAGE/JPEG"/>', '<enclosure length="3"/>',
    '<media:content url="a.mp3" fileSize="12"/>', '<media:content url="v.mp4" medium="video"/>',
    '<media:content url="p.png" medium="image"/>', '<media:thumbnail url="t.jpg"/>',
    "<media:thumbnail>rel/t.png</media:thumbnail>", '<media:group><media:content url="g.mp3"/></media:group>',
    '<itunes:image href="art.jpg"/>', '<itunes:link url="art2.jpg"/>',
    "<author>a@b.example (Ann)</author>", "<author>Bob</author>", "<author>c@d.example</author>",
    "<dc:creator>Dana</dc:creator>", "<itunes:author>Eli (e@f.example)</itunes:author>",
    "<managingEditor>ed@x.example (Ed)</managingEditor>",
    "<itunes:owner><itunes:name>Own</itunes:name><itunes:email>o@x.example</itunes:email></itunes:owner>",
    '<atom:link rel="enclosure" href="x.ogg"/>', '<atom:link rel="enclosure" href="" type="audio/ogg"/>',
    '<atom:link rel="enclosure">https://t.example/y.mp3</atom:link>',
    "<atom:author><atom:name>Fay</atom:name><atom:email>f@g.example</atom:email></atom:author>",
])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FRAGMENTS, max_size=14), st.lists(FRAGMENTS, max_size=8))
def test_both_parse_paths_read_media_and_authors_alike(items: list[str], channel: list[str]) -> None:
    body = "".join(channel) + "<item><title>first</title>" + "".join(items) + "</item>"
    doc = ('<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" '
           'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom" '
           'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel><title>c</title>'
           f"{body}</channel></rss>").encode()
    fast = fast_parse(doc, URL)
    if fast is None:
        return  # not well-formed (an item in an item) or declined: feedparser reads it
    ref = parse_feedparser(doc, URL)
    assert [fields(e) for e in fast.entries] == [fields(e) for e in ref.entries]
    for e in fast.entries:
        assert all(x.url.startswith("https://") for x in e.enclosures) and len(e.enclosures) <= MAX_ENCLOSURES
        assert not any("@" in a and "." in a.split("@")[-1] for a in e.authors)


def test_media_urls_are_absolute_http_and_checked() -> None:
    assert media_url("https://a.example/x.mp3", "http://[::1") == "https://a.example/x.mp3"  # a bad base: no matter
    assert media_url("x.mp3", "http://[::1") is None and media_url("x.mp3", None) is None  # relative, no base
    assert media_url("//cdn.example/a.mp3", "https://b.example/f") == "https://cdn.example/a.mp3"
    assert media_url("../a b.mp3", "https://b.example/f/g/") == "https://b.example/f/a%20b.mp3"
    for bad in ("mailto:a@b.example", "javascript:alert(1)", "JaVaScRiPt:x", "data:audio/mpeg;base64,AA", "ftp://f.example/a",
                "file:///etc/passwd", f"https://a.example/{'x' * 2100}", "https://secure.gravatar.com/avatar/abc", 7):
        assert media_url(bad, "https://b.example/") is None, bad


def test_an_author_name_keeps_nothing_of_an_address() -> None:
    # "mailto:" was published as an author's name; feedparser's "Bob and Ann (" of two addressed names too
    from feeds.parse import author_name

    assert author_name("mailto:") == "" and author_name("mailto:x@y.com") == ""
    assert author_name("Bob (bob@example.org) and Ann (ann@example.org)") == "Bob and Ann"
    assert author_name("Bob and Ann (") == "Bob and Ann"
    assert author_name("Pat (Editor)") == "Pat (Editor)" and author_name("Re: the editor") == "Re: the editor"
