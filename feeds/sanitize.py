"""Allow-list HTML sanitiser for everything the project publishes.

Keeps a small set of structural tags and attributes; drops scripts, styles, event handlers,
forms, frames and anything with a non-http(s)/mailto URL; makes every link absolute against the
item's own URL so readers can resolve it.
"""

from __future__ import annotations

import html as htmllib
import re
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urljoin, urlparse, urlsplit

ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "bdi", "bdo", "blockquote", "br", "caption", "cite", "code", "dd", "del", "dfn", "div",
    "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd",
    "li", "mark", "ol", "p", "pre", "q", "rp", "rt", "ruby", "s", "samp", "small", "span", "strong", "sub", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul", "var",
})
# Elements whose content is dropped with them (not unwrapped).
DROP_WITH_CONTENT = frozenset({
    "script", "style", "template", "iframe", "frame", "frameset", "object", "embed", "applet", "noscript",
    "form", "input", "button", "select", "textarea", "svg", "math", "head", "title", "meta", "link", "base",
})
# Block elements not allowed as such: kept as a <div> (unwrapped, their text ran into the next block's:
# <section>Kyiv</section><section>Gaza</section> was published as "KyivGaza").
AS_DIV = frozenset({
    "address", "article", "aside", "center", "details", "dialog", "dir", "fieldset", "footer", "header",
    "hgroup", "legend", "main", "menu", "nav", "section", "summary",
})
ALLOWED_ATTRS = {
    "a": frozenset({"href", "title"}),
    "img": frozenset({"src", "alt", "title", "width", "height"}),
    "abbr": frozenset({"title"}),
    "blockquote": frozenset({"cite"}),
    "q": frozenset({"cite"}),
    "td": frozenset({"colspan", "rowspan"}),
    "th": frozenset({"colspan", "rowspan", "scope"}),
    "time": frozenset({"datetime"}),
}
URL_ATTRS = frozenset({"href", "src", "cite"})
# The values an allowed attribute may take where HTML says what they are (an accessibility review found
# width="100%", colspan="abc", scope="bogus" and <time datetime="yesterday">: a machine reader took that for
# a date); any other value goes with its attribute.
_DIGITS = re.compile(r"[0-9]{1,5}").fullmatch
# HTML: colspan 1-1000, rowspan 0-65534 (0: to the end of the table section)
ATTR_VALUES = {
    "width": _DIGITS, "height": _DIGITS, "colspan": re.compile(r"0*[1-9][0-9]{0,3}").fullmatch, "rowspan": _DIGITS,
    "scope": re.compile(r"(?i)row|col|rowgroup|colgroup").fullmatch,
    "datetime": re.compile(r"[0-9]{4}-[0-9]{2}(?:-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,3})?)?"
                           r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?)?|[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,3})?)?").fullmatch,
}
# Attributes every kept element may have, with the values they may take: the direction and the language
# of right-to-left text (<p dir="rtl">, an Arabic quote in an English post) are content, not style.
GLOBAL_ATTRS = {
    "dir": re.compile(r"(?i)ltr|rtl|auto").fullmatch,
    "lang": re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8}){0,4}").fullmatch,
}
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# a numeric character reference; its ";" is optional, as in HTML
_CHAR_REF = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,64})(?![0-9a-fA-F])|([0-9]{1,64})(?![0-9]));?")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PLAIN_ABSOLUTE = re.compile(r"https?://[A-Za-z0-9.-]+(?::([0-9]*))?(?:[/?#][A-Za-z0-9._~!$&'()*+,=:@%/?#-]*)?")
# what is trimmed from a URL's ends: spaces, controls, zero-width and bidi marks, a BOM (str.strip: linear,
# where a regex anchored at the end is quadratic on a long inner run)
_INVISIBLE_CHARS = "".join(chr(c) for lo, hi in ((0x00, 0x20), (0x7F, 0xA0), (0x200B, 0x200F), (0x2028, 0x202E),
                                               (0x2060, 0x2064), (0xFEFF, 0xFEFF)) for c in range(lo, hi + 1))
