"""Channels -> documents in the output directory.

Per channel: the Atom feed ``<slug>.atom`` (always), with RFC 5005 archive pages
``archive/<slug>/<n>.atom`` when ``output.archive`` is on; ``<slug>.json`` (JSON Feed 1.1) and
``<slug>.rss`` (RSS 2.0) when the channel's formats ask for them, with the same entries and ids; and
``<slug>.html`` for people. Then ``index.html`` (when any channel has "html") and ``index.opml``.
The renderers live in :mod:`feeds.formats`; this module decides what goes where (see
docs/publishing.md for the archive rule) and writes.

Every document is rendered deterministically from the store and written atomically (temp file,
fsync, rename) only when its bytes differ from what is on disk, so an unchanged document keeps its
bytes and its mtime, a reader's conditional GET sees it as unchanged, and the WebSub hub is pinged
only for documents that really changed.
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from feeds import __version__
from feeds.config import Channel, Config
from feeds.dedup import canonical_link, clean_link
from feeds.errors import PublishError
from feeds.fetch import redact
from feeds.formats import atom
from feeds.formats.model import FeedInfo, Related, RenderEntry, development_id, entry_time, plain_time
from feeds.models import Enclosure
from feeds.parse import MAX_ENCLOSURES, author_names, media_url
from feeds.sanitize import cut_text, public_url, safe_url, sanitize_html, text_excerpt
from feeds.store import ItemRow, Store, StoryEntry, decode_enclosures

log = logging.getLogger("feeds.publish")

MAX_SUMMARY_HTML = 20_000
MAX_CONTENT_HTML = 200_000  # output.content = "full": an article's text, up to this much HTML
ARCHIVE_PAGE_SIZE = 100  # entries per archive page; fixed, so a full page never changes
ARCHIVE_CHUNK = 500  # stories rendered at a time when moving them into the archive
MAX_RELATED = 20  # other reports listed with an entry (rel="related" links, "Also reported by"); the rest are counted
MAX_SHARED = 2000  # entries kept at a time for a later channel that publishes the same story (~5 KB each)
MAX_PLANNED = 100_000  # stories of the channels' pending lists read ahead to find those shared
INDEX_HEADLINES = 5
# ASCII characters that may not stand in an IRI as they are (RFC 3987): they are percent-encoded.
_IRI_BAD = re.compile(r'[\x00-\x20\x7f"<>\\^`{|}]')

__all__ = ["ARCHIVE_PAGE_SIZE", "PublishReport", "atomic_write", "missing_channels", "publish"]


# Which store publishes an output directory: a random id kept in the store's meta (OWNER_KEY), written in the
# directory (OWNER_FILE, a hidden name `feeds serve` never serves) with a digest of where that store is
# (its path from the directory: no machine path in a file that may be served). Two configs with their own
# stores writing one directory overwrite each other's index.html, index.opml and same-named channels, and
# each takes the other's archive pages for its own: a config whose store is elsewhere than the one that
# publishes the directory is refused before it touches anything (`check_output_owner`). A store made again
# where the publishing one was (deleted to start afresh, an ephemeral store beside a kept output, a backup
# from before it published there) takes the directory over, and says so. A backup's store and output copy,
# and a moved store, keep their id.
OWNER_FILE = ".feeds-store"
OWNER_KEY = "output.owner"
_OWNER = re.compile(r"([0-9a-f]{32}) ([0-9a-f]{16})")


def output_owner(out: Path) -> tuple[str, str] | None:
    """(store id, digest of its place) of the store that last published the directory ``out`` (None: none
    recorded, or unreadable)."""
    try:
        text = (out / OWNER_FILE).read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    m = _OWNER.fullmatch(text)
    return (m.group(1), m.group(2)) if m else None


def _store_place(cfg: Config) -> str:
    """A digest of where the config's store is, seen from its output directory (both resolved)."""
    return _place_digest(os.path.realpath(cfg.store_path), os.path.realpath(cfg.output.dir))


