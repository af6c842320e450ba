"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1): the same entries and ids as the Atom feed; an item's
authors, its media files as ``attachments`` and its thumbnail as ``image``."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from feeds.formats.model import FeedInfo, RenderEntry, rfc3339

VERSION = "https://jsonfeed.org/version/1.1"


def render_json_feed(info: FeedInfo, entries: Sequence[RenderEntry]) -> bytes:
    doc: dict[str, Any] = {
        "version": VERSION,
        "title": info.title,
        "home_page_url": info.html_url,
        "feed_url": info.self_url,
    }
    if info.subtitle:
        doc["description"] = info.subtitle
    if info.language:
        doc["language"] = info.language
    doc["authors"] = [{"name": info.author}]
    if info.hub:
        doc["hubs"] = [{"type": "WebSub", "url": info.hub}]
    doc["items"] = [_item(e) for e in entries]
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _item(e: RenderEntry) -> dict[str, Any]:
    item: dict[str, Any] = {"id": e.id}
    if e.link:
        item["url"] = e.link
    item["title"] = e.title
    item["content_html"] = e.summary_html or f"<p>{html.escape(e.title, quote=False)}</p>"
    item["date_published"] = rfc3339(min(e.published, e.updated))
    item["date_modified"] = rfc3339(e.updated)
    authors = [{"name": name} for name in e.authors if name]
    if authors:
        item["authors"] = authors
    if e.image:
        item["image"] = e.image
    if e.categories:
        item["tags"] = list(e.categories)
    if e.language:  # JSON Feed 1.1: the item's language, when its outlet's is not the feed's
        item["language"] = e.language
    if e.enclosures:  # mime_type is required: a file whose type is unknown is application/octet-stream
        item["attachments"] = [{"url": x.url, "mime_type": x.type or "application/octet-stream",
                                **({"size_in_bytes": x.length} if x.length is not None else {})}
                               for x in e.enclosures]
    source: dict[str, Any] = {"title": e.source_name}
    if e.source_link:
        source["home_page_url"] = e.source_link
    if e.source_feed:
        source["feed_url"] = e.source_feed
    # custom extension (JSON Feed 1.1: keys starting with an underscore): the outlets behind the story
    item["_feeds"] = {
        "source": source,
        "also_reported_by": [{"source": r.source, "title": r.title, **({"url": r.link} if r.link else {}),
                              **({"same_report": True} if r.same else {})} for r in e.related],
    }
    return item
