"""The fast extractor agrees with feedparser on real feeds.

tests/data/corpus holds a copy of part of the shared corpus (see its README); for every file where
:func:`feeds.fastparse.fast_parse` returns a result, the ids, titles, links and dates of every entry
(and, stricter than required, authors, categories, enclosures and thumbnails, feed title/link/ttl) must equal what
:func:`feeds.parse.parse_feedparser` gives, in the same order. The full shared corpus is checked with
``python3 -m feeds.fastparse --check ../shared/corpus`` (see docs/parsing.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from feeds.fastparse import fast_parse
from feeds.models import ParsedFeed
from feeds.parse import ParseFailed, parse, parse_feedparser

CORPUS = Path(__file__).parent / "data" / "corpus"
FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and not p.name.startswith(("LICENSE", "README")))
URL = "https://example.com/feeds/main.xml"


def _key(p: ParsedFeed) -> list[tuple[object, ...]]:
    return [(e.guid, e.title, e.link, e.published, e.updated) for e in p.entries]


def _extra(p: ParsedFeed) -> tuple[object, ...]:
    return (p.title, p.link, p.ttl_seconds, p.language,
            [(e.authors, e.categories, e.enclosures, e.image) for e in p.entries])


def test_corpus_is_present() -> None:
    assert len(FILES) > 100
    for path in FILES:
        rel = path.relative_to(CORPUS).parts
        source = CORPUS / rel[0] / rel[1] if rel[0] == "real-feeds" else CORPUS / rel[0]
        assert (source / "LICENSE").exists(), f"{path}: copied without its source's LICENSE"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_fast_path_matches_feedparser(path: Path) -> None:
    data = path.read_bytes()
    fast = fast_parse(data, URL)
    if fast is None:
        return  # the fast path declined: parse() falls back to feedparser, nothing to compare
    ref = parse_feedparser(data, URL)
    assert len(fast.entries) == len(ref.entries)
    assert _key(fast) == _key(ref)
    assert _extra(fast) == _extra(ref)
    assert fast.bozo == ref.bozo


@pytest.mark.parametrize("url,content_type", [
    ("", None),
    (URL, "application/rss+xml; charset=utf-8"),
    (URL, "text/xml"),
    (URL, "text/html; charset=UTF-8"),
])
def test_other_header_combinations(url: str, content_type: str | None) -> None:
    """The encoding/base decisions depend on the headers: check a sample under other headers too."""
    compared = 0
    for path in FILES[::10]:
        data = path.read_bytes()
        fast = fast_parse(data, url, content_type)
        if fast is None:
            continue
        ref = parse_feedparser(data, url, content_type)
        assert _key(fast) == _key(ref), path
        assert _extra(fast) == _extra(ref), path
        compared += 1
    assert compared > 3


def test_fast_path_coverage() -> None:
    """Most real feeds must take the fast path, or the speed target is lost."""
    fast = [p for p in FILES if fast_parse(p.read_bytes(), URL) is not None]
    assert len(fast) >= 80, len(fast)


def test_parse_never_differs_from_reference_on_fallbacks() -> None:
    """Where the fast path declines, parse() is exactly parse_feedparser()."""
    for path in FILES:
        data = path.read_bytes()
        if fast_parse(data, URL) is not None:
            continue
        try:
            ref = parse_feedparser(data, URL)
        except ParseFailed:
            with pytest.raises(ParseFailed):
                parse(data, URL)
            continue
        assert parse(data, URL) == ref
        break  # one is enough: the rest is feedparser's speed
