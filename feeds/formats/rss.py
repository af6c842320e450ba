"""RSS 2.0 with the Atom feed's entries: guid isPermaLink="false" carries the Atom entry id, atom:link
rel="self" (and rel="hub") as the W3C validator recommends; one dc:creator per author; the entry's first
audio or video file as its <enclosure> (RSS 2.0 allows one; length 0 when unknown, as the specification's
readers take it); pubDate is the entry's `updated`. Built with lxml directly: feedgen's RSS
writer stamps lastBuildDate with the current time, which would change the bytes on every run."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from feeds.formats.model import FeedInfo, RenderEntry, playable

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"


def rfc822(dt: datetime) -> str:
    return format_datetime(dt.replace(microsecond=0), usegmt=True)


def render_rss(info: FeedInfo, entries: Sequence[RenderEntry]) -> bytes:
    from lxml import etree

    rss = etree.Element("rss", version="2.0", nsmap={"atom": ATOM_NS, "dc": DC_NS})
    ch = etree.SubElement(rss, "channel")

    def sub(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
        el = etree.SubElement(parent, tag, **attrs)
        if text is not None:
            el.text = text
        return el

    sub(ch, "title", info.title)
    sub(ch, "link", info.html_url)
    # HTML to readers, as an item's is: the config's plain text escaped ("Kyiv & the <Donbas> front" is text)
    sub(ch, "description", html.escape(info.subtitle or info.title, quote=False))
    if info.language:
        sub(ch, "language", info.language)
    sub(ch, "generator", f"feeds {info.version}")
    sub(ch, "docs", "https://www.rssboard.org/rss-specification")
    sub(ch, "lastBuildDate", rfc822(info.updated))
    sub(ch, f"{{{ATOM_NS}}}link", rel="self", type="application/rss+xml", href=info.self_url)
    if info.hub:
        sub(ch, f"{{{ATOM_NS}}}link", rel="hub", href=info.hub)
    for e in entries:
        item = sub(ch, "item")
        sub(item, "title", e.title)
        if e.link:
            sub(item, "link", e.link)
        # a description is HTML to every reader: a headline standing in for a missing summary is escaped, as
        # JSON Feed's content_html does ("x <script>" is text)
        sub(item, "description", e.summary_html or f"<p>{html.escape(e.title, quote=False)}</p>")
        for name in e.authors:  # Dublin Core's creator may repeat: one per author
            sub(item, f"{{{DC_NS}}}creator", name)
        for c in e.categories:
            sub(item, "category", c)
        media = playable(e.enclosures)  # RSS 2.0 allows one enclosure: the first a podcast app can play
        if media is not None:
            sub(item, "enclosure", url=media.url, length=str(media.length or 0), type=media.type)
        sub(item, "guid", e.id, isPermaLink="false")
        # RSS has one date, which readers sort and age items by: the entry's `updated`, the order the document
        # lists entries in, so a story's development (in place, or a new generation of an archived story) is
        # not dated by the story's first report, hours or days back (a review)
        sub(item, "pubDate", rfc822(e.updated))
        if e.source_feed:
            sub(item, "source", e.source_name, url=e.source_feed)
    return etree.tostring(rss, xml_declaration=True, encoding="UTF-8", pretty_print=True)  # type: ignore[no-any-return]
