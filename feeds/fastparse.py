"""Fast lxml-based feed extractor that reproduces feedparser's results for ordinary feeds.

:func:`fast_parse` turns RSS 0.9x/2.0, RSS 1.0 (RDF) and Atom 0.3/1.0 bytes into the same
:class:`~feeds.models.ParsedFeed` that :func:`feeds.parse.parse_feedparser` builds, or returns
``None`` when the document is anything it cannot reproduce exactly (ill-formed XML, a DOCTYPE,
an encoding feedparser would guess at, base64 content, nested entries, ...). The caller then
falls back to feedparser. It never raises.

How it stays equivalent: feedparser is a SAX-style state machine. This module walks the lxml tree
in document order and re-implements, from the observed behaviour of feedparser 6, only the parts
of that machine that decide ids, titles, links, dates, authors, categories, summaries and the
scheduler hints (element-name mapping by namespace, xml:base tracking, the ``title_depth`` and
per-property depth rules, guid-as-link, author-detail syncing, tag merging, the latin-1/cp1252
text repairs). Whenever it meets a construct whose effect it does not model it bails out.

Deliberate differences (see docs/parsing.md): ``summary``/``content`` hold the feed's own HTML
(XML-unsafe characters removed), not feedparser's sanitised copy; the pipeline sanitises with
:func:`feeds.sanitize.sanitize_html` when it publishes. HTML *titles* containing markup or
entities go through feedparser's own sanitiser so titles stay identical; both paths then read the text
a reader sees in them (:func:`feeds.parse.text_of`).

``python3 -m feeds.fastparse --check DIR...`` compares the fast path with feedparser on files.
"""

from __future__ import annotations

import contextlib
import html
import re
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlparse

from feeds.models import Entry, ParsedFeed
from feeds.parse import (
    _XML_BAD,
    CJK_LIKE,
    cjk_date,
    clean_text,
    entry_media,
    language_tag,
    localized_date,
    person_names,
    plain_text,
    text_of,
)

__all__ = ["fast_parse", "parse_date", "main"]


MAX_ATTRS = 256  # attributes of one element read by the walk (the rest of a hostile list is ignored)


class _Bail(Exception):
    """Internal: the document uses something this extractor does not reproduce."""


# --------------------------------------------------------------------------------------------
# Namespaces: feedparser names elements by a canonical prefix per known namespace URI.

_CORE = (
    "", "http://backend.userland.com/rss", "http://blogs.law.harvard.edu/tech/rss", "http://purl.org/rss/1.0/",
    "http://my.netscape.com/rdf/simple/0.9/", "http://example.com/newformat#", "http://example.com/necho",
    "http://purl.org/echo/", "uri/of/echo/namespace#", "http://purl.org/pie/", "http://purl.org/atom/ns#",
    "http://www.w3.org/2005/Atom", "http://purl.org/rss/1.0/modules/rss091#",
)
_PREFIXED = {
    "admin": "http://webns.net/mvcb/",
    "ag": "http://purl.org/rss/1.0/modules/aggregation/",
    "annotate": "http://purl.org/rss/1.0/modules/annotate/",
    "audio": "http://media.tangent.org/rss/1.0/",
    "blogChannel": "http://backend.userland.com/blogChannelModule",
    "cc": "http://creativecommons.org/ns#license http://web.resource.org/cc/",
    "creativeCommons": "http://cyber.law.harvard.edu/rss/creativeCommonsRssModule.html "
                       "http://backend.userland.com/creativeCommonsRssModule",
    "co": "http://purl.org/rss/1.0/modules/company",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "cp": "http://my.theinfo.org/changed/1.0/rss/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "email": "http://purl.org/rss/1.0/modules/email/",
    "ev": "http://purl.org/rss/1.0/modules/event/",
    "feedburner": "http://rssnamespace.org/feedburner/ext/1.0",
    "fm": "http://freshmeat.net/rss/fm/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "geo": "http://www.w3.org/2003/01/geo/wgs84_pos#",
    "georss": "http://www.georss.org/georss",
    "gml": "http://www.opengis.net/gml",
    "icbm": "http://postneo.com/icbm/",
    "image": "http://purl.org/rss/1.0/modules/image/",
    "itunes": "http://www.itunes.com/DTDs/PodCast-1.0.dtd http://example.com/DTDs/PodCast-1.0.dtd",
    "l": "http://purl.org/rss/1.0/modules/link/",
    "media": "http://search.yahoo.com/mrss http://search.yahoo.com/mrss/",
    "pingback": "http://madskills.com/public/xml/rss/module/pingback/",
    "prism": "http://prismstandard.org/namespaces/1.2/basic/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "ref": "http://purl.org/rss/1.0/modules/reference/",
    "reqv": "http://purl.org/rss/1.0/modules/richequiv/",
    "search": "http://purl.org/rss/1.0/modules/search/",
    "slash": "http://purl.org/rss/1.0/modules/slash/",
    "soap": "http://schemas.xmlsoap.org/soap/envelope/",
    "ss": "http://purl.org/rss/1.0/modules/servicestatus/",
    "str": "http://hacks.benhammersley.com/rss/streaming/",
    "sub": "http://purl.org/rss/1.0/modules/subscription/",
    "sy": "http://purl.org/rss/1.0/modules/syndication/",
    "szf": "http://schemas.pocketsoap.com/rss/myDescModule/",
    "taxo": "http://purl.org/rss/1.0/modules/taxonomy/",
    "thr": "http://purl.org/rss/1.0/modules/threading/",
    "ti": "http://purl.org/rss/1.0/modules/textinput/",
    "trackback": "http://madskills.com/public/xml/rss/module/trackback/",
    "wfw": "http://wellformedweb.org/commentAPI/",
    "wiki": "http://purl.org/rss/1.0/modules/wiki/",
    "xhtml": "http://www.w3.org/1999/xhtml",
    "xlink": "http://www.w3.org/1999/xlink",
    "xml": "http://www.w3.org/XML/1998/namespace",
    "psc": "http://podlove.org/simple-chapters",
}
_NS: dict[str, str] = {uri.lower(): "" for uri in _CORE}
for _p, _uris in _PREFIXED.items():
    for _u in _uris.split():
        _NS[_u.lower()] = _p
_ATOM10 = "http://www.w3.org/2005/atom"
_RSS10 = "http://purl.org/rss/1.0/"
_RSS090 = "http://my.netscape.com/rdf/simple/0.9/"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_XML_NS = "http://www.w3.org/XML/1998/namespace"

# Element names (after mapping) and what they are to feedparser.
_TITLE = frozenset({"title", "dc:title", "media:title"})
_LINK = "link"
_GUID = frozenset({"guid", "id"})
_PUBLISHED = frozenset({"pubdate", "published", "issued", "dcterms:issued"})
_UPDATED = frozenset({"updated", "modified", "lastbuilddate", "dc:date", "dcterms:modified"})
_AUTHOR = frozenset({"author", "managingeditor", "dc:author", "dc:creator", "itunes:author"})
_CATEGORY = frozenset({"category", "keywords", "dc:subject", "media:category"})
_KEYWORDS = frozenset({"media:keywords", "itunes:keywords"})
_DESCRIPTION = frozenset({"description", "dc:description", "media:description"})
_SUMMARY = frozenset({"summary", "itunes:summary"})
_CONTENT_ENCODED = frozenset({"content:encoded", "fullitem"})
_BODY = frozenset({"body", "xhtml:body"})
# text constructs feedparser keeps elsewhere: their children are markup, never dispatched
_OTHER_CONTENT = frozenset({
    "subtitle", "tagline", "itunes:subtitle", "rights", "copyright", "dc:rights", "info",
    "feedburner:browserfriendly",
})
# elements whose subtree never reaches the fields we produce (handled by feedparser elsewhere)
_SKIP_SUBTREE = frozenset({
    "contributor", "dc:contributor", "generator", "created", "dcterms:created", "expirationdate",
    "webmaster", "dc:publisher", "cloud", "media:rating", "media:credit",
    "media:restriction", "media:license", "media:player", "psc:chapters", "cc:license",
    "creativecommons:license", "admin:generatoragent", "admin:errorreportsto", "itunes:block",
    "itunes:explicit", "itunes:image", "itunes:link", "dcterms:valid", "newlocation", "enclosure",
})
_SOURCE_FORBIDDEN = frozenset({"item", "entry", "image", "textinput", "source", "content", "content:encoded",
                               "fullitem", "summary", "itunes:summary", "description", "dc:description",
                               "media:description", "body", "xhtml:body", "abstract"})