def _place_digest(store: str, out: str) -> str:
    """A digest of where a store (a resolved path) is, seen from an output directory (a resolved path)."""
    import hashlib

    return hashlib.sha256(os.path.relpath(store, out).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def check_output_owner(cfg: Config, warn: bool = True) -> None:
    """ConfigError (naming output.dir) when the config's output directory is published from another store,
    elsewhere than the config's own: made before a run or the daemon touches anything. A store made again
    where that one was takes it over (a warning; ``warn``: False when the caller checks again later and says
    it then). A store that cannot be read is left to the command itself to report."""
    from feeds.errors import ConfigError, StoreError
    from feeds.store.sql import peek_meta, peek_published

    owner = output_owner(cfg.output.dir)
    if owner is None:
        try:
            # (a store from before the marker that published here: the channels it wrote; an upgrade review)
            published_before = peek_published(cfg.store_path, OWNER_KEY)
        except StoreError:
            published_before = True  # (the command itself says what is wrong with the store)
        if warn and not published_before and any((cfg.output.dir / n).exists() for n in ("index.opml",
                                                                                         "index.html", "archive")):
            # documents no store is recorded as publishing (the marker deleted, or from before markers) and a store
            # that never published: the takeover is said (an operator review: a new empty store rewrote the archive
            # pages without a word); the marker is written by the run, published or not (said once)
            log.warning("%s: no store is recorded as publishing it (%s is missing): this config's store (%s) "
                        "takes it over at its next publish; its documents replace those there, archive pages "
                        "from page 1", cfg.output.dir, OWNER_FILE, cfg.store_path)
        return
    try:
        mine = peek_meta(cfg.store_path, OWNER_KEY)
    except StoreError:
        return
    if mine == owner[0]:
        return
    out, db = Path(os.path.normpath(cfg.output.dir)), Path(os.path.normpath(cfg.store_path))
    if owner[1] == _store_place(cfg):
        if not warn:
            return
        log.warning("%s was published from another store at %s (made again since, or restored from before it "
                    "published there): this config's store publishes there at its next run", out, db)
        return
    found = _find_owner_store(cfg, owner)
    if found is not None:  # (an operator review: store.path changed, the marker deleted, a new empty store
        # took the output over and rewrote its archive pages)
        raise ConfigError(
            str(cfg.path), "output.dir",
            f"a directory no other store publishes to: {out} is published from the store at {found}, which is "
            f"still there, not from {db}. If store.path was changed to move that store: stop feeds (the daemon, "
            f"the cron job), move {found} with its -wal and -shm files to {db} (or point store.path back at it); "
            f"do not delete {out / OWNER_FILE} (a new store would write its documents over the old ones, its "
            "archive pages from page 1). Two configs must not share an output directory")
    raise ConfigError(
        str(cfg.path), "output.dir",
        f"a directory no other store publishes to: {out} holds the documents of a store elsewhere than {db}; "
        f"two configs must not share an output directory (their index.html, index.opml and same-named channels "
        f"would overwrite each other's). If store.path was changed, move the old store there (stop feeds, move "
        f"the file with its -wal and -shm) or point store.path back. Only if that store is gone for good, delete "
        f"{out / OWNER_FILE}: this config's store then writes its documents over the old ones, its archive pages "
        "from page 1")


def _find_owner_store(cfg: Config, owner: tuple[str, str]) -> Path | None:
    """The store that publishes the output directory (its id and place as ``owner``), when it is where a moved
    store.path most likely left it: a file beside the config, beside its store now, or beside the output
    directory, whose place digest and id match. None when not found (or only not looked for there)."""
    from feeds.errors import StoreError
    from feeds.store.sql import peek_meta

    out = os.path.realpath(cfg.output.dir)
    dirs = {os.path.realpath(d) for d in (cfg.path.parent, cfg.store_path.parent, cfg.output.dir.parent)}
    for d in sorted(dirs):
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for name in names:  # (only a name whose place matches is opened: a digest a name, on a refusal only)
            cand = os.path.join(d, name)
            if (name.endswith(("-wal", "-shm", "-journal", ".lock")) or _place_digest(cand, out) != owner[1]
                    or not os.path.isfile(cand)):
                continue
            try:
                if peek_meta(Path(cand), OWNER_KEY) == owner[0]:
                    return Path(cand)
            except StoreError:
                continue
    return None


def claim_output(store: Store, cfg: Config) -> None:
    """Record that ``store`` (the config's) publishes its output directory: the store's id (made at its first
    publish) and its place in OWNER_FILE."""
    import uuid

    mine = store.meta_value_or_set(OWNER_KEY, uuid.uuid4().hex)
    place = _store_place(cfg)
    if output_owner(cfg.output.dir) != (mine, place):
        atomic_write(cfg.output.dir / OWNER_FILE, f"{mine} {place}\n".encode("ascii"))


def _make_dirs(d: Path) -> tuple[int, int] | None:
    """Make directory `d` and its missing parents. Run as root, what it makes (and the files written there) is
    given the owner of the nearest directory that was there: one `feeds run` as root must not leave an
    archive directory the service's user cannot write into (a review: those channels' runs failed for good).
    Returns that owner when running as root and it is another, else None."""
    missing: list[Path] = []
    p = d
    while not p.is_dir() and p != p.parent:
        missing.append(p)
        p = p.parent
    if missing:
        d.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return None
    st = p.stat()
    if (st.st_uid, st.st_gid) == (0, 0):
        return None
    for m in missing:
        with contextlib.suppress(OSError):
            os.chown(m, st.st_uid, st.st_gid)
    return st.st_uid, st.st_gid


def atomic_write(path: Path, data: bytes) -> bool:
    """Write `data` to `path` atomically; return False (and touch nothing) when the bytes are equal."""
    kept = True  # a previous file is there (or cannot be told apart from one): the message says it is kept
    try:
        st = path.stat()
        if st.st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        kept = False
    except NotADirectoryError as e:  # a path running through a file: there is no previous file
        raise PublishError(str(path), e.strerror or str(e), kept=False) from e
    except OSError as e:
        raise PublishError(str(path), e.strerror or str(e)) from e
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        owner = _make_dirs(path.parent)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            if owner is not None:
                with contextlib.suppress(OSError):
                    os.fchown(fd, *owner)
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
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise PublishError(str(path), e.strerror or str(e), kept=kept) from e
    return True


def iri(url: str) -> str:
    """`url` with the ASCII characters that may not appear in an IRI percent-encoded (non-ASCII is kept)."""
    return _IRI_BAD.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), url)


@lru_cache(maxsize=4096)
def _slugish(name: str) -> str:
    """A source name as the last segment of its Atom `<source><id>`: ASCII letters and digits, accents
    folded ("La Dépêche" -> "la-depeche"), the rest hyphens. A name with letters or digits that fold to
    nothing ASCII (another script: "Київ Пост", "朝日") also gets a digest of the name, so that such outlets
    keep distinct ids; a name whose only other characters are punctuation or spaces ("Reader’s Digest",
    "Le Monde — International") has its id as before."""
    if name.isascii():
        return re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-") or "source"
    import hashlib
    import unicodedata

    folded = "".join(ch for ch in unicodedata.normalize("NFKD", name.casefold()) if not unicodedata.combining(ch))
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    if not any(ch.isalnum() and not ch.isascii() for ch in folded):
        return slug or "source"
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]
    return f"{slug}-{digest}" if slug else digest


UNTITLED_WORDS = 80  # characters of an untitled report's text that stand for its title
# What is published of a title and of categories (a feed may carry a title of megabytes: every document
# listing the entry, or naming the report in another story's "Also reported by", would carry it)
MAX_HEADLINE_CHARS = 1_000
MAX_CATEGORY_CHARS = 200
MAX_CATEGORIES = 50


def headline(item: ItemRow) -> str:
    """What a report is called: its title (at most MAX_HEADLINE_CHARS), or for a report without one (a
    micro-blog post, a status update) the first words of its text, as readers show such posts; empty when
    it has neither."""
    return _published_title(item.title) or text_excerpt(item.summary or item.content or "", UNTITLED_WORDS)


def _published_title(title: str | None) -> str:
    """A title as published: one line, at most MAX_HEADLINE_CHARS (a report's, or a re-poster's)."""
    title = title or ""
    if len(title) > 4 * MAX_HEADLINE_CHARS:  # the spaces of a huge title are not all worth collapsing
        title = title[:4 * MAX_HEADLINE_CHARS]
    return cut_text(" ".join(title.split()), MAX_HEADLINE_CHARS)


