"""Store: every read and write of persistent state goes through this class."""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import (
    URL,
    Connection,
    Engine,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from feeds.errors import StoreError
from feeds.models import Enclosure
from feeds.store import schema as S


def _host_of(url: str) -> str:
    """A URL's host, lower-cased, without `www.` ("" if it has none)."""
    from urllib.parse import urlsplit

    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
    return host[4:] if host.startswith("www.") else host


def _like_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _link_tokens(forms: Sequence[str]) -> list[str] | None:
    """For each form of a link, the longest run of plain characters (ASCII letters, digits, "-._~") in its
    path outside percent escapes: a stored link an entry publishes as that form holds that run as it is
    (publishing takes tracking parameters out of the query, lower-cases the scheme and host, drops tab and
    newline, percent-encodes what an IRI may not hold: it makes no letter or digit of a path but an escape's);
    None when a form has none (its path "/"), so that nothing can be told from it."""
    import re
    from urllib.parse import urlsplit

    out = []
    for form in forms:
        try:
            path = urlsplit(form).path
        except ValueError:
            return None
        runs = re.split(r"[^A-Za-z0-9._~-]+", re.sub(r"%[0-9A-Fa-f]{2}", "%", path))
        best = max(runs, key=len, default="")
        if not best:
            return None
        out.append(best)
    return out


# a source's own item as ingest compares an entry with it (Store.items_of_source)
OwnItem = tuple[str | None, str | None, str, int, str, float, tuple[str, str]]
# an item as `feeds explain` reads it: id, title, summary, source id, published, story id, entry id, first seen
ItemText = tuple[int, str, str, int, float, int, str, float]


def _item_text(row: Any) -> ItemText:
    """An ItemText from a row whose first eight columns are its fields (`Store.item_text`'s)."""
    return (int(row[0]), str(row[1]), str(row[2]), int(row[3]), float(row[4]), int(row[5]), str(row[6]),
            float(row[7]))


CHUNK = 500  # bound for IN (...) lists
# Store.prunable_stories: over this many stories old by their dates, what keeps some is read table by table
# (a keep just lowered: 600,000 of 1,000,000, 2.4 s against 7 s), not for 500 stories at a time
PRUNE_READ_ALL = 300_000
ARCHIVE_FLOOR = "archive.floor."  # meta key prefix: a channel's archive slots dropped (Store.archive_floor)
ARCHIVE_LOST = "archive.lost."  # meta key prefix: its pages found missing when last said (Store.lost_pages_changed)
FEED_UPDATED = "feed.updated:"  # meta key prefix: the feed-level `updated` a channel's documents last carried


def slug_key(prefix: str, slug: str) -> str:
    """A channel's meta key: ``prefix`` + slug, or + "#" and a digest of a slug too long for the key column's
    64 characters (a slug may have 64)."""
    key = prefix + slug
    if len(key) <= 64:
        return key
    return prefix + "#" + hashlib.sha256(slug.encode("utf-8")).hexdigest()[:32]


def _slug_keys(prefix: str, slug: str) -> list[str]:
    """slug_key, and the whole key a store written before the digest holds for a long slug (SQLite took it)."""
    key = slug_key(prefix, slug)
    return [key] if key == prefix + slug else [key, prefix + slug]

_INSERT_ITEMS = insert(S.items)
_INSERT_KEYS = insert(S.item_keys).prefix_with("OR IGNORE", dialect="sqlite")
_INSERT_CHANNELS = insert(S.item_channels).prefix_with("OR IGNORE", dialect="sqlite")
_INSERT_SIGHTINGS = insert(S.sightings).prefix_with("OR IGNORE", dialect="sqlite")
_INSERT_STORIES = insert(S.stories)
_INSERT_SLOTS = insert(S.archive_slots)
_INSERT_FORGOTTEN = insert(S.forgotten)
_LOOKUP_KEYS = select(S.item_keys.c.key, S.item_keys.c.item_id).where(
    S.item_keys.c.key.in_(bindparam("v", expanding=True)))
TitleRow = tuple[int, float, int, bool, str, str]
_LOOKUP_TITLES = select(S.items.c.title_key, S.items.c.id, S.items.c.published, S.items.c.source_id,
                        S.items.c.guid, S.items.c.link, S.items.c.summary, S.items.c.content).where(
    S.items.c.title_key.in_(bindparam("v", expanding=True)), S.items.c.published >= bindparam("lo"),
    S.items.c.published <= bindparam("hi")).order_by(S.items.c.id)
_ITEM_HASHES = select(S.items.c.id, S.items.c.content_hash, S.items.c.source_id, S.items.c.story_id,
                      S.items.c.published, S.items.c.title_key).where(S.items.c.id.in_(bindparam("v", expanding=True)))
_ITEM_ORIGINS = select(S.items.c.id, S.sources.c.name, S.items.c.published).join(
    S.sources, S.sources.c.id == S.items.c.source_id).where(S.items.c.id.in_(bindparam("v", expanding=True)))
_CHANNELS_OF_ITEMS = select(S.item_channels.c.item_id, S.item_channels.c.channel).where(
    S.item_channels.c.item_id.in_(bindparam("v", expanding=True)))
_STORIES_BY_ID = select(S.stories).where(S.stories.c.id.in_(bindparam("v", expanding=True)))
_STORY_CHANNELS_OF = select(S.story_channels.c.story_id, S.story_channels.c.channel).where(
    S.story_channels.c.story_id.in_(bindparam("v", expanding=True)))
# the reports of stories that one channel's rules took: story id, item id, published, source name
_CHANNEL_REPORTS = (select(S.items.c.story_id, S.items.c.id, S.items.c.published, S.sources.c.name)
                    .join(S.item_channels, S.item_channels.c.item_id == S.items.c.id)
                    .join(S.sources, S.sources.c.id == S.items.c.source_id)
                    .where(S.item_channels.c.channel == bindparam("ch"),
                           S.items.c.story_id.in_(bindparam("v", expanding=True))))
_CHANNEL_REPORTS_BEFORE = _CHANNEL_REPORTS.where(S.items.c.id < bindparam("before"))  # stored before a run
_STORY_REPS = select(S.stories.c.id, S.stories.c.rep_item_id).where(S.stories.c.id.in_(bindparam("v", expanding=True)))
_CHANNEL_KEPT = select(S.story_channels.c.story_id, S.story_channels.c.rep_item_id).where(
    S.story_channels.c.channel == bindparam("ch"), S.story_channels.c.story_id.in_(bindparam("v", expanding=True)),
    S.story_channels.c.rep_item_id.is_not(None))
# a story's reports with their source's name, as ItemRow takes them
_STORY_MEMBERS = (select(*[S.items.c[n] for n in ("id", "uid", "source_id", "guid", "link", "title", "summary",
                                                  "content", "author", "categories", "published", "updated",
                                                  "first_seen", "story_id", "enclosures", "image")], S.sources.c.name)
                  .join(S.sources, S.sources.c.id == S.items.c.source_id)
                  .where(S.items.c.story_id.in_(bindparam("v", expanding=True)))
                  .order_by(S.items.c.published, S.items.c.id))
_SIGHTINGS_OF = (select(S.sightings.c.item_id, S.sources.c.name, S.sightings.c.link, S.sightings.c.title)
                 .join(S.sources, S.sources.c.id == S.sightings.c.source_id)
                 .where(S.sightings.c.item_id.in_(bindparam("v", expanding=True))).order_by(S.sightings.c.seen))
_SET_REPRESENTATIVE = update(S.stories).where(S.stories.c.id == bindparam("b_id")).values(
    rep_item_id=bindparam("b_rep"))
_UPDATE_STORIES = update(S.stories).where(S.stories.c.id == bindparam("b_id")).values(
    size=bindparam("b_size"), rep_item_id=bindparam("b_rep"), published=bindparam("b_published"),
    updated=bindparam("b_updated"))


@dataclass(frozen=True, slots=True)
class SourceRow:
    id: int
    url: str
    name: str
    active: bool
    fetch_url: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    last_attempt: float | None
    last_success: float | None
    last_status: int | None
    last_error: str | None
    consecutive_failures: int
    first_failure_at: float | None
    ttl: int | None
    max_age: int | None
    expires: float | None
    gone: bool
    redirect_target: str | None
    redirect_first_seen: float | None
    redirect_count: int
    next_due: float | None
    state: str | None
    items_total: int
    last_new: int
    feed_title: str | None
    site_link: str | None
    validators_url: str | None = None
    language: str | None = None  # what its documents declare (schema 8)


_SOURCE_COLS = [f.name for f in fields(SourceRow)]


@dataclass(frozen=True, slots=True)
class ItemRow:
    id: int
    uid: str
    source_id: int
    guid: str | None
    link: str | None
    title: str
    summary: str
    content: str
    author: str
    categories: str
    published: float
    updated: float
    first_seen: float
    story_id: int
    enclosures: str  # JSON (see encode_enclosures), "" for none
    image: str | None
    source_name: str


def encode_enclosures(enclosures: Sequence[Enclosure]) -> str:
    """An item's media files as the store keeps them (items.enclosures): "" for none, else a JSON array of
    [url, type, length]."""
    if not enclosures:
        return ""
    return json.dumps([[e.url, e.type, e.length] for e in enclosures], ensure_ascii=False, separators=(",", ":"))


def decode_enclosures(stored: str | None) -> list[Enclosure]:
    """items.enclosures back as Enclosure values; what is not one (a damaged value) is left out."""
    if not stored:
        return []
    try:
        rows = json.loads(stored)
    except ValueError:
        return []
    out = []
    for r in rows if isinstance(rows, list) else ():
        if isinstance(r, list) and len(r) == 3 and isinstance(r[0], str) and isinstance(r[1], str) \
                and (r[2] is None or (isinstance(r[2], int) and not isinstance(r[2], bool))):
            out.append(Enclosure(r[0], r[1], r[2]))
    return out


@dataclass(frozen=True, slots=True)
class StoryEntry:
    """One published entry: a story, its representative report and the other reports."""

    story_id: int
    updated: float
    published: float
    rep: ItemRow
    others: tuple[ItemRow, ...]
    channels: tuple[str, ...] = ()


RUNS_KEPT = timedelta(days=90)  # how long the run log keeps a run (feeds status shows the last ones)
# meta (Store.finish_run): the newest run's id while runs.started never decreases with runs.id; "unordered:<time>"
# when a check at that time found it out of order
RUNS_ORDERED = "runs.ordered"
# an item of the story window: id, title, summary, published, story_id, stored vector key and bytes (or None),
# source id
WindowRow = tuple[int, str, str, float, int, bytes | None, bytes | None, int]

WAL_AUTOCHECKPOINT = 16_384  # pages (64 MB at SQLite's 4 kB page)
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes


def ro_uri(p: Path) -> str:
    """The SQLite URI that opens the file at ``p`` read-only (the path percent-encoded: a "?" or "#" in it
    would end the file name in a URI)."""
    return f"file:{quote(str(p.resolve()))}?mode=ro"


def _peek_row(p: Path, table: str, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    """The first row of a query on one table of the store at ``p``, read with SQLite alone and nothing written
    (no migration, no engine: a check made before a command touches anything); None when there is no store
    file yet, it has no such table or the query no row. StoreError when the file is there but cannot be read
    as a store."""
    if not p.exists():
        return None
    try:
        con = sqlite3.connect(ro_uri(p), uri=True)
    except (OSError, sqlite3.Error) as e:
        raise StoreError(f"{p}: cannot read the store ({e})") from e
    try:
        if p.stat().st_size == 0 or not con.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone():
            return None  # an empty file, or a store whose creation stopped before that table
        row = con.execute(sql, tuple(params)).fetchone()
        return None if row is None else tuple(row)
    except (OSError, sqlite3.Error) as e:
        raise StoreError(f"{p}: cannot read the store ({e})") from e
    finally:
        con.close()


def peek_meta(p: Path, key: str) -> str | None:
    """One `meta` value of the store at ``p`` (`_peek_row`: nothing written); None when there is no store file
    yet or it has no such value. StoreError when the file is there but cannot be read as a store."""
    row = _peek_row(p, "meta", "SELECT value FROM meta WHERE key = ?", (key,))
    return None if row is None else str(row[0])


def peek_published(p: Path, owner_key: str) -> bool:
    """Whether the store at ``p`` has published: it holds ``owner_key`` in `meta` (the output directory's
    marker it wrote), or, a store from before the marker (schema 7 and earlier), a channel whose documents it
    wrote (a channel's row is written with its documents: dirty off, and its last change; a row only marked
    dirty, by a run whose publish did not happen, has neither). Read as `peek_meta` reads."""
    return peek_meta(p, owner_key) is not None or _peek_row(
        p, "channels", "SELECT 1 FROM channels WHERE last_change IS NOT NULL OR NOT dirty LIMIT 1") is not None


def _foreign_tables(p: Path) -> list[str]:
    """The tables of an existing SQLite file at ``p`` that no feeds store has (by name, or by a column):
    another program's database (even one with a `meta` table of its own), which must not be taken over.
    Empty too for a newer feeds' store, which the migration refuses by name. Read before
    any connection of the store's (whose settings switch the file to WAL). Empty for a new or empty file,
    a feeds store, or a store whose creation stopped half-way (only feeds' own tables). (A schema step
    that drops a table must keep its name known here, or older stores would be refused.)"""
    try:
        if not p.is_file() or p.stat().st_size == 0:
            return []
        con = sqlite3.connect(ro_uri(p), uri=True)
    except (OSError, sqlite3.Error):
        return []  # the store's own opening says what is wrong with it
    try:
        names = [str(n) for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        if S.meta.name in names:
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is not None and str(row[0]).isdigit() and int(row[0]) > S.SCHEMA_VERSION:
                return []  # a newer feeds' store (its own tables and columns): _migrate refuses it by name
        foreign = []
        for name in names:
            if name.startswith("sqlite_"):
                continue
            ours = S.metadata.tables.get(name)
            # a table of ours has only columns of ours (an older schema: fewer of them)
            cols = {str(r[1]) for r in con.execute(f'PRAGMA table_info("{name}")')} if ours is not None else set()
            if ours is None or not cols <= set(ours.columns.keys()):
                foreign.append(name)
    except sqlite3.Error:
        return []
    finally:
        con.close()
    return sorted(foreign)


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    # Checkpoint the WAL every WAL_AUTOCHECKPOINT pages (SQLite's default is 1,000 = 4 MB: a cold run of
    # 200 sources checkpointed, and fsynced, every few sources); the WAL file is cut back to
    # JOURNAL_SIZE_LIMIT after a checkpoint, and the last connection to close checkpoints it anyway.
    cur.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
    cur.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


# A forgotten item's title, at each of its link keys, by its own source: "t:" + link key + "\n" + title key. A
# link key is no id of a source's own posts: a new post (an id and a title of its own) on a page an older post
# linked to (a live blog, a show's page) is new, as a stored item found by its link is (run.py `_unforgotten`).
FORGOTTEN_TITLE = "t:"

# Statements the per-source path runs with only their parameters changing, built once (building a Core
# statement and its cache key each time was ~40 % of the time spent in SQLAlchemy at 10,000 sources).
# Core statements are immutable, so one object serves every connection and thread.
_STATEMENTS: dict[tuple[Any, ...], Any] = {}


# _many's plans: (statement, parameter names) -> the SQL, the names in its order and the bind processors
# to apply (position, function), or None: through SQLAlchemy. Keyed by the statement object, so only for
# statements built once (module level, _STATEMENTS).
_Plan = tuple[str, tuple[str, ...], tuple[tuple[int, Callable[[Any], Any]], ...]]
_DRIVER: dict[tuple[Any, tuple[str, ...]], _Plan | None] = {}


def _many(c: Connection, stmt: Any, rows: Sequence[dict[str, Any]]) -> None:
    """``c.execute(stmt, rows)`` for a statement built once and rows that all have the first one's keys.
    On SQLite the statement is compiled once and the rows go to the driver as tuples, through the same
    bind processors (``exec_driver_sql``: the same SQL, transaction and events, without SQLAlchemy's
    per-row parameter handling, about half of these statements' time) when every parameter is in the
    rows (no column default to fill in); otherwise, and on other databases, through SQLAlchemy."""
    if len(rows) < 2 or c.dialect.name != "sqlite":
        c.execute(stmt, list(rows))
        return
    names = tuple(rows[0])
    key = (stmt, names)
    if key in _DRIVER:
        plan = _DRIVER[key]
    else:
        compiled: Any = stmt.compile(dialect=c.dialect, column_keys=list(names))
        order = tuple(compiled.positiontup or ())
        procs = tuple((i, compiled._bind_processors[k]) for i, k in enumerate(order)
                      if compiled._bind_processors.get(k) is not None)
        plan = _DRIVER[key] = (str(compiled.string), order, procs) if order and set(order) <= set(names) else None
    if plan is None:
        c.execute(stmt, list(rows))
        return
    sql, order, procs = plan
    if not procs:
        c.exec_driver_sql(sql, [tuple([r[k] for k in order]) for r in rows])
        return
    params = []
    for r in rows:
        v = [r[k] for k in order]
        for i, proc in procs:
            if v[i] is not None:
                v[i] = proc(v[i])
        params.append(tuple(v))
    c.exec_driver_sql(sql, params)


def _delete_channels(c: Connection, owner: Any, owner_id: int, channels: Collection[str]) -> None:
    """Delete the rows of `owner`'s table (item_channels, story_channels) of one item or story in these channels."""
    if channels:
        t = owner.table
        c.execute(delete(t).where(owner == owner_id, t.c.channel.in_(sorted(channels))))
        if t is S.story_channels:
            _clamp_archive_marks(c)


_CLAMP_MARKS = text("UPDATE archive_marks SET rowid_mark = (SELECT coalesce(max(rowid), 0) FROM story_channels) "
                    "WHERE rowid_mark > (SELECT coalesce(max(rowid), 0) FROM story_channels)")


def _clamp_archive_marks(c: Connection) -> None:
    """After rows of story_channels were deleted: no archive mark above the last rowid. SQLite gives a new row
    max(rowid) + 1, so the rowid of a deleted last row is given again; a mark at or above it would take the new
    row for one the archive already saw (a story entering a channel dated before its live window was then
    never archived). Two lookups of the rowid b-tree's end."""
    if c.dialect.name == "sqlite":
        c.execute(_CLAMP_MARKS)


def _upsert(c: Connection, table: Any, rows: Sequence[dict[str, Any]], keys: Sequence[str],
            set_cols: Sequence[str]) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET set_cols, one executemany (SQLite >= 3.24, PostgreSQL);
    UPDATE then INSERT row by row on other databases."""
    if not rows:
        return
    name = c.dialect.name
    if name in ("sqlite", "postgresql"):
        key = ("upsert", name, table.name, tuple(keys), tuple(set_cols))
        stmt: Any = _STATEMENTS.get(key)
        if stmt is None:
            from sqlalchemy.dialects import postgresql, sqlite

            stmt = (sqlite.insert if name == "sqlite" else postgresql.insert)(table)
            stmt = _STATEMENTS[key] = stmt.on_conflict_do_update(
                index_elements=list(keys), set_={col: stmt.excluded[col] for col in set_cols})
        _many(c, stmt, rows)
        return
    for r in rows:
        cond = [table.c[k] == r[k] for k in keys]
        if not c.execute(update(table).where(*cond).values({col: r[col] for col in set_cols})).rowcount:
            c.execute(insert(table).values(r))


def _upgrade_1_to_2(c: Connection) -> None:
    """Version 2 adds item_embeddings (semantic mode's stored title embeddings; empty at first: every
    window item is a miss once, embedded and stored at the next run)."""
    S.item_embeddings.create(c, checkfirst=True)


def _upgrade_2_to_3(c: Connection) -> None:
    """Version 3 adds item_vectors (the story index's stored term vectors; empty at first: the next run
    that loads the index computes the window's vectors as before and stores them)."""
    S.item_vectors.create(c, checkfirst=True)


def _upgrade_3_to_4(c: Connection) -> None:
    """Version 4 adds archive_marks.written (the archive size whose pages are all on disk). An existing store
    records none: the feeds that wrote it saved slots before their pages, so a run killed in between left a
    page short of its entries for good, and nothing tells which. Its first publish renders every page again
    from the slots and writes those whose bytes differ (the intact ones keep their bytes and times; found by
    a review of upgrades, which had the short page stay short)."""
    if "written" not in {col["name"] for col in inspect(c).get_columns("archive_marks")}:
        c.execute(text("ALTER TABLE archive_marks ADD COLUMN written INTEGER"))
    m = S.archive_marks
    c.execute(update(m).where(m.c.written.is_(None)).values(written=0))


def _upgrade_4_to_5(c: Connection) -> None:
    """Version 5 adds sources.validators_url (NULL: the validators came from the fetch URL, as every stored
    one did unless a redirect answered; such a source gets a full response once and fresh validators)."""
    if "validators_url" not in {col["name"] for col in inspect(c).get_columns("sources")}:
        c.execute(text("ALTER TABLE sources ADD COLUMN validators_url TEXT"))


def _upgrade_5_to_6(c: Connection) -> None:
    """Version 6 adds items.enclosures and items.image (an item's media files and thumbnail). Items stored
    before have none, and their authors are one string as the feed gave it ("address (Name)"): the feeds'
    documents are not kept, so each source is read again in full once (its validators and body hash
    forgotten: no 304, no "unchanged body") and each item it still lists is stored again (its content hash
    forgotten: an edit, which writes its media files and its authors' names; its text is what it was)."""
    have = {col["name"] for col in inspect(c).get_columns("items")}
    if "enclosures" not in have:
        c.execute(text("ALTER TABLE items ADD COLUMN enclosures TEXT NOT NULL DEFAULT ''"))
    if "image" not in have:
        c.execute(text("ALTER TABLE items ADD COLUMN image TEXT"))
    c.execute(update(S.sources).values(etag=None, last_modified=None, validators_url=None, body_hash=None))
    c.execute(update(S.items).where(S.items.c.enclosures == "").values(content_hash=""))


def _upgrade_6_to_7(c: Connection) -> None:
    """Version 7 adds forgotten (the keys of items pruned by `[store] keep`; empty until the first prune)."""
    S.forgotten.create(c, checkfirst=True)


def _upgrade_7_to_8(c: Connection) -> None:
    """Version 8 adds sources.language (the language a source's documents declare). A store from before holds
    none, so each source is read again in full once (validators and body hash forgotten: no 304, no
    "unchanged body"); a declared language found then republishes the channels of that source's stories."""
    if "language" not in {col["name"] for col in inspect(c).get_columns("sources")}:
        c.execute(text("ALTER TABLE sources ADD COLUMN language TEXT"))
    c.execute(update(S.sources).values(etag=None, last_modified=None, validators_url=None, body_hash=None))


def _upgrade_8_to_9(c: Connection) -> None:
    """Version 9 adds story_channels.rep_item_id (the report a channel's entry stood on when published; NULL
    until the channel is published again, which chooses it by the same rule as before, or a report joins the
    story, which records the one it stands on first: `Store.keep_channel_representatives`)."""
    if "rep_item_id" not in {col["name"] for col in inspect(c).get_columns("story_channels")}:
        c.execute(text("ALTER TABLE story_channels ADD COLUMN rep_item_id INTEGER"))


# version -> the step to version + 1. SQLite's Python driver commits DDL as it goes, so a step may be
# interrupted half-way and run again at the next open: every step must be idempotent (checkfirst,
# IF NOT EXISTS, updates that can be repeated).
_UPGRADES = {1: _upgrade_1_to_2, 2: _upgrade_2_to_3, 3: _upgrade_3_to_4, 4: _upgrade_4_to_5, 5: _upgrade_5_to_6,
             6: _upgrade_6_to_7, 7: _upgrade_7_to_8, 8: _upgrade_8_to_9}


def _schema_version(row: object, where: str) -> int:
    """meta.schema_version as a number; StoreError naming the store when it is not one."""
    try:
        version = int(str(row))
    except ValueError:
        version = 0
    if version < 1:
        raise StoreError(f"{where}: store schema version {row!r} is not a version this feeds knows (a positive "
                         "integer); the store is damaged or not a feeds store")
    return version


def driver_reason(e: SQLAlchemyError) -> str:
    """The driver's one-line reason (SQLAlchemy's own text adds the statement on lines of its own)."""
    orig = getattr(e, "orig", None)
    return str(orig) if orig is not None else (str(e).splitlines() or [e.__class__.__name__])[0]


def _reason(e: SQLAlchemyError) -> str:
    return f"{e.__class__.__name__}: {driver_reason(e)}"


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # what the store is being written for, said by an error of the store's (failure.store_failure): set by
        # each phase of a run as it starts (cheap: nothing is kept per statement); SQLAlchemy's error carries it
        self.doing: str | None = None
        event.listen(engine, "handle_error", self._carry_doing)

    def _carry_doing(self, ctx: Any) -> None:
        if self.doing and ctx.sqlalchemy_exception is not None:
            ctx.sqlalchemy_exception.feeds_doing = self.doing

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path | str) -> Store:
        """A writer's store (the caller holds the lock): created if missing, brought to SCHEMA_VERSION."""
        url: str | URL = str(path)
        if "://" not in str(path):
            p = Path(path)
            try:
                p.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"{p}: cannot create the store's directory ({e})") from e
            foreign = _foreign_tables(p)
            if foreign:
                raise StoreError(f"{path}: a SQLite database but not a feeds store (it has tables of its own: "
                                 f"{', '.join(foreign[:5])}{', ...' if len(foreign) > 5 else ''}); "
                                 "give store.path a file of its own")
            # a URL object: a path with %XX or ? in it is a file name, not URL escapes and a query string
            url = URL.create("sqlite", database=str(p))
        doing = "opening the store"
        try:
            engine = create_engine(url)
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _sqlite_pragmas)
            store = cls(engine)
            store.doing = doing
            store._migrate(str(path))
        except SQLAlchemyError as e:
            from feeds.store.failure import store_failure

            said = store_failure(Path(str(path)), e, doing=getattr(e, "feeds_doing", None) or doing)
            raise StoreError(said or f"{path}: cannot open the store ({_reason(e)})") from e
        store.doing = None
        return store

    @classmethod
    def open_readonly(cls, path: Path | str) -> Store:
        """A reader's store (`feeds status`, `feeds explain`; no lock): an existing SQLite store opened
        read-only (mode=ro): nothing is created, migrated or written. StoreError when it cannot be read,
        is not a store yet (an empty file) or is at another schema than this code's (an older one is
        upgraded by the next writer: `feeds run` or the daemon)."""
        p = Path(path)
        base = ro_uri(p)
        try:
            engine, row = cls._read_meta(base)
        except SQLAlchemyError as e:
            # a WAL store whose directory we may not write (so no -shm can be made beside it) cannot be read
            # by SQLite in mode=ro; when no writer has it open (no -wal file) it cannot change under us, and
            # immutable=1 reads it without the -shm
            wal = Path(f"{p}-wal")
            if wal.exists() or os.access(p.parent, os.W_OK):
                raise StoreError(f"{p}: cannot read the store ({_reason(e)})") from e
            try:
                engine, row = cls._read_meta(base + "&immutable=1")
            except SQLAlchemyError as e2:
                raise StoreError(f"{p}: cannot read the store ({_reason(e2)})") from e2
        if row is None:
            engine.dispose()
            raise StoreError(f"{p}: not a feeds store yet (empty or incomplete); run `feeds run` first to create it")
        try:
            version = _schema_version(row, str(p))
        except StoreError:
            engine.dispose()
            raise
        if version != S.SCHEMA_VERSION:
            engine.dispose()
            if version > S.SCHEMA_VERSION:
                raise StoreError(f"{p}: store schema {version} is newer than this feeds ({S.SCHEMA_VERSION}); "
                                 "upgrade feeds")
            raise StoreError(f"{p}: store schema {version} is older than this feeds ({S.SCHEMA_VERSION}); "
                             "run `feeds run` first to upgrade it")
        return cls(engine)

    @staticmethod
    def _read_meta(uri: str) -> tuple[Engine, object]:
        """An engine on a read-only SQLite URI and the store's schema_version (None: no such row or table)."""

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, check_same_thread=False)

        def pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()

        engine = create_engine("sqlite://", creator=connect, poolclass=NullPool)
        event.listen(engine, "connect", pragmas)
        try:
            with engine.connect() as c:
                row = None
                if S.meta.name in inspect(c).get_table_names():
                    row = c.execute(select(S.meta.c.value).where(S.meta.c.key == "schema_version")).scalar()
        except SQLAlchemyError:
            engine.dispose()
            raise
        return engine, row

    def close(self) -> None:
        self.engine.dispose()

    def _migrate(self, where: str = "store") -> None:
        """Create a new store, or bring an older one to SCHEMA_VERSION (one step per version, recorded in
        `meta`). A store newer than this code is refused: an older feeds never writes to it."""
        with self.engine.begin() as c:
            if S.meta.name in inspect(c).get_table_names():
                row = c.execute(select(S.meta.c.value).where(S.meta.c.key == "schema_version")).scalar()
                if row is not None and str(row).isdigit() and int(str(row)) < S.SCHEMA_VERSION:
                    self.doing = f"upgrading the store's schema ({row} to {S.SCHEMA_VERSION})"
                if row is not None and _schema_version(row, where) > S.SCHEMA_VERSION:
                    raise StoreError(f"{where}: store schema {row} is newer than this feeds ({S.SCHEMA_VERSION}); "
                                     "upgrade feeds")
            else:
                self.doing = "creating the store"
            S.metadata.create_all(c)  # a new store; or tables an older store lacks
            # and indexes of tables that exist: SQLite's driver commits each CREATE on its own, so a store
            # whose creation was killed can hold a table whose indexes were never made (create_all skips it).
            # On SQLite one query says which exist (an inspector check per index cost ~4 ms per open).
            have = set(c.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'")).scalars()) \
                if c.dialect.name == "sqlite" else None
            for table in S.metadata.sorted_tables:
                for index in table.indexes:
                    if have is None:
                        index.create(c, checkfirst=True)
                    elif index.name not in have:
                        index.create(c)
            row = c.execute(select(S.meta.c.value).where(S.meta.c.key == "schema_version")).scalar()
            if row is None:
                c.execute(insert(S.meta).values(key="schema_version", value=str(S.SCHEMA_VERSION)))
                return
            version = _schema_version(row, where)
            while version < S.SCHEMA_VERSION:
                _UPGRADES[version](c)
                version += 1
                c.execute(update(S.meta).where(S.meta.c.key == "schema_version").values(value=str(version)))

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """One transaction: everything inside commits together or not at all."""
        with self.engine.begin() as c:
            yield c

    def integrity_check(self) -> str:
        with self.engine.connect() as c:
            if self.engine.dialect.name != "sqlite":
                return "ok"
            return str(c.execute(text("PRAGMA integrity_check")).scalar())

    # -- sources -------------------------------------------------------------------------------
    def sync_sources(self, configured: Iterable[tuple[str, str]]) -> dict[str, SourceRow]:
        """Make the sources table match the config (url, name); returns active rows by URL."""
        wanted = dict(configured)
        with self.tx() as c:
            rows = {r.url: r for r in c.execute(select(S.sources.c.url, S.sources.c.name, S.sources.c.active))}
            for url, name in wanted.items():
                r = rows.get(url)
                if r is None:
                    c.execute(insert(S.sources).values(url=url, name=name, active=True, consecutive_failures=0,
                                                       gone=False, redirect_count=0, items_total=0, last_new=0))
                elif not r.active:  # back in the config: a fresh start (a source once gone is polled again,
                    # a source once moved is fetched at its configured URL again, without old validators)
                    c.execute(update(S.sources).where(S.sources.c.url == url).values(
                        name=name, active=True, gone=False, consecutive_failures=0, first_failure_at=None,
                        last_attempt=None, next_due=None, state=None, fetch_url=None, redirect_target=None,
                        redirect_first_seen=None, redirect_count=0, etag=None, last_modified=None,
                        validators_url=None, body_hash=None))
                elif r.name != name:
                    c.execute(update(S.sources).where(S.sources.c.url == url).values(name=name))
            for url, r in rows.items():
                if url not in wanted and r.active:
                    c.execute(update(S.sources).where(S.sources.c.url == url).values(active=False))
        return {s.url: s for s in self.sources() if s.active}

    def sources(self) -> list[SourceRow]:
        with self.engine.connect() as c:
            res = c.execute(select(*[S.sources.c[n] for n in _SOURCE_COLS]).order_by(S.sources.c.id))
            return [SourceRow(*r) for r in res]

    def source(self, source_id: int) -> SourceRow:
        with self.engine.connect() as c:
            r = c.execute(select(*[S.sources.c[n] for n in _SOURCE_COLS]).where(S.sources.c.id == source_id)).one()
            return SourceRow(*r)

    @staticmethod
    def update_source(c: Connection, source_id: int, **values: Any) -> None:
        Store.update_sources(c, [(source_id, values)])

    @staticmethod
    def update_sources(c: Connection, rows: Sequence[tuple[int, dict[str, Any]]]) -> None:
        """update_source for many sources: one executemany per set of columns."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for source_id, values in rows:
            params = {f"b_{k}": v for k, v in values.items()}
            params["b_id"] = source_id
            groups.setdefault(tuple(sorted(values)), []).append(params)
        t = S.sources
        for cols, params_list in groups.items():
            stmt = _STATEMENTS.get(("update_sources", cols))
            if stmt is None:
                stmt = _STATEMENTS[("update_sources", cols)] = update(t).where(t.c.id == bindparam("b_id")).values(
                    {k: bindparam(f"b_{k}") for k in cols})
            if len(params_list) == 1:
                c.execute(stmt, params_list[0])
            else:
                _many(c, stmt, params_list)

    def host_retry_after(self) -> dict[str, float]:
        with self.engine.connect() as c:
            return {h: t for h, t in c.execute(select(S.hosts.c.host, S.hosts.c.retry_after)) if t}

    @staticmethod
    def set_host_retry_after(c: Connection, host: str, until: float | None) -> None:
        n = c.execute(update(S.hosts).where(S.hosts.c.host == host).values(retry_after=until)).rowcount
        if not n and until is not None:
            c.execute(insert(S.hosts).values(host=host, retry_after=until))

    # -- items ---------------------------------------------------------------------------------
    @staticmethod
    def lookup_keys(c: Connection, keys: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in range(0, len(keys), CHUNK):
            chunk = keys[i:i + CHUNK]
            for k, item_id in c.execute(_LOOKUP_KEYS, {"v": chunk}):
                out[k] = item_id
        return out

    @staticmethod
    def lookup_titles(c: Connection, title_keys: Sequence[str], lo: float = -math.inf,
                      hi: float = math.inf) -> dict[str, list[TitleRow]]:
        """title key -> (item id, published, source id, whether it has an id or a link, summary, content) of the
        items having it published between lo and hi (POSIX seconds, inclusive), oldest first (the index on
        (title_key, published) reads only those)."""
        out: dict[str, list[TitleRow]] = {}
        lo, hi = max(lo, -1e300), min(hi, 1e300)  # a bound SQLite binds as a number
        for i in range(0, len(title_keys), CHUNK):
            chunk = title_keys[i:i + CHUNK]
            for tk, item_id, pub, src, guid, link, summary, content in c.execute(
                    _LOOKUP_TITLES, {"v": chunk, "lo": lo, "hi": hi}):
                out.setdefault(tk, []).append((item_id, pub, src, bool(guid or link), summary or "", content or ""))
        return out

    @staticmethod
    def item_hashes(c: Connection, ids: Sequence[int]) -> dict[int, tuple[str, int, int, float, str | None]]:
        """content_hash, source_id, story_id, published time and title key of items."""
        out: dict[int, tuple[str, int, int, float, str | None]] = {}
        for i in range(0, len(ids), CHUNK):
            for r in c.execute(_ITEM_HASHES, {"v": ids[i:i + CHUNK]}):
                out[r[0]] = (r[1], r[2], r[3], float(r[4]), r[5])
        return out

    @staticmethod
    def items_of_source(c: Connection, source_id: int, ids: Sequence[int]) -> dict[int, OwnItem]:
        """Of these items, those the source stored: guid, title key, content hash, story id, entry id, published
        time and (summary, content)."""
        out: dict[int, OwnItem] = {}
        i = S.items
        for n in range(0, len(ids), CHUNK):
            q = select(i.c.id, i.c.guid, i.c.title_key, i.c.content_hash, i.c.story_id, i.c.uid, i.c.published,
                       i.c.summary, i.c.content).where(i.c.id.in_(ids[n:n + CHUNK]), i.c.source_id == source_id)
            for r in c.execute(q):
                out[int(r[0])] = (r[1], r[2], str(r[3]), int(r[4]), str(r[5]), float(r[6]),
                                  (str(r[7] or ""), str(r[8] or "")))
        return out

    @staticmethod
    def next_item_ids(c: Connection, n: int) -> list[int]:
        """Ids for n new items, to insert with insert_items in this transaction (single writer: the
        caller holds the store lock). They are the ids the database would have given."""
        top = int(c.execute(select(func.max(S.items.c.id))).scalar() or 0)
        if n and c.dialect.name == "postgresql":  # keep the serial sequence ahead of explicit ids
            c.execute(text("SELECT setval(pg_get_serial_sequence('items', 'id'), :v)"), {"v": top + n})
        return list(range(top + 1, top + n + 1))

    @staticmethod
    def insert_items(c: Connection, rows: list[dict[str, Any]]) -> list[int]:
        """Insert items; rows with an "id" (from next_item_ids) keep it. Returns the ids."""
        if not rows:
            return []
        if all("id" in r for r in rows):
            _many(c, _INSERT_ITEMS, rows)
            return [int(r["id"]) for r in rows]
        res = c.execute(insert(S.items).returning(S.items.c.id, sort_by_parameter_order=True), rows)
        return [r[0] for r in res]

    @staticmethod
    def insert_keys(c: Connection, pairs: list[dict[str, Any]]) -> None:
        if pairs:
            _many(c, _INSERT_KEYS, pairs)

    @staticmethod
    def move_keys(c: Connection, keys: Mapping[str, int]) -> None:
        """Point these keys at these items (a page's link key at the post it shows now)."""
        k = S.item_keys
        for key, item_id in keys.items():
            c.execute(update(k).where(k.c.key == key).values(item_id=item_id))

    @staticmethod
    def rekey_item(c: Connection, item_id: int, prefix: str, key: str, first: Callable[[str], bool]) -> None:
        """Replace the item's keys that start with ``prefix`` (its id keys in one source) by ``key``, but for
        the one it was first stored under (``first``): its entry id derives from that key, so a new item
        under that id would take the same entry id; known, the id finds this item instead."""
        k = S.item_keys
        old = [str(x) for x in c.execute(select(k.c.key).where(
            k.c.item_id == item_id, func.substr(k.c.key, 1, len(prefix)) == prefix)).scalars()]
        drop = [x for x in old if x != key and not first(x)]
        if drop:
            c.execute(delete(k).where(k.c.key.in_(drop)))
        c.execute(insert(k).prefix_with("OR IGNORE", dialect="sqlite").values(key=key, item_id=item_id))

    @staticmethod
    def relink_keys(c: Connection, relink: Callable[[str], str | None], step: int = 2000) -> tuple[int, int]:
        """Rewrite the stored link keys (``l:``) that ``relink`` gives another form (None: left as they are),
        a range of item ids at a time. A key whose new form is already stored (another item's, or one
        rewritten before it) is deleted: the item that has the new form keeps it, as a new key of an edit
        leaves an existing one (feeds.run). Returns (rewritten, deleted)."""
        k = S.item_keys
        top = int(c.execute(select(func.max(k.c.item_id))).scalar() or 0)
        moved = dropped = 0
        for lo in range(0, top, step):
            keys = c.execute(select(k.c.key).where(k.c.item_id > lo, k.c.item_id <= lo + step,
                                                   func.substr(k.c.key, 1, 2) == "l:")).scalars()
            moves = {old: new for old in map(str, keys) if (new := relink(old)) is not None and new != old}
            if not moves:
                continue
            taken = set(Store.lookup_keys(c, sorted(set(moves.values()))))
            rename, drop = [], []
            for old, new in moves.items():
                if new in taken:
                    drop.append(old)
                else:
                    taken.add(new)
                    rename.append({"old": old, "new": new})
            if rename:
                c.execute(update(k).where(k.c.key == bindparam("old")).values(key=bindparam("new")), rename)
            for i in range(0, len(drop), CHUNK):
                c.execute(delete(k).where(k.c.key.in_(drop[i:i + CHUNK])))
            moved += len(rename)
            dropped += len(drop)
        Store._relink_forgotten(c, relink)
        return moved, dropped

    @staticmethod
    def retitle_keys(c: Connection, key_of: Callable[[str], str | None], step: int = 2000) -> int:
        """Set every item's title key to ``key_of`` its stored title where it differs, a range of item ids at a
        time; returns how many were rewritten."""
        t = S.items
        top = int(c.execute(select(func.max(t.c.id))).scalar() or 0)
        moved = 0
        for lo in range(0, top, step):
            rows = c.execute(select(t.c.id, t.c.title, t.c.title_key).where(t.c.id > lo, t.c.id <= lo + step))
            fix = [{"b_id": i, "b_key": new} for i, title, old in rows if (new := key_of(title or "")) != old]
            if fix:
                c.execute(update(t).where(t.c.id == bindparam("b_id")).values(title_key=bindparam("b_key")), fix)
                moved += len(fix)
        return moved

    @staticmethod
    def _relink_forgotten(c: Connection, relink: Callable[[str], str | None]) -> None:
        """relink_keys for the forgotten link keys (and the title rows at them, FORGOTTEN_TITLE): each row under
        its new form (one already there stays)."""
        f = S.forgotten
        titled = FORGOTTEN_TITLE + "l:"
        rows = c.execute(select(f.c.key, f.c.source_id, f.c.at, f.c.unlisted)
                         .where((func.substr(f.c.key, 1, 2) == "l:")
                                | (func.substr(f.c.key, 1, len(titled)) == titled))).all()

        def relinked(key: str) -> str | None:
            if not key.startswith(FORGOTTEN_TITLE):
                return relink(key)
            link, _, title = key[len(FORGOTTEN_TITLE):].partition("\n")
            new = relink(link)
            return None if new is None else f"{FORGOTTEN_TITLE}{new}\n{title}"

        moved = [(r, new) for r in rows if (new := relinked(str(r[0]))) is not None and new != r[0]]
        for n in range(0, len(moved), CHUNK):
            part = moved[n:n + CHUNK]
            c.execute(delete(f).where(f.c.key == bindparam("old"), f.c.source_id == bindparam("src")),
                      [{"old": r[0], "src": r[1]} for r, _ in part])
            taken = {(str(k), int(s)) for k, s in c.execute(
                select(f.c.key, f.c.source_id).where(f.c.key.in_(sorted({new for _, new in part}))))}
            fresh = {(new, int(r[1])): {"key": new, "source_id": int(r[1]), "at": r[2], "unlisted": r[3]}
                     for r, new in part if (new, int(r[1])) not in taken}
            if fresh:
                c.execute(insert(f), list(fresh.values()))

    @staticmethod
    def insert_channels(c: Connection, pairs: list[dict[str, Any]]) -> None:
        if pairs:
            _many(c, _INSERT_CHANNELS, pairs)

    @staticmethod
    def delete_item_channels(c: Connection, item_id: int, channels: Collection[str]) -> None:
        _delete_channels(c, S.item_channels.c.item_id, item_id, channels)

    def items_for_rules(self, after_id: int, limit: int) -> list[tuple[int, str, str, str, str, int]]:
        """The next `limit` items by id after `after_id`, as channel rules read them: (id, title, summary,
        tab-joined categories, the name of the source that stored it, story id)."""
        i = S.items
        q = (select(i.c.id, i.c.title, i.c.summary, i.c.categories, S.sources.c.name, i.c.story_id)
             .join(S.sources, S.sources.c.id == i.c.source_id).where(i.c.id > after_id).order_by(i.c.id).limit(limit))
        with self.engine.connect() as c:
            return [(int(r[0]), r[1] or "", r[2] or "", r[3] or "", str(r[4]), int(r[5])) for r in c.execute(q)]

    @staticmethod
    def delete_channel_items(c: Connection, channel: str, ids: Sequence[int]) -> None:
        """Take these items out of one channel."""
        t = S.item_channels
        for i in range(0, len(ids), CHUNK):
            c.execute(delete(t).where(t.c.channel == channel, t.c.item_id.in_(ids[i:i + CHUNK])))

    @staticmethod
    def member_channels_of_stories(c: Connection, ids: Sequence[int]) -> dict[int, set[str]]:
        """The channels any report of each story is in (a story none of whose reports is in a channel is absent)."""
        i, ic = S.items, S.item_channels
        out: dict[int, set[str]] = {}
        for n in range(0, len(ids), CHUNK):
            q = (select(i.c.story_id, ic.c.channel).distinct().join(ic, ic.c.item_id == i.c.id)
                 .where(i.c.story_id.in_(ids[n:n + CHUNK])))
            for sid, ch in c.execute(q):
                out.setdefault(int(sid), set()).add(str(ch))
        return out

    def channel_slugs(self) -> set[str]:
        """Every channel the store holds something of: a state, story entries or an archive."""
        with self.engine.connect() as c:
            found = set(c.execute(select(S.channels.c.slug)).scalars())
            found |= set(c.execute(select(S.story_channels.c.channel).distinct()).scalars())
            found |= set(c.execute(select(S.archive_marks.c.channel)).scalars())
            found |= set(c.execute(select(S.archive_slots.c.channel).distinct()).scalars())
        return {str(slug) for slug in found}

    @staticmethod
    def forget_channels(c: Connection, slugs: Collection[str]) -> None:
        """Delete everything the store holds of these channels: their items and story entries, archive and
        state (a channel added again under the same slug starts afresh)."""
        if not slugs:
            return
        want = sorted(slugs)
        for t in (S.item_channels, S.story_channels, S.archive_slots, S.archive_marks):
            c.execute(delete(t).where(t.c.channel.in_(want)))
        _clamp_archive_marks(c)  # the other channels' marks
        c.execute(delete(S.meta).where(S.meta.c.key.in_([k for slug in want
                                                         for p in (ARCHIVE_FLOOR, ARCHIVE_LOST, FEED_UPDATED)
                                                         for k in _slug_keys(p, slug)])))
        c.execute(delete(S.channels).where(S.channels.c.slug.in_(want)))

    @staticmethod
    def story_member_channels(c: Connection, story_id: int) -> set[str]:
        """The channels any report of the story is in."""
        return Store.member_channels_of_stories(c, [story_id]).get(story_id, set())

    @staticmethod
    def delete_story_channels(c: Connection, story_id: int, channels: Collection[str]) -> None:
        _delete_channels(c, S.story_channels.c.story_id, story_id, channels)

    @staticmethod
    def add_sightings(c: Connection, rows: list[dict[str, Any]]) -> None:
        if rows:
            _many(c, _INSERT_SIGHTINGS, rows)

    @staticmethod
    def update_item(c: Connection, item_id: int, **values: Any) -> None:
        c.execute(update(S.items).where(S.items.c.id == item_id).values(**values))

    @staticmethod
    def item_origins(c: Connection, ids: Sequence[int]) -> dict[int, tuple[str, float]]:
        """The name of the source that stored each item, and the item's published time."""
        out: dict[int, tuple[str, float]] = {}
        for i in range(0, len(ids), CHUNK):
            for item_id, name, published in c.execute(_ITEM_ORIGINS, {"v": ids[i:i + CHUNK]}):
                out[item_id] = (str(name), float(published))
        return out

    @staticmethod
    def channels_of_items(c: Connection, ids: Sequence[int]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for i in range(0, len(ids), CHUNK):
            for item_id, ch in c.execute(_CHANNELS_OF_ITEMS, {"v": ids[i:i + CHUNK]}):
                out.setdefault(item_id, []).append(ch)
        return out

    @staticmethod
    def story_channels_of_source(c: Connection, source_id: int) -> set[str]:
        """The channels of the stories that hold a report of this source (its entries show its language)."""
        i, sc = S.items, S.story_channels
        q = (select(sc.c.channel).distinct().select_from(sc.join(i, i.c.story_id == sc.c.story_id))
             .where(i.c.source_id == source_id))
        return {str(ch) for ch in c.execute(q).scalars()}

    @staticmethod
    def story_channels_of_items(c: Connection, ids: Sequence[int]) -> set[str]:
        """The channels the stories of these items are in (an entry there shows every report of its story)."""
        i, sc = S.items, S.story_channels
        q = (select(sc.c.channel).distinct().select_from(sc.join(i, i.c.story_id == sc.c.story_id))
             .where(i.c.id.in_(bindparam("v", expanding=True))))
        out: set[str] = set()
        for n in range(0, len(ids), CHUNK):
            out.update(str(ch) for ch in c.execute(q, {"v": list(ids[n:n + CHUNK])}).scalars())
        return out

    # -- stories -------------------------------------------------------------------------------
    @staticmethod
    def insert_stories(c: Connection, rows: list[dict[str, Any]]) -> None:
        if rows:
            _many(c, _INSERT_STORIES, rows)

    @staticmethod
    def stories_by_id(c: Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        for i in range(0, len(ids), CHUNK):
            for r in c.execute(_STORIES_BY_ID, {"v": ids[i:i + CHUNK]}):
                out[r.id] = dict(r._mapping)
        return out

    @staticmethod
    def update_story(c: Connection, story_id: int, **values: Any) -> None:
        c.execute(update(S.stories).where(S.stories.c.id == story_id).values(**values))

    @staticmethod
    def update_stories(c: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Rewrite stories' size, rep_item_id, published and updated (dicts as stories_by_id gives)."""
        if rows:
            _many(c, _UPDATE_STORIES, [{"b_id": r["id"], "b_size": r["size"], "b_rep": r["rep_item_id"],
                                        "b_published": r["published"], "b_updated": r["updated"]} for r in rows])

    def meta_value(self, key: str) -> str | None:
        with self.engine.connect() as c:
            v = c.execute(select(S.meta.c.value).where(S.meta.c.key == key)).scalar()
            return None if v is None else str(v)

    def meta_value_or_set(self, key: str, value: str) -> str:
        """The meta value of ``key``; set to ``value`` first when it has none."""
        with self.engine.begin() as c:
            v = c.execute(select(S.meta.c.value).where(S.meta.c.key == key)).scalar()
            if v is not None:
                return str(v)
            c.execute(insert(S.meta).values(key=key, value=value))
            return value

    def set_meta(self, key: str, value: str) -> None:
        with self.tx() as c:
            self.set_meta_value(c, key, value)

    @staticmethod
    def set_meta_value(c: Connection, key: str, value: str) -> None:
        if not c.execute(update(S.meta).where(S.meta.c.key == key).values(value=value)).rowcount:
            c.execute(insert(S.meta).values(key=key, value=value))

    @staticmethod
    def delete_meta_value(c: Connection, key: str) -> None:
        c.execute(delete(S.meta).where(S.meta.c.key == key))

    @staticmethod
    def rerank_representatives(c: Connection, prefer: Collection[str]) -> list[int]:
        """Set every story's representative by the rule the pipeline applies to a story's first run: its
        earliest report of a source in ``prefer`` if it has one, else its earliest report (ties: the
        first stored). (Once a story is published, a report read later with an earlier date does not take its
        entry over, nor a channel's; a changed list chooses them all again: the config changed, the entries'
        links may move.) Returns the ids of the stories whose representative changed (one pass over the
        items: for a change of `stories.prefer_sources`, not for every run); the reports channels' entries
        were kept on are forgotten, to be chosen again at their next publish."""
        i = S.items
        best: dict[int, tuple[bool, float, int]] = {}
        q = select(i.c.story_id, i.c.id, i.c.published, S.sources.c.name).join(S.sources,
                                                                              S.sources.c.id == i.c.source_id)
        for sid, item_id, published, name in c.execute(q):
            rank = (name not in prefer, float(published), int(item_id))
            if sid not in best or rank < best[sid]:
                best[sid] = rank
        changed = [(sid, best[sid][2]) for sid, rep in c.execute(select(S.stories.c.id, S.stories.c.rep_item_id))
                   if sid in best and best[sid][2] != rep]
        if changed:
            _many(c, _SET_REPRESENTATIVE, [{"b_id": sid, "b_rep": rep} for sid, rep in changed])
        # the reports channels' entries stood on were chosen under the old list: chosen again at their next publish
        c.execute(update(S.story_channels).where(S.story_channels.c.rep_item_id.is_not(None)).values(rep_item_id=None))
        return sorted(sid for sid, _ in changed)

    def channel_representatives(self, slug: str, ids: Sequence[int], prefer: Collection[str]) -> dict[int, int]:
        """The report that stands for each story in one channel (its link, headline, author and summary there):
        the story's representative when the channel's rules took that report, else, by the rule that chose it
        (see rerank_representatives), the earliest report of a source in ``prefer`` among the reports the
        channel took, else the earliest of those (ties: the first stored). A report the channel's entry stood on
        when it was published (`remember_channel_representatives`) stays while the channel still takes it,
        unless the rule now picks a preferred outlet's report over it: a report read later with an earlier date
        does not take a published entry over. A story of which the channel took no report (a store that never
        recorded it) keeps its representative. Story id -> item id, for the stories of ``ids`` that are in the
        store."""
        with self.engine.connect() as c:
            return self._channel_representatives(c, slug, ids, prefer)

    @staticmethod
    def _channel_representatives(c: Connection, slug: str, ids: Sequence[int], prefer: Collection[str],
                                 before: int | None = None) -> dict[int, int]:
        """`channel_representatives` in `c`; with ``before``, over the reports stored before it (item ids below
        it), for the stories the channel took one of those of (as published before a run)."""
        out: dict[int, int] = {}
        for n in range(0, len(ids), CHUNK):
            chunk = list(ids[n:n + CHUNK])
            reps = {int(sid): int(rep) for sid, rep in c.execute(_STORY_REPS, {"v": chunk})}
            kept = {int(sid): int(rep) for sid, rep in c.execute(_CHANNEL_KEPT, {"ch": slug, "v": chunk})}
            taken: dict[int, dict[int, bool]] = {}  # story -> the reports the channel took -> not preferred
            best: dict[int, tuple[bool, float, int]] = {}
            reports = (c.execute(_CHANNEL_REPORTS, {"ch": slug, "v": chunk}) if before is None else
                       c.execute(_CHANNEL_REPORTS_BEFORE, {"ch": slug, "v": chunk, "before": before}))
            for sid, item_id, published, name in reports:
                sid, item_id = int(sid), int(item_id)
                taken.setdefault(sid, {})[item_id] = name not in prefer
                rank = (name not in prefer, float(published), item_id)
                if sid not in best or rank < best[sid]:
                    best[sid] = rank
            for sid, rep in reps.items():
                took = taken.get(sid)
                if before is not None and not took:
                    continue  # the channel has not published the story: its row is the run's
                pick = best[sid][2] if took and rep not in took else rep
                was = kept.get(sid)
                if took and was is not None and was != pick and was in took and took[was] <= took.get(pick, True):
                    # what the channel published stands (`remember_channel_representatives`): a report read
                    # later with an earlier date does not take it over, as a published story keeps its own
                    # representative; a preferred outlet's report still does
                    pick = was
                out[sid] = pick
        return out

    @staticmethod
    def keep_channel_representatives(c: Connection, story_ids: Collection[int], prefer: Collection[str],
                                     before: int) -> None:
        """Before reports join these published stories (in the transaction `c` that will add them): record the
        report each of their channels' entries stood on where none is kept yet (a store just upgraded to
        schema 9, a changed `prefer_sources`, a story never live in a channel), so that a report read late with
        an earlier date does not take an entry over at the next publish, which would otherwise choose by the
        rule alone (a review). As published: by the rule over the reports stored before this run (ids below
        ``before``); a channel that took none of those has not published the story (its row is this run's: a
        second review found a row an earlier source of the run made kept on that source's report)."""
        sc = S.story_channels
        ids = sorted(story_ids)
        todo: dict[str, list[int]] = {}
        for n in range(0, len(ids), CHUNK):
            for ch, sid in c.execute(select(sc.c.channel, sc.c.story_id).where(
                    sc.c.story_id.in_(ids[n:n + CHUNK]), sc.c.rep_item_id.is_(None))):
                todo.setdefault(str(ch), []).append(int(sid))
        rows = [{"b_ch": ch, "b_sid": sid, "b_rep": rep} for ch, sids in sorted(todo.items())
                for sid, rep in sorted(Store._channel_representatives(c, ch, sids, prefer, before).items())]
        if rows:
            _many(c, update(sc).where(sc.c.channel == bindparam("b_ch"), sc.c.story_id == bindparam("b_sid"))
                  .values(rep_item_id=bindparam("b_rep")), rows)

    def remember_channel_representatives(self, slug: str, reps: Mapping[int, int]) -> None:
        """Record the report each story's entry stood on in a channel just published (story id -> item id), so
        that `channel_representatives` keeps it: only the rows that change are written."""
        if not reps:
            return
        sc = S.story_channels
        with self.engine.connect() as c:
            have = dict(c.execute(select(sc.c.story_id, sc.c.rep_item_id).where(
                sc.c.channel == slug, sc.c.story_id.in_(sorted(reps)))).all())
        rows = [{"b_ch": slug, "b_sid": sid, "b_rep": rep} for sid, rep in sorted(reps.items())
                if sid in have and have[sid] != rep]
        if rows:
            with self.tx() as c:
                _many(c, update(sc).where(sc.c.channel == bindparam("b_ch"), sc.c.story_id == bindparam("b_sid"))
                      .values(rep_item_id=bindparam("b_rep")), rows)

    @staticmethod
    def story_channels_of(c: Connection, ids: Sequence[int]) -> dict[int, set[str]]:
        """Channels each story is in."""
        out: dict[int, set[str]] = {}
        for i in range(0, len(ids), CHUNK):
            for sid, ch in c.execute(_STORY_CHANNELS_OF, {"v": ids[i:i + CHUNK]}):
                out.setdefault(sid, set()).add(ch)
        return out

    @staticmethod
    def upsert_story_channels(c: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Channel entries of stories (dicts of channel, story_id, updated): inserted, or `updated` set.

        A channel's archive mark is lowered to the oldest `updated` set here: the next publish finds a row
        whose `updated` moved but stays below the mark (a development of an archived story dated before the
        live window) as it finds new rows, and archives it as a new generation. Without this it was archived
        only when the marks happened to be lower (a channel not yet full, a first publish): the documents
        depended on the path the store took."""
        _upsert(c, S.story_channels, rows, ("channel", "story_id"), ("updated",))
        if rows and c.dialect.name == "sqlite":
            low: dict[str, float] = {}
            for r in rows:
                ch, up = r["channel"], float(r["updated"])
                if up < low.get(ch, math.inf):
                    low[ch] = up
            c.exec_driver_sql("UPDATE archive_marks SET updated_mark = ? WHERE channel = ? AND updated_mark > ?",
                              [(up, ch, up) for ch, up in sorted(low.items())])

    @staticmethod
    def set_story_channels(c: Connection, story_id: int, slugs: Iterable[str], updated: float) -> None:
        Store.upsert_story_channels(c, [{"channel": s, "story_id": story_id, "updated": updated} for s in slugs])

    def window_items(self, since: float) -> Generator[WindowRow, None, None]:
        """Items published since a time, oldest first, streamed (a window can hold 100,000 items): (id, title,
        summary, published, story_id, the key and bytes of the item's stored story vector or None, source id)."""
        i, v = S.items, S.item_vectors
        q = (select(i.c.id, i.c.title, i.c.summary, i.c.published, i.c.story_id, v.c.key, v.c.vector, i.c.source_id)
             .select_from(i.outerjoin(v, v.c.item_id == i.c.id))
             .where(i.c.published >= since).order_by(i.c.published, i.c.id))
        with self.engine.connect() as c:
            for r in c.execution_options(stream_results=True).execute(q):  # (a server-side cursor elsewhere)
                yield (int(r[0]), str(r[1]), str(r[2]), float(r[3]), int(r[4]),
                       None if r[5] is None else bytes(r[5]), None if r[6] is None else bytes(r[6]), int(r[7]))

    def story_starts(self, since: float) -> dict[int, float]:
        """story id -> its earliest report's published time, for the stories having an item published since
        ``since`` but begun before it (the story index's start-up: their first reports are not loaded)."""
        i, s = S.items, S.stories
        # no DISTINCT: IN does not need it, and DISTINCT had SQLite walk ix_items_story over every item stored
        # (all history) instead of ix_items_published over the window's
        live = select(i.c.story_id).where(i.c.published >= since).scalar_subquery()
        q = select(s.c.id, s.c.published).where(s.c.id.in_(live), s.c.published < since)
        with self.engine.connect() as c:
            return {int(r[0]): float(r[1]) for r in c.execute(q)}

    # -- per-item vectors: embeddings (semantic mode) and the story index's term vectors ----------
    # Both tables are (item_id, key, vector): a row is used only when its key matches what the caller
    # would compute now, goes with its item (ON DELETE CASCADE) and is pruned once out of the window.
    # (The story vectors are read with their items: window_items.)
    def _window_rows(self, table: Any, since: float) -> Iterator[tuple[int, bytes, bytes]]:
        i = S.items
        with self.engine.connect() as c:
            q = select(table.c.item_id, table.c.key, table.c.vector).join(i, i.c.id == table.c.item_id) \
                .where(i.c.published >= since)
            for r in c.execute(q):
                yield int(r[0]), bytes(r[1]), bytes(r[2])

    @staticmethod
    def _put_rows(c: Connection, table: Any, rows: Sequence[tuple[int, bytes, bytes]]) -> None:
        _upsert(c, table, [{"item_id": i, "key": k, "vector": v} for i, k, v in rows], ("item_id",),
                ("key", "vector"))

    @staticmethod
    def _prune_rows(c: Connection, table: Any, before: float) -> int:
        # driven by the table's rows (the window's, pruned every run), each item read by its key: a join driven
        # by ix_items_published walked every item published before the window (all history) in every run
        if c.execute(select(table.c.item_id).limit(1)).first() is None:  # (embeddings: empty unless semantic)
            return 0
        i = S.items
        published = select(i.c.published).where(i.c.id == table.c.item_id).scalar_subquery()
        return int(c.execute(delete(table).where(published < before)).rowcount or 0)

    def window_embeddings(self, since: float) -> list[tuple[int, bytes, bytes]]:
        """Stored embeddings of the items published since a time: (item id, key, float32 bytes)."""
        return list(self._window_rows(S.item_embeddings, since))

    @staticmethod
    def put_embeddings(c: Connection, rows: Sequence[tuple[int, bytes, bytes]]) -> None:
        """Store (item id, key, float32 bytes) rows, replacing an item's previous row."""
        Store._put_rows(c, S.item_embeddings, rows)

    @staticmethod
    def prune_embeddings(c: Connection, before: float) -> int:
        """Drop the embeddings of items published before a time (out of the story window: never read
        again; if the window grows they are misses, recomputed). Returns how many rows went."""
        return Store._prune_rows(c, S.item_embeddings, before)

    @staticmethod
    def put_vectors(c: Connection, rows: Sequence[tuple[int, bytes, bytes]]) -> None:
        """Store (item id, key, encoded vector) rows, replacing an item's previous row."""
        Store._put_rows(c, S.item_vectors, rows)

    @staticmethod
    def prune_vectors(c: Connection, before: float) -> int:
        """Drop the story vectors of items published before a time (out of the window). Returns how many."""
        return Store._prune_rows(c, S.item_vectors, before)

    # -- retention ([store] keep) -------------------------------------------------------------------
    def live_stories(self, slug: str, entries: int, archive: bool) -> list[int]:
        """The stories a channel's documents hold (or may hold at its next publish): with an archive, every
        story not archived since it last changed (after a publish, the live ones; more if a publish failed);
        without, the newest ``entries``."""
        if archive:
            return [sid for sid, _up, _gen in self.unarchived_channel_stories(slug, use_marks=True)[0]]
        with self.engine.connect() as c:
            return self._channel_story_ids(c, slug, entries)

    def prunable_stories(self, before: float, protect: Collection[int]) -> list[int]:
        """The stories published, updated and holding only reports first seen and published before a time,
        except those in ``protect`` and the newest item's (item ids are max + 1: never one given twice)."""
        i, s, sc, sg = S.items, S.stories, S.story_channels, S.sightings
        with self.engine.connect() as c:
            # the stories old by their own dates first (none, the day nothing is old enough: then nothing else is
            # read), then what keeps some of them, read for those alone through the story indexes: a read of
            # every report, channel row and sighting for what must stay held every story id of the history
            old = [int(sid) for sid in c.execute(select(s.c.id).where(s.c.published < before, s.c.updated < before)
                                                 .order_by(s.c.id)).scalars() if sid not in protect]
            if not old:
                return []
            newest = select(func.max(i.c.id)).scalar_subquery()
            keep = {c.execute(select(i.c.story_id).where(i.c.id == newest)).scalar()}
            if c.dialect.name == "sqlite":  # the channel row last inserted: its rowid is never given again (the
                # archive's marks find new rows by rowid)
                keep.update(c.execute(text("SELECT story_id FROM story_channels WHERE rowid = "
                                            "(SELECT max(rowid) FROM story_channels)"))
                            .scalars())
            recent = (i.c.first_seen >= before) | (i.c.published >= before)
            if len(old) > PRUNE_READ_ALL:  # a keep just lowered, a first prune: a read of each table costs less
                keep.update(c.execute(select(i.c.story_id).where(recent).distinct()).scalars())
                keep.update(c.execute(select(sc.c.story_id).where(sc.c.updated >= before).distinct()).scalars())
                keep.update(c.execute(select(i.c.story_id).join(sg, sg.c.item_id == i.c.id)  # re-posted lately
                                      .where(sg.c.seen >= before).distinct()).scalars())
            else:
                for n in range(0, len(old), CHUNK):
                    part = old[n:n + CHUNK]
                    keep.update(c.execute(select(i.c.story_id).where(i.c.story_id.in_(part), recent)).scalars())
                    keep.update(c.execute(select(sc.c.story_id).where(sc.c.story_id.in_(part),
                                                                      sc.c.updated >= before)).scalars())
                    keep.update(c.execute(select(i.c.story_id).join(sg, sg.c.item_id == i.c.id)  # re-posted lately
                                          .where(i.c.story_id.in_(part), sg.c.seen >= before)).scalars())
            return [sid for sid in old if sid not in keep]

    @staticmethod
    def forget_stories(c: Connection, story_ids: Sequence[int], now: float) -> int:
        """Delete stories with their reports and everything stored of them (keys, sightings, channel rows,
        vectors, embeddings); each report's keys are kept in `forgotten`, so a feed still listing it does not
        bring it back as new. Archive slots stay (the archive pages are frozen). Returns the reports deleted."""
        i, k = S.items, S.item_keys
        items: dict[int, int] = {}  # item id -> its source
        titles: dict[int, str] = {}  # item id -> its title key
        for n in range(0, len(story_ids), CHUNK):
            for iid, src, tkey in c.execute(select(i.c.id, i.c.source_id, i.c.title_key)
                                            .where(i.c.story_id.in_(story_ids[n:n + CHUNK]))):
                items[int(iid)] = int(src)
                if tkey:
                    titles[int(iid)] = str(tkey)
        ids = sorted(items)
        reposters: dict[int, set[int]] = {}  # item id -> the sources that re-posted it
        sg = S.sightings
        for n in range(0, len(ids), CHUNK):
            for iid, src in c.execute(select(sg.c.item_id, sg.c.source_id).where(sg.c.item_id.in_(ids[n:n + CHUNK]))):
                reposters.setdefault(int(iid), set()).add(int(src))
        rows: dict[tuple[str, int], dict[str, Any]] = {}
        for n in range(0, len(ids), CHUNK):
            for key, iid in c.execute(select(k.c.key, k.c.item_id).where(k.c.item_id.in_(ids[n:n + CHUNK]))):
                iid = int(iid)
                owners = {items[iid]} | reposters.get(iid, set())  # whose documents may list it
                if key.startswith("g:"):  # g:<source>:<id>: only that source's document lists it
                    head = key[2:].split(":", 1)[0]
                    owners = {int(head)} if head.isdigit() else owners
                for src in owners:
                    rows[key, src] = {"key": key, "source_id": src, "at": now, "unlisted": None}
                if key.startswith("l:") and iid in titles:  # with its title, by its own source (FORGOTTEN_TITLE)
                    title_key = f"{FORGOTTEN_TITLE}{key}\n{titles[iid]}"
                    rows[title_key, items[iid]] = {"key": title_key, "source_id": items[iid], "at": now,
                                                   "unlisted": None}
        _upsert(c, S.forgotten, list(rows.values()), ("key", "source_id"), ("at", "unlisted"))
        for n in range(0, len(ids), CHUNK):
            chunk = ids[n:n + CHUNK]
            for table in (S.item_keys, S.sightings, S.item_channels, S.item_vectors, S.item_embeddings):
                c.execute(delete(table).where(table.c.item_id.in_(chunk)))
            c.execute(delete(i).where(i.c.id.in_(chunk)))
        for n in range(0, len(story_ids), CHUNK):
            chunk = list(story_ids[n:n + CHUNK])
            c.execute(delete(S.story_channels).where(S.story_channels.c.story_id.in_(chunk)))
            c.execute(delete(S.stories).where(S.stories.c.id.in_(chunk)))
        _clamp_archive_marks(c)
        return len(ids)

    def forgetting_sources(self) -> set[int]:
        """The sources some forgotten key belongs to."""
        # one index seek per source (the next source id after each), not a read of every forgotten key's row
        q = text("WITH RECURSIVE s(id) AS (SELECT min(source_id) FROM forgotten UNION ALL SELECT (SELECT "
                 "min(source_id) FROM forgotten WHERE source_id > s.id) FROM s WHERE s.id IS NOT NULL) "
                 "SELECT id FROM s WHERE id IS NOT NULL")
        with self.engine.connect() as c:
            return {int(r[0]) for r in c.execute(q)}

    @staticmethod
    def forgotten_titles(c: Connection, source_id: int, link_key: str) -> set[str]:
        """The title keys of the source's own forgotten items at a link key (FORGOTTEN_TITLE rows; read through
        the source's rows, not the whole table)."""
        f = S.forgotten
        prefix = f"{FORGOTTEN_TITLE}{link_key}\n"
        rows = c.execute(select(f.c.key).where(f.c.source_id == source_id,
                                               func.substr(f.c.key, 1, len(prefix)) == prefix))
        return {str(key)[len(prefix):] for (key,) in rows}

    @staticmethod
    def forgotten_keys(c: Connection, keys: Sequence[str]) -> set[str]:
        """Which of these keys are of forgotten (pruned) items."""
        f = S.forgotten
        out: set[str] = set()
        for n in range(0, len(keys), CHUNK):
            out.update(r[0] for r in c.execute(select(f.c.key).where(f.c.key.in_(keys[n:n + CHUNK]))))
        return out

    @staticmethod
    def adopt_forgotten(c: Connection, source_id: int, keys: Collection[str], now: float) -> bool:
        """The source's document lists these forgotten keys: the source is one of their owners from now on
        (a source moved to a new URL, another outlet's copy), so they stay while it lists them, whatever
        happens to the others' rows. Returns whether any row was added."""
        f = S.forgotten
        want = sorted(keys)
        have: set[str] = set()
        for n in range(0, len(want), CHUNK):
            have.update(r[0] for r in c.execute(select(f.c.key).where(f.c.source_id == source_id,
                                                                       f.c.key.in_(want[n:n + CHUNK]))))
        new = [{"key": k, "source_id": source_id, "at": now, "unlisted": None} for k in want if k not in have]
        if new:
            _many(c, _INSERT_FORGOTTEN, new)
        return bool(new)

    @staticmethod
    def unlisted_forgotten(c: Connection, source_id: int, listed: Collection[str], now: float) -> None:
        """After a read of the source's document (``listed``: the keys it lists): mark its forgotten keys the
        document does not list as unlisted since now (unless they were), and clear the mark of those it lists
        again; `forget_stale_keys` drops the keys unlisted for too long. Writes only what changed."""
        f = S.forgotten

        def lists(key: str) -> bool:  # a title row (FORGOTTEN_TITLE) goes with its link's row
            if key.startswith(FORGOTTEN_TITLE):
                key = key[len(FORGOTTEN_TITLE):].split("\n", 1)[0]
            return key in listed

        # read are the source's rows not marked unlisted (those its last document listed, and those forgotten
        # or adopted since) and, by their keys, the rows of the keys it lists -- not every row of the source
        # (a month of forgotten posts, for every document parsed)
        mine = c.execute(select(f.c.key).where(f.c.source_id == source_id, f.c.unlisted.is_(None))).scalars().all()
        left = [key for key in mine if not lists(key)]
        want = sorted(listed)
        back: list[str] = []
        for n in range(0, len(want), CHUNK // 2):
            part = want[n:n + CHUNK // 2]
            q: Any
            if c.dialect.name == "sqlite":
                # the title rows at each key: a range of the primary key (BINARY order; "\x0b" follows "\n");
                # source_id + 0: by the keys, through the primary key, not through every row of the source.
                # (As text: building the expression of hundreds of ranges cost more than running it.)
                params: dict[str, Any] = {"s": source_id}
                terms = []
                for j, k in enumerate(part):
                    params[f"k{j}"], params[f"lo{j}"] = k, f"{FORGOTTEN_TITLE}{k}\n"
                    params[f"hi{j}"] = f"{FORGOTTEN_TITLE}{k}\x0b"
                    terms.append(f"key = :k{j} OR key >= :lo{j} AND key < :hi{j}")
                q = text(f"SELECT key FROM forgotten WHERE source_id + 0 = :s AND unlisted IS NOT NULL AND "
                         f"({' OR '.join(terms)})").bindparams(**params)
            else:
                titled = [func.substr(f.c.key, 1, len(p)) == p for p in (f"{FORGOTTEN_TITLE}{k}\n" for k in part)]
                q = select(f.c.key).where(f.c.source_id == source_id, f.c.unlisted.is_not(None),
                                          f.c.key.in_(part) | or_(*titled))
            back += [str(key) for key in c.execute(q).scalars() if lists(str(key))]
        for keys, values in ((left, {"unlisted": now}), (back, {"unlisted": None})):
            for n in range(0, len(keys), CHUNK):
                c.execute(update(f).where(f.c.source_id == source_id, f.c.key.in_(keys[n:n + CHUNK])).values(values))

    @staticmethod
    def forget_stale_keys(c: Connection, before: float) -> int:
        """Drop the forgotten keys unlisted since before a time (their document may not have changed since),
        and those forgotten before it of sources no longer read since before it: taken out of the config, or
        gone (their documents are not read, so their keys are never unlisted). A source put back in the config
        within that time, or back from an outage however long (a failing source keeps its keys: they stop
        growing when it fails), still finds the posts it lists known."""
        f, src = S.forgotten, S.sources
        removed = select(src.c.id).where((src.c.active.is_(False) | src.c.gone.is_(True))
                                         & (func.coalesce(src.c.last_attempt, 0.0) < before))
        stale = (f.c.unlisted < before) | (f.c.source_id.in_(removed) & (f.c.at < before))
        if c.execute(select(f.c.key).where(stale).limit(1)).first() is None:  # no write when none is
            return 0
        return int(c.execute(delete(f).where(stale)).rowcount or 0)

    def item_text(self, uid: str) -> ItemText | None:
        """Id, title, summary, source id, published time, story id, entry id and first-seen time of the item
        with this entry id, if stored; for a story's entry id (its first report's) whose entry stands on
        another report now (its representative), that report's (its own entry id differs from ``uid``): what
        the entry shows."""
        i, s = S.items, S.stories
        cols = (i.c.id, i.c.title, i.c.summary, i.c.source_id, i.c.published, i.c.story_id, i.c.uid,
                i.c.first_seen)
        with self.engine.connect() as c:
            row = c.execute(select(*cols).where(i.c.uid == uid)).first()
            if row is not None and int(row[0]) == int(row[5]):
                rep = c.execute(select(*cols).join(s, s.c.rep_item_id == i.c.id).where(
                    s.c.id == int(row[5]), i.c.id != int(row[0]))).first()
                row = rep if rep is not None else row
        if row is None:
            return None
        return _item_text(row)

    def items_by_link(self, url: str) -> list[tuple[ItemText, str, bool]]:
        """The stored reports a link may name, as `item_text` gives them, each with its stored link and whether
        its link key names it: the report whose link key (`dedup.canonical_link`, tracking parameters and all)
        is the link's, or its percent-decoded form's; and the reports whose stored link is on the link's host
        (any ASCII case; a source whose links are no identity has no link key), and those another outlet's copy
        (a sighting, published as a related link) has a link there, with that link, for the caller to compare
        as an entry publishes links."""
        from urllib.parse import unquote

        from feeds.dedup import canonical_link

        i = S.items
        forms = list(dict.fromkeys([url.strip(), unquote(url.strip())]))
        keys = [f"l:{k}" for k in dict.fromkeys(canonical_link(f) for f in forms) if k]
        with self.engine.connect() as c:
            keyed = {int(r[0]) for r in c.execute(select(S.item_keys.c.item_id).where(S.item_keys.c.key.in_(keys)))
                     } if keys else set()
            found: dict[int, str] = {}
            copies: list[tuple[int, str]] = []  # (item id, link) of other outlets' copies of it (sightings)
            if host := _host_of(forms[-1]):
                esc = host.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

                tokens = _link_tokens(forms)

                def on_host(link: Any) -> Any:
                    low = func.lower(link)
                    near = low.like(f"%://{esc}%", escape="\\") | low.like(f"%.{esc}%", escape="\\")
                    if tokens is None:
                        return near
                    # only a link holding a piece of the link's path can name it (_link_tokens): the rows
                    # read are those, not every report on the host (all of an outlet's history)
                    # (SQLite's LIKE ignores ASCII case; a tab or newline inside the link is dropped as published)
                    plain = link if c.dialect.name == "sqlite" else func.lower(link)
                    bare = func.lower(func.replace(func.replace(func.replace(link, "\t", ""), "\n", ""), "\r", ""))
                    pats = [f"%{_like_escape(t.lower())}%" for t in tokens]
                    broken = link.like("%\t%") | link.like("%\n%") | link.like("%\r%")
                    held = or_(*[plain.like(p, escape="\\") for p in pats]) \
                        | (broken & or_(*[bare.like(p, escape="\\") for p in pats]))
                    return held & near  # (the rarer test first)

                sg = S.sightings
                found = {int(r[0]): str(r[1] or "") for r in c.execute(select(i.c.id, i.c.link)
                                                                         .where(on_host(i.c.link)))}
                copies = [(int(r[0]), str(r[1] or "")) for r in c.execute(select(sg.c.item_id, sg.c.link)
                                                                           .where(on_host(sg.c.link)))]
            ids = sorted(keyed | set(found) | {iid for iid, _ in copies})
            cols = (i.c.id, i.c.title, i.c.summary, i.c.source_id, i.c.published, i.c.story_id, i.c.uid,
                    i.c.first_seen, i.c.link)
            rows = [r for n in range(0, len(ids), CHUNK)
                    for r in c.execute(select(*cols).where(i.c.id.in_(ids[n:n + CHUNK])).order_by(i.c.id))]
        texts = {int(r[0]): (_item_text(r), str(r[8] or "")) for r in rows}
        return [(texts[iid][0], texts[iid][1], iid in keyed) for iid in sorted(keyed | set(found)) if iid in texts] \
            + [(texts[iid][0], link, False) for iid, link in copies if iid in texts]

    def channel_reports(self, story_id: int, prefer: Collection[str]) -> dict[str, int]:
        """Channel -> the report (item id) that stands for the story there (`channel_representatives`), for
        every channel the story is in."""
        with self.engine.connect() as c:
            slugs = sorted(self.story_channels_of(c, [story_id]).get(story_id, ()))
        out: dict[str, int] = {}
        for slug in slugs:
            got = self.channel_representatives(slug, [story_id], prefer).get(story_id)
            if got is not None:
                out[slug] = got
        return out

    def item_refs(self, ids: Collection[int]) -> dict[int, tuple[str, str, str | None]]:
        """Item id -> (entry id, headline, link) of those of ``ids`` that are stored."""
        i = S.items
        with self.engine.connect() as c:
            rows = c.execute(select(i.c.id, i.c.uid, i.c.title, i.c.link).where(i.c.id.in_(sorted(ids)))).all()
        return {int(r[0]): (str(r[1]), str(r[2]), r[3]) for r in rows}

    def archived_generations(self) -> Iterator[tuple[str, int]]:
        """(entry id of the story, the highest generation any channel's archive holds of it) for every story
        with archive slots: a development of the story (generation 2, 3, ...) is published once the story has
        been archived and changed (docs/publishing.md)."""
        a, i = S.archive_slots, S.items
        q = select(i.c.uid, func.max(a.c.gen)).join(i, i.c.id == a.c.story_id).group_by(a.c.story_id)
        with self.engine.connect() as c:
            for uid, gen in c.execute(q):
                yield str(uid), int(gen)

    def newest_item_id(self) -> int:
        """The highest item id stored (0 for none): items stored later have higher ids."""
        with self.engine.connect() as c:
            return int(c.execute(select(func.max(S.items.c.id))).scalar() or 0)

    def newest_published(self) -> float | None:
        with self.engine.connect() as c:
            v = c.execute(select(func.max(S.items.c.published))).scalar()
            return float(v) if v is not None else None

    # -- channels & publishing -----------------------------------------------------------------
    @staticmethod
    def mark_dirty(c: Connection, slugs: Iterable[str]) -> None:
        """Flag channels to be published (a channel without a row gets one): one statement when they
        all have rows."""
        want = sorted(set(slugs))
        if not want:
            return
        t = S.channels
        n = c.execute(update(t).where(t.c.slug.in_(want)).values(dirty=True)).rowcount
        if n < len(want):
            have = set(c.execute(select(t.c.slug).where(t.c.slug.in_(want))).scalars())
            missing = [{"slug": slug, "dirty": True, "entries": 0} for slug in want if slug not in have]
            if missing:
                c.execute(insert(t), missing)

    def channel_states(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as c:
            return {r.slug: dict(r._mapping) for r in c.execute(select(S.channels))}

    def set_channel_state(self, slug: str, **values: Any) -> None:
        with self.tx() as c:
            n = c.execute(update(S.channels).where(S.channels.c.slug == slug).values(**values)).rowcount
            if not n:
                c.execute(insert(S.channels).values(slug=slug, **values))

    def channel_stories(self, slug: str, limit: int, offset: int = 0) -> list[StoryEntry]:
        """Newest stories of a channel (by story `updated`), each with all its reports."""
        with self.engine.connect() as c:
            return self._story_entries(c, self._channel_story_ids(c, slug, limit, offset))

    @staticmethod
    def _channel_story_ids(c: Connection, slug: str, limit: int, offset: int = 0) -> list[int]:
        sc = S.story_channels
        q = (select(sc.c.story_id).where(sc.c.channel == slug)
             .order_by(sc.c.updated.desc(), sc.c.story_id.desc()).limit(limit).offset(offset))
        return [int(r[0]) for r in c.execute(q)]

    def _story_entries(self, c: Connection, ids: list[int]) -> list[StoryEntry]:
        if not ids:
            return []
        st = self.stories_by_id(c, ids)
        by_story: dict[int, list[ItemRow]] = {}
        for i in range(0, len(ids), CHUNK):
            for r in c.execute(_STORY_MEMBERS, {"v": ids[i:i + CHUNK]}):
                by_story.setdefault(r.story_id, []).append(ItemRow(*tuple(r)))
        out = []
        for sid in ids:
            members = by_story.get(sid)
            s = st.get(sid)
            if not members or s is None:
                continue
            rep = next((m for m in members if m.id == s["rep_item_id"]), members[0])
            others = tuple(m for m in members if m.id != rep.id)
            out.append(StoryEntry(sid, s["updated"], s["published"], rep, others))
        return out

    def sightings_of(self, item_ids: Sequence[int]) -> dict[int, list[tuple[str, str | None, str | None]]]:
        """Other sources that re-posted an item exactly: (source name, link, title)."""
        out: dict[int, list[tuple[str, str | None, str | None]]] = {}
        with self.engine.connect() as c:
            for i in range(0, len(item_ids), CHUNK):
                for item_id, name, link, title in c.execute(_SIGHTINGS_OF, {"v": item_ids[i:i + CHUNK]}):
                    out.setdefault(item_id, []).append((name, link, title))
        return out

    def story_entries(self, ids: Sequence[int]) -> list[StoryEntry]:
        """Stories by id (in the order given; unknown ids are left out), each with all its reports."""
        with self.engine.connect() as c:
            return self._story_entries(c, list(ids))

    # -- archives (RFC 5005) -------------------------------------------------------------------
    def unarchived_channel_stories(self, slug: str, *,
                                   use_marks: bool = False) -> tuple[list[tuple[int, float, int]], int]:
        """Stories of a channel not archived since they last changed, newest first: (story_id, channel
        updated, generation it would be archived as = 1 + times archived before); and the rowid mark to
        save with set_archive_marks once they are published.

        With `use_marks` (SQLite), only rows inserted after the saved rowid mark or with `updated` at or
        above the saved updated mark are considered: the cost follows what changed, not the history.
        """
        a = S.archive_slots
        sc = S.story_channels
        archived = (select(a.c.seq).where(a.c.channel == sc.c.channel, a.c.story_id == sc.c.story_id,
                                          a.c.updated >= sc.c.updated).exists())
        gen = (select(func.coalesce(func.max(a.c.gen), 0))
               .where(a.c.channel == sc.c.channel, a.c.story_id == sc.c.story_id).scalar_subquery())
        base = select(sc.c.story_id, sc.c.updated, gen).where(sc.c.channel == slug, ~archived)
        sqlite = self.engine.dialect.name == "sqlite"
        rowid = text("story_channels.rowid")
        with self.engine.connect() as c:
            top = int(c.execute(select(func.max(rowid)).select_from(sc)).scalar() or 0) if sqlite else 0
            marks = c.execute(select(S.archive_marks.c.rowid_mark, S.archive_marks.c.updated_mark)
                              .where(S.archive_marks.c.channel == slug)).first() if use_marks and sqlite else None
            if marks is None:
                queries = [base]
            else:
                # rows inserted since the mark: a rowid range scan over the new rows of every channel, the channel
                # picked by SQLite (`+channel`: not through an index on it, which would read the channel's history)
                new = [int(sid) for (sid,) in c.execute(
                    text("SELECT story_id FROM story_channels WHERE rowid > :mark AND +channel = :slug"),
                    {"mark": int(marks[0]), "slug": slug})]
                queries = [base.where(sc.c.updated >= marks[1])]
                queries += [base.where(sc.c.story_id.in_(new[i:i + CHUNK])) for i in range(0, len(new), CHUNK)]
            rows: dict[int, tuple[int, float, int]] = {}
            for q in queries:
                for sid, up, g in c.execute(q):
                    rows[int(sid)] = (int(sid), float(up), int(g) + 1)
        return sorted(rows.values(), key=lambda r: (-r[1], -r[0])), top

    def advance_archive_marks(self, slugs: Collection[str]) -> None:
        """Move the rowid mark of each of these channels that has no story_channels row past it to the newest row
        (SQLite): a channel that gains nothing (quiet, or not published by a run) has its rows since the mark
        read by every publish that lists it (the site's index) and by its own next publish, and without this its
        mark stayed where it last published while every other channel's rows passed it (a scaling review: 450
        quiet channels beside 50 busy ones read 8 million rows a publish after four runs, 13 s and growing). A
        channel with a row past its mark keeps the mark (a run stopped between sorting items into it and flagging
        it: its next publish finds them)."""
        if not slugs or self.engine.dialect.name != "sqlite":
            return
        m = S.archive_marks
        with self.engine.connect() as c:
            top = int(c.execute(text("SELECT max(rowid) FROM story_channels")).scalar() or 0)
            marks = {str(ch): int(mark) for ch, mark in c.execute(
                select(m.c.channel, m.c.rowid_mark).where(m.c.channel.in_(sorted(slugs)), m.c.rowid_mark < top))}
            if not marks:
                return
            since = {str(ch): int(r) for ch, r in c.execute(text(
                "SELECT channel, max(rowid) FROM story_channels WHERE rowid > :low GROUP BY channel"),
                {"low": min(marks.values())})}
        move = [(top, ch, mark) for ch, mark in sorted(marks.items()) if since.get(ch, 0) <= mark]
        if move:
            with self.tx() as c:
                c.exec_driver_sql("UPDATE archive_marks SET rowid_mark = ? WHERE channel = ? AND rowid_mark = ?", move)

    @staticmethod
    def reset_archive_written(c: Connection) -> None:
        """Every channel's archive pages to be rendered again (and written where their bytes differ)."""
        c.execute(update(S.archive_marks).values(written=0))

    def set_archive_marks(self, slug: str, rowid_mark: int, updated_mark: float, written: int) -> None:
        """Save where a publish of the channel's archive left off, once all its pages are written."""
        m = S.archive_marks
        values = {"rowid_mark": rowid_mark, "updated_mark": updated_mark, "written": written}
        with self.tx() as c:
            n = c.execute(update(m).where(m.c.channel == slug).values(**values)).rowcount
            if not n:
                c.execute(insert(m).values(channel=slug, **values))

    def archive_written(self, slug: str) -> int:
        """The archive size up to which the channel's pages were all written (0 if not known)."""
        with self.engine.connect() as c:
            v = c.execute(select(S.archive_marks.c.written).where(S.archive_marks.c.channel == slug)).scalar()
            return int(v) if v is not None else 0

    def archive_size(self, slug: str) -> int:
        """The number of entries ever archived in the channel: its last slot's position + 1 (the first
        pages' slots may have been dropped, `drop_archive_slots`)."""
        a = S.archive_slots
        with self.engine.connect() as c:
            top = c.execute(select(func.max(a.c.seq)).where(a.c.channel == slug)).scalar()
            return int(top) + 1 if top is not None else self.archive_floor(slug)

    def archive_floor(self, slug: str) -> int:
        """How many of the channel's first archive slots were dropped by `[store] keep` (whole pages): the
        pages they were on stay as published and are never written again."""
        with self.engine.connect() as c:
            return self.archive_floor_in(c, slug)

    @staticmethod
    def archive_floor_in(c: Connection, slug: str) -> int:
        """archive_floor, in a transaction."""
        v = Store.slug_meta_in(c, ARCHIVE_FLOOR, slug)
        return int(v) if v is not None else 0

    @staticmethod
    def slug_meta_in(c: Connection, prefix: str, slug: str) -> str | None:
        """A channel's meta value (`slug_key`), in a transaction; a long slug's whole key, as a store written
        before the digest holds it, when the digest's is not there."""
        for key in _slug_keys(prefix, slug):
            v = c.execute(select(S.meta.c.value).where(S.meta.c.key == key)).scalar()
            if v is not None:
                return str(v)
        return None

    def slug_meta(self, prefix: str, slug: str) -> str | None:
        """slug_meta_in, on its own connection."""
        with self.engine.connect() as c:
            return self.slug_meta_in(c, prefix, slug)

    @staticmethod
    def archive_droppable(c: Connection, slug: str, start: int, stop: int, before: float) -> bool:
        """Whether the archive slots start <= seq < stop are all there and were all archived before a time. (A
        story on the page that is still stored keeps its slot when the page is dropped: `drop_archive_slots`.)"""
        a = S.archive_slots
        span = (a.c.channel == slug) & (a.c.seq >= start) & (a.c.seq < stop)
        if int(c.execute(select(func.count()).select_from(a).where(span)).scalar() or 0) != stop - start:
            return False
        return c.execute(select(a.c.seq).where(span, a.c.updated >= before).limit(1)).first() is None

    def lost_pages_changed(self, slug: str, lost: int) -> bool:
        """Whether the number of the channel's archive pages below its floor found missing differs from when
        last told (recorded now): said once, not at every publish."""
        if lost == int(self.slug_meta(ARCHIVE_LOST, slug) or 0):
            return False
        with self.tx() as c:
            self.set_meta_value(c, slug_key(ARCHIVE_LOST, slug), str(lost))
        return True

    @staticmethod
    def drop_archive_slots(c: Connection, slug: str, stop: int) -> None:
        """Drop the channel's archive slots before position ``stop`` (a page boundary) and record it as the floor.
        The slot of a story still stored stays (below the floor, never rendered again) until the story is
        forgotten: a story may come back to the channel (an edit, a rule changed back, a quiet channel holding
        it meanwhile), and its slots count its generations, so its entry never takes an id a frozen page
        carries. Called again with the same floor, it drops the slots of stories forgotten since."""
        a = S.archive_slots
        gone = ~select(S.stories.c.id).where(S.stories.c.id == a.c.story_id).exists()
        c.execute(delete(a).where(a.c.channel == slug, a.c.seq < stop, gone))
        if Store.archive_floor_in(c, slug) != stop:
            Store.set_meta_value(c, slug_key(ARCHIVE_FLOOR, slug), str(stop))

    def add_archive_slots(self, slug: str, rows: Sequence[dict[str, Any]]) -> None:
        """Append entries to a channel's archive: dicts of seq, story_id, gen, updated, entry."""
        if rows:
            with self.tx() as c:
                _many(c, _INSERT_SLOTS, [dict(r, channel=slug) for r in rows])

    def archive_entries(self, slug: str, start: int, stop: int) -> list[tuple[int, str]]:
        """(seq, entry) of archive positions start <= seq < stop, in order."""
        a = S.archive_slots
        with self.engine.connect() as c:
            q = (select(a.c.seq, a.c.entry).where(a.c.channel == slug, a.c.seq >= start, a.c.seq < stop)
                 .order_by(a.c.seq))
            return [(int(seq), str(entry)) for seq, entry in c.execute(q)]

    # -- WebSub --------------------------------------------------------------------------------
    def websub_pending(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as c:
            return {r.url: dict(r._mapping) for r in c.execute(select(S.websub_pending))}

    def set_websub_pending(self, url: str, hub: str, error: str, when: float) -> None:
        w = S.websub_pending
        with self.tx() as c:
            n = c.execute(update(w).where(w.c.url == url).values(
                hub=hub, last_error=error, attempts=w.c.attempts + 1)).rowcount
            if not n:
                c.execute(insert(w).values(url=url, hub=hub, since=when, attempts=1, last_error=error))

    def add_websub_pending(self, url: str, hub: str, when: float) -> None:
        """A topic to announce, recorded before the ping is tried (no attempt counted; kept if already there)."""
        w = S.websub_pending
        with self.tx() as c:
            if c.execute(select(w.c.url).where(w.c.url == url)).first() is None:
                c.execute(insert(w).values(url=url, hub=hub, since=when, attempts=0, last_error="not announced yet"))

    def clear_websub_pending(self, urls: Iterable[str]) -> None:
        urls = list(urls)
        if urls:
            with self.tx() as c:
                c.execute(delete(S.websub_pending).where(S.websub_pending.c.url.in_(urls)))

    # -- runs ----------------------------------------------------------------------------------
    def start_run(self, started: float, mode: str) -> int:
        r = S.runs
        with self.tx() as c:
            last = c.execute(select(r.c.id, r.c.started).order_by(r.c.id.desc()).limit(1)).first()
            run_id = int(c.execute(insert(r).values(started=started, mode=mode)).inserted_primary_key[0])  # type: ignore[index]
            # the log is known in order from RUNS_ORDERED's id on; a run starting before the one before it (a clock
            # set back) moves that id to itself: a write only then, none in a run in order (warm runs write nothing
            # but their run-log row)
            if last is not None and started < float(last[1]):
                self.set_meta_value(c, RUNS_ORDERED, str(run_id))
            return run_id

    @staticmethod
    def _meta_in(c: Connection, key: str) -> str | None:
        v = c.execute(select(S.meta.c.value).where(S.meta.c.key == key)).scalar()
        return None if v is None else str(v)

    def finish_run(self, run_id: int, finished: float, sources: int, ok: int, failed: int, new: int) -> None:
        """Record a run's end; runs started more than RUNS_KEPT before it are forgotten (cron every minute
        added a row a minute for ever). runs.started has no index: the runs from the id meta RUNS_ORDERED names
        on started in id order (start_run moves it when one did not), so their old runs are the first of them by
        id, found from the oldest on; the runs before that id (those of before a clock was set back: at most
        RUNS_KEPT of them, then gone) are read by their id range. A store without the mark (an older feeds made
        it) is read whole once to set it."""
        r = S.runs
        self.doing = "recording the run"
        with self.tx() as c:
            c.execute(update(r).where(r.c.id == run_id).values(
                finished=finished, sources=sources, ok=ok, failed=failed, new_items=new))
            old = r.c.started < finished - RUNS_KEPT.total_seconds()
            mark = self._meta_in(c, RUNS_ORDERED)
            if mark is None or not mark.isdigit():
                # the last run that started before the one before it: the log is in order after it
                a, b = r.alias("a"), r.alias("b")
                prev = select(b.c.started).where(b.c.id < a.c.id).order_by(b.c.id.desc()).limit(1).scalar_subquery()
                since = c.execute(select(func.max(a.c.id)).where(a.c.started < prev)).scalar() or 0
                self.set_meta_value(c, RUNS_ORDERED, str(since))
            else:
                since = int(mark)
            # in order from `since`: every run before the first kept one (by id) started before the cutoff
            first = c.execute(select(r.c.id).where(r.c.id >= since, ~old).order_by(r.c.id).limit(1)).scalar()
            ordered = (r.c.id >= since) & (r.c.id < first) if first is not None else (r.c.id >= since)
            stale = old & (ordered | (r.c.id < since))
            if c.execute(select(r.c.id).where(stale).limit(1)).first() is not None:  # no write when none is
                c.execute(delete(r).where(stale, r.c.id != run_id))

    def last_runs(self, n: int = 5, *, fetching: bool = False) -> list[dict[str, Any]]:
        """The last n runs, newest first; with ``fetching``, only runs that fetched a source."""
        q = select(S.runs).order_by(S.runs.c.id.desc()).limit(n)
        if fetching:
            q = q.where(S.runs.c.sources > 0)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as c:
            return {
                "items": int(c.execute(select(func.count()).select_from(S.items)).scalar() or 0),
                "stories": int(c.execute(select(func.count()).select_from(S.stories)).scalar() or 0),
                "sources": int(c.execute(select(func.count()).select_from(S.sources)).scalar() or 0),
            }

    def duplicate_uids(self) -> int:
        """Should always be 0: the same entry id stored twice."""
        with self.engine.connect() as c:
            q = select(func.count()).select_from(
                select(S.items.c.uid).group_by(S.items.c.uid).having(func.count() > 1).subquery())
            return int(c.execute(q).scalar() or 0)
