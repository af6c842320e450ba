"""Atom 1.0 documents: the live (subscription) feed and RFC 5005 archive pages.

A document is its head (the feed-level metadata, built with feedgen and finished with lxml, which adds
what feedgen 1.0 cannot write: xml:lang on the feed and RFC 5005's fh:archive, prev-archive,
next-archive and current) followed by its entries. Each entry is serialised directly as text by
:func:`entry_xml`, once, in the two forms a publish needs: its *snapshot* (the ``<entry>`` element on
its own, namespace declared, as the archive stores it) and the indented form it takes inside a document.
The bytes are exactly what building the entry with feedgen and serialising it with lxml
(``pretty_print``) gives: same element order, escaping and indentation (tests/test_atom.py checks this
against that reference); an entry holding a character XML cannot carry goes through the reference
path, which rejects it as it always did.

Archive pages are assembled from entry *snapshots*: each entry's XML as it was published when its
story was archived (see :func:`entry_xml`), so a page is a pure function of stored snapshots and its
page number, and re-rendering a full page can only ever give the same bytes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feeds.formats.model import FeedInfo, RenderEntry, rfc3339
from feeds.models import Enclosure

ATOM_NS = "http://www.w3.org/2005/Atom"
FH_NS = "http://purl.org/syndication/history/1.0"
XML_NS = "http://www.w3.org/XML/1998/namespace"
_A = f"{{{ATOM_NS}}}"
_END = "</feed>\n"
# characters lxml refuses in text and attribute values ("All strings must be XML compatible")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ATTR_ESC = re.compile('[&<>"\t\n\r]')
_ESC = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}


def _text(s: str) -> str:
    """Character data escaped as libxml2 writes it."""
    if "&" in s:
        s = s.replace("&", "&amp;")
    if "<" in s:
        s = s.replace("<", "&lt;")
    if ">" in s:
        s = s.replace(">", "&gt;")
    if "\r" in s:
        s = s.replace("\r", "&#13;")
    return s


def _attr(s: str) -> str:
    """An attribute value escaped as libxml2 writes it (inside double quotes)."""
    return _ATTR_ESC.sub(_esc_match, s) if _ATTR_ESC.search(s) else s


def _attr_if(name: str, value: str) -> str:
    """` name="value"`, or nothing for an empty value."""
    return f'{name}="{_attr(value)}"' if value else ""


def _length(x: Enclosure) -> str:
    return str(x.length) if x.length is not None else ""


def _esc_match(m: re.Match[str]) -> str:
    return _ESC[m.group()]


@dataclass(frozen=True)
class EntryXml:
    """One entry, serialised once for every document it appears in."""

    snapshot: str  # the <entry> element alone with its namespace declared: what an archive slot stores
    indented: str  # the entry as it stands in the live feed: indented one level, newline-terminated
    archived: str  # the entry as it stands in an archive page (its snapshot parsed again and indented)
    updated: datetime  # its atom:updated


def entry_xml(e: RenderEntry) -> EntryXml:
    """The entry's XML, byte for byte what feedgen + lxml produce for it (see the module docstring)."""
    lines = _entry_lines(e)
    if lines is None:  # a character XML cannot hold: the reference path decides (it raises ValueError)
        return _entry_xml_lxml(e)
    parts = [s for _d, s, _t in lines]
    parts[0] = f'<entry xmlns="{ATOM_NS}"{_lang(e)}>'
    snapshot = "".join(parts)
    indented = "".join(f"{_INDENT[d]}{s}\n" for d, s, _t in lines)
    if any(t is not None and not t.strip() for _d, _s, t in lines):
        # an empty or blank text: parsed again (archive pages) it may lose its text node (<x></x> -> <x/>)
        return EntryXml(snapshot, indented, indented_entries([snapshot])[0], e.updated)
    return EntryXml(snapshot, indented, indented, e.updated)


_INDENT = ("  ", "    ", "      ")
_Line = tuple[int, str, str | None]  # depth below the entry, the line, the element's text (None: no text)


def _lang(e: RenderEntry) -> str:
    return f' xml:lang="{_attr(e.language)}"' if e.language else ""