# inside a URL: what the WHATWG URL parser removes anywhere (ASCII tab and newline), what cannot be encoded
# (lone surrogates), and what is percent-encoded (controls, spaces, bidi controls, noncharacters)
_URL_DROP = re.compile("[\t\n\r\ud800-\udfff]")
_URL_ESCAPE = re.compile("[\u0000-\u0020\u007f-\u00a0\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff\ufffe\uffff]")


def _percent(m: re.Match[str]) -> str:
    return "".join(f"%{b:02X}" for b in m.group().encode("utf-8"))


# Query parameters that carry a secret (a private feed's key): a URL with one is never published.
_SECRET_PARAM = re.compile(r"(?i)token|secret|pass|auth|key|sig|session|^sid$|^hash$|credential")


def public_url(url: str) -> str | None:
    """A URL fit to publish (a source's, in RSS <source url> and JSON Feed feed_url; a media file's), or
    None: an http(s) URL without user:password and without a query parameter named like a secret
    (``?private_token=``, ``?key=``, ``?auth=``, ``?token-hash=``: private feeds and their per-subscriber
    media files carry their key there)."""
    if not url.startswith(("http://", "https://")):
        return None
    try:
        p = urlsplit(url)
    except ValueError:
        return None
    if "@" in p.netloc:
        return None
    if p.query and any(_SECRET_PARAM.search(unquote(part.partition("=")[0]))
                       for part in p.query.replace(";", "&").split("&")):
        return None
    return url


def safe_url(value: str, base: str | None) -> str | None:
    """An absolute http(s)/mailto URL, or None when the value is unsafe or unusable.

    `value` is already decoded (an attribute value from the HTML parser, a link from the feed parser):
    it is not unescaped again, which would turn a query such as `?a=1&not=2` into `?a=1¬=2`. The
    scheme is judged on the absolute URL, so a value that is still entity-encoded (`&#106;avascript:`)
    is a relative reference and ends up as an http(s) URL under `base`, or None without one. Invisible
    characters (spaces, controls, zero-width and bidi marks) are trimmed at the ends; inside, the URL keeps
    its characters, with tab and newline dropped and spaces, controls and bidi controls percent-encoded.
    """
    v = value.strip(_INVISIBLE_CHARS)
    if not v:
        return None
    if not v.isascii() or not v.isprintable() or " " in v:
        # characters inside are kept (a path may hold a space or a Persian ZWNJ): tab and newline are
        # dropped, as browsers do, and controls, spaces and bidi controls percent-encoded, so "java\tscript:"
        # is refused and "java\u200bscript:" or "java script:" is a relative reference (never a scheme)
        v = _URL_ESCAPE.sub(_percent, _URL_DROP.sub("", v))
    if "%" in v:  # a "%" that starts no escape is a percent sign: "%25" (RFC 3986 2.4)
        v = _STRAY_PERCENT.sub("%25", v)
    if v.count("#") > 1:  # one fragment: a later "#" is part of it, "%23"
        head, _, fragment = v.partition("#")
        v = head + "#" + fragment.replace("#", "%23")
    plain = _PLAIN_ABSOLUTE.fullmatch(v)
    if plain and not v.endswith(("?", "#")) and "?#" not in v and int(plain.group(1) or 0) <= 65535:
        # the common case, an absolute http(s) URL of plain characters: urljoin would give it back as it is
        # (no empty query or fragment to drop, no ";" params, no brackets, a port number in range), so only
        # `base` can make it fail
        return v if not base or _PLAIN_ABSOLUTE.fullmatch(base) or _parses(base) else None
    try:
        absolute = urljoin(base, v) if base else v
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme.lower() not in SAFE_SCHEMES:
        return None
    if parts.scheme.lower() != "mailto":
        if not parts.netloc:
            return None
        try:
            parts.port  # noqa: B018 - "//url(javascript:x)" has the host "url(javascript" and no port number
        except ValueError:
            return None
    return absolute


@lru_cache(maxsize=256)
def _parses(url: str) -> bool:
    """Whether urljoin can parse `url` as a base (urlparse raises ValueError on a malformed host)."""
    try:
        urlparse(url)
    except ValueError:
        return False
    return True


