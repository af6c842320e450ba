"""OPML subscription lists (another reader's export) -> the feeds they subscribe to; pure, no I/O.

`parse_opml` reads OPML 1.0/2.0 bytes into the feed outlines (every `<outline>` with an `xmlUrl`, at any
depth; folders are outlines without one) and the outlines it skipped, with a reason each. `plan_import`
sets them against the sources a config already has, and `render_sources` writes the new `[[sources]]`
tables. `feeds import` (feeds/cli.py) does the file work.

Hostile input is refused before lxml sees it: libxml2 expands internal entities in attribute values even
with entity resolution off, so a document that declares entities (`<!ENTITY`), or whose DOCTYPE has an
internal subset or names an external DTD, is an OpmlError, never parsed. The text is decoded here (BOM,
then the XML declaration, else UTF-8) and lxml gets that same text, so what was checked is what is parsed.
"""

from __future__ import annotations

import codecs
import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from feeds.errors import FeedsError

MAX_OPML_BYTES = 10 * 1024 * 1024
# what libxml2 says of one node over its 10,000,000-byte limit (huge_tree off)
_NODE_LIMIT = re.compile(r"too big|too long|XML_PARSE_HUGE|Resource limit exceeded", re.IGNORECASE)
_HUGE_HINT = re.compile(r",?\s*try XML_PARSE_HUGE")
MAX_NAME = 200  # characters of a name taken from an outline
FEED_TYPES = ("rss", "atom", "rdf", "json")  # an outline's type attribute (or none): what feeds reads

