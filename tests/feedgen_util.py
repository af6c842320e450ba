"""Builders of small feed documents for tests."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime


def rss(items: Sequence[dict[str, object]], title: str = "Test feed", link: str = "https://site.example/") -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<rss version="2.0"><channel>',
           f"<title>{html.escape(title)}</title>", f"<link>{link}</link>", "<description>d</description>"]
    for it in items:
        out.append("<item>")
        if "title" in it:
            out.append(f"<title>{html.escape(str(it['title']))}</title>")
        if "link" in it:
            out.append(f"<link>{html.escape(str(it['link']))}</link>")
        if "guid" in it:
            out.append(f'<guid isPermaLink="false">{html.escape(str(it["guid"]))}</guid>')
        if "date" in it:
            d = it["date"]
            out.append(f"<pubDate>{format_datetime(d) if isinstance(d, datetime) else d}</pubDate>")
        if "summary" in it:
            out.append(f"<description>{html.escape(str(it['summary']))}</description>")
        for c in it.get("categories", ()):  # type: ignore[attr-defined]
            out.append(f"<category>{html.escape(str(c))}</category>")
        out.append("</item>")
    out.append("</channel></rss>")
    return "\n".join(out).encode()
