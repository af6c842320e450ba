"""Offline validation of the documents feeds publishes (Atom 1.0, RFC 5005 archives, RSS 2.0, JSON Feed 1.1,
and the OPML 2.0 subscription list; the HTML pages are no feeds: refused as NotAFeed).

The rules follow RFC 4287 / RFC 5005 / the RSS 2.0 spec / JSON Feed 1.1 / OPML 2.0 and the messages the W3C Feed
Validation Service reports for them; problem codes reuse the W3C message names wherever one exists so a
problem found here can be looked up at https://validator.w3.org/feed/docs/.  A few codes are project
policy (documented at their definition below).  Every check is implemented here; nothing is fetched:
XML is parsed with entity resolution, DTD loading and network access all disabled.

Usage from code::

    problems = validate_atom(data, self_url="https://example.org/channels/tech.atom")
    assert not problems, errors_and_warnings(problems)

From a shell: ``python -m feeds.validate FILE...`` (exit status 1 when any problem is found).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_tz
from typing import Any, Literal
from urllib.parse import urlsplit

from lxml import etree
from lxml import html as lxml_html

__all__ = [
    "Problem",
    "errors_and_warnings",
    "main",
    "validate_archive_links",
    "validate_atom",
    "validate_document",
    "validate_json_feed",
    "validate_opml",
    "validate_rss2",
]

Level = Literal["error", "warning"]

ATOM_NS = "http://www.w3.org/2005/Atom"
XHTML_NS = "http://www.w3.org/1999/xhtml"
FH_NS = "http://purl.org/syndication/history/1.0"
XML_NS = "http://www.w3.org/XML/1998/namespace"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"

_A = f"{{{ATOM_NS}}}"
_FH = f"{{{FH_NS}}}"
_XML_LANG = f"{{{XML_NS}}}lang"
_XML_BASE = f"{{{XML_NS}}}base"

#: Dates before this are reported as ImplausibleDate (same floor the W3C service uses).
_EARLIEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=UTC)


def _words(text: str) -> frozenset[str]:
    """A set from a whitespace-separated word list."""
    return frozenset(text.split())


@dataclass(frozen=True)
class Problem:
    """One finding.  ``code`` is the W3C feedvalidator message name where one exists."""

    level: Level
    code: str
    message: str
    where: str

    def __str__(self) -> str:
        return f"{self.level}: {self.code} at {self.where}: {self.message}"


def errors_and_warnings(problems: Iterable[Problem]) -> list[str]:
    """Readable one-line strings, e.g. for ``assert not problems, errors_and_warnings(problems)``."""
    return [str(p) for p in problems]


class _Report:
    """Collects problems; de-duplicates identical findings."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self._seen: set[Problem] = set()
        # element -> location; also keeps the lxml proxies alive so identity lookups stay valid
        self._paths: dict[Any, str] = {}

    def where(self, el: Any) -> str:
        """XPath-like location with local names, e.g. /feed/entry[2]/link[1] (cached: linear overall)."""
        if el is None or not isinstance(el.tag, str):
            return "/"
        cached = self._paths.get(el)
        if cached is not None:
            return cached
        parent = el.getparent()
        if parent is None:
            path = "/" + _step_name(el)
            self._paths[el] = path
            return path
        base = self.where(parent)
        counts: dict[Any, int] = {}
        for child in parent:
            if isinstance(child.tag, str):
                counts[child.tag] = counts.get(child.tag, 0) + 1
        seen: dict[Any, int] = {}
        for child in parent:
            if isinstance(child.tag, str):
                seen[child.tag] = seen.get(child.tag, 0) + 1
                step = _step_name(child)
                if counts[child.tag] > 1:
                    step += f"[{seen[child.tag]}]"
                self._paths[child] = f"{base.rstrip('/')}/{step}"
        return self._paths[el]

    def add(self, level: Level, code: str, where: str, message: str) -> None:
        p = Problem(level, code, message, where)
        if p not in self._seen:
            self._seen.add(p)
            self.problems.append(p)

    def error(self, code: str, where: str, message: str) -> None:
        self.add("error", code, where, message)

    def warning(self, code: str, where: str, message: str) -> None:
        self.add("warning", code, where, message)


# ---------------------------------------------------------------------------------------------------------
# Small value checkers (no reporting; they return a reason string or None)
# ---------------------------------------------------------------------------------------------------------

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
# ASCII characters allowed anywhere in a URI/IRI reference (RFC 3986 unreserved + reserved, and '%').
# '[' and ']' are checked separately (only legal around an IPv6 literal host).
_URI_ASCII_OK = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#@!$&'()*+,;=%")
_PCT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _iri_syntax_problem(value: str) -> str | None:
    """Why ``value`` is not a syntactically valid IRI reference (RFC 3987), or None."""
    for ch in value:
        o = ord(ch)
        if o < 0x80:
            if ch not in _URI_ASCII_OK and ch not in "[]":
                return f"contains the character {ch!r}, which must be percent-encoded"
        elif o < 0xA0 or 0xD800 <= o <= 0xDFFF or o in (0xFFFE, 0xFFFF, 0xFFFD):
            return f"contains the character U+{o:04X}, which is not allowed in an IRI"
    if _PCT_RE.search(value):
        return "contains a '%' that does not start a percent-escape"
    if value.count("#") > 1:
        return "contains more than one '#'"
    if "[" in value or "]" in value:
        try:
            parts = urlsplit(value)
        except ValueError:
            return "has a malformed IPv6 host"
        rest = value.replace(f"[{parts.hostname}]", "", 1) if parts.hostname else value
        if "[" in rest or "]" in rest:
            return "contains '[' or ']' outside an IPv6 host"
    m = _SCHEME_RE.match(value)
    if m and m.group(1).lower() in ("http", "https", "ftp"):
        if not value[m.end() :].startswith("//"):
            return f"a {m.group(1)} IRI needs '//' and a host"
        try:
            host = urlsplit(value).hostname
        except ValueError:
            return "has a malformed host"
        if not host:
            return "has no host"
    return None


def _is_absolute(value: str) -> bool:
    return _SCHEME_RE.match(value) is not None


_TAG_RE = re.compile(
    r"^tag:"
    # authority: a DNS name or an email address
    r"(?:[A-Za-z0-9][A-Za-z0-9.\-]*|[A-Za-z0-9._%+\-]+@[A-Za-z0-9][A-Za-z0-9.\-]*)"
    r",\d{4}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?)?"  # date
    r":[A-Za-z0-9\-._~:/?@!$&'()*+,;=%]*"  # specific
    r"(?:#[A-Za-z0-9\-._~:/?@!$&'()*+,;=%]*)?$"
)
_URN_RE = re.compile(r"^urn:([A-Za-z0-9][A-Za-z0-9\-]{0,30}[A-Za-z0-9]):(\S+)$", re.IGNORECASE)
_URN_NSS_RE = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})+$")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _same_location(a: str, b: str) -> bool:
    """Whether two URLs name the same location (compared in canonical form)."""
    return (_canonical_http(a.strip()) or a.strip()) == (_canonical_http(b.strip()) or b.strip())


def _canonical_http(value: str) -> str | None:
    """Canonical form of an http(s) URI (lower-case scheme/host, no default port, '/' path, upper-case
    percent-escapes, no escaped unreserved characters); None if it cannot be parsed."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host
    if parts.username is not None:
        userinfo = value.split("//", 1)[1].split("@", 1)[0]
        netloc = f"{userinfo}@{host}"
    if port is not None and not (scheme == "http" and port == 80) and not (scheme == "https" and port == 443):
        netloc += f":{port}"

    def fix_escapes(s: str) -> str:
        def repl(m: re.Match[str]) -> str:
            ch = chr(int(m.group(1), 16))
            if ch.isascii() and (ch.isalnum() or ch in "-._~"):
                return ch
            return "%" + m.group(1).upper()

        return re.sub(r"%([0-9A-Fa-f]{2})", repl, s)

    path = fix_escapes(parts.path) or "/"
    out = f"{scheme}://{netloc}{path}"
    if "?" in value:
        out += "?" + fix_escapes(parts.query)
    if "#" in value:
        out += "#" + fix_escapes(parts.fragment)
    return out


_RFC3339_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|([+-])(\d{2}):(\d{2}))$")


def _parse_rfc3339(value: str) -> datetime | None:
    """Parse an RFC 3339 date-time with an explicit offset or 'Z'; None when invalid."""
    m = _RFC3339_RE.match(value)
    if not m:
        return None
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    if m.group(8) == "Z":
        tz = UTC
    else:
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            return None
        delta = timedelta(hours=oh, minutes=om)
        tz = timezone(-delta if m.group(9) == "-" else delta)
    leap = second == 60
    try:
        dt = datetime(year, month, day, hour, minute, 59 if leap else second, tzinfo=tz)
    except ValueError:
        return None
    frac = m.group(7)
    if frac:
        dt += timedelta(microseconds=int(round(float(frac) * 1_000_000)))
    if leap:
        dt += timedelta(seconds=1)
    return dt


_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_DAYS = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_ZONES = r"[+-]\d{4}|UT|GMT|EST|EDT|CST|CDT|MST|MDT|PST|PDT|Z"
_RFC822_STRICT_RE = re.compile(
    rf"^(?:({_DAYS}), )?(\d{{1,2}}) ({_MONTHS}) (\d{{4}}) (\d{{2}}):(\d{{2}})(?::(\d{{2}}))? ({_ZONES})$"
)
_RFC822_LOOSE_RE = re.compile(
    rf"^(?:(?:{_DAYS})\w*\s*,\s*)?\d{{1,2}}\s+(?:{_MONTHS})\w*\s+\d{{2}}(?:\d{{2}})?\s+\d{{1,2}}:\d{{2}}"
    rf"(?::\d{{2}})?(?:\s+(?:{_ZONES}|[A-IK-Za-ik-z]))?$",
    re.IGNORECASE,
)


def _mime_ok(value: str) -> bool:
    token = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
    param = rf"\s*;\s*{token}=(?:{token}|\"(?:[^\"\\]|\\.)*\")"
    return re.fullmatch(rf"{token}/{token}(?:{param})*", value.strip()) is not None


# ISO 639-1 two-letter codes (the W3C service checks the primary subtag against ISO 639).
_ISO639_1 = _words(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de
    dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id
    ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu
    lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu
    rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr
    ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu"""
)
_BCP47_RE = re.compile(
    r"^(?:"
    r"(?P<lang>[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{5,8})"
    r"(?:-[a-z]{4})?"  # script
    r"(?:-(?:[a-z]{2}|\d{3}))?"  # region
    r"(?:-(?:[a-z\d]{5,8}|\d[a-z\d]{3}))*"  # variants
    r"(?:-[a-wyz\d](?:-[a-z\d]{2,8})+)*"  # extensions
    r"(?:-x(?:-[a-z\d]{1,8})+)?"  # private use
    r"|x(?:-[a-z\d]{1,8})+"
    r"|i-(?:default|enochian|mingo|ami|bnn|hak|klingon|lux|navajo|pwn|tao|tay|tsu)"
    r")$",
    re.IGNORECASE,
)


