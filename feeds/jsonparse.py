"""JSON Feed (https://www.jsonfeed.org/version/1.1/, and version 1) bytes -> ParsedFeed.

feedparser does not read JSON Feed, so this reader follows the specification itself, field by field,
into the same Entry the RSS/Atom paths give:

* guid: the item's ``id`` (a number is turned into its string, as the specification asks of readers);
  an item without one is kept (the specification would discard it) and identified as an RSS item
  without a guid is, by its link or title, and ``bozo`` counts it; link: ``url``, else
  ``external_url``, resolved against the document's URL if relative (a malformed URL is no link);
* title: ``title`` as plain text, HTML entities decoded (feeds in the wild write ``&#8217;``); "" for
  an untitled post, which JSON Feed allows;
* summary: ``summary`` (plain text by the specification) escaped as HTML, unless it holds markup
  (WordPress excerpts do) by the RSS path's guess after feedparser, then kept as HTML; content:
  ``content_html`` (kept as the fast XML path keeps HTML: unsafe characters removed, sanitised when
  published), else ``content_text`` escaped, a paragraph per blank-line-separated block; as on the RSS
  path the content copies into an empty summary, so an untitled post's text reaches channel rules and stories;
* authors: the names of the item's authors (``authors``, or version 1's ``author``), else of the feed's
  (the specification's inheritance), without e-mail addresses (feeds.parse.author_names); categories:
  ``tags``;
* enclosures: ``attachments`` (``url`` resolved as a link is, ``mime_type``, ``size_in_bytes``); image:
  ``image``, else the first image attachment (feeds.parse.entry_media: http(s) only, bounded);
* published / updated: ``date_published`` / ``date_modified`` (RFC 3339), published falling back to
  updated as on the other paths.

A field of the wrong type is ignored (and named in ``bozo``), an item that is not an object is skipped;
a document that is not JSON, or JSON that is not a JSON Feed (no jsonfeed.org ``version``, or ``items``
not a list), raises ParseFailed, so the source fails cleanly and the others go on.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from feeds.models import Entry, ParsedFeed

_C1 = re.compile("[\x80-\x9f]")
_VERSION_PREFIXES = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")


def looks_like_json(data: bytes) -> bool:
    """Whether the bytes start (after whitespace and a byte-order mark, in any encoding JSON allows:
    UTF-8, -16 or -32, as json.loads detects it) with a JSON object: an XML feed never does, so this
    decides the JSON path without parsing anything."""
    head = data[:512]
    try:
        text = head.decode(json.detect_encoding(head), "ignore")
    except LookupError:
        return False
    return text.lstrip("\ufeff \t\r\n").startswith("{")


def _id(value: Any) -> str:
    """An item's id as a string: the specification asks readers to turn a number into one."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return str(value)
    return ""


def _c1(value: str) -> str:
    """C1 controls (U+0080-U+009F) mapped to their cp1252 characters, as the XML paths map them (feedparser
    does): they are cp1252 text read as Latin-1 before it was written as JSON, so "\u0080" is "€" in every
    format rather than a control character that XML documents should not carry."""
    if value.isascii() or not _C1.search(value):
        return value
    from feeds.fastparse import _CP1252

    return value.translate(_CP1252)


