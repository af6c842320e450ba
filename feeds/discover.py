"""Feed autodiscovery: a web page given as a source names its feed in ``<link rel="alternate">``.

A reader moving from another aggregator often gives a site's address, not its feed's. What every reader
does then, feeds does too: a fetched body that is an HTML page (its first element is ``<html>``, whatever
the Content-Type says: a feed served as ``text/html`` is still read as a feed) is searched for
``<link rel="alternate" type="application/rss+xml" href="...">`` (Atom, RSS 1.0 and JSON Feed types as
well), the first feed it names is fetched instead, and the source is fetched there from then on. A site's
comments feed (WordPress lists it second) is taken only when the page names no other.

Pure: bytes in, URLs out; the fetching is the pipeline's (`feeds.run`).
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

# The media types a feed link carries (RSS 1.0 is RDF). Plain application/json is left out: WordPress
# names its REST API that way on every page.
FEED_TYPES = frozenset({
    "application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json",
    "application/x.atom+xml", "application/x-atom+xml",
})

# Everything before the first element: a BOM, white space, an XML declaration, comments, a doctype,
# processing instructions. Bounded so a hostile prefix costs little.
_PROLOGUE = re.compile(rb"(?:\s+|<\?.*?\?>|<!--.*?-->|<![A-Za-z][^>]*>)*", re.S)
_FIRST_TAG = re.compile(rb"<([A-Za-z][A-Za-z0-9:_.-]*)")
_SNIFF = 4096
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


def root_element(body: bytes) -> str | None:
    """The name of a markup document's first element (after its prologue), as written; None if none
    is found in its first few kilobytes."""
    head = body[:_SNIFF]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    m = _PROLOGUE.match(head)
    first = _FIRST_TAG.match(head[m.end():] if m else head)
    return first.group(1).decode("ascii", "replace")[:64] if first else None


def is_html_page(body: bytes) -> bool:
    """Whether the document's first element is ``<html>`` (or it opens with an HTML doctype): an HTML
    page, not a feed. A feed whose server calls it text/html starts with ``<rss>``, ``<feed>`` or
    ``<rdf:RDF>`` and is not one."""
    head = body[:_SNIFF]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    elif head[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16: decode the head only
        try:
            head = head.decode("utf-16").encode("utf-8", "replace")
        except UnicodeDecodeError:
            return False
    stripped = head.lstrip()
    if stripped[:14].lower() == b"<!doctype html":
        return True
    m = _PROLOGUE.match(head)
    rest = head[m.end():] if m else head
    first = _FIRST_TAG.match(rest)
    return first is not None and first.group(1).lower() == b"html"


def feed_links(body: bytes, page_url: str) -> list[str]:
    """The feeds an HTML page names (``<link rel="alternate" type=FEED_TYPES href>``), absolute (against
    the page's ``<base href>`` if it has one, else ``page_url``), http(s) only, each once, in the page's
    order but comments feeds last."""
    import lxml.html  # imported only when a page is met

    # a page that declares no charset is read as Latin-1 by lxml: one that decodes as UTF-8 is given as text
    # (most pages are UTF-8; an href with "é" came out as "Ã©"), any other as bytes (its own declaration)
    markup: str | bytes = body
    if b"charset" not in body[:_SNIFF].lower():
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
        else:
            markup = _XML_DECL.sub("", text, count=1)  # lxml refuses text with an encoding declaration
    try:
        doc = lxml.html.document_fromstring(markup)
    except (ValueError, TypeError, lxml.etree.ParserError):
        return []
    base = page_url
    for b in doc.iter("base"):  # HTML: the first base element with an href (one giving a target alone is not it)
        if b.get("href") is None:
            continue
        href = b.get("href", "").strip()
        if href:
            try:
                base = urljoin(page_url, href)
                urlsplit(base)
            except ValueError:  # "http://[oops/": no base, the page's own address
                base = page_url
        break
    found: list[tuple[bool, str]] = []
    seen: set[str] = set()
    for link in doc.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" not in rels or kind not in FEED_TYPES or not href:
            continue
        try:
            url = urljoin(base, href)
            scheme = urlsplit(url).scheme
        except ValueError:
            continue
        if scheme not in ("http", "https") or url in seen:
            continue
        seen.add(url)
        title = (link.get("title") or "").lower()
        found.append(("comment" in title or "/comments/" in url.lower(), url))
    return [url for _, url in sorted(found, key=lambda f: f[0])]  # stable: the page's order otherwise


__all__ = ["FEED_TYPES", "feed_links", "is_html_page", "root_element"]