def categories_of(item: ItemRow) -> list[str]:
    """The categories to publish of a report: at most MAX_CATEGORIES, each at most MAX_CATEGORY_CHARS."""
    out: list[str] = []
    for c in item.categories.split("\t"):
        c = c.strip()
        if c:
            out.append(cut_text(c, MAX_CATEGORY_CHARS))
            if len(out) == MAX_CATEGORIES:
                break
    return out


def _represented(st: StoryEntry, rep_id: int) -> StoryEntry:
    """The story with the report `rep_id` standing for it (see Store.channel_representatives), the others in
    their order (published, then first stored); the story itself when that is its representative already."""
    if rep_id == st.rep.id:
        return st
    members = sorted((st.rep, *st.others), key=lambda m: (m.published, m.id))
    rep = next((m for m in members if m.id == rep_id), None)
    if rep is None:
        return st
    return replace(st, rep=rep, others=tuple(m for m in members if m.id != rep_id))


def _in_channel(cfg: Config, store: Store, slug: str, stories: Sequence[StoryEntry]) -> list[StoryEntry]:
    """The stories as one channel publishes them: each represented by a report the channel's rules took."""
    reps = store.channel_representatives(slug, [st.story_id for st in stories], cfg.stories.prefer_sources)
    return [_represented(st, reps.get(st.story_id, st.rep.id)) for st in stories]


def _first_uid(story: StoryEntry) -> str:
    for m in (story.rep, *story.others):
        if m.id == story.story_id:
            return m.uid
    return story.rep.uid


@dataclass
class _Sources:
    site: dict[str, str | None]  # source name -> its web site
    feed: dict[str, str | None]  # source name -> its public (http/https) feed URL
    # source name -> the language its entries are tagged with when it is not the output's (which the document
    # as a whole carries): the config's `language`, else the one its feed declares (see _sources)
    language: dict[str, str] = field(default_factory=dict)
    # source name -> the last segment of its Atom <source><id> (_slugish), when another source's name, stored
    # before it, makes the same one ("AT&T News", "AT-T News"): that later one's gets a digest of its name
    ids: dict[str, str] = field(default_factory=dict)

    def source_slug(self, name: str) -> str:
        return self.ids.get(name) or _slugish(name)


_HANT_REGIONS = frozenset({"tw", "hk", "mo"})


def _language_key(tag: str) -> str:
    """What two language tags must share to be one language as a reader shows it: the language and its script
    ("en-us" and "en" are one; "zh-Hans" and "zh-Hant", "sr-Latn" and "sr-Cyrl" are two; a Chinese region
    stands for its script)."""
    parts = tag.lower().split("-")
    ext = parts.pop(1) if len(parts) > 1 and len(parts[1]) == 3 and parts[1].isalpha() else None  # zh-cmn, zh-yue
    if len(parts) > 1 and len(parts[1]) == 4 and parts[1].isalpha():
        return f"{parts[0]}-{parts[1]}"
    if parts[0] == "zh":
        hant = ext == "yue" or (len(parts) > 1 and parts[1] in _HANT_REGIONS)
        return "zh-hant" if hant else "zh-hans"
    return parts[0]


def _sources(store: Store, cfg: Config) -> _Sources:
    site: dict[str, str | None] = {}
    feed: dict[str, str | None] = {}
    language: dict[str, str] = {}
    out = _language_key(cfg.output.language or "")
    import hashlib

    taken: dict[str, str] = {}  # slug -> the first stored source's name that makes it
    ids: dict[str, str] = {}
    rows = store.sources()  # in the order they were first stored
    for s in rows:
        slug = _slugish(s.name)
        first = taken.setdefault(slug, s.name)
        if first != s.name:
            ids[s.name] = f"{slug}-{hashlib.sha256(s.name.encode('utf-8')).hexdigest()[:10]}"
    for s in rows:
        site[s.name] = iri(s.site_link) if s.site_link and safe_url(s.site_link, None) else None
        # the address the feed is read at, if fit to publish: no user:password, no ?token= (public_url)
        url = public_url(s.fetch_url or s.url)
        feed[s.name] = iri(url) if url and safe_url(url, None) else None
        # the language its documents declare, when it is another than the output's ("en-us" in an "en" site
        # is none: _language_key)
        if s.language and _language_key(s.language) != out:
            language[s.name] = s.language
    for src in cfg.sources:  # the config's word first (a feed may declare its template's "en-us")
        if src.language and _language_key(src.language) != out:
            language[src.name] = src.language
        elif src.language:
            language.pop(src.name, None)
    return _Sources(site, feed, language, ids)


def _related(st: StoryEntry, link: str | None,
             sightings: dict[int, list[tuple[str, str | None, str | None]]]) -> list[Related]:
    """The story's other reports (other members, then exact re-posts by other outlets), one per outlet
    and distinct link. An outlet that re-posted the very same article (a copy at a link already listed, or
    without one) is credited once, without a link; another report without a safe link is listed by its
    headline."""
    related: list[Related] = []
    candidates: list[tuple[str, str | None, str | None, bool]] = [
        (m.source_name, headline(m), m.link, False) for m in st.others]
    candidates += [(name, title, url, True) for m in (st.rep, *st.others)
                   for name, url, title in sightings.get(m.id, ())]
    if not candidates:  # a single report nobody re-posted (most stories)
        return related
    seen = {canonical_link(link)} if link else set()
    credited = {st.rep.source_name}
    for source, title, url, copy in candidates:
        safe = _web_url(url)
        canon = canonical_link(safe) if safe else None
        same = copy and safe is None
        if canon is not None and canon in seen:
            safe, same = None, True  # the same article, carried by another outlet
        elif canon is not None:
            seen.add(canon)
        if same and source in credited:
            continue
        credited.add(source)
        related.append(Related(source, _published_title(title) or source, iri(safe) if safe else None, same))
    return related


