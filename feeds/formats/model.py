"""What every output format needs about a document and its entries, and the time/id rules they share."""

from __future__ import annotations

import html
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import quoteattr

from feeds.models import Enclosure

GENERATOR = "feeds"
# Sub-second digits of an entry's `updated`: a per-story tie-breaker (see entry_time).
_TIEBREAK_SLOTS = 100_000


def plain_time(ts: float) -> datetime:
    """A stored timestamp as an aware UTC datetime, to the second."""
    return datetime.fromtimestamp(int(ts), UTC)


def entry_time(ts: float, story_id: int, gen: int = 1) -> datetime:
    """An entry's `updated`: the story's time to the second, plus a sub-second tie-breaker derived from
    the story id (and generation), so two entries of one document rarely share an atom:updated value
    (the W3C validator's DuplicateUpdated) even when sources publish on the minute: only stories of one
    second whose ids differ by a multiple of _TIEBREAK_SLOTS do. It depends only on the story itself, so
    an entry renders the same in every document and on every run."""
    micro = (story_id % _TIEBREAK_SLOTS) * 10 + gen % 10
    return plain_time(ts) + timedelta(microseconds=micro)


def development_id(uid: str, gen: int) -> str:
    """The entry id of a story's `gen`-th publication in a channel (see docs/publishing.md, archives).

    Generation 1 is the story's own id for ever. A story that changes after it was archived is
    published again as a new entry (generation 2, 3, ...) whose id is derived from the first one, so
    the frozen archive snapshot and the new development are two entries, each present exactly once.
    """
    if gen <= 1:
        return uid
    base = uid.removeprefix("urn:uuid:")
    try:
        ns = uuid.UUID(base)
    except ValueError:
        ns = uuid.uuid5(uuid.NAMESPACE_URL, uid)
    return f"urn:uuid:{uuid.uuid5(ns, f'development/{gen}')}"


def rfc3339(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


def playable(enclosures: Iterable[Enclosure]) -> Enclosure | None:
    """The first audio or video file: what a podcast app plays (RSS 2.0 allows one enclosure an item)."""
    return next((x for x in enclosures if x.type.startswith(("audio/", "video/"))), None)


@dataclass(frozen=True)
class Related:
    """Another outlet's report of the same story."""

    source: str
    title: str
    link: str | None  # None: no link to give (the very same article re-posted, or a report without a safe link)
    same: bool = False  # the outlet re-posted the very same article: credited, nothing more to read


def also_item(r: Related) -> str:
    """One line of an entry's "Also reported by" list, as HTML: the outlet linked to its report and its
    headline; a report without a link by its headline alone; a re-post of the very same article by its
    outlet alone."""
    if r.link:
        return f"<li><a href={quoteattr(r.link)}>{html.escape(r.source)}</a>: {html.escape(r.title)}</li>"
    if r.same:
        return f"<li>{html.escape(r.source)} (the same report)</li>"
    return f"<li>{html.escape(r.source)}: {html.escape(r.title)}</li>"


@dataclass
class RenderEntry:
    """Everything any output format needs about one published entry (one story)."""

    id: str
    story_id: int
    title: str
    link: str | None
    published: datetime
    updated: datetime
    authors: list[str]  # the representative report's authors' names (else its outlet's name); "" ones are left out
    body_html: str  # the representative report's sanitised summary (may be empty)
    categories: list[str]
    source_name: str
    source_link: str | None  # the source's web site
    source_id: str
    source_updated: datetime
    source_feed: str | None = None  # the source's feed URL when it is public (http/https)
    gen: int = 1
    related: list[Related] = field(default_factory=list)
    # the representative report's media files (absolute http(s) IRIs) and thumbnail
    enclosures: list[Enclosure] = field(default_factory=list)
    image: str | None = None
    # its outlet's language when it is not the output's (xml:lang, language, lang): feeds.publish._sources
    language: str | None = None

    @property
    def summary_html(self) -> str:
        """The body plus the list of other outlets, as feed readers get it."""
        if not self.related:
            return self.body_html
        items = "".join(also_item(r) for r in self.related)
        return f"{self.body_html}<p>Also reported by:</p><ul>{items}</ul>"


@dataclass(frozen=True)
class FeedInfo:
    """Document-level metadata shared by the formats."""

    self_url: str
    feed_id: str
    title: str
    subtitle: str
    author: str
    language: str | None
    html_url: str  # the page people read (the channel's HTML page, or the site)
    hub: str | None
    updated: datetime
    version: str = "0"
