"""Feed bytes -> ParsedFeed. feedparser is the reference parser; it never sees the network."""

from __future__ import annotations

import calendar
import contextlib
import html
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from feeds.models import Entry, ParsedFeed
from feeds.schedule import ttl_from_feed

_WS_RE = re.compile(r"\s+")
# Characters that are not allowed in XML 1.0 documents (we publish XML): C0 controls but tab/LF/CR,
# plus lone surrogates and the two non-characters.
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


# A numeric character reference to a code point no string can hold (a surrogate, or past U+10FFFF) makes
# feedparser's loose parser raise, which would lose the whole document for one bad reference.
_CHARREF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));?")


def _drop_impossible_charrefs(data: bytes) -> bytes:
    def repl(m: re.Match[bytes]) -> bytes:
        digits = (m.group(1) or m.group(2)).lstrip(b"0")
        if len(digits) > 8:
            return b""
        value = int(digits or b"0", 16 if m.group(1) else 10)
        return b"" if 0xD800 <= value <= 0xDFFF or value > 0x10FFFF else m.group(0)

    return _CHARREF.sub(repl, data) if b"&#" in data else data


class ParseFailed(Exception):
    """The bytes are not a feed feedparser can read (kept inside the parse boundary)."""


def clean_text(value: str) -> str:
    """Strip characters XML cannot carry and collapse whitespace."""
    # Common case first: every character XML cannot carry and every whitespace character but the space
    # is non-printable, so a printable string without a double space only needs its ends stripped.
    if value.isprintable() and "  " not in value:
        return value.strip()
    return _WS_RE.sub(" ", _XML_BAD.sub("", value)).strip()


def html_to_text(value: str) -> str:
    """Turn an HTML fragment (an HTML title) into one line of the text a reader sees: read as the summaries
    are (:func:`feeds.sanitize.visible_text`): words run on across inline tags ("H<sub>2</sub>O"), blocks and
    line breaks separate them, a "<" that opens no tag is text ("3 < 5"), entities decoded once, and a tag
    hides nothing ("Styling <select> boxes": no title holds a form or a script). Without a
    "<" (nearly every title) there is no markup to read: entities are only decoded."""
    if "<" not in value:
        return clean_text(html.unescape(value)) if "&" in value else clean_text(value)
    from feeds.sanitize import visible_text  # lxml, imported on the first title with markup

    return clean_text(visible_text(value, headline=True))


# Month names and abbreviations of the languages whose feeds write RFC 822 dates in their own words
# ("Seg, 24 Set 2018 19:42:40 -0300"): feedparser reads English names only, and such an item was taken as
# undated (its first-seen time: a 2018 article on top of the channel as if new). Portuguese, Spanish,
# French, Italian, German, Dutch; accents folded before lookup. A name two languages share means the same
# month in both; no name of one language is another month in another.
_LOCAL_MONTHS = {name: month for month, names in enumerate((
    ("jan", "janeiro", "ene", "enero", "janv", "janvier", "gen", "gennaio", "januar", "jaenner", "januari"),
    ("fev", "fevereiro", "feb", "febrero", "fevr", "fevrier", "febbraio", "februar", "februari"),
    ("mar", "marco", "marzo", "mars", "maerz", "marz", "mrz", "maart", "mrt"),
    ("abr", "abril", "avr", "avril", "apr", "aprile", "april"),
    ("mai", "maio", "may", "mayo", "mag", "maggio", "mei"),
    ("jun", "junho", "junio", "juin", "giu", "giugno", "juni"),
    ("jul", "julho", "julio", "juil", "juillet", "lug", "luglio", "juli"),
    ("ago", "agosto", "aout", "aug", "august", "augustus"),
    ("set", "setembro", "sep", "sept", "septiembre", "septembre", "settembre", "september"),
    ("out", "outubro", "oct", "octubre", "octobre", "ott", "ottobre", "okt", "oktober"),
    ("nov", "novembro", "noviembre", "novembre", "november"),
    ("dez", "dezembro", "dic", "diciembre", "dec", "decembre", "dicembre", "dezember", "december"),
), start=1) for name in names}
# matched against the text with its spaces collapsed (one space at most between parts: no backtracking over
# runs of white space) and at most _LOCAL_DATE_MAX characters long
_LOCAL_DATE = re.compile(
    r"(?:[^\W\d_]+\.?,? )?(\d{1,2})\.? ([^\W\d_]+)\.? (\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?"
    r"(?: ?(z|gmt|utc|ut|[+-]\d{2}:?\d{2}))?", re.IGNORECASE)
_LOCAL_DATE_MAX = 64


