"""The one storage layer. SQLite now; the same SQLAlchemy Core code is meant for PostgreSQL later."""

from feeds.store.sql import ItemRow, SourceRow, Store, StoryEntry, decode_enclosures, encode_enclosures

__all__ = ["ItemRow", "SourceRow", "Store", "StoryEntry", "decode_enclosures", "encode_enclosures"]