def _leaf(depth: int, tag: str, text: str, attrs: str = "") -> _Line:
    return depth, f"<{tag}{attrs}>{_text(text)}</{tag}>", text


def _entry_lines(e: RenderEntry) -> list[_Line] | None:
    """The entry as lines in feedgen's element order, or None when a value holds a character XML cannot
    carry."""
    summary = e.summary_html
    links: list[str] = []
    if e.link:
        links.append(f'<link rel="alternate" type="text/html" href="{_attr(e.link)}"/>')
    links += [f'<link rel="related" type="text/html" href="{_attr(r.link)}" title="{_attr(f"{r.source}: {r.title}")}"/>'
              for r in e.related if r.link]
    links += [f'<link rel="enclosure"{_attr_if(" type", x.type)} href="{_attr(x.url)}"'
              f'{_attr_if(" length", _length(x))}/>' for x in e.enclosures]
    values = [e.id, e.title, *e.authors, summary, e.source_id, e.source_name, *links, *e.categories]
    if e.source_link:
        values.append(e.source_link)
    if _NOT_XML.search("".join(values)):
        return None
    out: list[_Line] = [(0, f"<entry{_lang(e)}>", None), _leaf(1, "id", e.id), _leaf(1, "title", e.title),
                        _leaf(1, "updated", e.updated.isoformat())]
    for name in e.authors:
        if name:  # feedgen leaves out an author without a name
            out += [(1, "<author>", None), _leaf(2, "name", name), (1, "</author>", None)]
    if not e.link:  # no alternate link: RFC 4287 then requires content
        out.append(_leaf(1, "content", summary or f"<p>{html.escape(e.title, quote=False)}</p>", ' type="html"'))
        tail_links = links
    else:  # the links take the place of feedgen's alternate link
        out += [(1, ln, None) for ln in links]
        tail_links = []  # without one, they are appended after feedgen's elements
    out.append(_leaf(1, "summary", summary, ' type="html"') if summary else _leaf(1, "summary", e.title))
    out += [(1, f'<category term="{_attr(c)}"/>', None) for c in e.categories]
    out.append(_leaf(1, "published", min(e.published, e.updated).isoformat()))
    out += [(1, ln, None) for ln in tail_links]
    out += [(1, "<source>", None), _leaf(2, "id", e.source_id), _leaf(2, "title", e.source_name),
            _leaf(2, "updated", rfc3339(e.source_updated))]
    if e.source_link:
        out.append((2, f'<link rel="alternate" type="text/html" href="{_attr(e.source_link)}"/>', None))
    out += [(1, "</source>", None), (0, "</entry>", None)]
    return out


# -- the reference path: feedgen + lxml -------------------------------------------------------------
def _generator(info: FeedInfo, entries: Sequence[RenderEntry]) -> Any:
    from feedgen.feed import FeedGenerator

    fg = FeedGenerator()
    fg.id(info.feed_id)
    fg.title(info.title)
    if info.subtitle:
        fg.subtitle(info.subtitle)
    fg.author({"name": info.author})
    fg.link(href=info.self_url, rel="self", type="application/atom+xml")
    fg.link(href=info.html_url, rel="alternate", type="text/html")
    if info.hub:
        fg.link(href=info.hub, rel="hub")
    fg.generator("feeds", version=info.version)
    fg.updated(info.updated)
    for e in reversed(entries):  # feedgen prepends: add oldest first so the newest ends up first
        fe = fg.add_entry()
        fe.id(e.id)
        fe.title(e.title)
        fe.updated(e.updated)
        fe.published(min(e.published, e.updated))
        if e.authors:
            fe.author([{"name": name} for name in e.authors])
        if e.link:  # feedgen 1.0 drops link attributes: links are rewritten below
            fe.link(href=e.link, rel="alternate")
        summary = e.summary_html
        if summary:
            fe.summary(summary, type="html")
        else:
            fe.summary(e.title)
        if not e.link:  # no alternate link: RFC 4287 then requires content
            fe.content(summary or f"<p>{html.escape(e.title, quote=False)}</p>", type="html")
        for c in e.categories:
            fe.category(term=c)
    return fg