_PERSON_PARTS = ("name", "email", "uri", "url", "homepage")
_IMAGE_OK = frozenset({"title", "link", "description", "url", "href", "width", "height"})
_TEXTINPUT_OK = frozenset({"title", "link", "description", "name"})
# keys an unknown element must not land on (feedparser would overwrite something we read)
_BAD_KEYS = frozenset({
    "id", "guid", "link", "links", "title", "title_detail", "author", "authors", "author_detail", "summary",
    "summary_detail", "description", "content", "tags", "category", "published", "updated", "source",
    "image", "textinput", "guidislink",
    # names FeedParserDict's keymap reads as others: an unknown <date> is feedparser's `updated`, read by
    # parse._entry through its localized dates (a review)
    "date", "modified", "issued",
})
_HANDLED = (_TITLE | _GUID | _PUBLISHED | _UPDATED | _AUTHOR | _CATEGORY | _KEYWORDS | _DESCRIPTION | _SUMMARY
            | _CONTENT_ENCODED | _BODY | _OTHER_CONTENT | _SKIP_SUBTREE
            | {"link", "item", "entry", "itunes:category", "tags", "abstract", "content", "channel", "feed", "image",
               "textinput", "source", "name", "email", "uri", "url", "homepage", "media:thumbnail", "itunes:owner",
               "rss", "rdf:rdf", "media:group", "media:content", "itunes:name", "itunes:email"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_REL_URI = frozenset({"comments", "docs", "href", "icon", "id", "link", "logo", "url", "wfw_comment",
                      "wfw_commentrss"})

# --------------------------------------------------------------------------------------------
# Text repairs feedparser applies to every value it stores.

_CP1252: dict[int, str] = {}
for _i in range(0x80, 0xA0):
    with contextlib.suppress(UnicodeDecodeError):
        _CP1252[_i] = bytes([_i]).decode("cp1252")
_C1 = re.compile("[\x80-\x9f]")


# Can a document's text hold a C1 control at all? (UTF-8 C2 80-9F, a latin-1 byte 80-9F, or a
# character reference to 128-159.) One bytes scan saves scanning every big text value.
# (Separate patterns: each keeps a literal prefix, which the regex engine scans for quickly.)
_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")
_C1_LATIN1 = re.compile(rb"[\x80-\x9f]")
_C1_REF = re.compile(rb"&#(?:0*1(?:2[89]|[34][0-9]|5[0-9])|[xX]0*[89][0-9a-fA-F]);")


def _repair(value: str, c1: bool = True) -> str:
    """Undo UTF-8-read-as-latin-1 and map C1 controls to their cp1252 characters."""
    if value.isascii():
        return value
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        fixed = value.encode("iso-8859-1").decode("utf-8")
        value, c1 = _XML_BAD.sub("", fixed), True
    if c1 and _C1.search(value):
        value = value.translate(_CP1252)
    return value


# --------------------------------------------------------------------------------------------
# URLs

_SAFE_SCHEMES = frozenset({
    "file", "ftp", "gopher", "h323", "hdl", "http", "https", "imap", "magnet", "mailto", "mms", "news",
    "nntp", "prospero", "rsync", "rtsp", "rtspu", "sftp", "shttp", "sip", "sips", "snews", "svn", "svn+ssh",
    "telnet", "wais", "aim", "callto", "cvs", "facetime", "feed", "git", "gtalk", "irc", "ircs", "irc6", "itms",
    "msnim", "skype", "ssh", "smb", "ymsg",
})
_EXTRA_SLASHES = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)")
_join_cache: dict[tuple[str, str], str] = {}


# An absolute http(s) URL that urljoin would hand back unchanged (lower-case scheme, plain ASCII
# host, no path parameters, no empty query/fragment, no whitespace or controls, no extra slashes).
_PLAIN_URL = re.compile(r"https?://[!$&'()*+,\-.0-9:=@A-Z_a-z~%]+(?:/[^\x00-\x20\x7f;?#\\]*)?"
                        r"(?:\?[^\x00-\x20\x7f#]+)?(?:#[^\x00-\x20\x7f]+)?")


def _join(base: str, uri: str) -> str:
    """feedparser's join: collapse slashes after ``scheme://``, then urljoin ('' if it fails)."""
    if _PLAIN_URL.fullmatch(uri):
        return uri
    key = (base, uri)
    hit = _join_cache.get(key)
    if hit is not None:
        return hit
    fixed = _EXTRA_SLASHES.sub(r"\1\3", uri)
    try:
        out = urljoin(base, fixed)
    except ValueError:
        out = ""
    if len(_join_cache) > 4096:
        _join_cache.clear()
    _join_cache[key] = out
    return out


def _safe_join(base: str, rel: str | None) -> str:
    """Absolute URI of ``rel`` against ``base``, or '' when the scheme is not a safe one."""
    if not base:
        return rel or ""
    if not rel:
        try:
            scheme = urlparse(base)[0]
        except ValueError:
            return ""
        return base if (not scheme or scheme in _SAFE_SCHEMES) else ""
    uri = _join(base, rel)
    return uri if uri.strip().split(":", 1)[0] in _SAFE_SCHEMES else ""


_base_cache: dict[tuple[str, str | None], str] = {}


def _next_base(current: str, declared: str | None) -> str:
    key = (current, declared)
    hit = _base_cache.get(key)
    if hit is not None:
        return hit
    given = declared or current
    out = (_safe_join(current, given) or current) if current else _join(current, given)
    if len(_base_cache) > 4096:
        _base_cache.clear()
    _base_cache[key] = out
    return out


# --------------------------------------------------------------------------------------------
# Dates: the two shapes nearly every feed uses are parsed here; anything else is handed to
# feedparser's own date parser so results stay identical.

_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                            "nov", "dec"))}
_ZONES = {"gmt": 0, "ut": 0, "utc": 0, "z": 0, "est": -5, "edt": -4, "cst": -6, "cdt": -5, "mst": -7,
          "mdt": -6, "pst": -8, "pdt": -7}
_RFC822 = re.compile(
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?[ \t]+)?(\d{1,2})[ \t]+"
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*[ \t]+(\d{4})[ \t]+"
    r"(\d{1,2}):(\d{2})(?::(\d{2}))?[ \t]+([+-]\d{4}|gmt|ut|utc|z|est|edt|cst|cdt|mst|mdt|pst|pdt)",
    re.IGNORECASE,
)
_W3C = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})?)?"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_reference_dates: Callable[[str], Any] | None = None