def _xml_char_ref(m: re.Match[str]) -> str:
    """A numeric character reference, or nothing if it names a character XML cannot hold ("&#0;" stays: the
    parser makes it U+FFFD, as HTML does)."""
    v = int(m.group(1), 16) if m.group(1) is not None else int(m.group(2))
    return m.group() if v == 0 or (v <= 0x10FFFF and not _BAD_XML.match(chr(v))) else ""


def xml_safe(fragment: str) -> str:
    """An HTML fragment without the characters XML cannot hold, nor references to them ("&#1;": the HTML
    parser would make it U+0001, which lxml then refuses to set or move)."""
    fragment = _BAD_XML.sub("", fragment)
    return _CHAR_REF.sub(_xml_char_ref, fragment) if "&#" in fragment else fragment


def text_of(fragment: str) -> str:
    """The text of an HTML fragment as the sanitiser publishes it when its tree cannot be walked (not
    escaped): tags and script/style blocks out, entities decoded, spaces collapsed."""
    return htmllib.unescape(_text_only(fragment))


# A start tag whose attributes run past this many characters has them dropped before lxml's HTML parser reads
# it: the parser checks each attribute against those before it, so one tag of 40,000 attributes cost seconds
# at every publish (found by a review of algorithmic costs). No tag of a real summary comes near it.
MAX_TAG_ATTRS_CHARS = 16_384
# possessive: a "<b" and a long run without ">" is matched once, not split every way between the two parts
# (the final review found the plain pattern quadratic on "a <b" + 80,000 characters: 25 s)
_LONG_TAG = re.compile(rf"<([A-Za-z][^\s/<>]*+)[^<>]{{{MAX_TAG_ATTRS_CHARS},}}+>")


def _cut_long_tags(markup: str) -> str:
    return _LONG_TAG.sub(r"<\1>", markup) if len(markup) > MAX_TAG_ATTRS_CHARS else markup


def sanitize_html(fragment: str, base: str | None = None) -> str:
    """Return a safe HTML fragment (serialised as XHTML-compatible HTML), holding only characters XML allows.
    Never raises: markup the tree walk cannot handle gives the fragment's escaped text."""
    if not fragment or not fragment.strip():
        return ""
    fragment = xml_safe(fragment)
    if "<" not in fragment:
        return _BAD_XML.sub("", htmllib.escape(htmllib.unescape(fragment), quote=False))
    try:
        return _sanitize_tree(_cut_long_tags(fragment), base)
    except Exception:  # noqa: BLE001 - e.g. an AssertionError ("too many bodies") for "<html></html>"
        # never let one item's markup stop publishing (it stays in the store and would fail every run):
        # fall back to its text
        return _text_only(fragment)


def _sanitize_tree(fragment: str, base: str | None) -> str:
    root = _fragment(fragment)
    texts = _Texts()
    for el in list(root.iter()):
        if el is root:
            continue
        tag = el.tag
        if not isinstance(tag, str):  # comments, processing instructions
            if el.getparent() is not None:
                _drop_tree(el, texts)
            continue
        tag = tag.lower()
        if tag in DROP_WITH_CONTENT:
            _drop_tree(el, texts)
            continue
        if tag in AS_DIV:
            el.tag = tag = "div"
        if tag not in ALLOWED_TAGS:
            _drop_tag(el, texts)
            continue
        attrib = el.attrib
        if attrib:
            allowed = ALLOWED_ATTRS.get(tag, _NONE)
            for name in list(attrib):
                lname = name.lower()
                if lname not in allowed:
                    ok = GLOBAL_ATTRS.get(lname)
                    value = attrib[name].strip()
                    if ok is None or not ok(value):
                        del attrib[name]
                    else:  # as written by us: a lower-case name, the value trimmed (a direction lower-cased)
                        value = value.lower() if lname == "dir" else value
                        if name != lname or value != attrib[name]:
                            del attrib[name]
                            attrib[lname] = value
                    continue
                if lname in URL_ATTRS:
                    url = safe_url(attrib[name], base)
                    if url is None:
                        del attrib[name]
                    else:
                        attrib[name] = url
                else:
                    valid = ATTR_VALUES.get(lname)
                    if valid is not None:
                        value = attrib[name].strip()  # (written back trimmed: HTML's date parsing skips no space)
                        if not valid(value):
                            del attrib[name]
                        elif value != attrib[name]:
                            attrib[name] = value
        if tag == "img":
            if "src" not in attrib:
                _drop_tree(el, texts)
            elif "alt" not in attrib:  # a text for those who cannot see it: its title, else none (not its file name)
                attrib["alt"] = attrib.get("title", "")
    texts.flush()
    out: str = _etree().tostring(root, encoding="unicode", method="html")
    # strip the wrapper <div> we added
    if out.startswith("<div>") and out.endswith("</div>"):
        out = out[5:-6]
    return _BAD_XML.sub("", out).strip()


