"""Stored story vectors (store schema 3, table item_vectors), on real SQLite files: every new item is stored
with the vector it entered the story index with, a later run puts the window back from those rows
without extracting terms again, and gets the same stories as a process that never stopped; rows whose
text or settings changed, or that do not decode, are computed again; rows leave with the window.

Term extraction is counted by a wrapper around the real StoryIndex.vector; the store is never mocked.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from feedgen_util import rss
from sqlalchemy import event
from store_util import NOW, V1_STORE, config, query, reveal_in_steps, run, seed_rows, stories_of, write_feeds

from feeds import stories
from feeds.config import Config
from feeds.run import Pipeline, load_story_index
from feeds.store import Store


def stored(db: Path) -> dict[int, tuple[bytes, bytes]]:
    return {int(i): (bytes(k), bytes(v)) for i, k, v in query(db, "SELECT item_id, key, vector FROM item_vectors")}


@pytest.fixture
def vector_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Titles StoryIndex._vector (term extraction and weighting, what `vector` calls too) is called for."""
    calls: list[str] = []
    real = stories.StoryIndex._vector

    def vector(self: stories.StoryIndex, title: str, summary: str = "",
               profile: stories.SourceProfile | None = None) -> tuple[dict[str, float], int]:
        calls.append(title)
        return real(self, title, summary, profile)

    monkeypatch.setattr(stories.StoryIndex, "_vector", vector)
    yield calls


def load(cfg: Config, *, write: bool = True) -> stories.StoryIndex:
    """The story index a run builds (a writer stores the vectors it had to compute; a reader does not)."""
    store = Store.open(cfg.store_path)
    try:
        if not write:
            return load_story_index(cfg, store)[0]
        with store.tx() as c:
            return load_story_index(cfg, store, conn=c)[0]
    finally:
        store.close()


def texts(db: Path) -> dict[int, tuple[str, str]]:
    return {int(i): (str(t), str(s)) for i, t, s in query(db, "SELECT id, title, summary FROM items")}


def test_each_item_is_stored_with_the_vector_it_entered_the_index_with(tmp_path: Path) -> None:
    write_feeds(tmp_path, seed_rows(), summaries=True)
    cfg = config(tmp_path)
    store = Store.open(cfg.store_path)
    pipe = Pipeline(cfg, store, now=lambda: NOW, keep_index=True)
    try:
        assert pipe.run(force_all=True).new_items == 21
        index = pipe._stories
        rows = stored(cfg.store_path)
        assert set(rows) == set(texts(cfg.store_path))
        for item_id, (title, summary) in texts(cfg.store_path).items():
            key, blob = rows[item_id]
            assert key == index.vector_key(title, summary)
            vec = stories.decode_vector(blob)
            assert vec == index.item_vector(item_id) and list(vec) == list(index.item_vector(item_id))
            assert len(vec) > 5  # title and summary terms
    finally:
        pipe.close()
        store.close()


def test_a_later_run_extracts_no_terms_for_stored_items(tmp_path: Path, vector_calls: list[str]) -> None:
    rows = seed_rows()
    write_feeds(tmp_path, rows[:-1], summaries=True)
    cfg = config(tmp_path)
    assert run(cfg) == 20
    assert len(vector_calls) == 20  # each new item once, as it entered the index
    before = stored(cfg.store_path)
    vector_calls.clear()
    index = load(cfg)  # what the next run does first
    assert vector_calls == [] and len(index) == 20
    for item_id, (_, blob) in before.items():
        assert index.item_vector(item_id) == stories.decode_vector(blob)
    assert stored(cfg.store_path) == before  # nothing rewritten

    write_feeds(tmp_path, rows, summaries=True)  # one new item: only its terms are extracted
    assert run(cfg) == 1
    assert vector_calls == [rows[-1][2]] and len(stored(cfg.store_path)) == 21


def test_a_restart_gives_the_same_stories_and_vectors_as_an_uninterrupted_run(tmp_path: Path) -> None:
    """The seed headlines revealed in three steps: one Pipeline throughout, or a new process at each step
    (store opened again, index rebuilt from the store). Same stories, story rows and stored vectors."""
    cfg_one, cfg_re, _ = reveal_in_steps(tmp_path, summaries=True)
    a, b = stories_of(cfg_one.store_path), stories_of(cfg_re.store_path)
    assert a == b and any(len(s) > 1 for s in a)
    q = "SELECT id, rep_item_id, size, published, updated FROM stories ORDER BY id"
    assert query(cfg_one.store_path, q) == query(cfg_re.store_path, q)
    assert stored(cfg_one.store_path) == stored(cfg_re.store_path)


def test_edited_text_or_other_settings_make_a_row_a_miss(tmp_path: Path, vector_calls: list[str]) -> None:
    rows = seed_rows()
    write_feeds(tmp_path, rows)
    cfg = config(tmp_path)
    run(cfg)
    before = stored(cfg.store_path)
    edited = [(ts, st, title + " (updated)" if i == 4 else title) for i, (ts, st, title) in enumerate(rows)]
    write_feeds(tmp_path, edited)
    vector_calls.clear()
    assert run(cfg) == 0  # an edit, not a new item: nothing loads the index
    assert vector_calls == []
    load(cfg)
    assert vector_calls == [rows[4][2] + " (updated)"]  # only the edited item is computed again
    after = stored(cfg.store_path)
    changed = [i for i in before if before[i] != after[i]]
    assert len(changed) == 1 and texts(cfg.store_path)[changed[0]][0].endswith("(updated)")
    vector_calls.clear()
    load(cfg)
    assert vector_calls == []  # and stored for the next run

    # the settings vector() depends on are part of the key; the window and the threshold are not
    ix = stories.StoryIndex()
    key = ix.vector_key("Fed raises rates", "")
    assert key != ix.vector_key("Fed raises rates.", "") and key != ix.vector_key("Fed raises rates", " ")
    for change in ({"summary_weight": 0.4}, {"summary_terms": 10}, {"entity_boost": 1.2}, {"prior_docs": 500.0}):
        assert stories.StoryIndex(replace(stories.StoryConfig(), **change)).vector_key("Fed raises rates", "") != key
    for same in ({"window": timedelta(hours=24)}, {"threshold": 0.6}):
        assert stories.StoryIndex(replace(stories.StoryConfig(), **same)).vector_key("Fed raises rates", "") == key