def localized_date(value: str) -> datetime | None:
    """An RFC 822 date written with another language's day and month names ("Seg, 24 Set 2018 19:42:40 -0300",
    "Mo, 03 Mär 2025 08:00:00 +0100", "mer. 5 févr. 2025 10:00 +0100"), as UTC; None for anything else. A
    zone left out is UTC. Only for what feedparser could not read."""
    value = " ".join(value.split())
    m = _LOCAL_DATE.fullmatch(value) if len(value) <= _LOCAL_DATE_MAX else None
    if m is None:
        return None
    d, name, y, hh, mi, ss, tz = m.groups()
    folded = unicodedata.normalize("NFKD", name.casefold())
    month = _LOCAL_MONTHS.get("".join(c for c in folded if not unicodedata.combining(c)))
    if month is None:
        return None
    offset = 0
    if tz and tz[0] in "+-":
        digits = tz[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 14 or minutes > 59:  # no zone is further from UTC
            return None
        offset = (hours * 60 + minutes) * (-1 if tz[0] == "-" else 1)
    try:
        if not 1900 <= int(y) <= 9000:
            return None
        stamp = datetime(int(y), month, int(d), int(hh), int(mi), int(ss or 0), tzinfo=UTC)
    except ValueError:
        return None
    return stamp - timedelta(minutes=offset)


def _dt(parsed: Any) -> datetime | None:
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def text_of(detail: tuple[str, str] | None, fallback: str) -> str:
    """Reduce a text construct to plain text: ``detail`` is (type, value) of the last one seen."""
    if detail is not None and detail[0] in ("text/html", "application/xhtml+xml"):
        return html_to_text(detail[1] or "")
    return clean_text(html.unescape(fallback)) if "&" in fallback else clean_text(fallback)


def _text_of(detail: Any, fallback: str) -> str:
    """feedparser gives text constructs with a type; reduce them to plain text."""
    if isinstance(detail, dict):
        return text_of((str(detail.get("type") or ""), detail.get("value", "") or ""), fallback)
    return text_of(None, fallback)


def _local(raw: Any) -> datetime | None:
    return localized_date(raw.strip()) if isinstance(raw, str) and raw.strip() else None


def _entry(e: Any) -> Entry:
    title = _text_of(e.get("title_detail"), e.get("title", "") or "")
    summary = _XML_BAD.sub("", e.get("summary", "") or "")
    content = ""
    for c in e.get("content", None) or ():
        value = c.get("value", "") if isinstance(c, dict) else ""
        if value:
            content = _XML_BAD.sub("", value)
            break
    if summary and content and summary == content:
        content = ""
    cats: list[str] = []
    for t in e.get("tags", None) or ():
        term = clean_text((t.get("term") or t.get("label") or "") if isinstance(t, dict) else "")
        if term and term not in cats:
            cats.append(term)
    guid = clean_text(e.get("id", "") or "") or None
    link = clean_text(e.get("link", "") or "") or None
    author = clean_text(e.get("author", "") or "")
    # FeedParserDict answers a missing updated_parsed with published_parsed (and a warning); a date feedparser
    # could not read may be one in another language's words (as the fast path's parse_date falls back too)
    published = _dt(e.get("published_parsed")) or _local(dict.get(e, "published"))
    if dict.__contains__(e, "updated"):
        updated = _dt(e.get("updated_parsed")) or _local(dict.get(e, "updated"))
    else:
        updated = published
    return Entry(
        guid=guid,
        link=link,
        title=title,
        summary=summary.strip(),
        content=content.strip(),
        author=author,
        categories=tuple(cats),
        published=published or updated,
        updated=updated,
    )


def parse_feedparser(data: bytes, url: str = "", content_type: str | None = None) -> ParsedFeed:
    """Parse with feedparser; raises ParseFailed when the bytes hold no feed at all."""
    import feedparser  # imported lazily: keeps `feeds --help` fast

    headers: dict[str, str] = {}
    if url:
        headers["content-location"] = url
    if content_type:
        headers["content-type"] = content_type
    data = _drop_impossible_charrefs(data)
    d = feedparser.parse(data, response_headers=headers, sanitize_html=True, resolve_relative_uris=True)
    if not d.get("version") and not d.entries:
        exc = d.get("bozo_exception")
        if exc is not None:
            raise ParseFailed(f"not a feed ({type(exc).__name__}: {exc})")
        from feeds.discover import root_element

        root = root_element(data)
        raise ParseFailed(f"not a feed (a document whose root element is <{root}>, not RSS, Atom or RDF)" if root
                          else "not a feed (no RSS, Atom, RDF or JSON Feed in it)")
    feed = d.get("feed", {})
    entries = tuple(_entry(e) for e in d.entries)
    bozo = None
    if d.get("bozo"):
        exc = d.get("bozo_exception")
        bozo = f"{type(exc).__name__}: {exc}"[:300]
    return ParsedFeed(
        title=_text_of(feed.get("title_detail"), feed.get("title", "") or ""),
        link=clean_text(feed.get("link", "") or ""),
        entries=entries,
        ttl_seconds=ttl_from_feed(feed.get("ttl"), feed.get("sy_updateperiod"), feed.get("sy_updatefrequency")),
        bozo=bozo,
    )


def parse(data: bytes, url: str = "", content_type: str | None = None) -> ParsedFeed:
    """The one entry point the pipeline calls: the fast extractor, else feedparser; JSON Feed apart.

    :func:`feeds.fastparse.fast_parse` handles ordinary well-formed RSS/Atom/RDF documents and gives
    the same ids, titles, links and dates as feedparser; for anything else (ill-formed XML, DOCTYPEs,
    unusual encodings or constructs) it returns None and feedparser parses the bytes. A document that
    starts with a JSON object (no XML feed does) is read as JSON Feed (:mod:`feeds.jsonparse`), which
    feedparser does not read; if it is no JSON Feed but holds markup further on, the XML path gets it.
    """
    from feeds.jsonparse import looks_like_json, parse_json_feed

    if looks_like_json(data):
        try:
            return parse_json_feed(data, url)
        except ParseFailed:
            if b"<" in data:  # no JSON Feed, but markup further on: what an XML parser finds there, if any
                with contextlib.suppress(ParseFailed):
                    got = _parse_xml(data, url, content_type)
                    if got.entries:
                        return got
            raise  # else the JSON complaint
    return _parse_xml(data, url, content_type)


def _parse_xml(data: bytes, url: str, content_type: str | None) -> ParsedFeed:
    from feeds.fastparse import fast_parse

    fast = fast_parse(data, url, content_type)
    if fast is not None:
        return fast
    return parse_feedparser(data, url, content_type)


__all__ = ["ParseFailed", "clean_text", "html_to_text", "parse", "parse_feedparser", "text_of"]