def _finish(root: Any, info: FeedInfo, entries: Sequence[RenderEntry]) -> None:
    from lxml import etree

    if info.language:
        root.set(f"{{{XML_NS}}}lang", info.language)
    for el, e in zip(root.iter(f"{_A}entry"), entries, strict=True):
        if e.language:
            el.set(f"{{{XML_NS}}}lang", e.language)
        _fix_links(el, e)
        src = etree.SubElement(el, f"{_A}source")
        for tag, text in (("id", e.source_id), ("title", e.source_name), ("updated", rfc3339(e.source_updated))):
            etree.SubElement(src, f"{_A}{tag}").text = text
        if e.source_link:
            etree.SubElement(src, f"{_A}link", rel="alternate", type="text/html", href=e.source_link)


def _fix_links(entry: Any, e: RenderEntry) -> None:
    """Write the entry's links with their rel, type, title and length (feedgen 1.0 loses the attributes):
    the alternate link, one related link per other report, one enclosure link per media file (its type and
    length when known)."""
    from lxml import etree

    old = entry.findall(f"{_A}link")
    pos = entry.index(old[0]) if old else len(entry)
    for link in old:
        entry.remove(link)
    new = []
    if e.link:
        new.append({"rel": "alternate", "type": "text/html", "href": e.link})
    new += [{"rel": "related", "type": "text/html", "href": r.link, "title": f"{r.source}: {r.title}"}
            for r in e.related if r.link]
    for x in e.enclosures:  # type and length only when known
        attrs = {"rel": "enclosure", "type": x.type, "href": x.url, "length": _length(x)}
        new.append({k: v for k, v in attrs.items() if v or k == "href"})
    for i, attrs in enumerate(new):
        el = etree.Element(f"{_A}link")
        for k in ("rel", "type", "href", "title", "length"):
            if k in attrs:
                el.set(k, attrs[k])
        entry.insert(pos + i, el)


def _entry_xml_lxml(e: RenderEntry) -> EntryXml:
    """entry_xml the reference way (feedgen, then lxml)."""
    from lxml import etree

    info = FeedInfo(self_url="x:", feed_id="x:", title="x", subtitle="", author="x", language=None,
                    html_url="x:", hub=None, updated=e.updated)
    root = etree.fromstring(_generator(info, [e]).atom_str(pretty=False))
    _finish(root, info, [e])
    snapshot = etree.tostring(next(root.iter(f"{_A}entry")), encoding="unicode")
    doc: str = etree.tostring(root, encoding="unicode", pretty_print=True)
    indented = doc[doc.index("\n  <entry>") + 1:-len(_END)]
    return EntryXml(snapshot, indented, indented_entries([snapshot])[0], e.updated)


def _insert_meta(root: Any, elements: Sequence[Any]) -> None:
    """Put feed-level elements after the existing metadata, before the first entry."""
    first = root.find(f"{_A}entry")
    pos = root.index(first) if first is not None else len(root)
    for i, el in enumerate(elements):
        root.insert(pos + i, el)


def _serialise(root: Any) -> bytes:
    from lxml import etree

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)  # type: ignore[no-any-return]


def _document(head: bytes, entries: str) -> bytes:
    """A document from its head (rendered without entries) and its entries' indented XML."""
    if not entries:
        return head
    assert head.endswith(_END.encode()), head[-40:]
    return b"".join((head[:-len(_END)], entries.encode("utf-8"), _END.encode()))


# -- documents --------------------------------------------------------------------------------------
def feed_head(info: FeedInfo, *, prev_archive: str | None = None) -> bytes:
    """The live feed without entries."""
    from lxml import etree

    root = etree.fromstring(_generator(info, []).atom_str(pretty=False))
    _finish(root, info, [])
    if prev_archive:
        _insert_meta(root, [etree.Element(f"{_A}link", rel="prev-archive", type="application/atom+xml",
                                          href=prev_archive)])
    return _serialise(root)