def test_a_damaged_row_is_computed_again(tmp_path: Path, vector_calls: list[str]) -> None:
    write_feeds(tmp_path, seed_rows())
    cfg = config(tmp_path)
    run(cfg)
    db = cfg.store_path
    ids = sorted(stored(db))
    good = stored(db)
    con = sqlite3.connect(db)
    with con:  # a cut blob, another format, bytes that are not UTF-8 terms
        blobs = {i: stored(db)[i][1] for i in ids[:3]}
        terms_at = stories._VEC_HEAD.size + 8 * stories._VEC_HEAD.unpack_from(blobs[ids[2]])[1]
        damaged = [blobs[ids[0]][:7], b"\x09" + blobs[ids[1]][1:], blobs[ids[2]][:terms_at] + b"\xff\xfe"]
        with pytest.raises(UnicodeDecodeError):  # the third one's terms are not UTF-8
            damaged[2][terms_at:].decode("utf-8")
        con.executemany("UPDATE item_vectors SET vector = ? WHERE item_id = ?",
                        list(zip(damaged, ids[:3], strict=True)))
    con.close()
    vector_calls.clear()
    index = load(cfg, write=False)  # a reader (feeds explain): computes, writes nothing
    assert sorted(vector_calls) == sorted(texts(db)[i][0] for i in ids[:3]) and len(index) == 21
    assert all(stored(db)[i] != good[i] for i in ids[:3])
    vector_calls.clear()
    load(cfg)  # a writer puts them right (computed under the window's weights now)
    assert len(vector_calls) == 3
    after = stored(db)
    assert all(after[i] == good[i] for i in ids[3:]) and all(after[i][0] == good[i][0] for i in ids[:3])
    assert all(stories.decode_vector(after[i][1]) is not None for i in ids[:3])
    vector_calls.clear()
    load(cfg)
    assert vector_calls == []


def test_a_v2_store_upgrades_to_the_current_schema_and_loses_nothing(tmp_path: Path) -> None:
    write_feeds(tmp_path, seed_rows())
    cfg = config(tmp_path)
    run(cfg)
    db = cfg.store_path
    con = sqlite3.connect(db)
    with con:  # the store as schema 2 left it: no item_vectors, version 2
        con.execute("DROP TABLE item_vectors")
        con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.close()
    # (the step to 6 forgets the items' content hashes: each is stored again when next read, with its media)
    tables = {"items": "id, uid, title, summary, author, published, story_id", "stories": "*", "item_keys": "*"}
    before = {t: query(db, f'SELECT {cols} FROM "{t}" ORDER BY 1') for t, cols in tables.items()}
    Store.open(db).close()
    assert query(db, "SELECT value FROM meta WHERE key = 'schema_version'") == [("9",)]
    assert stored(db) == {} and all(query(db, f'SELECT {tables[t]} FROM "{t}" ORDER BY 1') == rows
                                    for t, rows in before.items())
    load(cfg)
    assert len(stored(db)) == 21


def test_a_store_from_before_schema_3_gets_its_vectors_at_the_first_load(tmp_path: Path,
                                                                         vector_calls: list[str]) -> None:
    db = tmp_path / "feeds.db"
    shutil.copy(V1_STORE, db)
    cfg = config(tmp_path)
    first = load(cfg)
    assert len(vector_calls) == 21 and len(stored(db)) == 21
    vector_calls.clear()
    again = load(cfg)
    assert vector_calls == []
    assert all(again.item_vector(i) == first.item_vector(i) for i in stored(db))


def test_rows_leave_with_the_window_and_a_tick_with_nothing_new_writes_nothing(tmp_path: Path) -> None:
    rows = seed_rows()
    write_feeds(tmp_path, rows)
    cfg = config(tmp_path)
    db = cfg.store_path
    store = Store.open(db)
    statements: list[str] = []
    store.engine.dispose()

    @event.listens_for(store.engine, "connect")
    def trace(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.set_trace_callback(statements.append)

    pipe = Pipeline(cfg, store, now=lambda: NOW, keep_index=True)  # as the daemon: the index lives on
    try:
        pipe.run(force_all=True)
        assert len(stored(db)) == 21
        statements.clear()
        pipe.run(force_all=True)  # a tick with nothing new
        assert not [s for s in statements if "item_vectors" in s]
        # four days later (out of the 72 h window): a new item; the old items' rows go, the items stay
        later = max(ts for ts, _, _ in rows) + timedelta(days=4)
        (tmp_path / "a.xml").write_bytes(rss([{"title": "Central bank raises rates to curb inflation",
                                               "guid": "new", "date": later}]))
        pipe.now = lambda: later  # type: ignore[method-assign]
        assert pipe.run(force_all=True).new_items == 1
    finally:
        pipe.close()
        store.close()
    new_id = query(db, "SELECT id FROM items WHERE guid = 'new'")[0][0]
    assert set(stored(db)) == {new_id}
    assert query(db, "SELECT count(*) FROM items")[0][0] == 22
