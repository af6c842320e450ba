"""Channels -> documents in the output directory.

Atom 1.0 is built with feedgen and finished with lxml (source ids, xml:lang). Every document is
rendered deterministically from the store and written atomically (temp file, fsync, rename) only
when its bytes differ from what is on disk, so an unchanged feed keeps its bytes and its mtime and
a reader's conditional GET sees it as unchanged.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from feeds import __version__
from feeds.config import Channel, Config
from feeds.dedup import canonical_link, clean_link
from feeds.errors import PublishError
from feeds.sanitize import safe_url, sanitize_html, text_excerpt
from feeds.store import Store, StoryEntry

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_NS = "http://www.w3.org/XML/1998/namespace"
MAX_SUMMARY_HTML = 20_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def atomic_write(path: Path, data: bytes) -> bool:
    """Write `data` to `path` atomically; return False (and touch nothing) when the bytes are equal."""
    try:
        st = path.stat()
        if st.st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as e:
        raise PublishError(str(path), e.strerror or str(e)) from e
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        try:
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass
    except OSError as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise PublishError(str(path), e.strerror or str(e)) from e
    return True


@dataclass
class Related:
    """Another outlet's report of the same story."""

    source: str
    title: str
    link: str


@dataclass
class RenderEntry:
    """Everything any output format needs about one published entry."""

    id: str
    title: str
    link: str | None
    published: datetime
    updated: datetime
    author: str
    summary_html: str
    categories: list[str]
    source_name: str
    source_link: str | None
    source_id: str
    related: list[Related] = field(default_factory=list)


def _first_uid(story: StoryEntry) -> str:
    for m in (story.rep, *story.others):
        if m.id == story.story_id:
            return m.uid
    return story.rep.uid


def build_entries(cfg: Config, stories: Sequence[StoryEntry],
                  sightings: dict[int, list[tuple[str, str | None, str | None]]],
                  site_links: dict[str, str | None]) -> list[RenderEntry]:
    out = []
    for st in stories:
        rep = st.rep
        link = safe_url(clean_link(rep.link), None) if rep.link else None
        related: list[Related] = []
        seen_links = {canonical_link(link)} if link else set()
        seen_sources = {rep.source_name}

        def add(source: str, title: str | None, url: str | None, *, seen_links: set[str | None] = seen_links,
                seen_sources: set[str] = seen_sources) -> None:
            safe = safe_url(clean_link(url), None) if url else None
            if not safe:
                return
            canon = canonical_link(safe)
            if canon in seen_links:
                return
            seen_links.add(canon)
            seen_sources.add(source)
            related.append(Related(source, title or source, safe))

        for m in st.others:
            add(m.source_name, m.title, m.link)
        for m in (rep, *st.others):
            for name, slink, stitle in sightings.get(m.id, ()):
                add(name, stitle, slink)
        body = rep.summary or rep.content
        summary = sanitize_html(body, rep.link) if body else ""
        if len(summary) > MAX_SUMMARY_HTML:
            summary = f"<p>{html.escape(text_excerpt(summary, 1200), quote=False)}</p>"
        if related:
            items = "".join(
                f"<li><a href={quoteattr(r.link)}>{html.escape(r.source)}</a>: {html.escape(r.title)}</li>"
                for r in related)
            summary += f"<p>Also reported by:</p><ul>{items}</ul>"
        site = site_links.get(rep.source_name)
        out.append(RenderEntry(
            id=_first_uid(st), title=rep.title or "(untitled)", link=link, published=ts(st.published),
            updated=ts(max(st.updated, st.published)), author=rep.author or rep.source_name, summary_html=summary,
            categories=[c for c in rep.categories.split("\t") if c], source_name=rep.source_name,
            source_link=site, source_id=f"{cfg.output.base_url}sources/{_slugish(rep.source_name)}",
            related=related,
        ))
    return out


