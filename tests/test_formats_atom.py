"""The Atom renderer writes entries as text (feeds.formats.atom.entry_xml): its bytes must be exactly what
building the document with feedgen and serialising it with lxml gives (the reference path below, which
is how every document was rendered before), for every entry, however odd its text: markup characters,
quotes, tabs and newlines, non-ASCII, empty and blank values, missing links, many related links, several
authors, enclosure links with and without a type and a length."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.formats import atom
from feeds.formats.model import FeedInfo, Related, RenderEntry, entry_time, plain_time
from feeds.models import Enclosure

PROPS = settings(derandomize=True, max_examples=200, deadline=None, database=None)
T0 = 1_751_000_000


# -- the reference: feedgen + lxml, as the documents were rendered before entry_xml --------------------
def ref_feed(info: FeedInfo, entries: Sequence[RenderEntry], prev_archive: str | None = None) -> bytes:
    root = etree.fromstring(atom._generator(info, entries).atom_str(pretty=False))
    atom._finish(root, info, entries)
    if prev_archive:
        atom._insert_meta(root, [etree.Element(f"{atom._A}link", rel="prev-archive", type="application/atom+xml",
                                               href=prev_archive)])
    return atom._serialise(root)


def ref_snapshots(info: FeedInfo, entries: Sequence[RenderEntry]) -> list[str]:
    root = etree.fromstring(atom._generator(info, entries).atom_str(pretty=False))
    atom._finish(root, info, entries)
    return [etree.tostring(el, encoding="unicode") for el in root.iter(f"{atom._A}entry")]


def ref_archive_page(info: FeedInfo, snapshots: Sequence[str], *, current: str, prev_archive: str | None,
                     next_archive: str | None) -> bytes:
    root = etree.fromstring(atom._generator(info, []).atom_str(pretty=False))
    atom._finish(root, info, [])
    root = atom._with_fh_namespace(root)
    meta = [etree.Element(f"{{{atom.FH_NS}}}archive"),
            etree.Element(f"{atom._A}link", rel="current", type="application/atom+xml", href=current)]
    if prev_archive:
        meta.append(etree.Element(f"{atom._A}link", rel="prev-archive", type="application/atom+xml",
                                  href=prev_archive))
    if next_archive:
        meta.append(etree.Element(f"{atom._A}link", rel="next-archive", type="application/atom+xml",
                                  href=next_archive))
    atom._insert_meta(root, meta)
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    for snap in reversed(snapshots):
        root.append(etree.fromstring(snap.encode("utf-8"), parser))
    etree.cleanup_namespaces(root)
    return atom._serialise(root)


# -- entries ---------------------------------------------------------------------------------------
ODD = ["a & b", "<b>bold</b>", 'say "hi"', "it's", "tab\there", "line\nbreak", "cr\rhere", "crlf\r\n", "]]>",
       "é ü ß", "日本語", "emoji 😀", "\u00a0nbsp", "\u2028sep", "&amp;", "&#13;", "  spaced  ", " ", "", "\t",
       "x" * 300, "<![CDATA[x]]>", "<!-- c -->", "\x7f\x85", "\ufffd"]


def info(*, language: str | None = "en", hub: str | None = None, subtitle: str = "") -> FeedInfo:
    return FeedInfo(self_url="http://127.0.0.1:8080/news.atom", feed_id="http://127.0.0.1:8080/news.atom",
                    title="News & <more>", subtitle=subtitle, author="Desk", language=language,
                    html_url="http://127.0.0.1:8080/", hub=hub, updated=plain_time(T0), version="1.0")


def make_entry(r: random.Random, i: int) -> RenderEntry:
    def text(nonempty: bool = False) -> str:
        s = r.choice(ODD) + r.choice(["", " ", "x"]) + r.choice(ODD)
        return s if s.strip() or not nonempty else "t"

    related = [Related(text(True), text(True), r.choice([None, f"https://r{j}.example/a?x=1&y={text()}"]))
               for j in range(r.choice([0, 0, 1, 3]))]
    published = plain_time(T0 + r.randrange(0, 10_000))
    return RenderEntry(
        id=f"urn:uuid:{i}-{r.choice(['', '&', '<'])}", story_id=i, gen=r.choice([1, 1, 2]),
        title=text(True), link=r.choice([None, f"https://example.org/{i}?a=1&b='2'", "https://x.example/é"]),
        published=published, updated=entry_time(T0 + r.randrange(-100, 10_000), i, 1),
        authors=[a.strip() for a in r.choice([[], ["Ann"], [text()], ["Ann", text(), "", "Bo"]])],
        body_html=r.choice(["", "<p>body &amp; more</p>", text()]),
        categories=[c for c in (text() for _ in range(r.choice([0, 1, 2]))) if c.strip()],
        source_name=r.choice(["Wire", "", " ", text()]), source_link=r.choice([None, "https://src.example/?a&b"]),
        source_id=f"http://127.0.0.1:8080/sources/s{i}", source_updated=published - timedelta(seconds=5),
        related=related, enclosures=r.choice([
            [], [], [Enclosure(f"https://m.example/{i}.mp3?a=1&b={text()}", "audio/mpeg", r.choice([None, 1, 54_91]))],
            [Enclosure("https://m.example/x", "", None), Enclosure(f"https://m.example/é{i}.jpg", text(), 7)]]),
        language=r.choice([None, None, "ar", "pt-BR"]))


_R = random.Random(7)  # one generator for all: each entry draws its own shape
ENTRIES = [make_entry(_R, i) for i in range(400)]


def test_entries_match_feedgen_and_lxml() -> None:
    for e in ENTRIES:
        xml = atom.entry_xml(e)
        assert xml.snapshot == ref_snapshots(info(), [e])[0]
        assert xml.updated == e.updated


@pytest.mark.parametrize("kwargs", [{}, {"language": None, "hub": "https://hub.example/", "subtitle": "S & t"}])
def test_live_feed_matches_the_reference(kwargs: dict[str, object]) -> None:
    fi = info(**kwargs)  # type: ignore[arg-type]
    for start in range(0, len(ENTRIES), 50):
        chunk = ENTRIES[start:start + 50]
        assert atom.render_feed(fi, chunk) == ref_feed(fi, chunk)
        prev = "http://127.0.0.1:8080/archive/news/3.atom"
        assert atom.render_feed(fi, chunk, prev_archive=prev) == ref_feed(fi, chunk, prev)
    assert atom.render_feed(fi, []) == ref_feed(fi, [])


def test_archive_page_matches_the_reference() -> None:
    fi = info()
    links = {"current": fi.self_url, "prev_archive": "http://127.0.0.1:8080/archive/news/1.atom",
             "next_archive": "http://127.0.0.1:8080/archive/news/3.atom"}
    for start in range(0, len(ENTRIES), 100):
        chunk = ENTRIES[start:start + 100]  # oldest first, as stored
        snaps = [atom.entry_xml(e).snapshot for e in chunk]
        want = ref_archive_page(fi, snaps, **links)  # type: ignore[arg-type]
        assert atom.render_archive_page(fi, snaps, **links) == want  # type: ignore[arg-type]
        fresh = "".join(atom.entry_xml(e).archived for e in reversed(chunk))
        assert atom.render_archive_page(fi, [], indented=fresh, **links) == want  # type: ignore[arg-type]
        text, stamps = atom.indented_entries(snaps[::-1])
        assert text == fresh and stamps == [e.updated for e in reversed(chunk)]
    assert atom.render_archive_page(fi, [], current=fi.self_url, prev_archive=None, next_archive=None) == \
        ref_archive_page(fi, [], current=fi.self_url, prev_archive=None, next_archive=None)


@PROPS
@given(st.text(min_size=1), st.lists(st.text(), max_size=3), st.text(), st.lists(st.text(), max_size=2), st.booleans(),
       st.lists(st.tuples(st.text(), st.text(), st.one_of(st.none(), st.integers(1, 2**53))), max_size=2))
def test_any_text_matches_or_is_refused_alike(title: str, authors: list[str], source: str, cats: list[str],
                                              linked: bool, media: list[tuple[str, str, int | None]]) -> None:
    e = RenderEntry(id="urn:x", story_id=1, title=title, link="https://a.example/" if linked else None,
                    published=plain_time(T0), updated=plain_time(T0), authors=authors, body_html="",
                    categories=[c for c in cats if c.strip()], source_name=source, source_link=None,
                    source_id="http://127.0.0.1:8080/sources/x", source_updated=plain_time(T0),
                    related=[Related(source or "s", title, "https://b.example/")],
                    enclosures=[Enclosure(f"https://m.example/{path}", kind, length) for path, kind, length in media])
    try:
        want = ref_snapshots(info(), [e])[0]
    except ValueError:  # a character XML cannot carry: refused the same way
        with pytest.raises(ValueError):
            atom.entry_xml(e)
        return
    xml = atom.entry_xml(e)
    assert xml.snapshot == want
    assert atom.render_feed(info(), [e]) == ref_feed(info(), [e])
    page = dict(current="c:", prev_archive=None, next_archive=None)
    assert atom.render_archive_page(info(), [], indented=xml.archived, **page) == \
        ref_archive_page(info(), [xml.snapshot], **page)  # type: ignore[arg-type]


def test_updated_is_the_entry_time() -> None:
    e = ENTRIES[0]
    assert atom.entry_xml(e).updated == e.updated
    assert atom.snapshot_updated(atom.entry_xml(e).snapshot) == e.updated
    assert e.updated.tzinfo == UTC and isinstance(e.updated, datetime)