def _bounded(related: list[Related]) -> tuple[list[Related], list[Related]]:
    """The other reports listed with an entry, at most MAX_RELATED, and those left out. Of a longer list,
    each outlet's first report is kept before any outlet's second (a story told by 40 outlets lists 20 of
    them, not one outlet's 20 follow-ups); what is kept stays in the list's order."""
    if len(related) <= MAX_RELATED:
        return related, []
    firsts: list[int] = []
    outlets: set[str] = set()
    for i, r in enumerate(related):
        if r.source not in outlets:
            outlets.add(r.source)
            firsts.append(i)
    keep = set(firsts[:MAX_RELATED])
    for i in range(len(related)):
        if len(keep) >= MAX_RELATED:
            break
        keep.add(i)
    return ([r for i, r in enumerate(related) if i in keep],
            [r for i, r in enumerate(related) if i not in keep])


def _left_out(rep_source: str, shown: Sequence[Related], hidden: Sequence[Related]) -> str:
    """The line that counts the reports an entry does not list (it precedes the list in every format)."""
    n = len(hidden)
    outlets = len({r.source for r in hidden} - {r.source for r in shown} - {rep_source})
    by = f", from {outlets} more outlet{'s' if outlets != 1 else ''}," if outlets else ""
    return (f"<p>{n} more report{'s' if n != 1 else ''} of this story{by} {'are' if n != 1 else 'is'} "
            "not listed below.</p>")


@dataclass
class StoryRender(RenderEntry):
    """An entry as publish builds it: `reported` is when the report that stands for the story (its link,
    headline, author) was published, the time of its byline on the HTML page; `published` stays the story's
    (its first report's; a development's, its `updated`), as its id and `updated` are."""

    reported: datetime | None = None


def authors_of(item: ItemRow) -> list[str]:
    """A report's authors' names as published: the stored names (tab-separated; a store from before them holds
    the feed's one author string, "Name (address)" or "address (Name)", whose address is never published),
    else the outlet's name."""
    return list(author_names(item.author.split("\t"))) or [item.source_name]


def media_of(item: ItemRow) -> tuple[list[Enclosure], str | None]:
    """A report's media files and thumbnail as published: the stored ones, each URL checked again as the
    parser checked it (absolute http(s), safe, bounded) and written as an IRI."""
    enclosures = []
    for x in decode_enclosures(item.enclosures)[:MAX_ENCLOSURES]:
        url = media_url(x.url, None)
        if url is not None:
            enclosures.append(Enclosure(iri(url), x.type, x.length))
    image = media_url(item.image, None)
    return enclosures, iri(image) if image else None


def _web_url(url: str | None) -> str | None:
    """A report's link as an entry publishes it (alternate or related): an absolute http(s) URL, its trackers
    taken out. `safe_url` also lets a mailto: address through, which is no article to link."""
    safe = safe_url(clean_link(url), None) if url else None
    return safe if safe and safe[:8].lower().startswith(("http://", "https://")) else None


def build_entries(cfg: Config, stories: Sequence[StoryEntry],
                  sightings: dict[int, list[tuple[str, str | None, str | None]]],
                  sources: _Sources, gens: dict[int, int] | None = None) -> list[RenderEntry]:
    out: list[RenderEntry] = []
    for st in stories:
        rep = st.rep
        link = _web_url(rep.link)
        link = iri(link) if link else None
        related, hidden = _bounded(_related(st, link, sightings))
        full = cfg.output.content == "full"
        body = (rep.content or rep.summary) if full else (rep.summary or rep.content)
        summary = sanitize_html(body, rep.link) if body else ""
        if len(summary) > (MAX_CONTENT_HTML if full else MAX_SUMMARY_HTML):
            summary = f"<p>{html.escape(text_excerpt(summary, 1200), quote=False)}</p>"
        if hidden:
            summary += _left_out(rep.source_name, related, hidden)
        gen = (gens or {}).get(st.story_id, 1)
        updated = max(st.updated, st.published)
        enclosures, image = media_of(rep)  # a story's media are its representative report's
        out.append(StoryRender(
            id=development_id(_first_uid(st), gen), story_id=st.story_id, gen=gen,
            title=headline(rep) or "(untitled)", link=link,
            # a development (a story back after it was archived: a new entry) is published with its news, not
            # days back at the story's first report: readers date an entry by `published` (Miniflux, SimplePie)
            published=plain_time(st.published if gen == 1 else updated), updated=entry_time(updated, st.story_id, gen),
            authors=authors_of(rep), body_html=summary,
            categories=categories_of(rep),
            source_name=rep.source_name, source_link=sources.site.get(rep.source_name),
            source_id=f"{cfg.output.base_url}sources/{sources.source_slug(rep.source_name)}",
            source_updated=plain_time(max(rep.updated, rep.published)),
            source_feed=sources.feed.get(rep.source_name), related=related, enclosures=enclosures, image=image,
            language=sources.language.get(rep.source_name),
            reported=plain_time(rep.published),
        ))
    return out


def _render_stories(cfg: Config, store: Store, ids: Sequence[int], sources: _Sources,
                    gens: dict[int, int] | None = None, reps: dict[int, int] | None = None) -> list[RenderEntry]:
    """The entries of the stories `ids`, each represented by its report in `reps` (story id -> item id: see
    Store.channel_representatives), else by its own representative."""
    stories = store.story_entries(ids)
    if reps:
        stories = [_represented(st, reps.get(st.story_id, st.rep.id)) for st in stories]
    item_ids = [m.id for st in stories for m in (st.rep, *st.others)]
    return build_entries(cfg, stories, store.sightings_of(item_ids), sources, gens)


class _Entry:
    """A rendered entry and, once asked for, its Atom XML."""

    __slots__ = ("entry", "_xml")

    def __init__(self, entry: RenderEntry) -> None:
        self.entry = entry
        self._xml: atom.EntryXml | None = None

    @property
    def xml(self) -> atom.EntryXml:
        if self._xml is None:
            self._xml = atom.entry_xml(self.entry)
        return self._xml


