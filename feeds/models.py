"""Plain values passed between the pipeline's stages. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Entry:
    """One item as parsed from a feed document, before identity and storage.

    Times are timezone-aware UTC datetimes or None when the feed gave none (the pipeline fills
    missing dates with the first-seen time and clamps future ones to now). Text fields are plain
    text except ``summary`` and ``content``, which are sanitised HTML.
    """

    guid: str | None
    link: str | None
    title: str
    summary: str = ""
    content: str = ""
    author: str = ""
    categories: tuple[str, ...] = ()
    published: datetime | None = None
    updated: datetime | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed document turned into entries, plus the feed-level hints the scheduler uses."""

    title: str = ""
    link: str = ""
    entries: tuple[Entry, ...] = ()
    ttl_seconds: int | None = None  # RSS <ttl> or sy:updatePeriod/updateFrequency, in seconds
    bozo: str | None = None  # a non-fatal parser complaint, kept for status
    extra: dict[str, str] = field(default_factory=dict)