_XML_DECL = re.compile(r"\A<\?xml\s[^>]*?\?>")
_DECLARED_ENCODING = re.compile(rb"""\A<\?xml\s[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_ENTITY_DECL = re.compile(r"<!ENTITY", re.I)
_DOCTYPE = re.compile(r"<!DOCTYPE(?P<rest>[^>]*)>?", re.I)
_BARE_DOCTYPE_REST = re.compile(r"\s+[^\s\[\]>]+\s*")  # <!DOCTYPE opml>: no internal subset, no external DTD
_HTML_ESCAPE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_USERINFO = re.compile(r"(?<=//)[^/?#@]*@")
_FEED_PREFIX = re.compile(r"\Afeed:(?=//|https?://)", re.I)


class OpmlError(FeedsError):
    """The file is not an OPML subscription list, or one feeds refuses to read (entities, a DTD)."""

    exit_code = 2

    def __init__(self, file: str, reason: str) -> None:
        self.file = file
        self.reason = reason
        super().__init__(f"{file}: {reason}")


@dataclass(frozen=True)
class Feed:
    """An outline with an http(s) xmlUrl, or (``site``) one with only a site address (htmlUrl): feeds finds
    the feed a site's page names, so that address is the source's."""

    url: str  # as written (whitespace trimmed; a feed: prefix removed)
    title: str | None  # the outline's title, else its text (cleaned); None when it has neither
    folder: tuple[str, ...]  # the names of the outlines it is nested in, outermost first
    line: int | None
    site: bool = False


@dataclass(frozen=True)
class Skipped:
    line: int | None
    what: str  # the URL (credentials hidden) or the outline's name
    reason: str


@dataclass(frozen=True)
class Outlines:
    feeds: tuple[Feed, ...]
    skipped: tuple[Skipped, ...]


def redact(url: str) -> str:
    """`url` with any user:password replaced by *** (for messages; the config keeps it)."""
    return _USERINFO.sub("***@", url)


def shown(text: str, limit: int = 200) -> str:
    """Untrusted text for a message: control characters escaped (no terminal escapes), at most `limit`
    characters."""
    text = "".join(repr(ch)[1:-1] if unicodedata.category(ch) == "Cc" else ch for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clean_text(value: str | None) -> str | None:
    """An outline's title or text as a source name: HTML character references left by exports that
    escape twice (`&amp;amp;`) decoded once, control characters dropped, white space collapsed,
    at most MAX_NAME characters; None when nothing is left."""
    if value is None:
        return None
    text = _HTML_ESCAPE.sub(lambda m: html.unescape(m.group()), value)
    kept = []
    for ch in text:
        if ch.isspace():
            kept.append(" ")
        elif unicodedata.category(ch) not in ("Cc", "Cs") and ch not in "\ufffe\uffff":
            kept.append(ch)
    text = " ".join("".join(kept).split())
    if len(text) > MAX_NAME:
        text = text[: MAX_NAME - 1].rstrip() + "…"
    return text or None


def check_url(raw: str) -> tuple[str | None, str]:
    """(url, "") for a usable http(s) feed URL, else (None, why not). `feed://host/...` and
    `feed:https://...` (the feed pseudo-scheme some readers export) are read as the http(s) URL."""
    url = _FEED_PREFIX.sub("", raw.strip())
    if url.startswith("//"):  # what was feed://host/path
        url = "http:" + url
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url):
        return None, "the URL contains spaces or control characters"
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed IPv6 literal ("http://[::1/feed")
        return None, "not a valid URL"
    if not parts.scheme:
        return None, "not an absolute URL"
    if parts.scheme not in ("http", "https"):
        return None, f"not an http(s) URL ({parts.scheme}:); only http and https feeds are imported"
    if not parts.hostname:
        return None, "an http(s) URL without a host"
    try:
        parts.port  # noqa: B018 - validates the port number
    except ValueError:
        return None, "an http(s) URL with an invalid port"
    return url, ""


def feed_key(url: str) -> tuple[str, int | None, str | None, str | None, str, str] | None:
    """What makes two feed URLs the same feed when importing: the host (case-insensitive), the port (a
    scheme's default port is no port), user and password, the path without a trailing slash, and the
    query. http and https, a trailing slash and a #fragment make no difference. None for a URL that
    is not http(s) (a configured file: source never matches an OPML feed). (plan_import also takes a URL
    without user and password for the same feed configured with them: an export leaves them out.)"""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    if port == (80 if parts.scheme == "http" else 443):
        port = None
    return parts.hostname, port, parts.username, parts.password, parts.path.rstrip("/"), parts.query


def _decode(data: bytes, file: str) -> str:
    """The document as text: a byte order mark, else the XML declaration's encoding, else UTF-8."""
    boms = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
            (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
    sniffed = ((b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"), (b"\x00<", "utf-16-be"),
               (b"<\x00", "utf-16-le"))
    encoding = next((enc for bom, enc in boms if data.startswith(bom)), None)
    encoding = encoding or next((enc for head, enc in sniffed if data.startswith(head)), None)
    if encoding is None:
        m = _DECLARED_ENCODING.match(data)
        encoding = m.group(1).decode("ascii") if m else "utf-8"
        try:
            ascii_compatible = "<?xml".encode(encoding) == b"<?xml"
        except LookupError:
            raise OpmlError(file, f"declares an encoding Python does not know ({encoding!r})") from None
        except UnicodeError:
            ascii_compatible = False
        if not ascii_compatible:
            raise OpmlError(file, f"declares the encoding {encoding!r} but is not written in it")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise OpmlError(file, f"is not valid {encoding} text (line {line}, byte {e.start}); "
                              "is it an OPML file?") from None


def _refuse_dtd(text: str, file: str) -> None:
    why = ("feeds does not read DTDs or entities in an OPML file (no reader exports them; they are how "
           "entity-expansion and external-entity attacks work)")
    if _ENTITY_DECL.search(text):
        raise OpmlError(file, f"declares XML entities (<!ENTITY ...>): refused, {why}")
    for m in _DOCTYPE.finditer(text):
        if not _BARE_DOCTYPE_REST.fullmatch(m.group("rest")):
            raise OpmlError(file, f"has a DOCTYPE with an internal subset or an external DTD: refused, {why}")


def _looks_like_html(text: str) -> bool:
    head = text[:4096].lower()
    return "<opml" not in head and ("<!doctype html" in head or re.search(r"<html[\s>]", head) is not None)


def _local(el: Any) -> str:
    """An element's name without its namespace; "" for a comment or processing instruction."""
    tag = el.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def parse_opml(data: bytes, file: str = "OPML") -> Outlines:
    """The feed outlines of an OPML document and the outlines skipped (with reasons). OpmlError (naming
    `file`) when `data` is not OPML (empty, HTML, a feed, not XML), is over MAX_OPML_BYTES, or declares
    entities or a DTD."""
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(file, f"is larger than {MAX_OPML_BYTES // (1024 * 1024)} MiB: refused "
                              "(no subscription list is that large)")
    text = _decode(data, file)
    if not text.strip():
        raise OpmlError(file, "is empty (not an OPML file)")
    if _looks_like_html(text):
        raise OpmlError(file, "is an HTML page, not an OPML file (export the subscriptions from the reader "
                              "as OPML)")
    _refuse_dtd(text, file)
    decl = _XML_DECL.match(text)
    if decl:  # lxml takes no declaration with text: kept as blank lines, so line numbers stay right
        text = "\n" * decl.group().count("\n") + text[decl.end():]

    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(text, parser)
    except etree.XMLSyntaxError as e:
        msg = str(getattr(e, "msg", "") or e)  # names the line and column
        if _NODE_LIMIT.search(msg):  # libxml2's words ("Comment too big", "try XML_PARSE_HUGE") name its flag
            said = " ".join(_HUGE_HINT.sub("", msg).split()).replace(" ,", ",")
            what = ("an element or attribute name over 50,000 characters" if "Name too long" in msg else
                    "one comment, attribute value or text over 10 MB")
            raise OpmlError(file, f"has {what}, more than an XML parser takes (libxml2: {said}): refused "
                                  "(no subscription list holds one)") from None
        raise OpmlError(file, f"is not well-formed XML ({msg}); is it an OPML file?") from None
    if root is None:
        raise OpmlError(file, "is empty (not an OPML file)")
    info = root.getroottree().docinfo
    dtd = info.internalDTD
    if info.system_url or info.public_id or (dtd is not None and (list(dtd.iterentities())
                                                                  or list(dtd.iterelements()))):
        raise OpmlError(file, "has a DTD: refused")  # _refuse_dtd let one through: never expected
    name = _local(root)
    if name != "opml":
        if name.lower() in ("rss", "feed", "rdf"):
            raise OpmlError(file, f"is a feed (<{name}>), not an OPML subscription list; add it as a "
                                  "[[sources]] url instead")
        if name.lower() == "html":
            raise OpmlError(file, "is an HTML page, not an OPML file")
        raise OpmlError(file, f"is XML but not OPML (its root element is <{name}>, not <opml>)")
    body = next((el for el in root if _local(el) == "body"), None)
    if body is None:
        raise OpmlError(file, "is not an OPML subscription list: it has no <body> element")
    return _walk(body)


def _walk(body: Any) -> Outlines:
    feeds: list[Feed] = []
    skipped: list[Skipped] = []
    # depth first in document order; each outline with the folder path it is nested in
    stack: list[tuple[Any, tuple[str, ...]]] = [(el, ()) for el in reversed(list(body))]
    while stack:
        el, folder = stack.pop()
        if _local(el) != "outline":
            continue
        attrs = {str(k).lower(): str(v) for k, v in el.attrib.items()}
        line: int | None = el.sourceline
        title = clean_text(attrs.get("title")) or clean_text(attrs.get("text"))
        raw_url = attrs.get("xmlurl", "").strip()
        kind = attrs.get("type", "").strip().lower()
        children = list(el)
        inner = folder
        site = attrs.get("htmlurl", "").strip()
        if not raw_url and site and not children and (not kind or kind in FEED_TYPES):
            # a subscription exported by its site alone (xmlUrl="" or none): the site's page names its feed
            url, why = check_url(site)
            if url is None:
                skipped.append(Skipped(line, shown(redact(site)), f"no xmlUrl; its htmlUrl: {why}"))
            else:
                feeds.append(Feed(url, title, folder, line, site=True))
        elif raw_url:
            url, why = check_url(raw_url)
            if kind and kind not in FEED_TYPES:
                skipped.append(Skipped(line, shown(redact(raw_url)), f'type="{shown(kind, 40)}" is not a feed '
                                                                     "(rss, atom, rdf or json)"))
            elif url is None:
                skipped.append(Skipped(line, shown(redact(raw_url)), why))
            else:
                feeds.append(Feed(url, title, folder, line))
        elif kind and kind not in FEED_TYPES and not children:
            what = shown(redact(attrs.get("url", "").strip())) or title or "(an outline without a name)"
            skipped.append(Skipped(line, what, f'type="{shown(kind, 40)}" is not a feed (rss, atom, rdf or json)'))
        else:  # a folder (or a note: an outline with neither children nor a feed, which adds nothing)
            inner = (*folder, title or "(no name)")
        stack.extend((child, inner) for child in reversed(children))
    return Outlines(tuple(feeds), tuple(skipped))


@dataclass(frozen=True)
class Addition:
    url: str
    name: str
    folder: tuple[str, ...]
    line: int | None
    site: bool = False  # the outline gave only its site's address (htmlUrl)


@dataclass(frozen=True)
class Present:
    url: str  # as in the OPML file
    configured_url: str
    name: str  # the configured source's name
    folder: tuple[str, ...]
    line: int | None
    moved: bool = False  # the URL is where the configured source is fetched now (a permanent move)


@dataclass(frozen=True)
class Plan:
    added: tuple[Addition, ...]
    present: tuple[Present, ...]
    skipped: tuple[Skipped, ...]
    # (line, folder, name) of a feed listed again in another place of the file (Feedly's "Must Read" and
    # its own folder): skipped as a second source, still a member of that folder
    again: tuple[tuple[int | None, tuple[str, ...], str], ...] = ()
    missing: tuple[str, ...] = ()  # configured sources (names) the file does not list

    def folders(self) -> dict[tuple[str, ...], list[str]]:
        """Each OPML folder (path) with the names of its sources, new and already configured, a feed listed
        in several folders in each of them."""
        out: dict[tuple[str, ...], list[str]] = {}
        pairs = [(a.line, a.folder, a.name) for a in self.added] + [(p.line, p.folder, p.name) for p in self.present]
        for _, folder, name in sorted([*pairs, *self.again], key=lambda t: t[0] or 0):
            if folder and name not in out.setdefault(folder, []):
                out[folder].append(name)
        return out


# what a config publishes under its output.base_url: channel documents, archive pages, the index pages
_PUBLISHED = re.compile(r"(?:[a-z0-9-]+\.(?:atom|json|rss|html)|archive/[a-z0-9-]+/[0-9]+\.atom|index\.(?:opml|html))")


def _published(url: str, base: str) -> bool:
    """Whether `url` is one of the documents a config with `output.base_url` = `base` publishes (scheme
    aside, as feed_key compares): a channel's feed below the base, not any page of its host (the user's own
    blog beside the feeds is a feed to import)."""
    u, b = feed_key(url), feed_key(base)
    if u is None or b is None or u[:4] != b[:4] or u[5]:
        return False
    path = b[4] + "/"
    return u[4].startswith(path) and _PUBLISHED.fullmatch(u[4][len(path):]) is not None


def plan_import(outlines: Outlines, configured: Iterable[tuple[str, str]], *,
                moved: Iterable[tuple[str, str]] = (), own_base: str | None = None) -> Plan:
    """What importing `outlines` into a config whose sources are `configured` (url, name) does: the
    feeds to add, with a name unique among all sources (a clash becomes "Name (2)"); those already
    configured (compared by feed_key), or fetched now at that URL (`moved`: (url fetched now, configured
    source's name), a permanent move the store recorded); and the skipped outlines: feeds listed twice in
    the file, and the documents this config publishes itself (under `own_base`, its output.base_url: its
    own channels, from its index.opml)."""
    configured = list(configured)
    known: dict[object, tuple[str, str, bool]] = {}
    names: set[str] = set()
    bare: dict[object, tuple[str, str, bool]] = {}  # the same without user and password
    for url, name in configured:
        key = feed_key(url)
        if key is not None:
            known.setdefault(key, (url, name, False))
            bare.setdefault((*key[:2], None, None, *key[4:]), (url, name, False))
        names.add(name)
    by_name = {name: url for url, name in configured}
    for url, name in moved:
        key = feed_key(url)
        if key is not None and name in by_name:
            known.setdefault(key, (by_name[name], name, True))
            bare.setdefault((*key[:2], None, None, *key[4:]), (by_name[name], name, True))
    first: dict[object, tuple[int | None, str]] = {}  # key -> (its first line, its source's name)
    listed: set[str] = set()
    added: list[Addition] = []
    present: list[Present] = []
    skipped = list(outlines.skipped)
    again: list[tuple[int | None, tuple[str, ...], str]] = []
    for feed in outlines.feeds:
        key = feed_key(feed.url)
        if key in first:
            line, name = first[key]
            where = f"line {line}" if line is not None else "earlier"
            skipped.append(Skipped(feed.line, redact(feed.url), f"listed twice in this file (first on {where})"))
            again.append((feed.line, feed.folder, name))
            continue
        if key not in known and key in bare:  # (a key without user and password is its own bare key)
            known[key] = bare[key]  # a URL without credentials is the feed configured with them (an export)
        if key not in known and own_base is not None and _published(feed.url, own_base):
            skipped.append(Skipped(feed.line, redact(feed.url), "a document this config publishes itself (under "
                                   "output.base_url): feeds would read its own channels"))
            continue
        if key in known:
            url, name, was_moved = known[key]
            present.append(Present(feed.url, url, name, feed.folder, feed.line, was_moved))
            first[key] = (feed.line, name)
            listed.add(name)
            continue
        base = feed.title or urlsplit(feed.url).hostname or feed.url
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base} ({n})"
        names.add(name)
        first[key] = (feed.line, name)
        added.append(Addition(feed.url, name, feed.folder, feed.line, feed.site))
    skipped.sort(key=lambda s: s.line if s.line is not None else 0)
    missing = tuple(name for url, name in configured if feed_key(url) is not None and name not in listed)
    return Plan(tuple(added), tuple(present), tuple(skipped), tuple(again), missing)


def _comment(text: str) -> str:
    """`text` as one TOML comment line (no control characters, no line breaks)."""
    return "# " + " ".join("".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text).split())


def render_sources(added: Iterable[Addition], *, interval: str | None = None, header: str | None = None,
                   newline: str = "\n") -> str:
    """The `[[sources]]` tables for `added`, each after a comment naming its OPML folder, written by
    tomli_w (quoting and escapes as TOML wants); `header` is a comment line before them."""
    import tomli_w

    blocks = [_comment(header)] if header else []
    for a in added:
        table: dict[str, str] = {"url": a.url, "name": a.name}
        if interval is not None:
            table["interval"] = interval
        lines = [_comment("folder: " + " / ".join(a.folder))] if a.folder else []
        lines += ["[[sources]]", tomli_w.dumps(table).rstrip("\n")]
        blocks.append("\n".join(lines))
    return newline.join("\n\n".join(blocks).split("\n")) + newline if blocks else ""


@dataclass(frozen=True)
class Subscription:
    """A configured source as another reader subscribes to it."""

    name: str
    url: str  # where it is fetched now: the configured URL, or where it moved (a permanent redirect, the
    # feed its page names); without user:password
    site: str | None  # the site's address: the feed's own link, else the configured page it was found from


def render_subscriptions(subs: Iterable[Subscription], folders: Iterable[tuple[str, Iterable[str]]], *,
                         title: str, created: str) -> bytes:
    """An OPML 2.0 subscription list, the shape other readers import: each folder (a channel that names its
    sources: (its title, its source names)) an outline holding its sources' outlines, a source in several
    folders in each, the sources in no folder at the top level. `created` is an RFC 822 date."""
    from xml.sax.saxutils import escape, quoteattr

    subs = list(subs)
    by_name = {s.name: s for s in subs}

    def outline(s: Subscription, indent: str) -> str:
        site = f" htmlUrl={quoteattr(s.site)}" if s.site else ""
        return (f'{indent}<outline type="rss" text={quoteattr(s.name)} title={quoteattr(s.name)} '
                f"xmlUrl={quoteattr(s.url)}{site}/>")

    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">', "  <head>",
             f"    <title>{escape(title)}</title>", f"    <dateCreated>{escape(created)}</dateCreated>",
             "  </head>", "  <body>"]
    filed: set[str] = set()
    for folder, names in folders:
        members = [by_name[n] for n in names if n in by_name]
        if not members:
            continue
        lines.append(f"    <outline text={quoteattr(folder)} title={quoteattr(folder)}>")
        lines += [outline(m, "      ") for m in members]
        lines.append("    </outline>")
        filed.update(m.name for m in members)
    lines += [outline(s, "    ") for s in subs if s.name not in filed]
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines).encode("utf-8")