class _Shared:
    """Entries this publish renders for more than one channel (a story in the same generation, represented
    by the same report, renders to the same entry in every channel): rendered and serialised once, kept
    until their last use.

    `uses` counts, per (story, generation), the channels that will still render it; an entry is kept, under
    its representative, while a later channel needs the story, at most MAX_SHARED at a time (beyond that it
    is rendered again)."""

    def __init__(self, uses: dict[tuple[int, int], int] | None = None) -> None:
        self.uses = uses if uses is not None else {}
        self.kept: dict[tuple[int, int], dict[int, _Entry]] = {}  # (story, generation) -> representative -> entry
        self.size = 0

    def render(self, cfg: Config, store: Store, slug: str, ids: Sequence[int], sources: _Sources,
               gens: dict[int, int]) -> list[_Entry]:
        """_render_stories for `ids` (those still in the store, in that order) as channel `slug` publishes
        them (each represented by a report it took), reusing what an earlier channel rendered."""
        kept, uses = self.kept, self.uses
        reps = store.channel_representatives(slug, ids, cfg.stories.prefer_sources)
        keys = [(sid, gens.get(sid, 1)) for sid in ids]
        have = [kept.get(key, {}).get(reps.get(sid, 0)) for sid, key in zip(ids, keys, strict=True)]
        missing = [sid for sid, x in zip(ids, have, strict=True) if x is None]
        new = {e.story_id: e for e in _render_stories(cfg, store, missing, sources, gens, reps)} if missing else {}
        out = []
        for sid, key, x in zip(ids, keys, have, strict=True):
            if x is None:
                e = new.get(sid)
                if e is None:  # the story vanished from the store meanwhile
                    continue
                x = _Entry(e)
            out.append(x)
            left = uses.pop(key, 1) - 1
            if left > 0:
                uses[key] = left
                variants = kept.get(key)
                if self.size < MAX_SHARED and (variants is None or reps[sid] not in variants):
                    kept.setdefault(key, {})[reps[sid]] = x
                    self.size += 1
            else:
                self.size -= len(kept.pop(key, {}))
        return out


@dataclass
class PublishReport:
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    pinged: list[str] = field(default_factory=list)  # WebSub topics the hub accepted
    ping_pending: list[str] = field(default_factory=list)  # topics whose ping failed (retried next time)


_TEMP_RE = re.compile(r"^\..+\.(\d+)\.tmp$")


def remove_stale_temps(out: Path) -> None:
    """Delete the `.NAME.PID.tmp` files of atomic_write that a killed run left behind. Only one process
    publishes at a time (the store lock), so every such file not of this process is stale."""
    dirs = [out]
    with contextlib.suppress(OSError):
        dirs += [d for d in (out / "archive").iterdir() if d.is_dir()]
    for d in dirs:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            m = _TEMP_RE.match(name)
            if m and int(m.group(1)) != os.getpid():
                with contextlib.suppress(OSError):
                    (d / name).unlink()


class _Writer:
    def __init__(self, report: PublishReport) -> None:
        self.report = report

    def __call__(self, path: Path, data: bytes) -> bool:
        changed = atomic_write(path, data)
        (self.report.written if changed else self.report.unchanged).append(path)
        return changed


def _has_html(cfg: Config, channel: Channel) -> bool:
    return "html" in channel.formats


def _doc_names(channel: Channel) -> list[str]:
    names = [f"{channel.slug}.atom"]
    names += [f"{channel.slug}.{fmt}" for fmt in ("json", "rss", "html") if fmt in channel.formats]
    return names


_FORMAT_EXTS = ("atom", "json", "rss", "html")


def document_formats(cfg: Config) -> dict[str, list[str]]:
    """The formats each channel's documents are published in (what a later config change may take back)."""
    return {ch.slug: [name.rsplit(".", 1)[1] for name in _doc_names(ch)] for ch in cfg.channels}


def remove_stale_documents(cfg: Config, removed: Collection[str], published: dict[str, list[str]]) -> list[Path]:
    """Delete what earlier publishes wrote and the config no longer asks for: the documents and the archive of
    the channels in `removed` (taken out of the config), and a configured channel's documents in formats it
    no longer lists. ``published``: the formats each channel was published in before (`document_formats` of
    the earlier config), so a file of the same name that feeds never wrote (the operator's own ``news.html``
    beside a channel published as Atom only) is left alone. Without a record (a store from before it was kept)
    a configured channel loses no format, and a removed channel (the store's: feeds published it) every one of
    its documents. Returns what was deleted."""
    out = cfg.output.dir
    gone: list[Path] = []
    doomed = [out / f"{slug}.{ext}" for slug in sorted(removed) for ext in published.get(slug, _FORMAT_EXTS)
              if ext in _FORMAT_EXTS]
    for ch in cfg.channels:
        keep = set(_doc_names(ch))
        doomed += [out / f"{ch.slug}.{ext}" for ext in published.get(ch.slug, ())
                   if ext in _FORMAT_EXTS and f"{ch.slug}.{ext}" not in keep]
    if any("html" in fmts for fmts in published.values()) and not any(_has_html(cfg, ch) for ch in cfg.channels):
        # the site's index page went with the last channel page (it linked the deleted documents)
        doomed.append(out / "index.html")
    for path in doomed:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        gone.append(path)
    for slug in sorted(removed):
        folder = out / "archive" / slug
        if folder.is_dir() and not folder.is_symlink():
            for page in sorted(folder.iterdir()):
                if page.is_file() and (page.suffix == ".atom" or _TEMP_RE.match(page.name)):
                    page.unlink()
                    gone.append(page)
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if nothing else is in it
    return gone


def missing_channels(cfg: Config) -> list[str]:
    """Channels with a document missing from the output directory (a format added to the config, a
    deleted file): they need publishing even when nothing changed in the store."""
    out = cfg.output.dir
    return [ch.slug for ch in cfg.channels if not all((out / n).exists() for n in _doc_names(ch))]


def missing_index(cfg: Config) -> bool:
    """True when an index document (OPML, and index.html when any channel has HTML) is missing."""
    out = cfg.output.dir
    wants_html = any(_has_html(cfg, ch) for ch in cfg.channels)
    return not (out / "index.opml").exists() or (wants_html and not (out / "index.html").exists())


# -- archives ----------------------------------------------------------------------------------------
def archive_name(slug: str, page: int) -> str:
    return f"archive/{slug}/{page}.atom"