def _language_problem(value: str) -> str | None:
    if value == "":
        return None  # xml:lang="" explicitly means "no language"
    m = _BCP47_RE.match(value)
    if not m:
        return "is not a well-formed BCP 47 language tag"
    lang = (m.group("lang") or "").lower()
    if len(lang) == 2 and lang not in _ISO639_1:
        return f"primary subtag {lang!r} is not an ISO 639 language code"
    return None


_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


_BAD_CHARS_RE = re.compile("[\x80-\x9f\ufffd]")


def _bad_characters(text: str) -> bool:
    """C1 control characters or U+FFFD: the usual sign of a wrongly decoded source (W3C BadCharacters)."""
    return _BAD_CHARS_RE.search(text) is not None


# ---------------------------------------------------------------------------------------------------------
# HTML fragment checks shared by Atom, RSS and JSON Feed
# ---------------------------------------------------------------------------------------------------------

# Element names of HTML (current and legacy) - anything else inside HTML content is reported as NotHtml.
_HTML_ELEMENTS = _words(
    """a abbr acronym address applet area article aside audio b base basefont bdi bdo big blink blockquote
    body br button canvas caption center cite code col colgroup data datalist dd del details dfn dialog
    dir div dl dt em embed fieldset figcaption figure font footer form frame frameset h1 h2 h3 h4 h5 h6
    head header hgroup hr html i iframe img input ins isindex kbd label legend li link listing main map
    mark marquee menu meta meter nav nobr noembed noframes noscript object ol optgroup option output p
    param picture plaintext pre progress q rb rp rt rtc ruby s samp script search section select slot
    small source span strike strong style sub summary sup table tbody td template textarea tfoot th
    thead time title tr track tt u ul var video wbr xmp"""
)
# Elements our sanitiser must remove: reported as SecurityRisk errors.
_UNSAFE_ELEMENTS = _words(
    """script style iframe frame frameset noframes object embed applet param meta link base basefont head
    html body title isindex xmp plaintext listing marquee blink noembed"""
)
# Attributes considered harmless in feed HTML; anything else (except data-*) is SecurityRiskAttr.
_SAFE_ATTRIBUTES = _words(
    """abbr accept accept-charset accesskey action align alt autoplay axis bgcolor border cellpadding
    cellspacing char charoff charset checked cite class clear color cols colspan compact controls coords
    crossorigin datetime decoding default dir disabled download enctype face for headers height hidden
    high href hreflang hspace id ismap itemprop itemscope itemtype kind label lang loading longdesc loop
    low max maxlength media method min multiple muted name nohref noshade nowrap open optimum pattern
    placeholder playsinline poster preload readonly referrerpolicy rel rev reversed rows rowspan rules
    scope selected shape size sizes span src srclang srcset start step summary tabindex target title
    translate type usemap valign value vspace width wrap"""
)
_URL_ATTRIBUTES = _words("""href src cite poster longdesc background action formaction lowsrc dynsrc""")
_SCRIPT_SCHEMES = frozenset({"javascript", "vbscript", "livescript", "mocha"})


def _url_attr_values(name: str, value: str) -> list[str]:
    if name == "srcset":
        return [c.strip().split()[0] for c in value.split(",") if c.strip()]
    return [value.strip()]


def _check_html_element(el: Any, report: _Report, where: str, context: str) -> None:
    """Check one element of an HTML/XHTML tree (tag already namespace-stripped by the caller)."""
    tag = etree.QName(el).localname.lower() if isinstance(el.tag, str) else ""
    if not tag:
        return
    if tag in _UNSAFE_ELEMENTS:
        report.error("SecurityRisk", where, f"{context} must not contain a <{tag}> element")
    elif tag not in _HTML_ELEMENTS:
        report.warning("NotHtml", where, f"{context} contains <{tag}>, which is not an HTML element")
    for raw_name, raw_value in el.attrib.items():
        name = etree.QName(raw_name).localname.lower() if raw_name.startswith("{") else raw_name.lower()
        value = str(raw_value)
        if raw_name.startswith(f"{{{XML_NS}}}") or name in ("xml:lang", "xmlns") or name.startswith("xmlns:"):
            continue
        if name.startswith("on"):
            report.error("SecurityRiskAttr", where, f"{context} must not contain the event handler {name}=")
            continue
        if name == "style":
            report.error("DangerousStyleAttr", where, f"{context} must not contain style= attributes")
            continue
        if name not in _SAFE_ATTRIBUTES and not name.startswith("data-"):
            report.warning("SecurityRiskAttr", where, f"{context} should not contain the attribute {name}=")
        if name in _URL_ATTRIBUTES or name == "srcset":
            for url in _url_attr_values(name, value):
                compact = re.sub(r"[\x00-\x20]", "", url).lower()
                scheme = compact.split(":", 1)[0] if ":" in compact else ""
                if scheme in _SCRIPT_SCHEMES or (scheme == "data" and not compact.startswith("data:image/")):
                    report.error("SecurityRiskURL", where, f"{context} contains a {scheme}: URL in {name}=")
                elif not _is_absolute(url):
                    report.warning(
                        "ContainsRelRef",
                        where,
                        f"{context} should not contain relative URL references: {url!r}",
                    )


def _check_html_string(markup: str, report: _Report, where: str, context: str) -> None:
    """Parse escaped HTML (type="html", RSS description, content_html) and check it."""
    if not markup.strip():
        return
    if "<" not in markup and "&" not in markup:
        return
    try:
        root = lxml_html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError) as exc:
        report.warning("NotHtml", where, f"{context} could not be parsed as HTML ({exc})")
        return
    for el in root.iterdescendants():
        _check_html_element(el, report, where, context)


def _check_xhtml_tree(div: Any, report: _Report, where: str, context: str) -> None:
    for el in div.iterdescendants():
        if isinstance(el.tag, str):
            if etree.QName(el).namespace not in (XHTML_NS, None):
                continue  # foreign markup (e.g. MathML/SVG) - not HTML
            _check_html_element(el, report, where, context)


_HTML_END_TAG_RE = re.compile(r"</([A-Za-z][A-Za-z0-9]*)\s*>")
_ESCAPED_ENTITY_RE = re.compile(r"&(?:#\d+|#[xX][0-9A-Fa-f]+|amp|lt|gt|quot|apos|nbsp|mdash|ndash|hellip);")


def _looks_like_html(text: str) -> str | None:
    for m in _HTML_END_TAG_RE.finditer(text):
        if m.group(1).lower() in _HTML_ELEMENTS:
            return m.group(0)
    m2 = _ESCAPED_ENTITY_RE.search(text)
    return m2.group(0) if m2 else None


# ---------------------------------------------------------------------------------------------------------
# XML parsing
# ---------------------------------------------------------------------------------------------------------

_XML_DECL_RE = re.compile(rb"^<\?xml\s[^>]*?\?>")
_ENCODING_RE = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._\-]+)["']""")
_VERSION_RE = re.compile(rb"""version\s*=\s*["']([^"']*)["']""")
_EXTERNAL_ENTITY_RE = re.compile(rb"<!ENTITY\s+%?\s*[^\s>]+\s+(?:SYSTEM|PUBLIC)\b", re.IGNORECASE)


def _make_parser() -> Any:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )


def _parse_xml(data: bytes, report: _Report) -> Any | None:
    """Parse ``data`` safely; report encoding / well-formedness problems. Returns the root element."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:4] in (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00"):
        report.error("NotUTF8", "/", "document must be encoded as UTF-8 (found a UTF-16/32 byte order mark)")
        return None
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    decl = _XML_DECL_RE.match(body)
    if decl:
        enc = _ENCODING_RE.search(decl.group(0))
        if enc and enc.group(1).decode("ascii").lower() not in ("utf-8", "utf8"):
            report.error("NotUTF8", "/", f"document declares encoding {enc.group(1).decode('ascii')!r}; use UTF-8")
        ver = _VERSION_RE.search(decl.group(0))
        if ver and ver.group(1) != b"1.0":
            report.error("BadXmlVersion", "/", f"incorrect XML version {ver.group(1).decode('ascii', 'replace')!r}")
    elif body.lstrip()[:5].lower() == b"<?xml":
        report.error("SAXError", "/", "the XML declaration must be at the very start of the document")
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        report.error("UnicodeError", f"line {line}", f"invalid UTF-8 byte sequence at byte offset {exc.start}")
        return None
    if b"<!DOCTYPE" in body or b"<!doctype" in body:
        if _EXTERNAL_ENTITY_RE.search(body):
            report.error("ContainsSystemEntity", "/", "feeds must not declare SYSTEM or PUBLIC entities")
        else:
            report.warning("UnexpectedDoctype", "/", "a published feed should not carry a DOCTYPE")
    try:
        root = etree.fromstring(data, _make_parser())
    except etree.XMLSyntaxError as exc:
        line = getattr(exc, "lineno", None) or getattr(exc, "position", (0, 0))[0]
        msg = str(getattr(exc, "msg", "") or exc)
        report.error("SAXError", f"line {line}", f"XML parsing error: {msg}")
        return None
    except ValueError as exc:  # e.g. unsupported encoding declaration
        report.error("SAXError", "/", f"XML parsing error: {exc}")
        return None
    if root is None:
        report.error("SAXError", "/", "empty document")
        return None
    for node in root.iter():
        if isinstance(node, etree._Entity):
            report.error("UndefinedNamedEntity", report.where(node.getparent()), f"unexpanded entity reference {node}")
    return root


def _local(el: Any) -> str:
    return str(etree.QName(el).localname)


def _ns(el: Any) -> str | None:
    ns = etree.QName(el).namespace
    return str(ns) if ns is not None else None


def _step_name(el: Any) -> str:
    prefix = "" if _ns(el) in (ATOM_NS, None) else "*:"
    return prefix + _local(el)


def _elements(parent: Any) -> list[Any]:
    return [c for c in parent if isinstance(c.tag, str)]


def _text(el: Any) -> str:
    return "".join(el.itertext()) if el is not None else ""


# ---------------------------------------------------------------------------------------------------------
# Atom 1.0 (RFC 4287)
# ---------------------------------------------------------------------------------------------------------

_REGISTERED_RELS = _words(
    """about alternate appendix archives author blocked-by bookmark canonical chapter cite-as collection
    contents copyright create-form current describedby describes disclosure dns-prefetch duplicate edit
    edit-form edit-media enclosure external first glossary help hosts hub icon index item last
    latest-version license lrdd manifest me monitor monitor-group next next-archive nofollow noopener
    noreferrer opener payment pingback preconnect predecessor-version prefetch preload prerender prev
    prev-archive preview previous privacy-policy profile related replies restconf search section self
    service service-desc service-doc service-meta sibling sitemap start status stylesheet subsection
    successor-version sunset tag terms-of-service timegate timemap type up version-history via
    webmention working-copy working-copy-of"""
)
_FEED_HISTORY_RELS = frozenset({"current", "first", "last", "next", "next-archive", "prev-archive", "previous"})
_IANA_REL_PREFIX = "http://www.iana.org/assignments/relation/"

_FEED_SINGLE = ("id", "title", "updated", "subtitle", "rights", "icon", "logo", "generator")
_ENTRY_SINGLE = ("id", "title", "updated", "published", "content", "summary", "rights", "source")
_FEED_CHILDREN = _words(
    """author category contributor generator icon id link logo rights subtitle title updated entry"""
)
_ENTRY_CHILDREN = _words(
    """author category content contributor id link published rights source summary title updated"""
)
_SOURCE_CHILDREN = _FEED_CHILDREN - {"entry"}
_TEXT_CONSTRUCTS = frozenset({"title", "subtitle", "rights", "summary"})
_LINK_ATTRS = frozenset({"href", "rel", "type", "hreflang", "title", "length"})
_SELF_TYPES = frozenset({"application/atom+xml", "application/rss+xml", "application/rdf+xml"})


class _AtomChecker:
    def __init__(self, report: _Report, self_url: str | None, now: datetime) -> None:
        self.r = report
        self.self_url = self_url
        self.now = now

    # -- generic helpers -------------------------------------------------------------------------------
    def check_iri(self, value: str, where: str, what: str, *, rel_code: str = "RelativeLink") -> bool:
        """Absolute IRI required (policy); returns True when valid and absolute."""
        if value != value.strip():
            self.r.error("UnexpectedWhitespace", where, f"{what} has leading or trailing whitespace")
            value = value.strip()
        if value == "":
            self.r.warning("AttrNotBlank", where, f"{what} must not be blank")
            return False
        reason = _iri_syntax_problem(value)
        if reason:
            self.r.error("InvalidIRI", where, f"{what} {value!r} is not a valid IRI: {reason}")
            return False
        if not _is_absolute(value):
            self.r.warning(rel_code, where, f"{what} {value!r} is relative; feeds publishes absolute IRIs only")
            return False
        return True

    def check_date(self, el: Any, what: str) -> datetime | None:
        value = _text(el)
        where = self.r.where(el)
        if value != value.strip():
            self.r.error("UnexpectedWhitespace", where, f"{what} has leading or trailing whitespace")
            value = value.strip()
        dt = _parse_rfc3339(value)
        if dt is None:
            self.r.error("InvalidRFC3339Date", where, f"{what} must be an RFC 3339 date-time with an offset: {value!r}")
            return None
        if dt > self.now:
            self.r.warning("ImplausibleDate", where, f"{what} {value} is in the future")
        elif dt < _EARLIEST_PLAUSIBLE:
            self.r.warning("ImplausibleDate", where, f"{what} {value} is implausibly old")
        return dt

    def check_singletons(self, el: Any, names: Sequence[str]) -> None:
        for name in names:
            found = el.findall(_A + name)
            if len(found) > 1:
                self.r.error("DuplicateElement", self.r.where(found[1]), f"{_local(el)} contains more than one {name}")

    def check_children(self, el: Any, allowed: frozenset[str]) -> None:
        for child in _elements(el):
            if _ns(child) == ATOM_NS and _local(child) not in allowed:
                self.r.error(
                    "UndefinedElement", self.r.where(child), f"undefined {_local(el)} element: {_local(child)}"
                )
            elif _ns(child) is None:
                self.r.error("NotInANamespace", self.r.where(child), f"{_local(child)} is not in any namespace")
        if (el.text or "").strip() or any((c.tail or "").strip() for c in el):
            self.r.error("UnexpectedText", self.r.where(el), f"{_local(el)} contains stray text")

    def check_leaf(self, el: Any) -> None:
        """A simple-content element: no child elements allowed."""
        for child in _elements(el):
            self.r.error("UndefinedElement", self.r.where(child), f"{_local(el)} must not contain elements")

    def check_attrs(self, el: Any, allowed: frozenset[str]) -> None:
        for name in el.attrib:
            if not name.startswith("{") and name not in allowed:
                self.r.error("UnexpectedAttribute", self.r.where(el), f"unexpected {name} attribute on {_local(el)}")

    # -- document ----------------------------------------------------------------------------------------
    def check_common(self, root: Any) -> None:
        for el in root.iter():
            if not isinstance(el.tag, str):
                continue
            lang = el.get(_XML_LANG)
            if lang is not None:
                reason = _language_problem(lang)
                if reason:
                    self.r.error("InvalidLanguage", self.r.where(el), f"xml:lang {lang!r} {reason}")
            base = el.get(_XML_BASE)
            if base is not None:
                self.check_iri(base, self.r.where(el) + "/@xml:base", "xml:base")
            texts = [el.text or "", el.tail or "", *(str(v) for v in el.attrib.values())]
            if any(_bad_characters(t) for t in texts):
                self.r.warning("BadCharacters", self.r.where(el), f"{_local(el)} contains bad characters")

    def check_feed(self, feed: Any) -> None:
        where = self.r.where(feed)
        self.check_children(feed, _FEED_CHILDREN)
        self.check_attrs(feed, frozenset())
        self.check_singletons(feed, _FEED_SINGLE)
        for name in ("id", "title", "updated"):
            if feed.find(_A + name) is None:
                self.r.error("MissingElement", where, f"missing feed element: {name}")
        # metadata must precede the entries (W3C MisplacedMetadata)
        seen_entry = False
        for child in _elements(feed):
            if child.tag == _A + "entry":
                seen_entry = True
            elif seen_entry and _ns(child) == ATOM_NS:
                self.r.error(
                    "MisplacedMetadata", self.r.where(child), f"{_local(child)} must appear before the entries"
                )
        self.check_metadata(feed, is_source=False)

        entries = feed.findall(_A + "entry")
        feed_has_author = feed.find(_A + "author") is not None
        ids: dict[str, str] = {}
        updated_seen: dict[str, str] = {}
        for entry in entries:
            self.check_entry(entry, feed_has_author)
            ident = _text(entry.find(_A + "id")).strip() if entry.find(_A + "id") is not None else ""
            if ident:
                if ident in ids:
                    self.r.error(
                        "DuplicateEntries",
                        self.r.where(entry),
                        f"two entries with the same id {ident!r} ({ids[ident]})",
                    )
                else:
                    ids[ident] = self.r.where(entry)
            up = entry.find(_A + "updated")
            if up is not None and _text(up).strip():
                value = _text(up).strip()
                if value in updated_seen:
                    self.r.warning(
                        "DuplicateUpdated",
                        self.r.where(up),
                        f"two entries with the same atom:updated value {value} ({updated_seen[value]})",
                    )
                else:
                    updated_seen[value] = self.r.where(entry)
        if not entries and not feed_has_author:
            self.r.error("MissingElement", where, "missing feed element: author")

    def check_metadata(self, el: Any, *, is_source: bool) -> None:
        """Feed-level (or source-level) metadata children."""
        where = self.r.where(el)
        if is_source:
            for name in ("id", "title", "updated"):
                if el.find(_A + name) is None:
                    self.r.warning("MissingSourceElement", where, f"source should contain {name}")
        idel = el.find(_A + "id")
        if idel is not None:
            self.check_id(idel)
        for name in ("title", "subtitle", "rights"):
            for tc in el.findall(_A + name):
                self.check_text_construct(tc)
        upd = el.find(_A + "updated")
        if upd is not None:
            self.check_date(upd, "updated")
        for name in ("author", "contributor"):
            for person in el.findall(_A + name):
                self.check_person(person)
        for cat in el.findall(_A + "category"):
            self.check_category(cat)
        for name in ("icon", "logo"):
            for img in el.findall(_A + name):
                self.check_leaf(img)
                self.check_iri(_text(img), self.r.where(img), name)
        for gen in el.findall(_A + "generator"):
            self.check_attrs(gen, frozenset({"uri", "version"}))
            if not _text(gen).strip():
                self.r.warning("NotBlank", self.r.where(gen), "generator can not be blank")
            if gen.get("uri") is not None:
                self.check_iri(gen.get("uri"), self.r.where(gen) + "/@uri", "generator uri")
        links = el.findall(_A + "link")
        for link in links:
            self.check_link(link, container="source" if is_source else "feed")
        self.check_duplicate_alternates(links)
        if not is_source:
            selfs = [lk for lk in links if lk.get("rel") == "self"]
            if not selfs:
                self.r.warning("MissingSelf", where, 'missing atom:link with rel="self"')
            elif self.self_url is not None:
                self.check_self_matches([str(lk.get("href", "")).strip() for lk in selfs], self.r.where(selfs[0]))

    def check_self_matches(self, hrefs: list[str], where: str) -> None:
        assert self.self_url is not None
        if any(_same_location(href, self.self_url) for href in hrefs):
            return
        self.r.warning(
            "SelfDoesntMatchLocation",
            where,
            f"self reference {hrefs[0]!r} doesn't match document location {self.self_url!r}",
        )

    def check_duplicate_alternates(self, links: list[Any]) -> None:
        seen: set[tuple[str, str]] = set()
        for link in links:
            if link.get("rel", "alternate") != "alternate":
                continue
            key = (str(link.get("type", "")), str(link.get("hreflang", "")))
            if key in seen:
                self.r.error(
                    "DuplicateAtomLink",
                    self.r.where(link),
                    f"duplicate alternate links with the same type {key[0]!r} and hreflang {key[1]!r}",
                )
            seen.add(key)

    def check_id(self, el: Any) -> None:
        where = self.r.where(el)
        self.check_leaf(el)
        raw = _text(el)
        value = raw.strip()
        if raw != value:
            self.r.error("UnexpectedWhitespace", where, "id has leading or trailing whitespace")
        if not value:
            self.r.error("InvalidFullLink", where, "id must be a full and valid IRI, not blank")
            return
        m = _SCHEME_RE.match(value)
        if not m:
            self.r.error("InvalidFullLink", where, f"id must be an absolute IRI: {value!r}")
            return
        scheme = m.group(1).lower()
        if scheme == "tag":
            if not _TAG_RE.match(value):
                self.r.error("InvalidTAG", where, f"id is not a valid tag: URI (RFC 4151): {value!r}")
                return
        elif scheme == "urn":
            um = _URN_RE.match(value)
            if not um or not _URN_NSS_RE.match(um.group(2)):
                self.r.error("InvalidURN", where, f"id is not a valid URN: {value!r}")
                return
            if um.group(1).lower() == "uuid" and not _UUID_RE.match(um.group(2)):
                self.r.error("InvalidURN", where, f"id is not a valid urn:uuid: {value!r}")
                return
        elif scheme in ("http", "https"):
            reason = _iri_syntax_problem(value)
            if reason:
                self.r.error("InvalidIRI", where, f"id {value!r} is not a valid IRI: {reason}")
                return
            canon = _canonical_http(value)
            if canon != value:
                self.r.warning(
                    "NonCanonicalURI", where, f"id {value!r} is not in canonical form (canonical: {canon!r})"
                )
                return
        else:
            reason = _iri_syntax_problem(value)
            if reason:
                self.r.error("InvalidIRI", where, f"id {value!r} is not a valid IRI: {reason}")
                return
            self.r.warning("UnexpectedIdScheme", where, f"ids should use tag:, urn: or http(s): (got {scheme}:)")
            return
        if m.group(1) != scheme:
            self.r.warning("NonCanonicalURI", where, f"id scheme should be lower case: {value!r}")

    def check_text_construct(self, el: Any) -> None:
        where = self.r.where(el)
        name = _local(el)
        self.check_attrs(el, frozenset({"type"}))
        ttype = el.get("type", "text")
        if ttype not in ("text", "html", "xhtml"):
            self.r.error("InvalidTextType", where, f"type attribute of {name} must be text, html or xhtml: {ttype!r}")
            return
        self.check_text_payload(el, ttype, name)

    def check_text_payload(self, el: Any, ttype: str, name: str) -> None:
        where = self.r.where(el)
        children = _elements(el)
        if ttype == "xhtml":
            divs = [c for c in children if c.tag == f"{{{XHTML_NS}}}div"]
            if len(children) != 1 or len(divs) != 1 or (el.text or "").strip() or (divs[0].tail or "").strip():
                self.r.error("MissingXhtmlDiv", where, f"{name} of type xhtml must contain exactly one xhtml:div")
            for div in divs:
                self.check_xhtml(div, where, name)
            return
        for child in children:
            self.r.error("UndefinedElement", self.r.where(child), f"{name} of type {ttype} must not contain elements")
        value = _text(el)
        if ttype == "html":
            _check_html_string(value, self.r, where, name)
        else:
            found = _looks_like_html(value)
            if found:
                self.r.warning(
                    "ContainsUndeclaredHTML",
                    where,
                    f"{name} must not contain HTML unless declared in the type attribute (found {found!r})",
                )

    def check_xhtml(self, div: Any, where: str, name: str) -> None:
        _check_xhtml_tree(div, self.r, where, name)

    def check_person(self, el: Any) -> None:
        where = self.r.where(el)
        self.check_attrs(el, frozenset())
        for child in _elements(el):
            if _ns(child) == ATOM_NS and _local(child) not in ("name", "uri", "email"):
                self.r.error(
                    "UndefinedElement", self.r.where(child), f"undefined {_local(el)} element: {_local(child)}"
                )
        for n in ("name", "uri", "email"):
            found = el.findall(_A + n)
            if len(found) > 1:
                self.r.error("DuplicateElement", self.r.where(found[1]), f"{_local(el)} contains more than one {n}")
        name = el.find(_A + "name")
        if name is None:
            self.r.error("MissingElement", where, f"missing {_local(el)} element: name")
        elif not _text(name).strip():
            self.r.warning("NotBlank", self.r.where(name), "name can not be blank")
        uri = el.find(_A + "uri")
        if uri is not None:
            self.check_iri(_text(uri), self.r.where(uri), "uri")
        email = el.find(_A + "email")
        if email is not None:
            value = _text(email)
            if value != value.strip():
                self.r.error("UnexpectedWhitespace", self.r.where(email), "email has leading or trailing whitespace")
            if not _EMAIL_RE.match(value.strip()):
                self.r.error("InvalidContact", self.r.where(email), f"email must be an email address: {value!r}")

    def check_category(self, el: Any) -> None:
        where = self.r.where(el)
        self.check_attrs(el, frozenset({"term", "scheme", "label"}))
        term = el.get("term")
        if term is None:
            self.r.error("MissingAttribute", where, "missing category attribute: term")
        elif not term.strip():
            self.r.warning("AttrNotBlank", where, "the term attribute of category can not be blank")
        scheme = el.get("scheme")
        if scheme is not None:
            self.check_iri(scheme, where + "/@scheme", "category scheme")
        label = el.get("label")
        if label is not None and _looks_like_html(label):
            self.r.warning("ContainsHTML", where, "category label should not contain HTML")

    def check_link(self, el: Any, container: str) -> None:
        where = self.r.where(el)
        self.check_attrs(el, _LINK_ATTRS)
        if (el.text or "").strip() or _elements(el):
            self.r.warning("AtomLinkNotEmpty", where, "link should not have content (all data is in attributes)")
        rel = str(el.get("rel", "alternate"))
        if rel.startswith(_IANA_REL_PREFIX):
            rel = rel[len(_IANA_REL_PREFIX) :]
        if not rel.strip():
            self.r.warning("AttrNotBlank", where, "the rel attribute of link can not be blank")
        elif rel not in _REGISTERED_RELS and not (_is_absolute(rel) and _iri_syntax_problem(rel) is None):
            self.r.warning("UnregisteredAtomLinkRel", where, f"unregistered link relationship {rel!r}")
        if rel in _FEED_HISTORY_RELS and container == "entry":
            self.r.warning("FeedHistoryRelInEntry", where, f"{rel} links belong on the feed, not on an entry")
        ltype = el.get("type")
        if ltype is not None:
            if not _mime_ok(ltype):
                self.r.error("InvalidMIMEType", where, f"link type {ltype!r} is not a valid MIME type")
            elif rel == "self" and ltype.split(";")[0].strip().lower() not in _SELF_TYPES:
                self.r.warning("SelfNotAtom", where, f"self link type {ltype!r} is not a feed media type")
        hreflang = el.get("hreflang")
        if hreflang is not None:
            reason = _language_problem(hreflang) if hreflang else "is blank"
            if reason:
                self.r.error("InvalidLanguage", where, f"hreflang {hreflang!r} {reason}")
        length = el.get("length")
        if length is not None and not re.fullmatch(r"\d+", length.strip()):
            self.r.error("InvalidNonNegativeInteger", where, f"link length must be a non-negative integer: {length!r}")
        title = el.get("title")
        if title is not None and not title.strip():
            self.r.warning("AttrNotBlank", where, "the title attribute of link can not be blank")
        href = el.get("href")
        if href is None:
            self.r.error("MissingHref", where, "link must have an href attribute")
            return
        self.check_iri(
            href,
            where + "/@href",
            f"{rel} link",
            rel_code="RelativeSelf" if rel == "self" else "RelativeLink",
        )

    def check_entry(self, entry: Any, feed_has_author: bool) -> None:
        where = self.r.where(entry)
        self.check_children(entry, _ENTRY_CHILDREN)
        self.check_attrs(entry, frozenset())
        self.check_singletons(entry, _ENTRY_SINGLE)
        for name in ("id", "title", "updated"):
            if entry.find(_A + name) is None:
                self.r.error("MissingElement", where, f"missing entry element: {name}")
        idel = entry.find(_A + "id")
        if idel is not None:
            self.check_id(idel)
        for name in ("title", "summary", "rights"):
            for tc in entry.findall(_A + name):
                self.check_text_construct(tc)
        updated = published = None
        up = entry.find(_A + "updated")
        if up is not None:
            updated = self.check_date(up, "updated")
        pub = entry.find(_A + "published")
        if pub is not None:
            published = self.check_date(pub, "published")
        if updated is not None and published is not None and published > updated:
            self.r.warning(
                "PublishedAfterUpdated",
                self.r.where(pub),
                "published is later than updated; updated should be >= published",
            )
        for name in ("author", "contributor"):
            for person in entry.findall(_A + name):
                self.check_person(person)
        for cat in entry.findall(_A + "category"):
            self.check_category(cat)
        links = entry.findall(_A + "link")
        for link in links:
            self.check_link(link, container="entry")
        self.check_duplicate_alternates(links)

        source = entry.find(_A + "source")
        source_has_author = False
        if source is not None:
            self.check_children(source, _SOURCE_CHILDREN)
            self.check_singletons(source, _FEED_SINGLE)
            self.check_metadata(source, is_source=True)
            source_has_author = source.find(_A + "author") is not None
        if not feed_has_author and not source_has_author and entry.find(_A + "author") is None:
            self.r.error("MissingElement", where, "missing entry element: author (needed when the feed has none)")

        content = entry.find(_A + "content")
        has_summary = entry.find(_A + "summary") is not None
        has_alternate = any(lk.get("rel", "alternate") == "alternate" for lk in links)
        if content is None:
            if not has_alternate:
                self.r.error("MissingContentOrAlternate", where, 'entry must have content or a rel="alternate" link')
            if not has_summary:
                self.r.warning("MissingTextualContent", where, "entry should have a summary or content")
        else:
            self.check_content(content, has_summary)

    def check_content(self, el: Any, has_summary: bool) -> None:
        where = self.r.where(el)
        self.check_attrs(el, frozenset({"type", "src"}))
        ctype = str(el.get("type", "text"))
        src = el.get("src")
        if ctype not in ("text", "html", "xhtml") and not _mime_ok(ctype):
            self.r.error("InvalidMIMEType", where, f"content type {ctype!r} is neither text/html/xhtml nor a MIME type")
            return
        if src is not None:
            self.check_iri(src, where + "/@src", "content src")
            if el.get("type") is None:
                self.r.warning("MissingTypeAttr", where, "content with a src attribute should have a type attribute")
            if (el.text or "").strip() or _elements(el):
                self.r.error("UnexpectedText", where, "content with a src attribute must be empty")
            if not has_summary:
                self.r.error("MissingSummary", where, "entry with out-of-line content (src=) must have a summary")
            return
        if ctype in ("text", "html", "xhtml"):
            self.check_text_payload(el, ctype, "content")
            return
        mt = ctype.split(";")[0].strip().lower()
        if mt.endswith("+xml") or mt.endswith("/xml"):
            if len(_elements(el)) > 1:
                self.r.error("UndefinedElement", where, "XML content must contain a single root element")
            return
        if mt.startswith("text/"):
            for child in _elements(el):
                self.r.error(
                    "UndefinedElement", self.r.where(child), f"content of type {ctype} must not contain elements"
                )
            return
        # any other media type: base64
        payload = re.sub(r"\s+", "", _text(el))
        try:
            base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            self.r.error("NotBase64", where, f"content of type {ctype} claims to be base64-encoded, but isn't")
        if not has_summary:
            self.r.error("MissingSummary", where, f"entry with base64 content ({ctype}) must have a summary")


def _archive_checks(feed: Any, report: _Report, *, check_hrefs: bool = True) -> None:
    """RFC 5005 feed paging and archiving rules for a feed element."""
    links = [lk for lk in feed.findall(_A + "link")]

    def rel_of(lk: Any) -> str:
        rel = str(lk.get("rel", "alternate"))
        return rel[len(_IANA_REL_PREFIX) :] if rel.startswith(_IANA_REL_PREFIX) else rel

    by_rel: dict[str, list[Any]] = {}
    for lk in links:
        by_rel.setdefault(rel_of(lk), []).append(lk)
    self_hrefs = {str(lk.get("href", "")).strip() for lk in by_rel.get("self", [])}
    is_archive = feed.find(_FH + "archive") is not None
    is_complete = feed.find(_FH + "complete") is not None
    where = report.where(feed)

    for rel in ("prev-archive", "next-archive", "current", "first", "last", "next", "previous"):
        for lk in by_rel.get(rel, []):
            href = str(lk.get("href", "")).strip()
            if check_hrefs and href and not _is_absolute(href):
                report.warning("RelativeLink", report.where(lk) + "/@href", f"{rel} link {href!r} must be absolute")
            if len(by_rel[rel]) > 1 and rel in ("prev-archive", "next-archive", "current"):
                report.error("DuplicateAtomLink", report.where(lk), f"more than one {rel} link")

    for marker in ("archive", "complete"):
        for el in feed.findall(_FH + marker):
            if (el.text or "").strip() or _elements(el):
                report.error("UnexpectedText", report.where(el), f"fh:{marker} must be empty")

    if is_complete:
        for rel, lks in by_rel.items():
            if rel == "current":
                for lk in lks:
                    if str(lk.get("href", "")).strip() not in self_hrefs:
                        report.error(
                            "CurrentNotSelfInCompleteFeed",
                            report.where(lk),
                            "current link in a complete feed must be self",
                        )
            elif rel in _FEED_HISTORY_RELS:
                for lk in lks:
                    report.error(
                        "FeedRelInCompleteFeed", report.where(lk), f"a complete feed must not have {rel} links"
                    )
        if is_archive:
            report.error("ArchiveAndComplete", where, "a document cannot be both fh:archive and fh:complete")

    # an archive document linking neither prev-archive nor next-archive is the only one (RFC 5005: prev-archive
    # unless it is the oldest, next-archive unless it is the newest), so that alone is no problem
    if is_archive and not is_complete and "current" not in by_rel:
        report.warning("MissingCurrentInArchive", where, "archive document should have a current link")
    if not is_archive and not is_complete:
        for lk in by_rel.get("current", []):
            href = str(lk.get("href", "")).strip()
            if self_hrefs and href not in self_hrefs:
                report.error(
                    "MissingArchiveMarker",
                    where,
                    "document whose current link is not itself must carry <fh:archive/>",
                )

    for rel_end, rel_step in (("first", "previous"), ("last", "next")):
        for lk in by_rel.get(rel_end, []):
            if str(lk.get("href", "")).strip() in self_hrefs and rel_step in by_rel:
                report.error("LinkPastEnd", where, f"{rel_end} page links to a {rel_step} page")


def validate_archive_links(doc: bytes | Any) -> list[Problem]:
    """RFC 5005 checks: prev-archive/next-archive/current links absolute, archive documents carry
    <fh:archive/> (and a current link), complete feeds carry no paging links.  ``doc`` is the document's
    bytes or an already parsed root element."""
    report = _Report()
    root = _parse_xml(doc, report) if isinstance(doc, bytes) else doc
    if root is not None and root.tag == _A + "feed":
        _archive_checks(root, report)
    return report.problems


def _uses_feed_history(feed: Any) -> bool:
    if feed.find(_FH + "archive") is not None or feed.find(_FH + "complete") is not None:
        return True
    for lk in feed.findall(_A + "link"):
        rel = str(lk.get("rel", ""))
        if rel.startswith(_IANA_REL_PREFIX):
            rel = rel[len(_IANA_REL_PREFIX) :]
        if rel in _FEED_HISTORY_RELS:
            return True
    return False


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def validate_atom(data: bytes, *, self_url: str | None = None, now: datetime | None = None) -> list[Problem]:
    """Validate an Atom 1.0 feed document.  ``self_url`` is where it will be published (checked against
    rel="self"); ``now`` (default: current time) is the reference for "date in the future"."""
    report = _Report()
    root = _parse_xml(data, report)
    if root is None:
        return report.problems
    name, ns = _local(root), _ns(root)
    if name != "feed" or ns != ATOM_NS:
        if name == "feed" and ns is None:
            report.error("MissingNamespace", "/feed", f"feed element must be in the Atom namespace {ATOM_NS}")
        elif name == "feed":
            report.error("InvalidNamespace", "/feed", f"feed is in an invalid namespace: {ns}")
        else:
            report.error("UndefinedElement", report.where(root), f"root element must be atom:feed, not {name}")
        return report.problems
    checker = _AtomChecker(report, self_url, _now(now))
    checker.check_common(root)
    checker.check_feed(root)
    if _uses_feed_history(root):
        _archive_checks(root, report, check_hrefs=False)  # hrefs were checked with every other link
    return report.problems


# ---------------------------------------------------------------------------------------------------------
# RSS 2.0
# ---------------------------------------------------------------------------------------------------------

_RSS_CHANNEL_CHILDREN = _words(
    """title link description language copyright managingEditor webMaster pubDate lastBuildDate category
    generator docs cloud ttl image rating textInput skipHours skipDays item"""
)
_RSS_ITEM_CHILDREN = _words("""title link description author category comments enclosure guid pubDate source""")
_RSS_CHANNEL_SINGLE = tuple(sorted(_RSS_CHANNEL_CHILDREN - {"category", "item"}))
_RSS_ITEM_SINGLE = (
    "title",
    "link",
    "description",
    "author",
    "comments",
    "enclosure",
    "guid",
    "pubDate",
    "source",
)


class _RssChecker:
    def __init__(self, report: _Report, self_url: str | None, now: datetime) -> None:
        self.r = report
        self.self_url = self_url
        self.now = now

    def check_url(self, value: str, where: str, what: str) -> None:
        if value != value.strip():
            self.r.error("UnexpectedWhitespace", where, f"{what} has leading or trailing whitespace")
            value = value.strip()
        if not value:
            self.r.warning("NotBlank", where, f"{what} can not be blank")
            return
        reason = _iri_syntax_problem(value)
        if reason or not _is_absolute(value):
            self.r.error("InvalidFullLink", where, f"{what} must be a full and valid URL: {value!r}")

    def check_date(self, el: Any) -> None:
        where = self.r.where(el)
        value = _text(el).strip()
        m = _RFC822_STRICT_RE.match(value)
        if not m:
            if _RFC822_LOOSE_RE.match(value):
                self.r.warning(
                    "ProblematicalRFC822Date",
                    where,
                    f"{_local(el)} is a problematical RFC 822 date: {value!r}",
                )
            else:
                self.r.error("InvalidRFC2822Date", where, f"{_local(el)} must be an RFC-822 date: {value!r}")
            return
        parsed = parsedate_tz(value)
        if parsed is None:
            self.r.error("InvalidRFC2822Date", where, f"{_local(el)} must be an RFC-822 date: {value!r}")
            return
        try:
            day = datetime(parsed[0], parsed[1], parsed[2])
            second = min(parsed[5], 59)
            dt = datetime(parsed[0], parsed[1], parsed[2], parsed[3], parsed[4], second, tzinfo=UTC) - timedelta(
                seconds=parsed[9] or 0
            )
        except ValueError:
            self.r.error("InvalidRFC2822Date", where, f"{_local(el)} is not a real date: {value!r}")
            return
        if parsed[3] > 23 or parsed[4] > 59:
            self.r.error("InvalidRFC2822Date", where, f"{_local(el)} has an invalid time: {value!r}")
            return
        if m.group(1) and day.strftime("%a") != m.group(1):
            self.r.error("IncorrectDOW", where, f"incorrect day of week {m.group(1)!r} in {value!r}")
            return
        if dt > self.now:
            self.r.warning("ImplausibleDate", where, f"{_local(el)} {value} is in the future")
        elif dt < _EARLIEST_PLAUSIBLE:
            self.r.warning("ImplausibleDate", where, f"{_local(el)} {value} is implausibly old")

    def check_children(self, el: Any, allowed: frozenset[str], single: Sequence[str]) -> None:
        for child in _elements(el):
            if _ns(child) is None and _local(child) not in allowed:
                self.r.error(
                    "UndefinedElement", self.r.where(child), f"undefined {_local(el)} element: {_local(child)}"
                )
        for name in single:
            found = el.findall(name)
            if len(found) > 1:
                self.r.error("DuplicateElement", self.r.where(found[1]), f"{_local(el)} contains more than one {name}")

    def check_plain(self, el: Any | None) -> None:
        if el is None:
            return
        found = _looks_like_html(_text(el))
        if found:
            self.r.warning("ContainsHTML", self.r.where(el), f"{_local(el)} should not contain HTML (found {found!r})")

    def check_rss(self, root: Any) -> None:
        version = root.get("version")
        if version != "2.0":
            self.r.error("InvalidRSSVersion", "/rss", f"rss version must be 2.0, got {version!r}")
        channels = root.findall("channel")
        if len(channels) != 1:
            self.r.error(
                "MissingElement" if not channels else "DuplicateElement",
                "/rss",
                "rss must contain exactly one channel",
            )
            if not channels:
                return
        for child in _elements(root):
            if _ns(child) is None and _local(child) != "channel":
                self.r.error("UndefinedElement", self.r.where(child), f"undefined rss element: {_local(child)}")
        self.check_channel(channels[0])

    def check_channel(self, ch: Any) -> None:
        where = self.r.where(ch)
        self.check_children(ch, _RSS_CHANNEL_CHILDREN, _RSS_CHANNEL_SINGLE)
        if ch.find("title") is None:
            self.r.error("MissingTitle", where, "missing channel element: title")
        if ch.find("link") is None:
            self.r.error("MissingLink", where, "missing channel element: link")
        if ch.find("description") is None:
            self.r.error("MissingDescription", where, "missing channel element: description")
        link = ch.find("link")
        if link is not None:
            self.check_url(_text(link), self.r.where(link), "link")
        self.check_plain(ch.find("title"))
        desc = ch.find("description")
        if desc is not None:
            _check_html_string(_text(desc), self.r, self.r.where(desc), "description")
        lang = ch.find("language")
        if lang is not None:
            reason = _language_problem(_text(lang).strip()) or (None if _text(lang).strip() else "is blank")
            if reason:
                self.r.error("InvalidLanguage", self.r.where(lang), f"language {_text(lang)!r} {reason}")
        for name in ("pubDate", "lastBuildDate"):
            el = ch.find(name)
            if el is not None:
                self.check_date(el)
        for name in ("managingEditor", "webMaster"):
            el = ch.find(name)
            if el is not None:
                self.check_email(el)
        for name in ("docs",):
            el = ch.find(name)
            if el is not None:
                self.check_url(_text(el), self.r.where(el), name)
        image = ch.find("image")
        if image is not None:
            for name in ("url", "title", "link"):
                sub = image.find(name)
                if sub is None:
                    self.r.error("MissingElement", self.r.where(image), f"missing image element: {name}")
                elif name != "title":
                    self.check_url(_text(sub), self.r.where(sub), f"image {name}")
        ttl = ch.find("ttl")
        if ttl is not None and not re.fullmatch(r"\d+", _text(ttl).strip()):
            self.r.error("InvalidInteger", self.r.where(ttl), "ttl must be a positive integer")

        atom_links = ch.findall(_A + "link")
        selfs = [lk for lk in atom_links if lk.get("rel") == "self"]
        for lk in atom_links:
            href = lk.get("href")
            if href is None:
                self.r.error("MissingHref", self.r.where(lk), "atom:link must have an href attribute")
            else:
                self.check_url(href, self.r.where(lk) + "/@href", f"atom:link rel={lk.get('rel', 'alternate')}")
        if not selfs:
            self.r.warning("MissingAtomSelfLink", where, 'missing atom:link with rel="self"')
        else:
            ltype = selfs[0].get("type")
            if ltype is not None and ltype.split(";")[0].strip().lower() not in _SELF_TYPES:
                self.r.warning(
                    "SelfNotAtom", self.r.where(selfs[0]), f"self link type {ltype!r} is not a feed media type"
                )
            if self.self_url is not None:
                hrefs = [str(lk.get("href", "")).strip() for lk in selfs]
                if not any(_same_location(h, self.self_url) for h in hrefs):
                    self.r.warning(
                        "SelfDoesntMatchLocation",
                        self.r.where(selfs[0]),
                        f"self reference {hrefs[0]!r} doesn't match document location {self.self_url!r}",
                    )
        guids: dict[str, str] = {}
        for item in ch.findall("item"):
            self.check_item(item, guids)
        seen_item = False
        for child in _elements(ch):
            if child.tag == "item":
                seen_item = True
            elif seen_item and _ns(child) is None:
                self.r.warning("MisplacedItem", self.r.where(child), "channel elements should appear before the items")

    def check_email(self, el: Any) -> None:
        value = _text(el).strip()
        m = re.fullmatch(r"(\S+@\S+?)(?:\s+\((.+)\))?", value)
        if not m or not _EMAIL_RE.match(m.group(1)):
            self.r.error("InvalidContact", self.r.where(el), f"{_local(el)} must include an email address: {value!r}")
        elif not m.group(2):
            self.r.warning(
                "MissingRealName", self.r.where(el), f"{_local(el)} should be 'address (Real Name)': {value!r}"
            )

    def check_item(self, item: Any, guids: dict[str, str]) -> None:
        where = self.r.where(item)
        self.check_children(item, _RSS_ITEM_CHILDREN, _RSS_ITEM_SINGLE)
        title, desc = item.find("title"), item.find("description")
        if title is None and desc is None:
            self.r.error("ItemMustContainTitleOrDescription", where, "item must contain either title or description")
        self.check_plain(title)
        if desc is not None:
            _check_html_string(_text(desc), self.r, self.r.where(desc), "description")
        for name in ("link", "comments"):
            el = item.find(name)
            if el is not None:
                self.check_url(_text(el), self.r.where(el), name)
        author = item.find("author")
        if author is not None:
            self.check_email(author)
        pub = item.find("pubDate")
        if pub is not None:
            self.check_date(pub)
        for enc in item.findall("enclosure"):
            for attr in ("url", "length", "type"):
                if enc.get(attr) is None:
                    self.r.error("MissingAttribute", self.r.where(enc), f"missing enclosure attribute: {attr}")
            if enc.get("url") is not None:
                self.check_url(enc.get("url"), self.r.where(enc) + "/@url", "enclosure url")
            if enc.get("length") is not None and not re.fullmatch(r"\d+", enc.get("length").strip()):
                self.r.error(
                    "InvalidIntegerAttribute", self.r.where(enc), "length attribute of enclosure must be an integer"
                )
            if enc.get("type") is not None and not _mime_ok(enc.get("type")):
                self.r.error(
                    "InvalidMIMEAttribute", self.r.where(enc), "type attribute of enclosure must be a MIME type"
                )
        src = item.find("source")
        if src is not None:
            if src.get("url") is None:
                self.r.error("MissingAttribute", self.r.where(src), "missing source attribute: url")
            else:
                self.check_url(src.get("url"), self.r.where(src) + "/@url", "source url")
        guid = item.find("guid")
        if guid is None:
            self.r.warning("MissingGuid", where, "item should contain a guid element")
            return
        value = _text(guid).strip()
        perma = guid.get("isPermaLink", "true")
        if perma not in ("true", "false"):
            self.r.error("InvalidBooleanAttribute", self.r.where(guid), "isPermaLink must be 'true' or 'false'")
        if not value:
            self.r.warning("NotBlank", self.r.where(guid), "guid can not be blank")
            return
        if perma != "false":
            if not (_is_absolute(value) and _iri_syntax_problem(value) is None):
                self.r.error(
                    "InvalidHttpGUID", self.r.where(guid), "guid must be a full URL, unless isPermaLink is false"
                )
        elif re.fullmatch(r"\d{1,4}", value):
            self.r.warning("NotSufficientlyUnique", self.r.where(guid), f"guid {value!r} is not sufficiently unique")
        if value in guids:
            self.r.error("DuplicateValue", self.r.where(guid), f"guid {value!r} duplicates {guids[value]}")
        else:
            guids[value] = where


def validate_rss2(data: bytes, *, self_url: str | None = None, now: datetime | None = None) -> list[Problem]:
    """Validate an RSS 2.0 document (plus the atom:link rel="self" the W3C service recommends)."""
    report = _Report()
    root = _parse_xml(data, report)
    if root is None:
        return report.problems
    if root.tag != "rss":
        report.error("UndefinedElement", report.where(root), f"root element must be rss, not {root.tag}")
        return report.problems
    for el in root.iter():
        if isinstance(el.tag, str):
            texts = [el.text or "", el.tail or "", *(str(v) for v in el.attrib.values())]
            if any(_bad_characters(t) for t in texts):
                report.warning("BadCharacters", report.where(el), f"{_local(el)} contains bad characters")
    _RssChecker(report, self_url, _now(now)).check_rss(root)
    return report.problems


# ---------------------------------------------------------------------------------------------------------
# JSON Feed 1.1
# ---------------------------------------------------------------------------------------------------------


class _JsonChecker:
    def __init__(self, report: _Report, self_url: str | None, now: datetime) -> None:
        self.r = report
        self.self_url = self_url
        self.now = now

    def check_url(self, obj: dict[str, Any], key: str, where: str) -> None:
        if key not in obj:
            return
        value = obj[key]
        loc = f"{where}.{key}"
        if not isinstance(value, str):
            self.r.error("InvalidValue", loc, f"{key} must be a string")
            return
        reason = _iri_syntax_problem(value)
        if not value or reason:
            self.r.error("InvalidFullLink", loc, f"{key} must be a full and valid URL: {value!r}")
        elif not _is_absolute(value):
            self.r.warning("RelativeLink", loc, f"{key} {value!r} is relative; feeds publishes absolute URLs only")

    def check_string(self, obj: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
        if key not in obj:
            if required:
                self.r.error("MissingElement", where, f"missing {where.split('.')[-1] or 'feed'} member: {key}")
            return None
        value = obj[key]
        if not isinstance(value, str):
            self.r.error("InvalidValue", f"{where}.{key}", f"{key} must be a string")
            return None
        if _bad_characters(value):
            self.r.warning("BadCharacters", f"{where}.{key}", f"{key} contains bad characters")
        return value

    def check_date(self, obj: dict[str, Any], key: str, where: str) -> datetime | None:
        value = self.check_string(obj, key, where)
        if value is None:
            return None
        dt = _parse_rfc3339(value)
        loc = f"{where}.{key}"
        if dt is None:
            self.r.error("InvalidRFC3339Date", loc, f"{key} must be an RFC 3339 date-time with an offset: {value!r}")
            return None
        if dt > self.now:
            self.r.warning("ImplausibleDate", loc, f"{key} {value} is in the future")
        elif dt < _EARLIEST_PLAUSIBLE:
            self.r.warning("ImplausibleDate", loc, f"{key} {value} is implausibly old")
        return dt

    def check_authors(self, obj: dict[str, Any], where: str) -> None:
        if "author" in obj:
            self.r.warning("DeprecatedElement", f"{where}.author", "author is deprecated in JSON Feed 1.1; use authors")
        if "authors" not in obj:
            return
        authors = obj["authors"]
        if not isinstance(authors, list):
            self.r.error("InvalidValue", f"{where}.authors", "authors must be an array")
            return
        for i, a in enumerate(authors):
            loc = f"{where}.authors[{i}]"
            if not isinstance(a, dict) or not any(k in a for k in ("name", "url", "avatar")):
                self.r.error("InvalidValue", loc, "an author must be an object with name, url or avatar")
                continue
            self.check_string(a, "name", loc)
            self.check_url(a, "url", loc)
            self.check_url(a, "avatar", loc)

    def check_feed(self, doc: Any) -> None:
        where = "$"
        if not isinstance(doc, dict):
            self.r.error("InvalidValue", where, "a JSON Feed must be a JSON object")
            return
        version = doc.get("version")
        if version != JSON_FEED_VERSION:
            self.r.error(
                "InvalidVersion",
                f"{where}.version",
                f"version must be {JSON_FEED_VERSION!r}, got {version!r}",
            )
        self.check_string(doc, "title", where, required=True)
        for key in ("home_page_url", "feed_url", "next_url", "icon", "favicon"):
            self.check_url(doc, key, where)
        if "feed_url" not in doc:
            self.r.warning("MissingSelf", where, "feed_url should be present")
        elif (
            self.self_url is not None
            and isinstance(doc["feed_url"], str)
            and not _same_location(doc["feed_url"], self.self_url)
        ):
            self.r.warning(
                "SelfDoesntMatchLocation",
                f"{where}.feed_url",
                f"feed_url {doc['feed_url']!r} doesn't match document location {self.self_url!r}",
            )
        for key in ("description", "user_comment"):
            self.check_string(doc, key, where)
        lang = self.check_string(doc, "language", where)
        if lang is not None:
            reason = _language_problem(lang) or (None if lang else "is blank")
            if reason:
                self.r.error("InvalidLanguage", f"{where}.language", f"language {lang!r} {reason}")
        if "expired" in doc and not isinstance(doc["expired"], bool):
            self.r.error("InvalidValue", f"{where}.expired", "expired must be a boolean")
        self.check_authors(doc, where)
        items = doc.get("items")
        if "items" not in doc:
            self.r.error("MissingElement", where, "missing feed member: items")
            return
        if not isinstance(items, list):
            self.r.error("InvalidValue", f"{where}.items", "items must be an array")
            return
        ids: dict[str, str] = {}
        for i, item in enumerate(items):
            self.check_item(item, f"{where}.items[{i}]", ids)

    def check_item(self, item: Any, where: str, ids: dict[str, str]) -> None:
        if not isinstance(item, dict):
            self.r.error("InvalidValue", where, "an item must be a JSON object")
            return
        if "id" not in item:
            self.r.error("MissingElement", where, "missing item member: id")
        else:
            ident = item["id"]
            if isinstance(ident, (int, float)) and not isinstance(ident, bool):
                self.r.warning("IdNotString", f"{where}.id", "id should be a string")
                ident = str(ident)
            if not isinstance(ident, str) or not ident.strip():
                self.r.error("InvalidValue", f"{where}.id", "id must be a non-empty string")
            elif ident in ids:
                self.r.error("DuplicateEntries", f"{where}.id", f"two items with the same id {ident!r} ({ids[ident]})")
            else:
                ids[ident] = where
        html = self.check_string(item, "content_html", where)
        text = self.check_string(item, "content_text", where)
        if "content_html" not in item and "content_text" not in item:
            self.r.error("MissingContent", where, "item must have content_html or content_text")
        if html is not None:
            _check_html_string(html, self.r, f"{where}.content_html", "content_html")
        if text is not None and not text.strip() and (html is None or not html.strip()):
            self.r.warning("NotBlank", f"{where}.content_text", "content can not be blank")
        for key in ("title", "summary"):
            value = self.check_string(item, key, where)
            if value is not None and key == "title":
                found = _looks_like_html(value)
                if found:
                    self.r.warning("ContainsHTML", f"{where}.title", f"title should not contain HTML (found {found!r})")
        for key in ("url", "external_url", "image", "banner_image"):
            self.check_url(item, key, where)
        published = self.check_date(item, "date_published", where)
        modified = self.check_date(item, "date_modified", where)
        if published is not None and modified is not None and published > modified:
            self.r.warning("PublishedAfterUpdated", f"{where}.date_published", "date_published is after date_modified")
        if "tags" in item and (not isinstance(item["tags"], list) or not all(isinstance(t, str) for t in item["tags"])):
            self.r.error("InvalidValue", f"{where}.tags", "tags must be an array of strings")
        lang = self.check_string(item, "language", where)
        if lang is not None:
            reason = _language_problem(lang) or (None if lang else "is blank")
            if reason:
                self.r.error("InvalidLanguage", f"{where}.language", f"language {lang!r} {reason}")
        self.check_authors(item, where)
        atts = item.get("attachments")
        if atts is not None:
            if not isinstance(atts, list):
                self.r.error("InvalidValue", f"{where}.attachments", "attachments must be an array")
                return
            for j, att in enumerate(atts):
                loc = f"{where}.attachments[{j}]"
                if not isinstance(att, dict):
                    self.r.error("InvalidValue", loc, "an attachment must be an object")
                    continue
                for key in ("url", "mime_type"):
                    if key not in att:
                        self.r.error("MissingElement", loc, f"missing attachment member: {key}")
                self.check_url(att, "url", loc)
                mt = self.check_string(att, "mime_type", loc)
                if mt is not None and not _mime_ok(mt):
                    self.r.error("InvalidMIMEType", f"{loc}.mime_type", f"{mt!r} is not a MIME type")
                for key in ("size_in_bytes", "duration_in_seconds"):
                    v = att.get(key)
                    if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
                        self.r.error("InvalidValue", f"{loc}.{key}", f"{key} must be a non-negative number")


def validate_json_feed(data: bytes, *, self_url: str | None = None, now: datetime | None = None) -> list[Problem]:
    """Validate a JSON Feed 1.1 document."""
    report = _Report()
    if data.startswith(b"\xef\xbb\xbf"):
        report.warning("UnexpectedBOM", "$", "JSON must not start with a byte order mark")
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        report.error("UnicodeError", "$", f"invalid UTF-8 byte sequence at byte offset {exc.start}")
        return report.problems
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        report.error("InvalidJSON", f"line {exc.lineno}", f"not valid JSON: {exc.msg}")
        return report.problems
    _JsonChecker(report, self_url, _now(now)).check_feed(doc)
    return report.problems


# ---------------------------------------------------------------------------------------------------------
# OPML 2.0 subscription lists (http://opml.org/spec2.opml): index.opml
# ---------------------------------------------------------------------------------------------------------

_OPML_VERSIONS = ("1.0", "1.1", "2.0")


def validate_opml(data: bytes, *, self_url: str | None = None, now: datetime | None = None) -> list[Problem]:
    """Validate an OPML subscription list: the opml root with its version, a head (its dates RFC 822 dates)
    and a body of outlines, each with a text; a feed's outline has type="rss" and an xmlUrl, and every
    xmlUrl, htmlUrl and url is a full URL. OPML has no self link: ``self_url`` is not used."""
    report = _Report()
    root = _parse_xml(data, report)
    if root is None:
        return report.problems
    if root.tag != "opml":
        report.error("UndefinedElement", report.where(root), f"root element must be opml, not {root.tag}")
        return report.problems
    version = root.get("version")
    if version not in _OPML_VERSIONS:
        report.error("InvalidOPMLVersion", report.where(root), f"opml version must be one of "
                     f"{', '.join(_OPML_VERSIONS)}, not {version!r}")
    for el in root.iter():
        if isinstance(el.tag, str) and any(_bad_characters(t) for t in (el.text or "", *el.attrib.values())):
            report.warning("BadCharacters", report.where(el), f"{_local(el)} contains bad characters")
    rss = _RssChecker(report, None, _now(now))  # its URL and RFC 822 date rules are OPML's
    head, body = root.find("head"), root.find("body")
    for name, part in (("head", head), ("body", body)):
        if part is None:
            report.error("MissingElement", report.where(root), f"missing opml element: {name}")
    for el in head if head is not None else ():
        if el.tag in ("dateCreated", "dateModified"):
            rss.check_date(el)
    outlines = list(body.iter("outline")) if body is not None else []
    if body is not None and not outlines:
        report.error("MissingElement", report.where(body), "missing body element: outline (at least one)")
    for o in outlines:
        where = report.where(o)
        if o.get("text") is None:
            report.error("MissingAttribute", where, "missing outline attribute: text")
        kind = (o.get("type") or "").lower()
        if kind == "rss" and o.get("xmlUrl") is None:
            report.warning("MissingXmlURL", where, 'an outline of type "rss" must have an xmlUrl')
        elif not kind and o.get("xmlUrl") is not None:
            report.warning("MissingOutlineType", where, 'an outline with an xmlUrl must have type="rss"')
        for attr in ("xmlUrl", "htmlUrl", "url"):
            value = o.get(attr)
            if value is not None:
                rss.check_url(value, f"{where}/@{attr}", attr)
    return report.problems


# ---------------------------------------------------------------------------------------------------------
# Dispatch and CLI
# ---------------------------------------------------------------------------------------------------------

# an HTML page (feeds' index.html and channel pages, or a site's page where a feed was expected): its start
_HTML_PAGE_RE = re.compile(rb"\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.I | re.S)


def validate_document(data: bytes, *, self_url: str | None = None, now: datetime | None = None) -> list[Problem]:
    """Sniff the format (JSON Feed, OPML, RSS 2.0 or Atom) and validate accordingly. An HTML page is no feed:
    one NotAFeed error (feeds' HTML pages are checked by its tests, not here)."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")):
        return validate_json_feed(data, self_url=self_url, now=now)
    start = data[:4096]
    if not re.search(rb"<(?:\w+:)?feed[\s>]", start):
        if re.search(rb"<opml[\s>]", start) and not re.search(rb"<rss[\s>]", start):
            return validate_opml(data, self_url=self_url, now=now)
        if re.search(rb"<rss[\s>]", start):
            return validate_rss2(data, self_url=self_url, now=now)
        if _HTML_PAGE_RE.match(data[3:] if data.startswith(b"\xef\xbb\xbf") else data):
            report = _Report()
            report.error("NotAFeed", "/", "an HTML page, not a feed: feeds.validate checks Atom (and RFC 5005 "
                         "archives), RSS 2.0, JSON Feed and OPML documents")
            return report.problems
    return validate_atom(data, self_url=self_url, now=now)


def _iter_files(paths: Sequence[str]) -> Iterator[tuple[str, bytes | None, str | None]]:
    for path in paths:
        try:
            with open(path, "rb") as fh:
                yield path, fh.read(), None
        except OSError as exc:
            yield path, None, str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m feeds.validate FILE...``: print problems, exit 1 when any file has one."""
    args = list(sys.argv[1:] if argv is None else argv)
    self_url: str | None = None
    if len(args) >= 2 and args[0] == "--self-url":
        self_url, args = args[1], args[2:]
    if not args or args[0] in ("-h", "--help"):
        print("usage: python -m feeds.validate [--self-url URL] FILE...", file=sys.stderr)
        return 2
    status = 0
    for path, data, err in _iter_files(args):
        if data is None:
            print(f"{path}: cannot read: {err}", file=sys.stderr)
            status = 1
            continue
        problems = validate_document(data, self_url=self_url)
        for line in errors_and_warnings(problems):
            print(f"{path}: {line}")
        if problems:
            status = 1
        else:
            print(f"{path}: ok")
    return status


if __name__ == "__main__":
    sys.exit(main())
