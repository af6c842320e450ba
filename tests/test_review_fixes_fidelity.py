"""Fixes from a fidelity review of parsing: what a feed says reaches the store as a reader would read it.

* a UTF-8 feed served with a single-byte HTTP charset (windows-1252, latin-1, ...) is read as UTF-8 on both parse
  paths, and a body really in that charset still is read by it;
* categories and author names hold plain text on both paths (feedparser's loose parser left them escaped, and
  they were published escaped twice);
* an author string longer than MAX_AUTHOR_CHARS is cut without a dangling separator, and "…" says names were
  left out;
* an OPML file given as a source is called what it is, whatever its content type;
* (kept, documented) a document cut off inside its last entry leaves that entry out even when only its body was
  cut: the next, whole fetch brings it as new instead of as an edit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from feeds.fastparse import fast_parse
from feeds.parse import (
    MAX_AUTHOR_CHARS,
    ParseFailed,
    _utf8_over_charset,
    author_name,
    author_names,
    parse,
    parse_feedparser,
    person_names,
    plain_text,
)

URL = "https://news.example.org/feed.xml"
CORPUS = Path(__file__).parent / "data" / "corpus" / "real-feeds"


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


# -- 3. markup in categories and author names -------------------------------------------------------------------

def _people_doc(broken: bool) -> bytes:
    return (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            b"<channel><title>t" + (b"&nbsp;" if broken else b"") + b"</title><link>https://e.org/</link>"
            b"<item><title>x</title><link>https://e.org/1</link><guid>g1</guid>"
            b"<category>&lt;/category&gt;&lt;img src=x&gt;</category><category>A &amp; B</category>"
            b"<dc:creator>Eve &lt;i&gt;x&lt;/i&gt;</dc:creator></item>"
            b"<item><title>y</title><link>https://e.org/2</link><guid>g2</guid>"
            b"<category><![CDATA[<b>bold</b> & co]]></category><author>bob@x.org (Bob &amp; Ann)</author></item>"
            b"</channel></rss>")


EXPECTED_PEOPLE = [(("</category><img src=x>", "A & B"), ("Eve <i>x</i>",)), (("<b>bold</b> & co",), ("Bob & Ann",))]


def test_categories_and_names_are_plain_text_on_the_loose_path() -> None:
    """An ill-formed document (an undefined entity) is read by feedparser's loose parser, which leaves "&lt;" and
    "&amp;" in categories and names as written: publishing escaped them again ("&amp;lt;/category&amp;gt;")."""
    broken = _people_doc(True)
    assert fast_parse(broken, URL) is None
    got = parse(broken, URL)
    assert [(e.categories, e.authors) for e in got.entries] == EXPECTED_PEOPLE


def test_categories_and_names_agree_on_both_paths() -> None:
    good = _people_doc(False)
    fast = fast_parse(good, URL)
    assert fast is not None
    ref = parse_feedparser(good, URL)
    assert [(e.categories, e.authors) for e in fast.entries] == EXPECTED_PEOPLE
    assert [(e.categories, e.authors) for e in ref.entries] == EXPECTED_PEOPLE


def test_atom_category_terms_and_names_are_decoded_alike() -> None:
    doc = (b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
           b"<id>urn:t</id><updated>2024-01-01T00:00:00Z</updated><entry><title>e</title><id>urn:e</id>"
           b"<updated>2024-01-01T00:00:00Z</updated><author><name>Tom &amp;amp; Jerry</name></author>"
           b'<category term="a &amp;lt; b"/><category term="x" label="L"/></entry></feed>')
    fast = fast_parse(doc, URL)
    assert fast is not None
    ref = parse_feedparser(doc, URL)
    for p in (fast, ref):
        assert (p.entries[0].categories, p.entries[0].authors) == (("a < b", "x"), ("Tom & Jerry",))


# -- 4. a capped author string ------------------------------------------------------------------------------------

BIO_AUTHORS = ("Zhang, X., Wang, Y., Li, M., Chen, H., Bar-Joseph, Z., Walley, J., Solano, R., Ecker, J. R., "
               "Nery, J. R., Galuszka, P., Samaj, J., Strnad, M., Benkova, E., Plihal, O., Spichal, L., "
               "Krivosheev, D. M., Lomin, S. N., Romanov, G. A.")  # (as in RSParser/bio.rdf: 228 characters)


@pytest.mark.parametrize("text", [BIO_AUTHORS, "Ann Smith and " * 20, "A, " * 150, "Lee; " * 60, "Ann " + "x" * 300])
def test_a_long_author_string_is_cut_at_a_space_without_a_dangling_separator(text: str) -> None:
    name = author_name(text)
    assert len(name) <= MAX_AUTHOR_CHARS
    assert name.endswith("\u2026")
    assert not name[:-1].rstrip(".").endswith((",", ";", " ", "-", "&", " and"))
    assert text.startswith(name[:-1])
    assert author_names([name]) == (name,)  # publishing reads the stored name again: unchanged


def test_the_bio_rdf_case() -> None:
    assert len(BIO_AUTHORS) > MAX_AUTHOR_CHARS
    assert author_name(BIO_AUTHORS).endswith("Benkova, E., Plihal, O., Spichal, L., Krivosheev, D.\u2026")
    assert author_name(BIO_AUTHORS[:150]) == BIO_AUTHORS[:150].strip()
    assert author_name("x" * 500) == "x" * MAX_AUTHOR_CHARS  # (one word: only cut)


# -- 6. an OPML file as a source --------------------------------------------------------------------------------

OPML = (b'<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0"><head><title>Subs</title></head><body>'
        b'<outline text="A" type="rss" xmlUrl="https://a.example/feed.xml"/>'
        b'<outline text="Caf\xc3\xa9" type="rss" xmlUrl="https://b.example/feed.xml"/></body></opml>')


@pytest.mark.parametrize("content_type", [None, "application/octet-stream", "text/x-opml", "text/xml",
                                          "application/xml; charset=utf-8", "text/plain; charset=us-ascii"])
def test_an_opml_file_is_named_for_what_it_is(content_type: str | None) -> None:
    with pytest.raises(ParseFailed, match=r"an OPML subscription list, not a feed: add its feeds with `feeds import`"):
        parse(OPML, URL, content_type)
    with pytest.raises(ParseFailed, match="OPML"):
        parse(b"\xef\xbb\xbf<?xml version='1.0'?><x:opml xmlns:x='urn:x'><body/></x:opml>", URL, content_type)


def test_other_non_feeds_keep_their_messages() -> None:
    with pytest.raises(ParseFailed) as e:
        parse(b"<?xml version='1.0'?><catalog><book/></catalog>", URL, "application/xml")
    assert "OPML" not in str(e.value) and "<catalog>" in str(e.value)


# -- 5. a document cut off inside its last entry's body ----------------------------------------------------------

def test_an_entry_cut_in_its_body_is_left_out_and_arrives_whole_next_time() -> None:
    head = _rss(_item(1, "First")).replace("</channel></rss>", "")
    second = ("<item><title>Second</title><link>https://news.example.org/2</link><guid>n2</guid>"
              "<pubDate>Tue, 03 Jan 2023 10:00:00 +0000</pubDate><description>&lt;p&gt;Body &lt;img src=\"https://"
              "news.example.org/a.png\"&gt;&lt;/p&gt;</description></item>")
    cut = (head + second[:second.index("a.png")]).encode("utf-8")
    got = parse(cut, URL)
    assert [e.title for e in got.entries] == ["First"]
    whole = parse((head + second + "</channel></rss>").encode("utf-8"), URL)
    assert [e.title for e in whole.entries] == ["First", "Second"]



def test_only_references_ended_by_a_semicolon_are_decoded_in_categories_and_names() -> None:
    """(A diff review) html.unescape decoded "Cut&copy" as "Cut©" and "Bugs&notes" as "Bugs¬es"."""
    assert plain_text("Cut&copy") == "Cut&copy"
    assert plain_text("Bugs&notes") == "Bugs&notes"
    assert plain_text("A &amp; B &lt;i&gt; caf&#233;") == "A & B <i> café"
    assert person_names([("Cut&copy &amp; Co", None)]) == ("Cut&copy & Co",)
