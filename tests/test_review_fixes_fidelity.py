"""Fixes from a fidelity review of parsing: what a feed says reaches the store as a reader would read it.

* a UTF-8 feed served with a single-byte HTTP charset (windows-1252, latin-1, ...) is read as UTF-8 on both parse
  paths, and a body really in that charset still is read by it;
"""

from __future__ import annotations

import pytest

from feeds.fastparse import fast_parse
from feeds.parse import _utf8_over_charset, parse, parse_feedparser

URL = "https://news.example.org/feed.xml"


def _rss(items: str, decl: str = '<?xml version="1.0" encoding="UTF-8"?>') -> str:
    return (f'{decl}<rss version="2.0"><channel><title>C</title><link>https://news.example.org/</link>'
            f"{items}</channel></rss>")


def _item(n: int, title: str, extra: str = "") -> str:
    return (f"<item><title>{title}</title><link>https://news.example.org/{n}</link><guid>n{n}</guid>"
            f"<pubDate>Mon, 02 Jan 2023 10:00:00 +0000</pubDate><description>Caf\u00e9 owners react.</description>"
            f"{extra}</item>")


# -- 1. the charset of a UTF-8 body -----------------------------------------------------------------------------

@pytest.mark.parametrize("charset", ["windows-1252", "iso-8859-1", "ISO-8859-15", "koi8-r", "us-ascii"])
@pytest.mark.parametrize("mime", ["text/html", "application/rss+xml", "text/xml"])
@pytest.mark.parametrize("decl", ['<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0"?>', ""])
def test_utf8_body_under_a_single_byte_charset_is_read_as_utf8(charset: str, mime: str, decl: str) -> None:
    data = _rss(_item(1, "Chief calls it \u2018a joke\u2019"), decl).encode("utf-8")
    got = parse(data, URL, f"{mime}; charset={charset}")
    assert got.entries[0].title == "Chief calls it \u2018a joke\u2019"
    assert got.entries[0].summary == "Caf\u00e9 owners react."


def test_both_paths_read_the_corrected_charset() -> None:
    """feedparser is handed the corrected charset too: a document the fast path declines (an undefined entity)
    is read as UTF-8 all the same, and where the fast path answers it agrees with feedparser."""
    ct = "text/html; charset=windows-1252"
    fixed = _utf8_over_charset(_rss(_item(1, "x")).encode("utf-8"), ct)
    assert fixed == "text/html; charset=utf-8"
    ill = _rss(_item(1, "\u2018a joke\u2019&nbsp;now")).encode("utf-8")
    assert fast_parse(ill, URL, ct) is None
    assert parse(ill, URL, ct).entries[0].title == "\u2018a joke\u2019 now"
    good = _rss(_item(1, "\u2018a joke\u2019")).encode("utf-8")
    fast = fast_parse(good, URL, _utf8_over_charset(good, ct))
    ref = parse_feedparser(good, URL, _utf8_over_charset(good, ct))
    assert fast is not None
    assert [(e.title, e.summary) for e in fast.entries] == [(e.title, e.summary) for e in ref.entries]


@pytest.mark.parametrize("codec", ["cp1252", "latin-1"])
@pytest.mark.parametrize("decl", ['<?xml version="1.0" encoding="windows-1252"?>', '<?xml version="1.0"?>', ""])
def test_a_body_really_in_the_charset_is_read_by_it(codec: str, decl: str) -> None:
    data = _rss(_item(1, "Caf\u00e9 na\u00efve \u00bd"), decl).encode(codec)
    for ct in (f"text/html; charset={codec}", f"application/rss+xml; charset={codec}"):
        assert _utf8_over_charset(data, ct) == ct
        assert parse(data, URL, ct).entries[0].title == "Caf\u00e9 na\u00efve \u00bd"


def test_a_document_declaring_the_single_byte_charset_keeps_it() -> None:
    """Header and declaration agree: nothing in the document says UTF-8, so the charset stands (even when the
    bytes happen to be valid UTF-8)."""
    data = _rss(_item(1, "x \u00c3\u00a9"), '<?xml version="1.0" encoding="windows-1252"?>').encode("utf-8")
    ct = "application/rss+xml; charset=windows-1252"
    assert _utf8_over_charset(data, ct) == ct


def test_decoding_is_stable_when_a_byte_windows_1252_cannot_decode_arrives() -> None:
    """The reviewer's flip: an item holding "\u0141" (UTF-8 C5 81; 0x81 is undefined in windows-1252) made
    feedparser fall back to UTF-8 for that fetch, so every other stored title read differently. Now every
    fetch reads UTF-8, and the other item's title is the same in both."""
    ct = "text/html; charset=windows-1252"
    before = parse(_rss(_item(1, "\u2018a joke\u2019")).encode("utf-8"), URL, ct)
    after = parse(_rss(_item(2, "\u0141\u00f3d\u017a") + _item(1, "\u2018a joke\u2019")).encode("utf-8"), URL, ct)
    assert before.entries[0].title == after.entries[1].title == "\u2018a joke\u2019"
    assert after.entries[0].title == "\u0141\u00f3d\u017a"
    assert (before.entries[0].summary, before.entries[0].updated) == (after.entries[1].summary,
                                                                    after.entries[1].updated)


def test_ascii_bodies_and_multibyte_charsets_are_left_alone() -> None:
    ascii_doc = _rss("<item><title>plain</title><guid>1</guid></item>").encode("ascii")
    assert _utf8_over_charset(ascii_doc, "text/xml; charset=windows-1252") == "text/xml; charset=windows-1252"
    utf8 = _rss(_item(1, "\u00e9")).encode("utf-8")
    assert _utf8_over_charset(utf8, "text/xml; charset=shift_jis") == "text/xml; charset=shift_jis"
    assert _utf8_over_charset(utf8, "text/xml; charset=no-such-charset") == "text/xml; charset=no-such-charset"
    assert _utf8_over_charset(utf8, "text/xml") == "text/xml"
    assert _utf8_over_charset(utf8, None) is None