# -- lxml.html's fragment_fromstring(create_parent="div"), drop_tree and drop_tag, on plain lxml elements:
# the same parser settings and the same tree operations, without lxml.html's element classes (a Python
# class lookup for every element the loop touches, which cost more than the parse)
_NONE: frozenset[str] = frozenset()
_FULL_HTML = re.compile(r"^\s*<(?:html|!doctype)", re.I).match
_XHTML_NS = "{http://www.w3.org/1999/xhtml}"
_lxml: Any = None  # lxml.etree and the parser, imported on first use
_parser: Any = None


def _etree() -> Any:
    global _lxml, _parser
    if _lxml is None:
        from lxml import etree

        _parser = etree.HTMLParser()  # lxml.html.HTMLParser() is this parser with its element classes
        _lxml = etree
    return _lxml


def _nons(tag: Any) -> Any:
    if isinstance(tag, str) and tag.startswith(_XHTML_NS):
        return tag.split("}")[-1]
    return tag


def _fragment(fragment: str) -> Any:
    etree = _etree()
    parser = _parser
    doc = etree.fromstring(fragment if _FULL_HTML(fragment) else f"<html><body>{fragment}</body></html>", parser)
    if doc is None:
        raise etree.ParserError("Document is empty")
    assert _nons(doc.tag) == "html"
    bodies = [e for e in doc if _nons(e.tag) == "body"]
    assert len(bodies) == 1, "too many bodies"
    body = bodies[0]
    root = parser.makeelement("div")
    if body.text and body.text.strip():
        root.text = body.text
    root.extend(list(body))
    return root


class _Texts:
    """Text moved onto elements' `text` and `tail` while the walk drops elements, joined once per element at the
    end. Appending to the same growing string at each drop was quadratic in the number of dropped elements: a
    summary of 40,000 unknown tags took 7.6 s to sanitise at every publish, 1.8 MB 195 s (found by a review of
    algorithmic costs). Values are read through `get`, which joins what is pending first."""

    def __init__(self) -> None:
        self.pending: dict[tuple[Any, str], list[str]] = {}

    def add(self, el: Any, attr: str, text: str) -> None:
        key = (el, attr)
        pieces = self.pending.get(key)
        if pieces is None:
            self.pending[key] = [getattr(el, attr) or "", text]
        else:
            pieces.append(text)

    def get(self, el: Any, attr: str) -> str | None:
        pieces = self.pending.pop((el, attr), None)
        if pieces is not None:
            setattr(el, attr, "".join(pieces))
        value: str | None = getattr(el, attr)
        return value

    def flush(self) -> None:
        for (el, attr), pieces in self.pending.items():
            setattr(el, attr, "".join(pieces))
        self.pending.clear()


def _drop_tree(el: Any, texts: _Texts) -> None:
    parent = el.getparent()
    assert parent is not None
    tail = texts.get(el, "tail")
    if tail:
        previous = el.getprevious()
        if previous is None:
            texts.add(parent, "text", tail)
        else:
            texts.add(previous, "tail", tail)
    el.tail = None
    parent.remove(el)


def _drop_tag(el: Any, texts: _Texts) -> None:
    parent = el.getparent()
    assert parent is not None
    previous = el.getprevious()
    text = texts.get(el, "text")
    if text and isinstance(el.tag, str):
        if previous is None:
            texts.add(parent, "text", text)
        else:
            texts.add(previous, "tail", text)
    tail = texts.get(el, "tail")
    children = list(el)
    if tail:
        if children:
            texts.add(children[-1], "tail", tail)
        elif previous is None:
            texts.add(parent, "text", tail)
        else:
            texts.add(previous, "tail", tail)
    for child in children:  # each with its tail, before el: no index of el in its parent (linear in its place)
        el.addprevious(child)
    el.tail = None
    parent.remove(el)