def _reference_date(value: str) -> datetime | None:
    global _reference_dates
    if _reference_dates is None:
        from feedparser.datetimes import _parse_date

        _reference_dates = _parse_date
    import calendar

    try:
        t = _reference_dates(value)
        if not t:
            return None
        return _EPOCH + timedelta(seconds=calendar.timegm(t))
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def parse_date(value: str) -> datetime | None:
    """The UTC datetime feedparser gives a (stripped) date string, or None; a Japanese or Chinese date as it
    means (feedparser reads it as the first of its month: feeds.parse.cjk_date)."""
    if not value:
        return None
    if "年" in value and CJK_LIKE(value):  # decided by cjk_date alone (feeds.parse._entry_date)
        return cjk_date(value)
    try:
        m = _W3C.fullmatch(value)
        if m:
            y, mo, d, hh, mi, ss, tz = m.groups()
            offset = 0
            if tz and tz not in "Zz":
                offset = (int(tz[1:3]) * 60 + int(tz[4:6])) * (-1 if tz[0] == "-" else 1)
            if 1900 <= int(y) <= 9000:
                stamp = datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0), tzinfo=UTC)
                return stamp - timedelta(minutes=offset)
        else:
            m = _RFC822.fullmatch(value)
            if m:
                d, mon, y, hh, mi, ss, tz = m.groups()
                tz = tz.lower()
                if tz[0] in "+-":
                    offset = (int(tz[1:3]) * 60 + int(tz[3:5])) * (-1 if tz[0] == "-" else 1)
                else:
                    offset = _ZONES[tz] * 60
                if 1900 <= int(y) <= 9000:
                    stamp = datetime(int(y), _MONTHS[mon.lower()], int(d), int(hh), int(mi), int(ss or 0),
                                     tzinfo=UTC)
                    return stamp - timedelta(minutes=offset)
    except (ValueError, OverflowError):
        pass  # e.g. 31 February: feedparser then tries its other parsers
    return _reference_date(value) or localized_date(value)


# --------------------------------------------------------------------------------------------
# Encoding: decide the way feedparser does; only the unambiguous cases stay on the fast path.

_XML_DECL = re.compile(rb"^<\?xml[^>]*?>")
_XML_PI_ENCODING = re.compile(rb"^<\?.*encoding=['\"](.*?)['\"].*\?>")
_UTF8_NAMES = frozenset({"utf-8", "utf8", "utf_8", "u8"})
# (not "iso-latin-1": Python has no codec of that name, so feedparser guesses another encoding and says so)
_LATIN1_NAMES = frozenset({"iso-8859-1", "iso8859-1", "latin-1", "latin1", "iso_8859-1", "l1"})
_ASCII_NAMES = frozenset({"us-ascii", "ascii"})


def _plain(ctype: str, value: str, atom: bool) -> str:
    """A summary or content as the HTML the pipeline keeps: plain text holding "<" or "&" escaped, as
    parse._plain_as_html does with feedparser's. In Atom the type is what the document says; elsewhere
    feedparser guesses whether plain text is HTML after all (its looks_like_html, asked here too)."""
    if ctype == "text/plain" and ("<" in value or "&" in value):
        if not atom:
            from feedparser.mixin import _FeedParserMixin  # (only here: the fast path imports no feedparser)

            if _FeedParserMixin.looks_like_html(value):
                return value
        return html.escape(value, quote=False)
    return value


def _non_ascii_names(root: Any) -> bool:
    """Whether an element or attribute name (or prefix) holds a character outside ASCII: libxml2 takes names
    that expat, feedparser's strict parser, refuses (U+F900, supplementary characters), and feedparser then
    reads the document with its loose parser, otherwise. None occurs in the 200 real feeds; feedparser decides
    them. (A walk of the parsed tree: a scan of the bytes cost a third of the fast path's time.)"""
    for el in root.iter():
        tag = el.tag
        if not isinstance(tag, str):  # a comment or PI
            continue
        if not tag.rpartition("}")[2].isascii() or not (el.prefix or "").isascii():
            return True
        attrib = el.attrib
        if attrib and not all(k.rpartition("}")[2].isascii() for k in attrib):
            return True
    return False


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _choose_encoding(data: bytes, url: str, content_type: str | None) -> tuple[bytes, str, str | None] | None:
    """(body without BOM/declaration, lxml encoding, bozo message) or None to fall back."""
    if data[:3] == b"\xef\xbb\xbf":
        data = data[3:]
        bom = True
        if data[:3] == b"\xef\xbb\xbf" or data[:2] in (b"\xfe\xff", b"\xff\xfe"):
            return None  # a second mark: lxml skips it, expat (feedparser's strict parser) refuses the document
    else:
        bom = False
        if data[:2] in (b"\xfe\xff", b"\xff\xfe") or data[:4] in (b"\x00\x00\xfe\xff", b"\x00\x00\x00<",
                                                                   b"<\x00\x00\x00", b"\x00<\x00?", b"<\x00?\x00",
                                                                   b"Lo\xa7\x94"):
            return None
    m = _XML_PI_ENCODING.match(data)
    xml_encoding = m.group(1).decode("utf-8", "replace").lower() if m else ""
    headers = bool(url or content_type)
    mime, charset = "", ""
    if content_type:
        mime, _, rest = content_type.partition(";")
        mime = mime.strip()
        for chunk in rest.split(";"):
            key, _, val = chunk.partition("=")
            if key.strip().lower() == "charset":
                charset = val.strip().strip("\"'")
    bozo: str | None = None
    if mime in ("application/xml", "application/xml-dtd", "application/xml-external-parsed-entity") or (
        mime.startswith("application/") and mime.endswith("+xml")
    ):
        encoding = charset or xml_encoding or "utf-8"
    elif mime in ("text/xml", "text/xml-external-parsed-entity") or (
        mime.startswith("text/") and mime.endswith("+xml")
    ):
        encoding = charset or "us-ascii"
    else:
        if mime.startswith("text/"):
            encoding = charset or "us-ascii"
        elif headers and not content_type:
            encoding = xml_encoding or "iso-8859-1"
        else:
            encoding = xml_encoding or "utf-8"
        if headers:
            bozo = (f"NonXMLContentType: {content_type} is not an XML media type" if content_type
                    else "NonXMLContentType: no Content-type specified")
    encoding = encoding.lower()
    if bom and encoding not in _UTF8_NAMES and encoding not in _ASCII_NAMES and (
            encoding not in _LATIN1_NAMES or not _is_utf8(data)):
        return None  # (a UTF-8 mark on bytes that are not UTF-8: feedparser reads windows-1252 and says so)
    if encoding in _UTF8_NAMES:
        lxml_encoding = "utf-8"
    elif encoding in _LATIN1_NAMES:
        lxml_encoding = "iso-8859-1"
    elif encoding in _ASCII_NAMES:
        if not data.isascii():
            return None  # feedparser would retry other encodings and flag an override
        lxml_encoding = "utf-8"
    else:
        return None
    d = _XML_DECL.match(data)
    if d:
        data = data[d.end():]
    if b"<!DOCTYPE" in data[:_prolog_end(data)]:
        stripped = _strip_doctype(data, declared=bool(d))
        if stripped is None:
            return None
        data = stripped
    return data, lxml_encoding, bozo


_FIRST_ELEMENT = re.compile(rb"<\w")
_DOCTYPE = re.compile(rb"^\s*<!DOCTYPE([^>]*?)>", re.MULTILINE)
_NEW_DECL = b"<?xml version='1.0' encoding='utf-8'?>"


def _prolog_end(data: bytes) -> int:
    m = _FIRST_ELEMENT.search(data)
    return m.start() + 1 if m else len(data)


def _strip_doctype(data: bytes, declared: bool) -> bytes | None:
    """Remove a plain DOCTYPE the way feedparser does; None if it declares anything."""
    end = _prolog_end(data)
    head = data[:end]
    if b"<!ENTITY" in head or b"[" in head:
        return None
    # feedparser sees its own XML declaration in front (followed by a newline if the document had none)
    prefix = _NEW_DECL if declared else _NEW_DECL + b"\n"
    text = prefix + head
    found = _DOCTYPE.findall(text)
    if len(found) != 1:
        return None
    text = _DOCTYPE.sub(b"", text, count=1)
    if not text.startswith(prefix[: len(_NEW_DECL)]):
        return None
    return text[len(_NEW_DECL):] + data[end:]