def render_feed(info: FeedInfo, entries: Sequence[RenderEntry], *, prev_archive: str | None = None,
                xml: Sequence[EntryXml] | None = None) -> bytes:
    """The live feed: newest entries first; `prev_archive` is the newest archive page when there is one.
    `xml` is the entries' XML when the caller already has it (one per entry, same order)."""
    if xml is None:
        xml = [entry_xml(e) for e in entries]
    return _document(feed_head(info, prev_archive=prev_archive), "".join(x.indented for x in xml))


def entry_snapshots(info: FeedInfo, entries: Sequence[RenderEntry]) -> list[str]:
    """Each entry's <entry> element as it is published now, serialised on its own (namespace declared)."""
    return [entry_xml(e).snapshot for e in entries]


def snapshot_updated(snapshot: str) -> datetime | None:
    """The atom:updated of a stored entry snapshot."""
    from lxml import etree

    el = etree.fromstring(snapshot.encode("utf-8")).find(f"{_A}updated")
    if el is None or not el.text:
        return None
    return datetime.fromisoformat(el.text.strip())


def indented_entries(snapshots: Sequence[str]) -> tuple[str, list[datetime | None]]:
    """Stored snapshots as they stand in a document (indented, concatenated in the order given) and
    each one's atom:updated, with a single parse."""
    from lxml import etree

    if not snapshots:
        return "", []
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    wrapper = etree.fromstring(f'<feed xmlns="{ATOM_NS}">{"".join(snapshots)}</feed>'.encode(), parser)
    if len(wrapper) != len(snapshots):
        raise ValueError("an archive snapshot is not one element")
    stamps: list[datetime | None] = []
    for el in wrapper:
        up = el.find(f"{_A}updated")
        stamps.append(datetime.fromisoformat(up.text.strip()) if up is not None and up.text else None)
    root = etree.Element(f"{_A}feed", nsmap={None: ATOM_NS})
    root.extend(list(wrapper))  # moved under a root that declares the namespace: lxml drops their own declarations
    etree.cleanup_namespaces(root)
    text: str = etree.tostring(root, encoding="unicode", pretty_print=True)
    first = text.index("\n") + 1
    assert text.endswith(_END), text[-40:]
    return text[first:-len(_END)], stamps


def archive_head(info: FeedInfo, *, current: str, prev_archive: str | None, next_archive: str | None) -> bytes:
    """An RFC 5005 archive page without entries."""
    from lxml import etree

    root = etree.fromstring(_generator(info, []).atom_str(pretty=False))
    _finish(root, info, [])
    root = _with_fh_namespace(root)
    meta = [etree.Element(f"{{{FH_NS}}}archive"),
            etree.Element(f"{_A}link", rel="current", type="application/atom+xml", href=current)]
    if prev_archive:
        meta.append(etree.Element(f"{_A}link", rel="prev-archive", type="application/atom+xml", href=prev_archive))
    if next_archive:
        meta.append(etree.Element(f"{_A}link", rel="next-archive", type="application/atom+xml", href=next_archive))
    _insert_meta(root, meta)
    etree.cleanup_namespaces(root)
    return _serialise(root)


def render_archive_page(info: FeedInfo, snapshots: Sequence[str], *, current: str, prev_archive: str | None,
                        next_archive: str | None, indented: str | None = None) -> bytes:
    """An RFC 5005 archive document holding the given entry snapshots (given oldest first; written
    newest first like the live feed). `indented` is the entries as they stand in the document (newest
    first, see indented_entries) when the caller already has it."""
    if indented is None:
        indented = indented_entries(list(reversed(snapshots)))[0]
    head = archive_head(info, current=current, prev_archive=prev_archive, next_archive=next_archive)
    return _document(head, indented)


def _with_fh_namespace(root: Any) -> Any:
    """A copy of `root` that declares the fh: prefix on the feed element."""
    from lxml import etree

    nsmap = dict(root.nsmap)
    nsmap["fh"] = FH_NS
    new = etree.Element(root.tag, nsmap=nsmap, attrib=dict(root.attrib))
    new.extend(list(root))
    return new