def _text_only(fragment: str) -> str:
    text = re.sub(r"<(script|style)\b.*?(</\1\s*>|$)", " ", fragment, flags=re.I | re.S)
    text = " ".join(htmllib.unescape(re.sub(r"<[^>]*>?", " ", text)).split())
    return htmllib.escape(_BAD_XML.sub("", text), quote=False)


def text_excerpt(fragment: str, limit: int = 600) -> str:
    """Plain text of an HTML fragment (what a reader sees: :func:`visible_text`), cut at a word boundary."""
    return cut_text(visible_text(fragment), limit)


def cut_text(text: str, limit: int) -> str:
    """Plain text of at most about ``limit`` characters, cut at a space when one is near ("…" marks the cut)."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip() + "…"


# elements that start a new line or box, or stand between words (img, br, a table cell): words never run
# on across them. Other elements, unknown ones included, are inline: "Ukr<b>aine</b>" shows "Ukraine".
_BREAKS = frozenset({
    "address", "article", "aside", "audio", "blockquote", "br", "caption", "center", "dd", "details", "dialog", "dir",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hgroup", "hr", "img", "legend", "li", "main", "menu", "nav", "ol", "p", "pre", "rp", "rt", "section", "summary",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "video",
})
_text_parser: Any = None
# elements whose content HTML reads as raw text (the rest of a title after an unclosed "<textarea>" would be
# read as text, tags and all): in a title their tags are taken out before it is read
_RAW_TEXT_TAGS = re.compile(r"</?(?:textarea|title|xmp|plaintext|script|style|iframe|noembed|noframes|noscript)"
                            r"(?=[\s/>])[^<>]*>", re.IGNORECASE)


def visible_text(markup: str, *, headline: bool = False) -> str:
    """The text a reader sees in an HTML fragment (an item's summary, an HTML title), on one line: its text,
    entities decoded once, without attributes, comments, or the elements the sanitiser drops with their
    content (scripts, styles, forms, ...: DROP_WITH_CONTENT); words run on across inline elements
    ("Ukr<b>aine</b>", "H<sub>2</sub>O") but not across blocks, line breaks, images or table cells. The HTML
    is read by lxml's HTML parser, as the sanitiser reads what it publishes (HTML5's rules: a "<" that opens
    no tag is text, a comment ends at "-->"; no limit on a text's size). Text without "<" is only
    unescaped.

    ``headline``: the markup is a title, where a tag is a slip of the writer's, never a form or a script
    (and never closed: "Styling <select> boxes", "Why <textarea> grows"): every element's text is kept, and
    the tags of elements whose content HTML reads as raw text are taken out first (the rest of the title
    would otherwise be read as text, tags and all)."""
    global _text_parser
    if "<" not in markup:
        return " ".join((htmllib.unescape(markup) if "&" in markup else markup).split())
    etree = _etree()
    if _text_parser is None:  # the sanitiser's rules, but no comments or PIs and no size limit on a text
        _text_parser = etree.HTMLParser(remove_comments=True, remove_pis=True, no_network=True, huge_tree=True)
    markup = _cut_long_tags(xml_safe(markup))  # as the sanitiser reads it: a control character would make lxml
    # refuse a text, a tag's endless attributes cost the parser quadratic time
    if headline:
        markup = _RAW_TEXT_TAGS.sub("", markup)
    try:
        root = etree.fromstring(f"<html><body>{markup}</body></html>", _text_parser)
        hidden = False
        for el in root.iter():  # the names checked here: lxml's own tag filter took longer than the parse
            tag = el.tag
            if tag in _BREAKS:
                el.tail = " " + el.tail if el.tail else " "
                el.text = " " + el.text if el.text else " "
            elif tag in DROP_WITH_CONTENT and not headline:
                hidden = True
        if hidden:
            etree.strip_elements(root, *DROP_WITH_CONTENT, with_tail=False)
        return " ".join(etree.tostring(root, method="text", encoding="unicode").split())
    except Exception:  # noqa: BLE001 - whatever lxml refuses (not seen since xml_safe): the text as the
        # sanitiser's fallback reads it, as it then publishes it
        return text_of(markup)