# --------------------------------------------------------------------------------------------
# The walker


class _Ctx:
    """What feedparser keeps in one result dict (the feed or an entry), reduced to what we read."""

    __slots__ = ("id", "link", "title", "title_detail", "summary", "content", "author", "authors", "tags", "tag_count",
                 "published", "updated", "has_updated", "depths", "image", "ttl", "sy_period", "sy_frequency",
                 "has_summary_key", "enclosures", "media", "thumbnails", "artwork", "source_authors", "author_detail")

    def __init__(self) -> None:
        self.id: str | None = None
        self.link: str | None = None
        self.title: str | None = None
        self.title_detail: tuple[str, str] | None = None
        self.summary: str | None = None
        self.content: list[str] = []
        self.author: str | None = None
        self.authors: list[dict[str, str]] = []
        # feedparser's author_detail: a dict of its own, or (set by the sync of a text author) one of `authors`,
        # which every later name or address saved then changes too
        self.author_detail: dict[str, str] | None = None
        self.tags: list[list[str | None]] = []
        self.tag_count: dict[tuple[str | None, str | None, str | None], int] = {}  # tags' contents, counted
        self.published: datetime | None = None
        self.updated: datetime | None = None
        self.has_updated = False
        self.depths: dict[str, int] = {}
        self.image = False
        self.ttl: str | None = None
        self.sy_period: str | None = None
        self.sy_frequency: str | None = None
        self.has_summary_key = False
        # media as feedparser keeps them: enclosure links (href, type, length), media:content (url, type, medium,
        # size), media:thumbnail URLs, the itunes:image URL; and whether a <source> names an author
        self.enclosures: list[tuple[str | None, str | None, str | None]] = []
        self.media: list[tuple[str | None, str | None, str | None, str | None]] = []
        self.thumbnails: list[str | None] = []
        self.artwork: str | None = None
        self.source_authors = False


_NO_ATTRS: dict[str, str] = {}


def _text(el: Any) -> str:
    """Character data of an element without element children (comments/PIs are skipped)."""
    if len(el) == 0:
        return el.text or ""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str):
            raise _Bail("element inside a text element")
        parts.append(child.tail or "")
    return "".join(parts)


def _markup(el: Any, atom10_xhtml: bool, ctype: str) -> str:
    """The HTML a text construct carries: its text, or its serialised child markup, as feedparser writes it. In
    XHTML the text is markup: kept escaped ("x&lt;y" stays so). Elsewhere the text is the HTML itself until an
    element begins (RSS's inline HTML); text after an element (its tail, or a comment's after it) is text,
    escaped. Comments and processing instructions are dropped, their tails kept (feedparser's handlers never
    see them). An element inside a plain-text body, or a namespaced one inside an HTML body (Atom's
    type="html" holding markup: invalid, and feedparser writes it without the namespace), is left to
    feedparser."""
    xhtml = ctype == "application/xhtml+xml"
    if len(el) == 0:
        text = el.text or ""
        return _xml_escape(text) if xhtml and ("<" in text or "&" in text or ">" in text) else text
    from lxml import etree

    children = [c for c in el if isinstance(c.tag, str)]
    if children and not ctype.endswith("xml") and (
            ctype == "text/plain" or any(c.tag[0] == "{" or c.tag == "div" for c in children)):
        # (a div: feedparser drops it from an HTML body and reads the text after it as HTML, "typepad does this")
        raise _Bail("markup in a body that is not XML")
    if (atom10_xhtml and len(children) == 1 and not (el.text or "").strip()
            and not any((c.tail or "").strip() for c in el)):
        only = children[0]
        if only.tag.rsplit("}", 1)[-1] == "div":  # (comments and PIs beside it are dropped)
            el = only
    parts = [_xml_escape(el.text or "") if xhtml else el.text or ""]
    element_seen = xhtml
    for child in el:
        if isinstance(child.tag, str):
            parts.append(etree.tostring(child, encoding="unicode", with_tail=True))
            element_seen = True
        else:  # a comment or PI: its tail as text would be
            tail = child.tail or ""
            parts.append(_xml_escape(tail) if element_seen else tail)
    return "".join(parts)


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_looks_html_cache: dict[str, Any] = {}


def _looks_like_html(s: str) -> bool:
    if not (_CLOSE_TAG.search(s) or _ANY_ENTITY.search(s)):
        return False
    if not _looks_html_cache:
        import html.entities

        from feedparser.sanitizer import _HTMLSanitizer

        _looks_html_cache["tags"] = frozenset(_HTMLSanitizer.acceptable_elements)
        _looks_html_cache["entities"] = html.entities.entitydefs
    tags = _looks_html_cache["tags"]
    if any(t.lower() not in tags for t in _OPEN_TAG.findall(s)):
        return False
    entities = _looks_html_cache["entities"]
    return all(e in entities for e in _NAMED_ENTITY.findall(s))


_CLOSE_TAG = re.compile(r"</(\w+)>")
_ANY_ENTITY = re.compile(r"&#?\w+;")
_OPEN_TAG = re.compile(r"</?(\w+)")
_NAMED_ENTITY = re.compile(r"&(\w+);")
_LINK_AMP = re.compile("&([A-Za-z0-9_]+);")


def _reduce_html(value: str, base: str, ctype: str) -> str:
    """feedparser's treatment of an HTML title: resolve relative URIs, then sanitise."""
    from feedparser.sanitizer import _sanitize_html
    from feedparser.urls import resolve_relative_uris

    value = resolve_relative_uris(value, base, "utf-8", ctype)
    return str(_sanitize_html(value, "utf-8", ctype))


def _map_type(t: str) -> str:
    t = t.lower()
    if t in ("text", "plain"):
        return "text/plain"
    if t == "html":
        return "text/html"
    if t == "xhtml":
        return "application/xhtml+xml"
    return t


# What feedparser takes for an e-mail address in an author string (its _sync_author_detail), written again: the
# local part, "@", a dotted host name or the first three numbers of a bracketed IPv4 address, a top-level part
# of 2-4 letters or 1-3 digits, an optional "]" and "?subject=...".
_ADDRESS = re.compile(r"[A-Za-z0-9_.+-]+@(?:\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.|(?:[A-Za-z0-9-]+\.)+)"
                      r"(?:[A-Za-z]{2,4}|[0-9]{1,3})\]?(?:\?subject=\S+)?")


_LOCAL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-")


def _find_address(author: str) -> re.Match[str] | None:
    """``_ADDRESS.search(author)`` in linear time: a search tries every start, and each scans the local part
    up to its "@" again (a 40,000-letter name took 9 s). A match begins where the run of local-part characters
    before an "@" begins (the same address from any later start of the run), so each "@" is tried once, in
    order, from the start of its run; runs do not overlap."""
    at = author.find("@")
    while at != -1:
        start = at
        while start > 0 and author[start - 1] in _LOCAL_CHARS:
            start -= 1
        if start < at and (m := _ADDRESS.match(author, start)):
            return m
        at = author.find("@", at + 1)
    return None


def _split_address(author: str) -> tuple[str, str | None]:
    """The name and e-mail address feedparser reads in an author string ("bob@example.org (Bob)": "Bob" and
    the address): the first address found is taken out, with the empty brackets it leaves, and one opening
    and one closing parenthesis at the ends. Without an address: the string as it is, and None."""
    m = _find_address(author)
    if m is None:
        return author, None
    email = m.group(0)
    name = author.replace(email, "")
    for empty in ("()", "<>", "&lt;&gt;"):
        name = name.replace(empty, "")
    name = name.strip()
    if name.startswith("("):
        name = name[1:]
    if name.endswith(")"):
        name = name[:-1]
    return name.strip(), email


