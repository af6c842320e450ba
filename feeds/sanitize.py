"""Allow-list HTML sanitiser for everything the project publishes.

Keeps a small set of structural tags and attributes; drops scripts, styles, event handlers,
forms, frames and anything with a non-http(s)/mailto URL; makes every link absolute against the
item's own URL so readers can resolve it.
"""

from __future__ import annotations

import html as htmllib
import re
from urllib.parse import urljoin, urlsplit

ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "dfn", "div", "dl", "dt",
    "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li",
    "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "time", "tr", "u", "ul", "var",
})
# Elements whose content is dropped with them (not unwrapped).
DROP_WITH_CONTENT = frozenset({
    "script", "style", "template", "iframe", "frame", "frameset", "object", "embed", "applet", "noscript",
    "form", "input", "button", "select", "textarea", "svg", "math", "head", "title", "meta", "link", "base",
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
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_INVISIBLE = re.compile("[\u0000-\u0020\u007f-\u00a0\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]+")


def safe_url(value: str, base: str | None) -> str | None:
    """An absolute http(s)/mailto URL, or None when the value is unsafe or unusable.

    `value` is already decoded (an attribute value from the HTML parser, a link from the feed parser):
    it is not unescaped again, which would turn a query such as `?a=1&not=2` into `?a=1¬=2`. The
    scheme is judged on the absolute URL, so a value that is still entity-encoded (`&#106;avascript:`)
    is a relative reference and ends up as an http(s) URL under `base`, or None without one.
    """
    v = _INVISIBLE.sub("", value)
    if not v:
        return None
    try:
        absolute = urljoin(base, v) if base else v
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme.lower() not in SAFE_SCHEMES:
        return None
    if parts.scheme.lower() != "mailto" and not parts.netloc:
        return None
    return absolute


def sanitize_html(fragment: str, base: str | None = None) -> str:
    """Return a safe HTML fragment (serialised as XHTML-compatible HTML)."""
    if not fragment or not fragment.strip():
        return ""
    fragment = _BAD_XML.sub("", fragment)
    if "<" not in fragment:
        return htmllib.escape(htmllib.unescape(fragment), quote=False)
    from lxml import etree
    from lxml import html as lhtml

    try:
        root = lhtml.fragment_fromstring(fragment, create_parent="div")
    except Exception:  # noqa: BLE001 - e.g. an AssertionError ("too many bodies") for "<html></html>"
        # never let one item's markup stop publishing (it stays in the store and would fail every run):
        # fall back to its text
        return _text_only(fragment)
    for el in list(root.iter()):
        if el is root:
            continue
        tag = el.tag if isinstance(el.tag, str) else None
        if tag is None:  # comments, processing instructions
            el.drop_tree() if el.getparent() is not None else None
            continue
        tag = tag.lower()
        if tag in DROP_WITH_CONTENT:
            el.drop_tree()
            continue
        if tag not in ALLOWED_TAGS:
            el.drop_tag()
            continue
        allowed = ALLOWED_ATTRS.get(tag, frozenset())
        for name in list(el.attrib):
            lname = name.lower()
            if lname not in allowed:
                del el.attrib[name]
                continue
            if lname in URL_ATTRS:
                url = safe_url(el.attrib[name], base)
                if url is None:
                    del el.attrib[name]
                else:
                    el.attrib[name] = url
        if tag == "img" and "src" not in el.attrib:
            el.drop_tree()
    out: str = etree.tostring(root, encoding="unicode", method="html")
    # strip the wrapper <div> we added
    if out.startswith("<div>") and out.endswith("</div>"):
        out = out[5:-6]
    return out.strip()


def _text_only(fragment: str) -> str:
    text = re.sub(r"<(script|style)\b.*?(</\1\s*>|$)", " ", fragment, flags=re.I | re.S)
    text = " ".join(htmllib.unescape(re.sub(r"<[^>]*>?", " ", text)).split())
    return htmllib.escape(_BAD_XML.sub("", text), quote=False)


def text_excerpt(fragment: str, limit: int = 600) -> str:
    """Plain text of an HTML fragment, cut at a word boundary."""
    text = " ".join(htmllib.unescape(re.sub(r"<[^>]*>", " ", fragment)).split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip() + "…"