def _slugish(name: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-") or "source"


def render_atom(cfg: Config, channel: Channel, entries: Sequence[RenderEntry]) -> bytes:
    from feedgen.feed import FeedGenerator
    from lxml import etree

    self_url = cfg.feed_url(f"{channel.slug}.atom")
    fg = FeedGenerator()
    fg.id(self_url)
    fg.title(channel.title)
    if channel.description:
        fg.subtitle(channel.description)
    fg.author({"name": cfg.output.author})
    fg.link(href=self_url, rel="self", type="application/atom+xml")
    if "html" in channel.formats or "html" in cfg.output.formats:
        fg.link(href=cfg.feed_url(f"{channel.slug}.html"), rel="alternate", type="text/html")
    else:
        fg.link(href=cfg.output.base_url, rel="alternate", type="text/html")
    if cfg.output.hub:
        fg.link(href=cfg.output.hub, rel="hub")
    fg.generator("feeds", version=__version__)
    newest = max((e.updated for e in entries), default=EPOCH)
    fg.updated(newest)
    for e in reversed(entries):  # feedgen prepends: add oldest first so the newest ends up first
        fe = fg.add_entry()
        fe.id(e.id)
        fe.title(e.title)
        fe.updated(e.updated)
        fe.published(e.published)
        fe.author({"name": e.author})
        if e.link:  # feedgen 1.0 drops link attributes: links are rewritten below
            fe.link(href=e.link, rel="alternate")
        if e.summary_html:
            fe.summary(e.summary_html, type="html")
        if not e.link:
            fe.content(e.summary_html or html.escape(e.title), type="html")
        for c in e.categories:
            fe.category(term=c)
        fe.source(url=e.source_link or "", title=e.source_name)
    root = etree.fromstring(fg.atom_str(pretty=False))
    if cfg.output.language:
        root.set(f"{{{XML_NS}}}lang", cfg.output.language)
    for el, e in zip(root.iter(f"{{{ATOM_NS}}}entry"), entries, strict=True):
        _fix_links(el, e)
    for src, e in zip(root.iter(f"{{{ATOM_NS}}}source"), entries, strict=True):
        # feedgen writes <title> and <link>; RFC 4287 wants an id too so readers can tell sources apart
        sid = etree.Element(f"{{{ATOM_NS}}}id")
        sid.text = e.source_id
        src.insert(0, sid)
        if not e.source_link:
            for link in src.findall(f"{{{ATOM_NS}}}link"):
                src.remove(link)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)  # type: ignore[no-any-return]


def _fix_links(entry: Any, e: RenderEntry) -> None:
    """Write the entry's links with their rel, type and title (feedgen 1.0 loses the attributes)."""
    from lxml import etree

    old = entry.findall(f"{{{ATOM_NS}}}link")
    pos = entry.index(old[0]) if old else len(entry)
    for link in old:
        entry.remove(link)
    new = []
    if e.link:
        new.append({"rel": "alternate", "type": "text/html", "href": e.link})
    new += [{"rel": "related", "type": "text/html", "href": r.link, "title": f"{r.source}: {r.title}"}
            for r in e.related]
    for i, attrs in enumerate(new):
        el = etree.Element(f"{{{ATOM_NS}}}link")
        for k in ("rel", "type", "href", "title"):
            if k in attrs:
                el.set(k, attrs[k])
        entry.insert(pos + i, el)


def render_opml(cfg: Config) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">', "  <head>",
             f"    <title>{html.escape(cfg.output.title)}</title>",
             f"    <ownerName>{html.escape(cfg.output.author)}</ownerName>", "  </head>", "  <body>"]
    for ch in cfg.channels:
        url = cfg.feed_url(f"{ch.slug}.atom")
        html_url = cfg.feed_url(f"{ch.slug}.html") if "html" in ch.formats else cfg.output.base_url
        lines.append(f"    <outline type=\"rss\" text={quoteattr(ch.title)} title={quoteattr(ch.title)} "
                     f"xmlUrl={quoteattr(url)} htmlUrl={quoteattr(html_url)}/>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines).encode("utf-8")


@dataclass
class PublishReport:
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def channel_entries(cfg: Config, store: Store, channel: Channel, limit: int | None = None) -> list[RenderEntry]:
    stories = store.channel_stories(channel.slug, limit or cfg.output.entries)
    ids = [m.id for st in stories for m in (st.rep, *st.others)]
    sightings = store.sightings_of(ids)
    site_links = {s.name: (s.site_link if s.site_link and safe_url(s.site_link, None) else None)
                  for s in store.sources()}
    return build_entries(cfg, stories, sightings, site_links)


def publish(cfg: Config, store: Store, slugs: Iterable[str] | None = None) -> PublishReport:
    """Render the given channels (all when None) and the index documents; write what changed."""
    report = PublishReport()
    wanted = set(slugs) if slugs is not None else None
    out = cfg.output.dir
    for ch in cfg.channels:
        target = out / f"{ch.slug}.atom"
        if wanted is not None and ch.slug not in wanted and target.exists():
            continue
        try:
            entries = channel_entries(cfg, store, ch)
            data = render_atom(cfg, ch, entries)
            changed = atomic_write(target, data)
        except PublishError as e:
            report.errors.append(str(e))
            continue
        (report.written if changed else report.unchanged).append(target)
        store.set_channel_state(ch.slug, dirty=False, entries=len(entries),
                                **({"last_change": datetime.now(UTC).timestamp()} if changed else {}))
    try:
        target = out / "index.opml"
        (report.written if atomic_write(target, render_opml(cfg)) else report.unchanged).append(target)
    except PublishError as e:
        report.errors.append(str(e))
    return report