class _Walker:
    def __init__(self, base: str) -> None:
        self.base = base
        self.bases: list[str] = []
        self.version = ""
        self.depth = 0
        self.infeed = False
        self.inentry = False
        self.inimage = False
        self.intextinput = False
        self.inauthor = False
        self.guidislink = False
        self.title_depth = -1
        self.has_content = False
        self.feed = _Ctx()
        self.sink = _Ctx()  # image/textinput contexts: written to, never read
        self.entries: list[_Ctx] = []
        self.names: dict[tuple[str, str | None], str] = {}
        self.tag_names: dict[str, str] = {}
        # namespaces feedparser does not know -> whether the document binds them as the default namespace:
        # feedparser names such an element by a prefix the URI has anywhere in the document, this walker by
        # the element's own, so an unprefixed element ("id", "link": names it reads) whose URI has a prefix
        # elsewhere ("x:id" to feedparser, which it ignores) is left to feedparser. (A URI under two prefixes,
        # as WSJ's wsj: and dj:, names the element with a prefix either way: nothing either reads.)
        self.unknown_ns: dict[str, bool] = {}
        self.stable_bases: set[str] = set()
        self.table = self._table()
        self.c1 = True  # may text values contain C1 controls (see _C1_UTF8)
        self.feed_language: str | None = None  # feedparser's feed `language`: the root's xml:lang, then elements

    # -- naming --------------------------------------------------------------------------------
    def name(self, tag: str, prefix: str | None) -> str:
        key = (tag, prefix)
        hit = self.names.get(key)
        if hit is not None:
            return hit
        if tag[0] == "{":
            ns, local = tag[1:].split("}", 1)
        else:
            ns, local = "", tag
        low = ns.lower()
        if "backend.userland.com/rss" in low:
            low = "http://backend.userland.com/rss"
        canon = _NS.get(low)
        known = canon is not None
        if canon is None:
            canon = prefix or ""
            if self.unknown_ns.setdefault(ns, not canon) != (not canon):
                raise _Bail("a namespace both default and prefixed")
        out = f"{canon.lower()}:{local.lower()}" if canon else local.lower()
        self.names[key] = out
        if known:  # the document's prefix does not matter: name by tag alone from now on
            self.tag_names[tag] = out
        return out

    @staticmethod
    def attrs(items: list[tuple[str, str]]) -> dict[str, str]:
        out: dict[str, str] = {}
        for k, v in items:
            if k[0] == "{":
                ns, local = k[1:].split("}", 1)
                canon = _NS.get(ns.lower(), "")
                k = f"{canon}:{local}" if canon else local
            k = k.lower()
            out[k] = v.lower() if k in ("rel", "type") else v
        return out

    def context(self) -> _Ctx:
        if self.inimage and self.feed.image:
            return self.sink
        if self.intextinput:
            return self.sink
        if self.inentry:
            return self.entries[-1]
        return self.feed

    # -- the walk ------------------------------------------------------------------------------
    def walk(self, el: Any) -> None:
        tag = el.tag
        name = self.tag_names.get(tag)
        if name is None:
            name = self.name(tag, el.prefix)
        # lxml's items() is quadratic in an element's attribute count (each value looked up by name): past
        # MAX_ATTRS the first MAX_ATTRS are read (no feed element has that many; one hostile <item> with 20,000
        # took 1 s, 80,000 35 s; found by a review of algorithmic costs)
        items = el.items() if len(el.attrib) <= MAX_ATTRS else [(k, el.get(k)) for k in el.keys()[:MAX_ATTRS]]
        if items:
            a = self.attrs(items)
            declared = a.get("xml:base", a.get("base"))
        else:
            a = _NO_ATTRS
            declared = None
        self.depth += 1
        base = self.base
        if declared is not None or base not in self.stable_bases:
            new = _next_base(base, declared)
            if declared is None and new == base:
                self.stable_bases.add(base)
            base = self.base = new
        bases = self.bases
        bases.append(base)
        if (self.inimage or self.intextinput) and ":" not in name:
            if name not in _TEXTINPUT_OK:
                self.intextinput = False
            if name not in _IMAGE_OK:
                self.inimage = False
        handler = self.table.get(name)
        if handler is None:
            self.unknown(el, name, a)
        else:
            handler(el, name, a)
        bases.pop()
        if bases and bases[-1]:
            self.base = bases[-1]
        self.depth -= 1

    def children(self, el: Any) -> None:
        walk = self.walk
        for child in el:
            if child.tag.__class__ is str:
                walk(child)

    def _table(self) -> dict[str, Callable[[Any, str, dict[str, str]], None]]:
        table: dict[str, Callable[[Any, str, dict[str, str]], None]] = {}
        for names, handler in (
            (_TITLE, self.title), ({_LINK}, self.link), (_GUID, self.guid), (_PUBLISHED | _UPDATED, self.date),
            ({"item", "entry"}, self.entry), (_AUTHOR, self.author), (_CATEGORY | {"itunes:category"}, self.category),
            (_KEYWORDS | {"tags"}, self.keywords), (_DESCRIPTION | _SUMMARY | {"abstract"}, self.summary),
            ({"content"} | _CONTENT_ENCODED | _BODY, self.content), ({"channel", "feed"}, self.channel),
            ({"image"}, self.image), ({"textinput"}, self.textinput), ({"source"}, self.source),
            (_OTHER_CONTENT, self.other_content),
            (_SKIP_SUBTREE | {"name", "email", "uri", "url", "homepage", "media:thumbnail"}, self.skipped),
            ({"itunes:owner"}, self.owner), ({"rss", "rdf:rdf", "media:group"}, self.container),
            ({"media:content"}, self.media_content), ({"media:thumbnail"}, self.thumbnail),
            ({"enclosure"}, self.enclosure), ({"itunes:image", "itunes:link"}, self.artwork),
            ({"language", "dc:language"}, self.language),
        ):
            for n in names:
                table[n] = handler
        return table

    def date(self, el: Any, name: str, a: dict[str, str]) -> None:
        if len(el):
            raise _Bail("markup in a date")
        value = self.finish(_text(el), "published", True)
        ctx = self.context()
        when = parse_date(value)
        if name in _PUBLISHED:
            ctx.published = when
        else:
            ctx.updated = when
            ctx.has_updated = True

    def keywords(self, el: Any, name: str, a: dict[str, str]) -> None:
        if a and name != "tags":
            if len(el):
                raise _Bail("markup in keywords")
            return  # no push: the text goes nowhere we read
        value = self.finish(_text(el), name, True)
        ctx = self.context()
        scheme = "http://www.itunes.com/" if name == "itunes:keywords" else None
        for term in value.split(","):
            term = term.strip()
            if term or name == "tags":
                self.add_tag(ctx, term or None, scheme if name != "tags" else None, None)

    def channel(self, el: Any, name: str, a: dict[str, str]) -> None:
        if a and ("lastmod" in a or "href" in a):
            raise _Bail("CDF attributes")
        self.infeed = True
        self.children(el)
        self.infeed = False

    def image(self, el: Any, name: str, a: dict[str, str]) -> None:
        if self.inentry:
            raise _Bail("image inside an entry")
        self.feed.image = True
        self.inimage = True
        self.title_depth = -1
        self.children(el)
        self.inimage = False

    def textinput(self, el: Any, name: str, a: dict[str, str]) -> None:
        if self.inentry:
            raise _Bail("textinput inside an entry")
        self.intextinput = True
        self.title_depth = -1
        self.children(el)
        self.intextinput = False

    def source(self, el: Any, name: str, a: dict[str, str]) -> None:
        if not self.inentry:
            if len(el):
                raise _Bail("feed-level source")
            return
        # everything inside lands in the source's own dict; only title_depth leaks out
        self.title_depth = -1
        for node in el.iterdescendants():
            if not isinstance(node.tag, str):
                continue
            inner = self.name(node.tag, node.prefix)
            if inner in _SOURCE_FORBIDDEN:
                raise _Bail(f"{inner} inside source")
            if inner in _AUTHOR:  # its authors are the entry's if it names none (see _build)
                self.entries[-1].source_authors = True
            if inner in _TITLE:
                if node.getparent() is not el or len(node):
                    raise _Bail("nested title inside source")
                if inner != "media:title" and (node.text or "").strip():
                    self.title_depth = self.depth + 1

    def other_content(self, el: Any, name: str, a: dict[str, str]) -> None:
        if a.get("mode") == "base64":
            raise _Bail("base64")

    def owner(self, el: Any, name: str, a: dict[str, str]) -> None:
        """itunes:owner: feedparser saves its name and e-mail as the publisher's, and (its _save_author) into
        the context's last author too, which feed-level authors (inherited by entries) then hold."""
        if self.inentry:
            raise _Bail("owner in entry")
        ctx = self.context()
        for child in el:
            if not isinstance(child.tag, str):
                continue
            cname = self.name(child.tag, child.prefix)
            key = {"itunes:name": "name", "name": "name", "itunes:email": "email", "email": "email"}.get(cname)
            if key is None or len(child):
                raise _Bail("unexpected element in itunes:owner")
            self.sync_author(ctx)
            if not ctx.authors:
                ctx.authors.append({})
            ctx.authors[-1][key] = _text(child).strip()

    def container(self, el: Any, name: str, a: dict[str, str]) -> None:
        self.children(el)

    def entry_context(self) -> _Ctx | None:
        """The entry an element's values go to (None: the feed, an image or a text input)."""
        ctx = self.context()
        return ctx if self.inentry and ctx is not self.sink else None

    @staticmethod
    def href_of(a: dict[str, str]) -> str | None:
        """feedparser's _enforce_href: url, else uri, else href (an empty url or uri leaves href as it is)."""
        href = a.get("url", a.get("uri", a.get("href")))
        return href if href else a.get("href")

    def enclosure(self, el: Any, name: str, a: dict[str, str]) -> None:
        """RSS <enclosure>: its attributes as they are (feedparser does not resolve the URL)."""
        self.skipped(el, name, a)
        ctx = self.entry_context()
        if ctx is not None:
            ctx.enclosures.append((self.href_of(a), a.get("type"), a.get("length")))

    def media_content(self, el: Any, name: str, a: dict[str, str]) -> None:
        """media:content: its attributes as they are; its children are read as anywhere else."""
        ctx = self.entry_context()
        if ctx is not None:
            ctx.media.append((a.get("url"), a.get("type"), a.get("medium"), a.get("filesize") or a.get("length")))
        self.children(el)

    def thumbnail(self, el: Any, name: str, a: dict[str, str]) -> None:
        """media:thumbnail: its url attribute as it is, else its text (resolved, as feedparser pops a url)."""
        self.skipped(el, name, a)
        ctx = self.entry_context()
        if ctx is not None:
            if "url" in a:
                ctx.thumbnails.append(a["url"])
            else:
                text = self.finish(_text(el), "url", True)
                ctx.thumbnails.append(text if text.strip() else None)

    def artwork(self, el: Any, name: str, a: dict[str, str]) -> None:
        """itunes:image (and itunes:link, which feedparser takes for one): href, else url, the last one wins."""
        self.skipped(el, name, a)
        ctx = self.entry_context()
        href = a.get("href") or a.get("url")
        if ctx is not None and href:
            ctx.artwork = href

    def language(self, el: Any, name: str, a: dict[str, str]) -> None:
        """feedparser's <language> and <dc:language>: the feed's `language` when read in the feed itself (an
        entry's or an image's goes where we do not read)."""
        if len(el):
            raise _Bail(f"element inside {name}")
        if self.infeed and self.context() is self.feed:  # (feedparser keeps feed values only inside the channel)
            self.feed_language = self.finish(_text(el), "language", True)

    def skipped(self, el: Any, name: str, a: dict[str, str]) -> None:
        """Elements whose values land in keys we never read; their children must be harmless too."""
        if not len(el):
            return
        allowed = _PERSON_PARTS if name in ("contributor", "dc:contributor") else ()
        for child in el:
            if isinstance(child.tag, str) and (self.name(child.tag, child.prefix) not in allowed or len(child)):
                raise _Bail(f"element inside {name}")

    def unknown(self, el: Any, name: str, a: dict[str, str]) -> None:
        key = name.replace(":", "_")
        if key in _BAD_KEYS or key.endswith("_parsed") or key.endswith("_detail"):
            raise _Bail(f"element {name} collides with a result key")
        if name.startswith("georss:") or name.startswith("gml:") or name == "where" or name.startswith("psc:"):
            raise _Bail("geo/chapters")
        ctx = self.context()
        if not a and ctx is self.feed and self.infeed and name in ("ttl", "sy:updateperiod", "sy:updatefrequency"):
            value = self.finish(_text(el), key, True)
            if name == "ttl":
                ctx.ttl = value
            elif name == "sy:updateperiod":
                ctx.sy_period = value
            else:
                ctx.sy_frequency = value
            return
        if a and ctx is self.feed and self.infeed and name in ("ttl", "sy:updateperiod", "sy:updatefrequency"):
            if name == "ttl":
                ctx.ttl = None
            elif name == "sy:updateperiod":
                ctx.sy_period = None
            else:
                ctx.sy_frequency = None
        self.children(el)

    # -- value finishing (feedparser's pop) ----------------------------------------------------
    def finish(self, raw: str, element: str, expecting: bool) -> str:
        out = raw.strip()
        if not expecting:
            return out
        if element in _REL_URI and out and (element != "id" or self.guidislink):
            out = _join(self.base or "", out)
        return _repair(out)

    def store(self, ctx: _Ctx, key: str) -> bool:
        """feedparser's depth rule for entry properties: a deeper element never overrides."""
        if ctx is self.feed:
            return self.infeed  # (feedparser keeps feed values only inside the channel: its pop's infeed)
        if ctx is self.sink:
            return True
        old = ctx.depths.get(key)
        if old is None or self.depth <= old:
            ctx.depths[key] = self.depth
            return True
        return False

    # -- handlers ------------------------------------------------------------------------------
    def title(self, el: Any, name: str, a: dict[str, str]) -> None:
        media = name == "media:title"
        ctype = _map_type(a.get("type", "text/plain"))
        if a.get("mode") == "base64" or ctype not in ("text/plain", "text/html"):
            raise _Bail("title type")
        if len(el):
            raise _Bail("markup in a title")
        expecting = self.infeed or self.inentry
        out = (el.text or "").strip()
        if expecting:
            if not self.version.startswith("atom") and ctype == "text/plain" and _looks_like_html(out):
                ctype = "text/html"
            if ctype == "text/html" and ("<" in out or "&" in out):
                out = _reduce_html(out, self.base or "", ctype)
            out = _repair(out)
            blocked = -1 < self.title_depth <= self.depth
            if not blocked:
                ctx = self.context()
                if self.store(ctx, "title"):
                    ctx.title = out
                ctx.title_detail = (ctype, out)
        if out and not media:
            self.title_depth = self.depth

    def link(self, el: Any, name: str, a: dict[str, str]) -> None:
        rel = a.get("rel", "alternate")
        ctype = a.get("type") or ("application/atom+xml" if rel == "self" else "text/html")
        href = a.get("url", a.get("uri", a.get("href")))
        ctx = self.context()
        if href or "href" in a:
            if len(el):
                raise _Bail("markup in a link")
            href = _join(self.base or "", href if href else a["href"])
            if rel == "alternate" and _map_type(ctype) in _HTML_TYPES:
                ctx.link = href
            elif rel == "enclosure" and self.inentry and ctx is not self.sink:
                ctx.enclosures.append((href, a.get("type", "text/html"), a.get("length")))
            return
        expecting = self.infeed or self.inentry
        out = self.finish(_text(el), "link", expecting)
        if not expecting:
            return
        if self.inentry:
            if not self.inimage:
                out = _LINK_AMP.sub(r"&\g<1>", out.replace("&amp;", "&"))
                ctx.link = out
                if rel == "enclosure":  # feedparser gives the link's text to the link it made (an enclosure)
                    ctx.enclosures.append((out or None, a.get("type", "text/html"), a.get("length")))
        elif ctx is self.feed:
            ctx.link = _LINK_AMP.sub(r"&\g<1>", out)

    def guid(self, el: Any, name: str, a: dict[str, str]) -> None:
        self.guidislink = a.get("ispermalink", "true") == "true"
        value = self.finish(_text(el), "id", True)
        ctx = self.context()
        if self.store(ctx, "id"):
            ctx.id = value
        if self.guidislink and ctx.link is None:
            ctx.link = value

    def entry(self, el: Any, name: str, a: dict[str, str]) -> None:
        if self.inentry:
            raise _Bail("nested entry")
        if a and ("lastmod" in a or "href" in a):
            raise _Bail("CDF attributes")
        e = _Ctx()
        self.entries.append(e)
        self.inentry = True
        self.guidislink = False
        self.title_depth = -1
        about = a.get("rdf:about") if a else None
        if about:
            e.id = about
        self.children(el)
        self.inentry = False
        self.has_content = False

    def author(self, el: Any, name: str, a: dict[str, str]) -> None:
        ctx = self.context()
        ctx.authors.append({})
        self.inauthor = True
        if not any(isinstance(child.tag, str) for child in el):  # text, perhaps around comments or PIs
            value = self.finish(_text(el), "author", True)
            if self.store(ctx, "author"):
                ctx.author = value
        else:
            for child in el:
                if not isinstance(child.tag, str):
                    continue
                cname = self.name(child.tag, child.prefix)
                if (child.tail or "").strip():
                    raise _Bail("mixed author")
                if cname in ("name", "itunes:name"):
                    self.save_author(ctx, "name", _text(child).strip())
                elif cname in ("email", "itunes:email"):
                    self.save_author(ctx, "email", _text(child).strip())
                elif cname in ("uri", "url", "homepage"):
                    self.save_author(ctx, "href", self.finish(_text(child), "href", True))
                elif ":" in cname and cname not in _HANDLED and not len(child):
                    if child.items() and (child.text or "").strip():
                        raise _Bail("text in an attributed element inside author")
                    self.walk(child)  # e.g. Blogger's gd:image: lands in its own key
                else:
                    raise _Bail("unexpected element in author")
            if (el.text or "").strip():
                raise _Bail("mixed author")
            if self.store(ctx, "author"):
                ctx.author = ""
        self.sync_author(ctx)
        self.inauthor = False

    def save_author(self, ctx: _Ctx, key: str, value: str) -> None:
        """feedparser's _save_author: into author_detail, then (after a sync) into the last author."""
        if ctx.author_detail is None:
            ctx.author_detail = {}
        ctx.author_detail[key] = value
        self.sync_author(ctx)
        if not ctx.authors:
            ctx.authors.append({})
        ctx.authors[-1][key] = value

    @staticmethod
    def sync_author(ctx: _Ctx) -> None:
        """feedparser's author-detail sync: a detail with a name/email becomes the author string; an empty one
        (an author given as text) takes the name and e-mail address feedparser finds in the author string."""
        detail = ctx.authors[-1] if ctx.authors else {}  # without authors: a detail that is then dropped
        if detail:
            name, email = detail.get("name"), detail.get("email")
            if name and email:
                ctx.author = f"{name} ({email})"
            elif name:
                ctx.author = name
            elif email:
                ctx.author = email
        elif ctx.author:
            name, email = _split_address(ctx.author)
            if (name or email) and ctx.author_detail is None:
                ctx.author_detail = detail  # the same dict: what is saved into author_detail later changes it
            if name:
                detail["name"] = name
            if email:
                detail["email"] = email

    def category(self, el: Any, name: str, a: dict[str, str]) -> None:
        ctx = self.context()
        if name == "itunes:category":
            self.add_tag(ctx, a.get("text"), "http://www.itunes.com/", None)
            for child in el:
                if isinstance(child.tag, str):
                    if self.name(child.tag, child.prefix) != "itunes:category":
                        raise _Bail("unexpected element in itunes:category")
                    self.walk(child)
                if (child.tail or "").strip():
                    raise _Bail("mixed category")
            value = self.finish(el.text or "", "category", True)
        else:
            scheme: str | None = (a.get("scheme", "http://search.yahoo.com/mrss/category_schema")
                                  if name == "media:category" else a.get("scheme", a.get("domain")))
            self.add_tag(ctx, a.get("term"), scheme, a.get("label"))
            value = self.finish(_text(el), "category", True)
        if not value:
            return
        if ctx.tags and not ctx.tags[-1][0]:
            last = ctx.tags[-1]
            old = (last[0], last[1], last[2])
            ctx.tag_count[old] -= 1
            last[0] = value
            new = (value, last[1], last[2])
            ctx.tag_count[new] = ctx.tag_count.get(new, 0) + 1
        else:
            self.add_tag(ctx, value, None, None)

    @staticmethod
    def add_tag(ctx: _Ctx, term: str | None, scheme: str | None, label: str | None) -> None:
        if not term and not scheme and not label:
            return
        value: list[str | None] = [term, scheme, label]
        key = (term, scheme, label)
        if not ctx.tag_count.get(key):  # feedparser: `if value not in tags` (contents as they are now)
            ctx.tags.append(value)
            ctx.tag_count[key] = 1

    def summary(self, el: Any, name: str, a: dict[str, str]) -> None:
        ctx = self.context()
        if name != "abstract" and ctx.has_summary_key and not self.has_content:
            self.content(el, "content", a)
            return
        default = "text/html" if name in _DESCRIPTION else "text/plain"
        ctype = _map_type(a.get("type", default))
        if a.get("mode") == "base64" or not (ctype.startswith("text/") or ctype.endswith("xml")):
            raise _Bail("base64 summary")
        if ctx is self.feed or ctx is self.sink:
            if ctx is self.feed and name in _SUMMARY:
                ctx.has_summary_key = True
            return
        value = _plain(ctype, _repair(_markup(el, self.version == "atom10", ctype).strip(), self.c1),
                       self.version.startswith("atom"))
        if self.store(ctx, "summary"):
            ctx.summary = value
            ctx.has_summary_key = True

    def content(self, el: Any, name: str, a: dict[str, str]) -> None:
        ctx = self.context()
        if name not in _BODY:
            self.has_content = True
        default = "text/html" if name in _CONTENT_ENCODED else (
            "application/xhtml+xml" if name in _BODY else "text/plain")
        ctype = _map_type(a.get("type", default))
        if a.get("mode") == "base64" or not (ctype.startswith("text/") or ctype.endswith("xml")):
            raise _Bail("base64 content")
        if ctx is self.feed or ctx is self.sink:
            if ctx is self.feed and (ctype in _HTML_TYPES or ctype == "text/plain"):
                ctx.has_summary_key = True
            return
        value = _plain(ctype, _repair(_markup(el, self.version == "atom10", ctype).strip(), self.c1),
                       self.version.startswith("atom"))
        ctx.content.append(value)
        if (ctype in _HTML_TYPES or ctype == "text/plain") and not ctx.has_summary_key:
            ctx.summary = value
            ctx.has_summary_key = True