def _authors(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """The authors' names: ``authors`` (1.1), then ``author`` (1); see feeds.parse.author_names."""
    from feeds.parse import author_names

    authors = obj.get("authors")
    candidates = authors if isinstance(authors, list) else []
    one = obj.get("author")
    if isinstance(one, dict):
        candidates = [*candidates, one]
    return author_names(_c1(n) if isinstance(n := a.get("name"), str) else n
                        for a in candidates if isinstance(a, dict))


def _attachments(item: Mapping[str, Any]) -> list[tuple[object, object, object]]:
    """An item's attachments as (url, mime_type, size_in_bytes), what feeds.parse.entry_media reads."""
    attachments = item.get("attachments")
    return [(a.get("url"), a.get("mime_type"), a.get("size_in_bytes"))
            for a in (attachments if isinstance(attachments, list) else ()) if isinstance(a, dict)]


def _text_html(text: str) -> str:
    """Plain text as HTML: escaped, a paragraph per block separated by a blank line."""
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n")]
    return "".join(f"<p>{html.escape(b)}</p>" for b in blocks if b)


def _resolved(fragment: str, base: str) -> str:
    """HTML with its relative links made absolute against base (sanitised: that is what resolves them;
    the sanitiser never raises)."""
    from feeds.sanitize import URL_ATTRS, sanitize_html

    low = fragment.lower()
    if "<" not in low or not any(a in low for a in URL_ATTRS):
        return fragment
    return sanitize_html(fragment, base)


def parse_json_feed(data: bytes, url: str = "") -> ParsedFeed:
    """Parse a JSON Feed document; raises feeds.parse.ParseFailed when the bytes hold none."""
    from feeds.fastparse import _looks_like_html, parse_date
    from feeds.parse import _XML_BAD, ParseFailed, clean_text, entry_media

    try:
        doc = json.loads(data, strict=False)  # a raw control character in a string is read
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise ParseFailed(f"not a feed (invalid JSON: {str(e)[:200]})") from e
    if not isinstance(doc, dict):
        raise ParseFailed("not a feed (JSON that is not an object)")
    version = doc.get("version")
    if not isinstance(version, str) or not version.startswith(_VERSION_PREFIXES):
        raise ParseFailed("not a feed (JSON without a jsonfeed.org version)")
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseFailed("not a feed (JSON Feed whose items is not a list)")
    problems: list[str] = []

    def field(obj: Mapping[str, Any], key: str, where: str) -> str:
        value = obj.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            problems.append(f"{where}{key} is not a string")
            return ""
        return _c1(value)

    base = url or clean_text(field(doc, "feed_url", ""))
    try:  # a malformed feed_url is no base ("http://[::1", control characters)
        if base and not urlsplit(base).netloc:
            base = ""
    except ValueError:
        base = ""

    def link_of(value: str) -> str | None:
        value = clean_text(value)
        if not value:
            return None
        try:  # a malformed URL ("http://[::1"), or base, is no link (urljoin parses both); the item stays
            if not urlsplit(value).scheme and base:
                value = urljoin(base, value)
        except ValueError:
            problems.append("a URL is malformed")
            return None
        return value

    feed_authors = _authors(doc)
    entries = []
    skipped = no_id = 0
    for item in items:
        if not isinstance(item, dict):
            skipped += 1
            continue
        summary_text = field(item, "summary", "item ").strip()
        content_html = field(item, "content_html", "item ")
        content_text = field(item, "content_text", "item ")
        # plain text by the specification, but feeds in the wild (WordPress excerpts) put HTML or entities in
        # it: kept as HTML (sanitised when published) when feedparser's guess for RSS text says so
        summary = _XML_BAD.sub("", summary_text if _looks_like_html(summary_text) else
                               html.escape(summary_text, quote=False))
        content = _XML_BAD.sub("", content_html.strip() or _text_html(content_text))
        if not summary:  # as on the RSS path: the content copies into an empty summary
            summary, content = content, ""
        elif summary == content:
            content = ""
        tags = item.get("tags")
        cats: list[str] = []
        for t in tags if isinstance(tags, list) else ():
            term = clean_text(_c1(t)) if isinstance(t, str) else ""
            if term and term not in cats:
                cats.append(term)
        updated = parse_date(field(item, "date_modified", "item ").strip())
        guid = clean_text(_id(item.get("id"))) or None
        if guid is None:  # the specification discards such an item; it is kept, identified as RSS items are
            no_id += 1
        title = clean_text(field(item, "title", "item "))
        own = link_of(field(item, "url", "item "))
        if own is None and base:
            # publishing resolves relative links in the HTML against the item's link; without a url of its
            # own that is the external_url, another site (a linkblog's post): resolve them here, against the
            # feed, whose page the HTML was written for (the sanitiser does it; publishing sanitises again)
            summary, content = _resolved(summary, base), _resolved(content, base)
        link = own or link_of(field(item, "external_url", "item "))
        enclosures, image = entry_media(_attachments(item), (), (), item.get("image"), base or link)
        entries.append(Entry(
            guid=guid,
            link=link,
            title=clean_text(html.unescape(title)) if "&" in title else title,  # entities seen in the wild
            summary=summary,
            content=content,
            authors=_authors(item) or feed_authors,
            categories=tuple(cats),
            published=parse_date(field(item, "date_published", "item ").strip()) or updated,
            updated=updated,
            enclosures=enclosures,
            image=image,
        ))
    if skipped:
        problems.append("1 item is not an object" if skipped == 1 else f"{skipped} items are not objects")
    if no_id:
        problems.append("1 item has no id" if no_id == 1 else f"{no_id} items have no id")
    feed_title = field(doc, "title", "")
    home = link_of(field(doc, "home_page_url", "")) or ""
    bozo = f"JSON Feed: {'; '.join(sorted(set(problems)))}"[:300] if problems else None
    return ParsedFeed(title=clean_text(html.unescape(feed_title) if "&" in feed_title else feed_title), link=home,
                      entries=tuple(entries), bozo=bozo)


__all__ = ["looks_like_json", "parse_json_feed"]
