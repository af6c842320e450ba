"""Atom 1.0 documents: the live (subscription) feed and RFC 5005 archive pages.

The document is built with feedgen and finished with lxml where feedgen 1.0 falls short: it drops the
attributes of entry links, cannot write a source's id or updated, knows nothing of xml:lang on the feed
or of RFC 5005 (fh:archive, prev-archive/next-archive/current).

Archive pages are assembled from entry *snapshots*: each entry's XML as it was published when its
story was archived (see :func:`entry_snapshots`), so a page is a pure function of stored snapshots and
its page number, and re-rendering a full page can only ever give the same bytes.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from feeds.formats.model import FeedInfo, RenderEntry, rfc3339

ATOM_NS = "http://www.w3.org/2005/Atom"
FH_NS = "http://purl.org/syndication/history/1.0"
XML_NS = "http://www.w3.org/XML/1998/namespace"
_A = f"{{{ATOM_NS}}}"


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
        fe.author({"name": e.author})
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
        _fix_links(el, e)
        src = etree.SubElement(el, f"{_A}source")
        for tag, text in (("id", e.source_id), ("title", e.source_name), ("updated", rfc3339(e.source_updated))):
            etree.SubElement(src, f"{_A}{tag}").text = text
        if e.source_link:
            etree.SubElement(src, f"{_A}link", rel="alternate", type="text/html", href=e.source_link)


def _fix_links(entry: Any, e: RenderEntry) -> None:
    """Write the entry's links with their rel, type and title (feedgen 1.0 loses the attributes)."""
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
    for i, attrs in enumerate(new):
        el = etree.Element(f"{_A}link")
        for k in ("rel", "type", "href", "title"):
            if k in attrs:
                el.set(k, attrs[k])
        entry.insert(pos + i, el)


def _insert_meta(root: Any, elements: Sequence[Any]) -> None:
    """Put feed-level elements after the existing metadata, before the first entry."""
    first = root.find(f"{_A}entry")
    pos = root.index(first) if first is not None else len(root)
    for i, el in enumerate(elements):
        root.insert(pos + i, el)


def _serialise(root: Any) -> bytes:
    from lxml import etree

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)  # type: ignore[no-any-return]


def render_feed(info: FeedInfo, entries: Sequence[RenderEntry], *, prev_archive: str | None = None) -> bytes:
    """The live feed: newest entries first; `prev_archive` is the newest archive page when there is one."""
    from lxml import etree

    root = etree.fromstring(_generator(info, entries).atom_str(pretty=False))
    _finish(root, info, entries)
    if prev_archive:
        _insert_meta(root, [etree.Element(f"{_A}link", rel="prev-archive", type="application/atom+xml",
                                          href=prev_archive)])
    return _serialise(root)


def entry_snapshots(info: FeedInfo, entries: Sequence[RenderEntry]) -> list[str]:
    """Each entry's <entry> element as it is published now, serialised on its own (namespace declared)."""
    from lxml import etree

    root = etree.fromstring(_generator(info, entries).atom_str(pretty=False))
    _finish(root, info, entries)
    return [etree.tostring(el, encoding="unicode") for el in root.iter(f"{_A}entry")]


def snapshot_updated(snapshot: str) -> datetime | None:
    """The atom:updated of a stored entry snapshot."""
    from lxml import etree

    el = etree.fromstring(snapshot.encode("utf-8")).find(f"{_A}updated")
    if el is None or not el.text:
        return None
    return datetime.fromisoformat(el.text.strip())


def render_archive_page(info: FeedInfo, snapshots: Sequence[str], *, current: str, prev_archive: str | None,
                        next_archive: str | None) -> bytes:
    """An RFC 5005 archive document holding the given entry snapshots (given oldest first; written
    newest first like the live feed)."""
    from lxml import etree

    fg = _generator(info, [])
    root = etree.fromstring(fg.atom_str(pretty=False))
    _finish(root, info, [])
    root = _with_fh_namespace(root)
    meta = [etree.Element(f"{{{FH_NS}}}archive"),
            etree.Element(f"{_A}link", rel="current", type="application/atom+xml", href=current)]
    if prev_archive:
        meta.append(etree.Element(f"{_A}link", rel="prev-archive", type="application/atom+xml", href=prev_archive))
    if next_archive:
        meta.append(etree.Element(f"{_A}link", rel="next-archive", type="application/atom+xml", href=next_archive))
    _insert_meta(root, meta)
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    for snap in reversed(snapshots):
        root.append(etree.fromstring(snap.encode("utf-8"), parser))
    etree.cleanup_namespaces(root)
    return _serialise(root)


def _with_fh_namespace(root: Any) -> Any:
    """A copy of `root` that declares the fh: prefix on the feed element."""
    from lxml import etree

    nsmap = dict(root.nsmap)
    nsmap["fh"] = FH_NS
    new = etree.Element(root.tag, nsmap=nsmap, attrib=dict(root.attrib))
    new.extend(list(root))
    return new