# --------------------------------------------------------------------------------------------
# Entry point

_parser_cache: dict[str, Any] = {}


def _parser(encoding: str) -> Any:
    p = _parser_cache.get(encoding)
    if p is None:
        from lxml import etree

        p = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                            remove_comments=False, remove_pis=False, encoding=encoding)
        _parser_cache[encoding] = p
    return p


def _version(root: Any, name: str) -> str:
    decls = {(p, (u or "").lower()) for p, u in root.nsmap.items()}
    by_ns = set()
    for p, u in decls:
        if (p, u) == (None, _RSS090):
            by_ns.add("rss090")
        elif u == _RSS10:
            by_ns.add("rss10")
        elif u == _ATOM10:
            by_ns.add("atom10")
    if name == "rss":
        version = root.get("version", "")
        if len(by_ns) == 1 and next(iter(by_ns)).startswith("rss"):
            return next(iter(by_ns))
        if len(by_ns) > 1:
            raise _Bail("ambiguous version")
        return {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}.get(
            version, "rss20" if version.startswith("2.") else "rss")
    if len(by_ns) > 1:
        raise _Bail("ambiguous version")
    if by_ns:
        return next(iter(by_ns))
    if name == "feed":
        return {"0.1": "atom01", "0.2": "atom02", "0.3": "atom03"}.get(root.get("version") or "", "atom")
    raise _Bail("unknown RDF flavour")


