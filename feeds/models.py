"""Plain values passed between the pipeline's stages. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Enclosure:
    """A media file an entry carries (a podcast's episode, a video, an image): an absolute http(s) URL, its
    media type ("" when neither the feed nor the URL's file extension says) and its length in bytes (None
    when unknown)."""

    url: str
    type: str = ""
    length: int | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """One item as parsed from a feed document, before identity and storage.

    Times are timezone-aware UTC datetimes or None when the feed gave none (the pipeline fills
    missing dates with the first-seen time and clamps future ones to now). Text fields are plain
    text except ``summary`` and ``content``, which are sanitised HTML.

    ``authors``: the names of the entry's authors (never an e-mail address), or, when it names none, of
    its feed's (RFC 4287's inheritance; RSS ``managingEditor``, channel ``dc:creator``; JSON Feed's
    ``authors``); ``author`` is the same as the store keeps it (tab-separated). ``enclosures``: its media
    files (RSS ``enclosure``, Atom ``link rel="enclosure"``, Media RSS ``media:content``, JSON Feed
    ``attachments``); ``image``: its thumbnail (``media:thumbnail``, ``itunes:image``, JSON Feed ``image``,
    else its first image enclosure). See :func:`feeds.parse.entry_media` for what is kept.
    """

    guid: str | None
    link: str | None
    title: str
    summary: str = ""
    content: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    published: datetime | None = None
    updated: datetime | None = None
    enclosures: tuple[Enclosure, ...] = ()
    image: str | None = None

    @property
    def author(self) -> str:
        """The authors' names as the store keeps them: separated by a tab (no name holds one)."""
        return "\t".join(self.authors)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed document turned into entries, plus the feed-level hints the scheduler uses."""

    title: str = ""
    link: str = ""
    entries: tuple[Entry, ...] = ()
    ttl_seconds: int | None = None  # RSS <ttl> or sy:updatePeriod/updateFrequency, in seconds
    bozo: str | None = None  # a non-fatal parser complaint, kept for status
    language: str | None = None  # the document's language (RSS <language>, dc:language, the root's xml:lang)
    extra: dict[str, str] = field(default_factory=dict)
