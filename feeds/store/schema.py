"""Tables of the store, in SQLAlchemy Core so the same code runs on SQLite and PostgreSQL.

Times are stored as REAL seconds since the epoch (UTC): portable, indexable, cheap to compare.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

# 1: the first schema. 2: item_embeddings (semantic mode's stored title embeddings). 3: item_vectors (the
# story index's term vectors, so a run rebuilds the window's index without extracting terms again).
# 4: archive_marks.written. 5: sources.validators_url. 6: items.enclosures and items.image (an item's media
# files and thumbnail, published with it). 7: forgotten (the keys of items `[store] keep` pruned).
# 9: story_channels.rep_item_id (the report a channel's entry for the story stood on when it was published).
SCHEMA_VERSION = 9
metadata = MetaData()

meta = Table(
    "meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

sources = Table(
    "sources", metadata,
    Column("id", Integer, primary_key=True),
    Column("url", Text, nullable=False, unique=True),  # the configured URL (identity of the source)
    Column("name", Text, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("fetch_url", Text),  # where we fetch now: differs from url after a persistent 301
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_hash", String(64)),
    Column("last_attempt", Float),
    Column("last_success", Float),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("first_failure_at", Float),
    Column("ttl", Integer),
    Column("max_age", Integer),
    Column("expires", Float),
    Column("gone", Boolean, nullable=False, default=False),
    Column("redirect_target", Text),
    Column("redirect_first_seen", Float),
    Column("redirect_count", Integer, nullable=False, default=0),
    Column("next_due", Float),
    Column("state", String(16)),
    Column("items_total", Integer, nullable=False, default=0),
    Column("last_new", Integer, nullable=False, default=0),
    Column("feed_title", Text),
    Column("site_link", Text),
    Column("language", Text),  # the language its documents declare (schema 8)
    # the URL that gave etag/last_modified (NULL: the fetch URL): they are sent to that URL only, never to
    # another hop of a redirect, which could answer 304 for a document never read
    Column("validators_url", Text),
)

hosts = Table(
    "hosts", metadata,
    Column("host", String(255), primary_key=True),
    Column("retry_after", Float),
)

items = Table(
    "items", metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(64), nullable=False, unique=True),  # the published entry id, for ever
    Column("source_id", Integer, ForeignKey("sources.id"), nullable=False),
    Column("guid", Text),
    Column("link", Text),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("content", Text, nullable=False, default=""),
    Column("author", Text, nullable=False, default=""),  # the authors' names, tab-separated (before: one string)
    Column("categories", Text, nullable=False, default=""),  # tab-separated
    Column("published", Float, nullable=False),
    Column("updated", Float, nullable=False),
    Column("first_seen", Float, nullable=False),
    Column("title_key", Text),
    Column("content_hash", String(32), nullable=False),
    Column("story_id", Integer, nullable=False),
    # (6) the item's media files as JSON, [[url, type, length], ...] (type "" and length null when unknown);
    # "" when it has none (nearly every item, and every item stored before version 6). image: its thumbnail.
    Column("enclosures", Text, nullable=False, server_default="", default=""),
    Column("image", Text),
    Index("ix_items_title_key", "title_key", "published"),
    Index("ix_items_story", "story_id"),
    Index("ix_items_published", "published"),
)

item_keys = Table(
    "item_keys", metadata,
    Column("key", Text, primary_key=True),
    Column("item_id", Integer, ForeignKey("items.id"), nullable=False),
    Index("ix_item_keys_item", "item_id"),
)

# The keys of items forgotten by `[store] keep` (Store.forget_stories): an entry a feed still lists under one of
# them is known, not new. One row per (key, source whose document may list it): a `g:` key's own source; a link
# key's item's source and every source that re-posted the item (its sightings). `unlisted`: since when the
# source's document has not listed the key (NULL: it did at its last read); a row unlisted for longer than
# keep is dropped (a feed that lists a post again after a short gap, a truncated document, still finds it).
forgotten = Table(
    "forgotten", metadata,
    Column("key", Text, primary_key=True),
    Column("source_id", Integer, primary_key=True),
    Column("at", Float, nullable=False),
    Column("unlisted", Float),
    Index("ix_forgotten_source", "source_id"),
)

# Exact re-posts of an item by other sources: kept so a story can credit every outlet.
sightings = Table(
    "sightings", metadata,
    Column("item_id", Integer, ForeignKey("items.id"), primary_key=True),
    Column("source_id", Integer, ForeignKey("sources.id"), primary_key=True),
    Column("link", Text),
    Column("title", Text),
    Column("seen", Float, nullable=False),
)

item_channels = Table(
    "item_channels", metadata,
    Column("item_id", Integer, ForeignKey("items.id"), primary_key=True),
    Column("channel", String(64), primary_key=True),
)

stories = Table(
    "stories", metadata,
    Column("id", Integer, primary_key=True),  # = id of the story's first item
    Column("rep_item_id", Integer, nullable=False),
    Column("size", Integer, nullable=False, default=1),
    Column("published", Float, nullable=False),
    Column("updated", Float, nullable=False),  # moves only on a real development
)

story_channels = Table(
    "story_channels", metadata,
    Column("channel", String(64), primary_key=True),
    Column("story_id", Integer, primary_key=True),
    Column("updated", Float, nullable=False),
    # (9) the report the channel's entry stood on when the channel was last published (Store.channel_representatives):
    # a report read later with an earlier date does not take it over; NULL until then
    Column("rep_item_id", Integer),
    Index("ix_story_channels_order", "channel", "updated"),
    Index("ix_story_channels_story", "story_id"),  # (7) a story's rows, without a scan of every channel's
)

channels = Table(
    "channels", metadata,
    Column("slug", String(64), primary_key=True),
    Column("digest", String(64)),  # of the rendered Atom; unchanged digest = nothing to write
    Column("last_change", Float),
    Column("entries", Integer, nullable=False, default=0),
    Column("dirty", Boolean, nullable=False, default=True),
)

# RFC 5005 archives: the entries of a channel's archive pages, in archive order. `entry` is the Atom
# entry as published when the story was archived (a frozen snapshot); `updated` is the story's
# channel `updated` at that moment (a later, larger value means the story changed after archiving).
archive_slots = Table(
    "archive_slots", metadata,
    Column("channel", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),  # 0-based position in the channel's archive
    Column("story_id", Integer, nullable=False),
    Column("gen", Integer, nullable=False, default=1),
    Column("updated", Float, nullable=False),
    Column("entry", Text, nullable=False),
    Index("ix_archive_slots_story", "channel", "story_id"),
)

# Where the last publish of a channel's archive left off: story_channels rows inserted after
# `rowid_mark` or with `updated` >= `updated_mark` are the only ones that can still need publishing.
archive_marks = Table(
    "archive_marks", metadata,
    Column("channel", String(64), primary_key=True),
    Column("rowid_mark", Integer, nullable=False),
    Column("updated_mark", Float, nullable=False),
    # the archive's size when all its pages were last written: pages from there on are rewritten by the
    # next publish (a crash between saving slots and writing their pages left them stale)
    Column("written", Integer),
)

# WebSub publish pings that failed and are retried at the next publish.
websub_pending = Table(
    "websub_pending", metadata,
    Column("url", Text, primary_key=True),  # the topic (document URL) to announce
    Column("hub", Text, nullable=False),
    Column("since", Float, nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("last_error", Text),
)

# Semantic mode (docs/semantic.md): the embedding of an item's title, so a restart does not embed it again.
# `key` = the first 16 bytes of sha256(model identity, text embedded): a row is used only if it matches the
# current model and the item's current title, otherwise it is a miss (recomputed, then overwritten).
# `vector`: float32 little-endian, unit length (384 x 4 = 1,536 bytes for MiniLM). Rows go with their item
# (ON DELETE CASCADE) and are dropped once the item is out of the story window (Store.prune_embeddings).
item_embeddings = Table(
    "item_embeddings", metadata,
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("key", LargeBinary(16), nullable=False),
    Column("vector", LargeBinary, nullable=False),
)

# The story index's vector of an item (feeds.stories.encode_vector: its terms and weights as they entered
# the index), so that a run puts the window back into the index without extracting terms again. `key` =
# StoryIndex.vector_key(title, summary): a row is used only for the item's current text and the current
# vector settings; otherwise it is a miss (computed, then overwritten). Rows go with their item and are
# dropped once it is out of the story window (Store.prune_vectors).
item_vectors = Table(
    "item_vectors", metadata,
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("key", LargeBinary(16), nullable=False),
    Column("vector", LargeBinary, nullable=False),
)

runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True),
    Column("started", Float, nullable=False),
    Column("finished", Float),
    Column("mode", String(16), nullable=False),
    Column("sources", Integer, nullable=False, default=0),
    Column("ok", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("new_items", Integer, nullable=False, default=0),
)