def _names(ctx: _Ctx) -> tuple[str, ...]:
    return person_names((d.get("name"), d.get("email")) for d in ctx.authors)


def _build(w: _Walker, bozo: str | None, url: str) -> ParsedFeed:
    from feeds.schedule import ttl_from_feed

    entries = []
    feed_authors = _names(w.feed)
    for e in w.entries:
        title = text_of(e.title_detail, e.title or "")
        # lxml only hands out characters XML allows; _repair cleans what it changes itself
        summary = e.summary or ""
        content = ""
        for value in e.content:
            if value:
                content = value
                break
        if summary and content and summary == content:
            content = ""
        cats: list[str] = []
        for term, _scheme, label in e.tags:
            t = plain_text(term or label or "")
            if t and t not in cats:
                cats.append(t)
        updated = e.updated if e.has_updated else e.published
        if not e.authors and e.source_authors:
            raise _Bail("the authors of an entry's source")  # feedparser reads them (RFC 4287's inheritance)
        link = clean_text(e.link or "") or None
        enclosures, image = entry_media(e.enclosures, e.media, e.thumbnails, e.artwork,
                                        url if url.startswith(("http://", "https://")) else link)
        entries.append(Entry(
            guid=clean_text(e.id or "") or None,
            link=link,
            title=title,
            summary=summary.strip(),
            content=content.strip(),
            authors=_names(e) if e.authors else feed_authors,
            categories=tuple(cats),
            published=e.published or updated,
            updated=updated,
            enclosures=enclosures,
            image=image,
        ))
    f = w.feed
    return ParsedFeed(
        title=text_of(f.title_detail, f.title or ""),
        link=clean_text(f.link or ""),
        entries=tuple(entries),
        ttl_seconds=ttl_from_feed(f.ttl, f.sy_period, f.sy_frequency),
        bozo=bozo[:300] if bozo else None,
        language=language_tag(w.feed_language),
    )