def archive_pages(size: int, page_size: int) -> int:
    """How many archive pages a channel with `size` archived entries has.

    Pages 1..size//page_size are full; the next one is open (partial, or empty right after a page
    filled), so every full page has its next-archive link from the moment it is full (and never changes
    again). While the first page is still filling it is the only page: the open page, linked from the
    subscription document like every open page (`open_page_link`), with no neighbour to link to.
    """
    if size <= 0:
        return 0
    return size // page_size + 1


def open_page_link(url: str, size: int) -> str:
    """The subscription document's prev-archive link to the open archive page: its URL with the archive's
    size as a query (`?n=237`). RFC 5005 lets a reader keep an archive document it has fetched and never
    fetch that URL again; the open page gains entries, so the link to it changes whenever it does, and
    a reader that caches archive documents by URL fetches it again (the file is the same: a query does
    not change which file a static server sends)."""
    return f"{url}?n={size}"


@dataclass
class _Live:
    ids: list[int]
    gens: dict[int, int]
    pages: int  # archive pages after this publish
    size: int  # archived entries after this publish


def _archive(cfg: Config, store: Store, ch: Channel, info: FeedInfo, sources: _Sources, page_size: int,
             write: _Writer, shared: _Shared, planned: _Pending | None = None) -> _Live:
    """Move the stories beyond the newest `output.entries` into the archive, write the archive pages
    that changed (or are missing), and return what the live documents hold.

    Each archived entry is rendered once: its snapshot goes to the store and its indented form stays in
    memory until its page is written, which happens as soon as the page is full (a full page is final)
    or, for the open page, at the end; only the entries of pages not yet written are kept."""
    pending, rowid_mark = planned or store.unarchived_channel_stories(ch.slug, use_marks=True)  # newest first
    live, overflow = pending[:cfg.output.entries], pending[cfg.output.entries:]
    before = store.archive_size(ch.slug)
    # pages from the first one holding a slot saved after the last complete write are (re)written: slots
    # are saved before their pages, so a crash or a failed write in between leaves those pages stale
    low = min(before, store.archive_written(ch.slug))
    size = before
    fresh: dict[int, atom.EntryXml] = {}  # archive position -> the entry archived there by this publish
    done: set[int] = set()  # pages written by this publish
    oldest_first = list(reversed(overflow))
    for i in range(0, len(oldest_first), ARCHIVE_CHUNK):  # bounded memory when a long history is archived
        chunk = oldest_first[i:i + ARCHIVE_CHUNK]
        gens = {sid: gen for sid, _up, gen in chunk}
        entries = shared.render(cfg, store, ch.slug, [sid for sid, _up, _gen in chunk], sources, gens)
        by_story = {x.entry.story_id: x.xml for x in entries}
        rows = []
        for sid, up, gen in chunk:
            xml = by_story.get(sid)
            if xml is None:  # the story vanished from the store meanwhile: nothing to archive
                continue
            rows.append({"seq": size, "story_id": sid, "gen": gen, "updated": up, "entry": xml.snapshot})
            fresh[size] = xml
            size += 1
        store.add_archive_slots(ch.slug, rows)
        for page in range(before // page_size + 1, size // page_size + 1):  # pages full by now: final
            if page not in done:
                write(cfg.output.dir / archive_name(ch.slug, page),
                      _render_archive_page(cfg, store, ch, info, page, page + 1, size, page_size, fresh))
                done.add(page)
                for seq in range((page - 1) * page_size, page * page_size):
                    fresh.pop(seq, None)
    pages = archive_pages(size, page_size)
    out = cfg.output.dir
    first_touched = low // page_size + 1 if size > low else pages + 1
    # pages whose slots [store] keep dropped stay as they were published (if one is missing, it stays so: the
    # daily prune says so, `report_lost_pages`)
    floor = store.archive_floor(ch.slug) // page_size
    for page in range(floor + 1, pages + 1):
        target = out / archive_name(ch.slug, page)
        if page in done or (page < first_touched and target.exists()):
            continue  # written above, or a page before the first new entry: its entries and links are as they were
        write(target, _render_archive_page(cfg, store, ch, info, page, pages, size, page_size, fresh))
    # next time, only rows added since now or at least as new as the oldest live story can matter
    full = len(live) >= cfg.output.entries
    store.set_archive_marks(ch.slug, rowid_mark, min(up for _sid, up, _gen in live) if full and live else 0.0,
                            size)
    return _Live([sid for sid, _up, _gen in live], {sid: gen for sid, _up, gen in live}, pages, size)


_Pending = tuple[list[tuple[int, float, int]], int]  # Store.unarchived_channel_stories


def report_lost_pages(cfg: Config, store: Store) -> None:
    """Warn about archive pages below a channel's floor (their stored entries dropped by `[store] keep`) that
    are missing on disk and cannot be written again: once per change of their number (by the daily prune, so
    a publish's cost does not grow with the pages below the floor; one directory listing a channel)."""
    for ch in cfg.channels:
        floor = store.archive_floor(ch.slug) // ARCHIVE_PAGE_SIZE
        if not floor:
            continue
        try:
            with os.scandir(cfg.output.dir / "archive" / ch.slug) as it:
                present = {e.name for e in it}
        except OSError:
            present = set()
        lost = [page for page in range(1, floor + 1) if f"{page}.atom" not in present]
        if store.lost_pages_changed(ch.slug, len(lost)) and lost:
            log.warning("%s: archive pages %s are missing and cannot be written again (their entries were "
                        "forgotten, [store] keep): a reader walking the archive stops there", ch.slug,
                        ", ".join(map(str, lost[:10])) + (f" and {len(lost) - 10} more" if len(lost) > 10 else ""))


def _plan(cfg: Config, store: Store, channels: Sequence[Channel]) -> tuple[dict[str, _Pending], _Shared]:
    """Read the channels' pending stories ahead (up to MAX_PLANNED in all; the rest read theirs when
    their turn comes) and count the channels each (story, generation) is rendered for: what more than
    one channel renders is rendered once (see _Shared)."""
    planned: dict[str, _Pending] = {}
    if not cfg.output.archive or len(channels) < 2:
        return planned, _Shared()
    uses: dict[tuple[int, int], int] = {}
    total = 0
    for ch in channels:
        pending = store.unarchived_channel_stories(ch.slug, use_marks=True)
        planned[ch.slug] = pending
        for sid, _up, gen in pending[0]:
            uses[sid, gen] = uses.get((sid, gen), 0) + 1
        total += len(pending[0])
        if total >= MAX_PLANNED:
            break
    return planned, _Shared({key: n for key, n in uses.items() if n > 1})


def _page_entries(store: Store, slug: str, start: int, stop: int,
                  fresh: dict[int, atom.EntryXml]) -> tuple[str, list[datetime]]:
    """Archive positions start <= seq < stop as they stand on a page (newest first) and their updated
    stamps: from this publish's entries when it archived them all, else from the stored snapshots."""
    if start < stop and all(seq in fresh for seq in range(start, stop)):
        xml = [fresh[seq] for seq in range(start, stop)]
        return "".join(x.archived for x in reversed(xml)), [x.updated for x in xml]
    snaps = [s for _seq, s in store.archive_entries(slug, start, stop)]
    text, stamps = atom.indented_entries(snaps[::-1])
    return text, [u for u in stamps if u is not None]


def _render_archive_page(cfg: Config, store: Store, ch: Channel, info: FeedInfo, page: int, pages: int,
                         size: int, page_size: int, fresh: dict[int, atom.EntryXml]) -> bytes:
    start = (page - 1) * page_size
    text, stamps = _page_entries(store, ch.slug, start, min(size, start + page_size), fresh)
    if not stamps and start > 0:  # the open page right after a page filled: it takes the time of the page before
        stamps = _page_entries(store, ch.slug, max(0, start - page_size), start, fresh)[1]
    updated = max(stamps) if stamps else info.updated
    page_info = FeedInfo(
        self_url=cfg.feed_url(archive_name(ch.slug, page)), feed_id=info.feed_id,
        title=f"{ch.title} (archive, page {page})", subtitle=info.subtitle, author=info.author,
        language=info.language, html_url=info.html_url, hub=None, updated=updated, version=info.version)
    return atom.render_archive_page(
        page_info, [], indented=text, current=info.self_url,
        prev_archive=cfg.feed_url(archive_name(ch.slug, page - 1)) if page > 1 else None,
        next_archive=cfg.feed_url(archive_name(ch.slug, page + 1)) if page < pages else None)


# -- one channel ---------------------------------------------------------------------------------------
def _page_entries_html(entries: Sequence[RenderEntry]) -> list[RenderEntry]:
    """The channel page's entries, each dated by the report it shows (its byline is that outlet and when it
    published that report; the feeds' `published` is the story's first report's), in the feeds' order (the
    stories' `updated`, newest first): a story that moved since its report says "updated <time>" beside its
    byline (formats/html.py), so the times that order the page are the ones it shows."""
    return [replace(e, published=e.reported) if isinstance(e, StoryRender) and e.reported else e for e in entries]


def _feed_info(cfg: Config, ch: Channel, name: str, updated: datetime) -> FeedInfo:
    html_url = cfg.feed_url(f"{ch.slug}.html") if _has_html(cfg, ch) else cfg.output.base_url
    hub = redact(cfg.output.hub, mask="") if cfg.output.hub else None  # no user:password (feeds pings with them)
    return FeedInfo(self_url=cfg.feed_url(name), feed_id=cfg.feed_url(f"{ch.slug}.atom"), title=ch.title,
                    subtitle=ch.description, author=cfg.output.author, language=cfg.output.language,
                    html_url=html_url, hub=hub, updated=updated, version=__version__)


def _empty_updated(store: Store, slug: str, now: float) -> datetime:
    """`updated` of a feed without entries: when the channel last changed (stable across runs)."""
    last = store.channel_states().get(slug, {}).get("last_change")
    return plain_time(float(last) if last else now)


def feed_updated_key(slug: str) -> str:
    """The meta key of a channel's last feed-level `updated` (`slug_key`: a digest for a long slug)."""
    from feeds.store.sql import FEED_UPDATED, slug_key

    return slug_key(FEED_UPDATED, slug)


def _feed_updated(store: Store, slug: str, newest: datetime, now: float) -> datetime:
    """A feed's `updated`: its newest entry's (or, empty, its last change), never earlier than what its
    documents last said, so that an entry leaving the channel (a rule changed, a report withdrawn) does not
    move the feed back in time. A value from after `now` (written under a clock set ahead) is no floor."""
    from feeds.store.sql import FEED_UPDATED

    prev = store.slug_meta(FEED_UPDATED, slug)
    try:
        floor = datetime.fromisoformat(prev) if prev else None
    except ValueError:
        floor = None
    if floor is not None and newest < floor and floor.timestamp() <= now + 1:
        return floor
    return newest


def _publish_channel(cfg: Config, store: Store, ch: Channel, sources: _Sources, now: float, page_size: int,
                     write: _Writer, shared: _Shared, planned: _Pending | None = None,
                     on_change: Callable[[str], None] | None = None) -> tuple[list[str], list[RenderEntry], datetime]:
    """Write a channel's documents; return the URLs of the subscription documents that changed, the
    live entries and the feed's `updated`. `on_change` hears of each changed one as soon as it is written
    (so a later failure of the channel does not lose it)."""
    from feeds.formats import html, jsonfeed, rss

    base_info = _feed_info(cfg, ch, f"{ch.slug}.atom", plain_time(now))
    pages = size = 0
    xml: list[atom.EntryXml] | None = None
    if cfg.output.archive:
        live = _archive(cfg, store, ch, base_info, sources, page_size, write, shared, planned)
        rendered = shared.render(cfg, store, ch.slug, live.ids, sources, live.gens)
        entries, xml = [x.entry for x in rendered], [x.xml for x in rendered]
        pages, size = live.pages, live.size
        live_ids = live.ids
    else:
        stories = _in_channel(cfg, store, ch.slug, store.channel_stories(ch.slug, cfg.output.entries))
        item_ids = [m.id for st in stories for m in (st.rep, *st.others)]
        entries = build_entries(cfg, stories, store.sightings_of(item_ids), sources)
        live_ids = [st.story_id for st in stories]
    updated = _feed_updated(store, ch.slug, max((e.updated for e in entries), default=None)
                            or _empty_updated(store, ch.slug, now), now)
    out = cfg.output.dir
    changed: list[str] = []
    prev_archive = open_page_link(cfg.feed_url(archive_name(ch.slug, pages)), size) if pages else None
    docs: list[tuple[str, Callable[[FeedInfo], bytes]]] = [
        (f"{ch.slug}.atom", lambda info: atom.render_feed(info, entries, prev_archive=prev_archive, xml=xml))]
    if "json" in ch.formats:
        docs.append((f"{ch.slug}.json", lambda info: jsonfeed.render_json_feed(info, entries)))
    if "rss" in ch.formats:
        docs.append((f"{ch.slug}.rss", lambda info: rss.render_rss(info, entries)))
    for name, render in docs:
        info = _feed_info(cfg, ch, name, updated)
        if write(out / name, render(info)):
            changed.append(info.self_url)
            if on_change is not None:
                on_change(info.self_url)
    if _has_html(cfg, ch):
        page = html.render_channel_page(
            site_title=cfg.output.title, lang=cfg.output.language, slug=ch.slug, title=ch.title,
            description=ch.description, formats=ch.formats, entries=_page_entries_html(entries),
            archive_href=open_page_link(archive_name(ch.slug, pages), size) if pages else None)
        write(out / f"{ch.slug}.html", page)
    # the reports the channel's entries stood on, kept: a report read later with an earlier date does not take
    # an entry over (Store.channel_representatives), as a published story keeps its own representative
    store.remember_channel_representatives(
        ch.slug, store.channel_representatives(ch.slug, live_ids, cfg.stories.prefer_sources))
    return changed, entries, updated


# -- site documents --------------------------------------------------------------------------------
def render_opml(cfg: Config) -> bytes:
    from xml.sax.saxutils import quoteattr

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


def _index_headlines(cfg: Config, store: Store, ch: Channel, sources: _Sources) -> list[RenderEntry]:
    if cfg.output.archive:
        top = store.unarchived_channel_stories(ch.slug, use_marks=True)[0][:INDEX_HEADLINES]
        ids = [sid for sid, _up, _gen in top]
        return _render_stories(cfg, store, ids, sources, {sid: gen for sid, _up, gen in top},
                               store.channel_representatives(ch.slug, ids, cfg.stories.prefer_sources))
    stories = _in_channel(cfg, store, ch.slug, store.channel_stories(ch.slug, INDEX_HEADLINES))
    return build_entries(cfg, stories, {}, sources)


# -- the whole publish -------------------------------------------------------------------------------
def publish(cfg: Config, store: Store, slugs: Iterable[str] | None = None, *,
            page_size: int | None = None, ping: bool = True) -> PublishReport:
    """Render the given channels (all when None; any channel with a missing document too) and the
    site documents; write what changed; announce changed feeds to the WebSub hub. ``page_size``: the
    archive's (ARCHIVE_PAGE_SIZE unless given)."""
    if page_size is None:
        page_size = ARCHIVE_PAGE_SIZE
    from feeds.formats import html as html_fmt

    report = PublishReport()
    store.doing = "recording the published feeds"  # (what a store error says was being written)
    write = _Writer(report)
    wanted = set(slugs) if slugs is not None else None
    out = cfg.output.dir
    remove_stale_temps(out)
    now = datetime.now(UTC).timestamp()
    sources = _sources(store, cfg)
    changed_urls: list[str] = []
    latest: dict[str, list[RenderEntry]] = {}
    channels = [ch for ch in cfg.channels
                if wanted is None or ch.slug in wanted or not all((out / n).exists() for n in _doc_names(ch))]
    planned, shared = _plan(cfg, store, channels)
    hub = cfg.output.hub if ping else None

    def written(url: str) -> None:
        """A subscription document changed: to be announced. With a hub, it is recorded as a pending ping at
        once, so a channel failing later or the process dying before the pings does not lose it."""
        changed_urls.append(url)
        if hub:
            try:
                store.add_websub_pending(url, hub, now)
            except Exception as e:  # noqa: BLE001 - the hub is not worth failing a publish over
                log.error("cannot record a pending WebSub ping for %s: %s", url, e)

    for ch in channels:
        try:
            changed, entries, updated = _publish_channel(cfg, store, ch, sources, now, page_size, write, shared,
                                                         planned.pop(ch.slug, None), written)
        except PublishError as e:
            report.errors.append(str(e))
            continue
        latest[ch.slug] = entries[:INDEX_HEADLINES]
        # an empty feed's `updated` is the channel's last change: keep that value, or it would move
        # on every run and rewrite the feed each time
        last = float(int(now)) if entries else updated.timestamp()
        store.set_channel_state(ch.slug, dirty=False, entries=len(entries),
                                **({"last_change": last} if changed else {}))
        if changed:
            store.set_meta(feed_updated_key(ch.slug), updated.isoformat())
    try:
        if any(_has_html(cfg, ch) for ch in cfg.channels):
            chans = [html_fmt.ChannelLinks(
                slug=ch.slug, title=ch.title, description=ch.description, formats=ch.formats,
                headlines=latest[ch.slug] if ch.slug in latest else _index_headlines(cfg, store, ch, sources),
                has_page=_has_html(cfg, ch)) for ch in cfg.channels]
            write(out / "index.html", html_fmt.render_index(site_title=cfg.output.title,
                                                            lang=cfg.output.language, channels=chans))
        write(out / "index.opml", render_opml(cfg))
    except PublishError as e:
        report.errors.append(str(e))
    if cfg.output.archive:  # the channels this publish left alone: their next reads start from the newest row
        store.advance_archive_marks({ch.slug for ch in cfg.channels} - {ch.slug for ch in channels})
    if ping and cfg.output.hub:
        from feeds import websub

        result = websub.announce(store, cfg.output.hub, changed_urls,
                                 published={cfg.feed_url(n) for ch in cfg.channels for n in _doc_names(ch)})
        report.pinged, report.ping_pending = result.accepted, result.pending
    return report