def fast_parse(data: bytes, url: str = "", content_type: str | None = None) -> ParsedFeed | None:
    """The feed as :func:`feeds.parse.parse_feedparser` would give it, or None to fall back."""
    try:
        return _fast_parse(data, url, content_type)
    except _Bail:
        return None
    except Exception:  # anything unexpected: feedparser decides
        return None


def _fast_parse(data: bytes, url: str, content_type: str | None) -> ParsedFeed | None:
    if not data:
        return None
    chosen = _choose_encoding(data, url, content_type)
    if chosen is None:
        return None
    body, encoding, bozo = chosen
    from lxml import etree

    try:
        root = etree.fromstring(body, _parser(encoding))
    except (etree.XMLSyntaxError, ValueError):
        return None
    if root is None or not body.isascii() and _non_ascii_names(root):
        return None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        return None
    w = _Walker(url)
    for p, uri in root.nsmap.items():  # the root's declarations: those of a URI no element uses too
        if uri and uri.lower() not in _NS:
            w.unknown_ns.setdefault(uri, not p)
    w.c1 = bool((not body.isascii() and (_C1_UTF8 if encoding == "utf-8" else _C1_LATIN1).search(body))
                or _C1_REF.search(body))
    name = w.name(root.tag, root.prefix)
    if name not in ("rss", "feed", "rdf:rdf"):
        return None
    if name == "rdf:rdf" and root.tag != f"{{{_RDF}}}RDF":
        return None
    w.version = _version(root, name)
    lang = root.get(f"{{{_XML_NS}}}lang", root.get("lang"))
    if lang and name != "rdf:rdf":  # (feedparser: an rss or feed root's; it compares an RDF root's lower-cased
    # name with "rdf:RDF", which never matches)
        w.feed_language = lang.replace("_", "-")
    w.walk(root)
    return _build(w, bozo, url)


# --------------------------------------------------------------------------------------------
# --check: compare with feedparser over files


def _summary_of(p: ParsedFeed) -> list[tuple[Any, ...]]:
    return [(e.guid, e.title, e.link, e.published, e.updated) for e in p.entries]


def compare(data: bytes, url: str = "") -> tuple[str, str]:
    """('fast'|'fallback'|'failed', detail): how the fast path did on one document."""
    from feeds.parse import ParseFailed, parse_feedparser

    fast = fast_parse(data, url)
    if fast is None:
        return "fallback", ""
    try:
        ref = parse_feedparser(data, url)
    except ParseFailed as exc:
        return "disagree", f"feedparser failed: {exc}"
    except Exception as exc:  # feedparser itself broke
        return "disagree", f"feedparser raised {type(exc).__name__}"
    a, b = _summary_of(fast), _summary_of(ref)
    if a != b:
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                return "disagree", f"entry {i}: fast={x!r} feedparser={y!r}"
        return "disagree", f"{len(a)} entries vs {len(b)}"
    extra = []
    if (fast.title, fast.link, fast.ttl_seconds, fast.language) != (ref.title, ref.link, ref.ttl_seconds, ref.language):
        extra.append("feed title/link/ttl/language")
    if [(e.authors, e.categories) for e in fast.entries] != [(e.authors, e.categories) for e in ref.entries]:
        extra.append("authors/categories")
    if [(e.enclosures, e.image) for e in fast.entries] != [(e.enclosures, e.image) for e in ref.entries]:
        extra.append("enclosures/image")
    return "fast", ", ".join(extra)


def _files(paths: Iterable[str]) -> list[str]:
    import os

    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            for root, _dirs, names in os.walk(p):
                out.extend(os.path.join(root, n) for n in sorted(names) if not n.startswith("LICENSE"))
        else:
            out.append(p)
    return sorted(out)


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python3 -m feeds.fastparse")
    ap.add_argument("--check", nargs="+", metavar="DIR", required=True,
                    help="compare fast path and feedparser on every file under these paths")
    ap.add_argument("--url", default="https://example.com/feed.xml", help="document URL to resolve against")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    counts = {"fast": 0, "fallback": 0, "disagree": 0}
    soft = 0
    for path in _files(args.check):
        with open(path, "rb") as fh:
            data = fh.read()
        verdict, detail = compare(data, args.url)
        counts[verdict] += 1
        if verdict == "fast" and detail:
            soft += 1
        if verdict == "disagree" or (args.verbose and detail) or (args.verbose and verdict == "fallback"):
            print(f"{verdict:9} {path} {detail}")
    total = sum(counts.values())
    print(f"files: {total}  fast path: {counts['fast']}  fell back: {counts['fallback']}  "
          f"disagreed: {counts['disagree']}  (fast but authors/categories/enclosures/feed fields differ: {soft})")
    return 1 if counts["disagree"] else 0


if __name__ == "__main__":
    sys.exit(main())
