"""Stored title embeddings of the semantic mode (store schema 2, table item_embeddings), on real SQLite
files: the upgrade of a v1 store, no re-embedding after a restart, same stories as an uninterrupted run,
vectors leaving with their items, another model never reusing them.

The upgrade tests need nothing; the others need the semantic extra and its model and skip without them
(as tests/test_semantic.py does). Embedding calls are counted by a wrapper around the real
SemanticModel.embed; the store is never mocked.
"""

from __future__ import annotations

import copy
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from feedgen_util import rss
from sqlalchemy import delete
from store_util import (
    V1_STORE,
    config,
    query,
    reveal_in_steps,
    run,
    seed_rows,
    stories_of,
    table_rows,
    write_feeds,
)

from feeds.config import Config
from feeds.errors import StoreError
from feeds.run import load_story_index
from feeds.store import Store
from feeds.store import schema as S

try:
    from feeds import semantic as sem

    HAVE_MODEL = sem.available()
except ImportError:  # numpy (the semantic extra) is not installed
    HAVE_MODEL = False

needs_model = pytest.mark.skipif(not HAVE_MODEL, reason="the semantic extra (numpy, model files) is not installed")


def semantic_config(d: Path) -> Config:
    return config(d, semantic=True)


# ---------------------------------------------------------------------------------------------------
# Schema: version 1 -> current
# ---------------------------------------------------------------------------------------------------


def _columns(db: Path, table: str) -> list[str]:
    return [str(r[1]) for r in query(db, f'PRAGMA table_info("{table}")')]


def test_v1_store_upgrades_to_the_current_schema_and_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "feeds.db"
    shutil.copy(V1_STORE, db)
    before = table_rows(db)
    assert before["meta"] == [("schema_version", "1")] and "item_embeddings" not in before
    assert "item_vectors" not in before
    assert len(before["items"]) == 21 and len(before["sightings"]) == 1

    Store.open(db).close()  # 1 -> 2 (item_embeddings) -> 3 (item_vectors) -> 4 (archive_marks.written) -> 5
    # (sources.validators_url) -> 6 (items.enclosures, items.image) -> 7 (forgotten) -> 8 (sources.language) -> 9
    # (story_channels.rep_item_id)
    after = table_rows(db)
    assert after["meta"] == [("schema_version", str(S.SCHEMA_VERSION))] and S.SCHEMA_VERSION == 9
    assert after["item_embeddings"] == [] and after["item_vectors"] == []
    for name, rows in before.items():
        if name == "archive_marks":  # each channel's pages taken as written up to its archive's size
            assert after[name] == [(*r, sum(1 for a in before["archive_slots"] if a[0] == r[0])) for r in rows]
            assert rows
        elif name == "sources":  # (5) the URL that gave the validators: not known, so the fetch URL's; (6) the
            # validators and the body's hash forgotten: each source is read in full once; (8) no language yet
            cols = _columns(db, "sources")
            forgotten = {cols.index(c) for c in ("etag", "last_modified", "body_hash")}
            assert after[name] == [(*(None if i in forgotten else v for i, v in enumerate(r)), None, None)
                                   for r in rows]
            assert rows and any(r[i] is not None for r in rows for i in forgotten)
        elif name == "items":  # (6) no media files, no thumbnail (the documents they came from are not kept), the
            # content hash forgotten: each item is stored again, with its media, when its feed next lists it
            content_hash = _columns(db, "items").index("content_hash")
            assert after[name] == [(*r[:content_hash], "", *r[content_hash + 1:], "", None) for r in rows] and rows
        elif name == "story_channels":  # (9) no channel's report kept yet: chosen by the rule at its next publish
            assert after[name] == [(*r, None) for r in rows] and rows
        elif name != "meta":
            assert after[name] == rows, name
    assert query(db, "PRAGMA integrity_check") == [("ok",)] and query(db, "PRAGMA foreign_key_check") == []
    for table in ("item_embeddings", "item_vectors"):
        fk = query(db, f"PRAGMA foreign_key_list({table})")
        assert [(r[2], r[3], r[4], r[6]) for r in fk] == [("items", "item_id", "id", "CASCADE")]

    Store.open(db).close()  # opening again is a no-op
    assert table_rows(db) == after


def test_store_newer_than_this_code_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "feeds.db"
    Store.open(db).close()
    rows = table_rows(db)
    current = S.SCHEMA_VERSION
    monkeypatch.setattr(S, "SCHEMA_VERSION", 1)  # this code as feeds with schema 1 was
    with pytest.raises(StoreError, match=f"store schema {current} is newer than this feeds"):
        Store.open(db)
    assert table_rows(db) == rows


# ---------------------------------------------------------------------------------------------------
# With the model
# ---------------------------------------------------------------------------------------------------


@dataclass
class Counter:
    """Calls of the real SemanticModel.embed (texts of each call) and of load_model."""

    calls: list[list[str]] = field(default_factory=list)
    loads: int = 0

    @property
    def texts(self) -> int:
        return sum(len(c) for c in self.calls)

    def reset(self) -> None:
        self.calls.clear()
        self.loads = 0


@pytest.fixture(scope="module")
def model() -> Any:
    return sem.load_model()


@pytest.fixture
def counter(model: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter]:
    """Wrap the real model's embed (counting calls) and load_model (counting loads; the module's model is
    loaded once, then handed out again, as a fresh load would give the same vectors)."""
    c = Counter()
    real_embed = sem.SemanticModel.embed

    def embed(self: Any, texts: Sequence[str], batch_size: int = 32) -> Any:
        c.calls.append(list(texts))
        return real_embed(self, texts, batch_size)

    def load_model(*args: Any, **kwargs: Any) -> Any:
        assert not args and not kwargs
        c.loads += 1
        return model

    monkeypatch.setattr(sem.SemanticModel, "embed", embed)
    monkeypatch.setattr(sem, "load_model", load_model)
    yield c


def stored_vectors(db: Path) -> dict[int, tuple[bytes, bytes]]:
    return {int(i): (bytes(k), bytes(v)) for i, k, v in query(db, "SELECT item_id, key, vector FROM item_embeddings")}


def load_calls(cfg: Config, counter: Counter, emb: Any = None) -> list[list[str]]:
    """Load the story index as a writer would (vectors of misses stored in its transaction); the
    embedding calls that made."""
    counter.reset()
    store = Store.open(cfg.store_path)
    try:
        with store.tx() as c:
            load_story_index(cfg, store, emb, conn=c)
    finally:
        store.close()
    return list(counter.calls)


@needs_model
def test_second_run_embeds_nothing_already_stored(tmp_path: Path, counter: Counter) -> None:
    rows = seed_rows()
    write_feeds(tmp_path, rows[:-1])
    cfg = semantic_config(tmp_path)
    db = cfg.store_path
    assert run(cfg) == 20
    # one embed call per source with new items, holding that source's titles (the batch)
    assert len(counter.calls) == 3 and counter.texts == 20 and counter.loads == 1
    assert sorted(t for c in counter.calls for t in c) == sorted(t for _, _, t in rows[:-1])
    vecs = stored_vectors(db)
    assert len(vecs) == 20 and all(len(v) == 4 * 384 for _, v in vecs.values())

    counter.reset()  # a restart over an unchanged window: no embedding, no model
    assert run(cfg) == 0
    assert counter.calls == [] and counter.loads == 0
    store = Store.open(db)
    try:  # the index the pipeline would build (with its write connection): every vector comes from the store
        with store.tx() as c:
            index, _ = load_story_index(cfg, store, conn=c)
        assert len(index) == 20
    finally:
        store.close()
    assert counter.calls == [] and counter.loads == 0
    assert stored_vectors(db) == vecs

    counter.reset()  # one new item: only its title is embedded, not the window's
    write_feeds(tmp_path, rows)
    assert run(cfg) == 1
    assert counter.calls == [[rows[-1][2]]] and counter.loads == 1
    assert len(stored_vectors(db)) == 21


@needs_model
def test_a_restart_gives_the_same_stories_as_an_uninterrupted_run(tmp_path: Path, counter: Counter) -> None:
    """The seed headlines revealed in three steps: one Pipeline throughout, or a new process (store
    opened again, index rebuilt from the store) at each step. Same stories, same story rows, same vectors;
    the restarted one embeds each title once."""
    rows = seed_rows()
    cfg_one, cfg_re, steps = reveal_in_steps(tmp_path, semantic=True, between=counter.reset)
    assert counter.texts == len(rows)  # each title embedded once, none again at a restart
    a, b = stories_of(cfg_one.store_path), stories_of(cfg_re.store_path)
    assert a == b
    assert any(len(s) > 1 for s in a)
    # a story started in one step was joined in a later one (the restarted index had to know it)
    first_step = {title: next(k for k, part in enumerate(steps) if any(t == title for _, _, t in part))
                  for _, _, title in rows}
    assert any(len({first_step[t] for t in s}) > 1 for s in a)
    q = "SELECT id, rep_item_id, size, published, updated FROM stories ORDER BY id"
    assert query(cfg_one.store_path, q) == query(cfg_re.store_path, q)
    assert stored_vectors(cfg_one.store_path) == stored_vectors(cfg_re.store_path)


@needs_model
def test_vectors_leave_with_their_items_and_the_window(tmp_path: Path, counter: Counter) -> None:
    rows = seed_rows()
    write_feeds(tmp_path, rows)
    cfg = semantic_config(tmp_path)
    db = cfg.store_path
    run(cfg)
    vecs = stored_vectors(db)
    assert len(vecs) == 21
    # an item deleted from the store (its dependent rows first) takes its vector with it
    gone = min(vecs)
    store = Store.open(db)
    try:
        with store.tx() as c:
            for t in (S.item_keys, S.item_channels, S.sightings):
                c.execute(delete(t).where(t.c.item_id == gone))
            c.execute(delete(S.items).where(S.items.c.id == gone))
    finally:
        store.close()
    assert set(stored_vectors(db)) == set(vecs) - {gone}
    # four days later (out of the 72 h window): a new item; the old items' vectors are dropped, theirs kept
    later = max(ts for ts, _, _ in rows) + timedelta(days=4)
    (tmp_path / "a.xml").write_bytes(rss([{"title": "Central bank raises rates to curb inflation", "guid": "new",
                                           "date": later}]))
    run(cfg, later)
    left = stored_vectors(db)
    new_id = query(db, "SELECT id FROM items WHERE guid = 'new'")[0][0]
    assert set(left) == {new_id}
    assert query(db, "SELECT count(*) FROM items")[0][0] == 21  # items stay; only the vectors are pruned


@needs_model
def test_another_model_never_reuses_stored_vectors(tmp_path: Path, counter: Counter, model: Any) -> None:
    rows = seed_rows()
    write_feeds(tmp_path, rows)
    cfg = semantic_config(tmp_path)
    db = cfg.store_path
    run(cfg)
    vecs = stored_vectors(db)
    titles = sorted(t for _, _, t in rows)

    def load(emb: Any) -> list[list[str]]:
        return load_calls(cfg, counter, emb)

    def other_model() -> Any:  # the installed model's weights under another identity (another model's name)
        m = copy.copy(model)
        m.identity = "another model"
        return m

    calls = load(sem.CachedEmbedder("another model", other_model))
    assert sorted(t for c in calls for t in c) == titles  # every window title embedded again
    assert len(calls) == 1  # all misses of a batch (the window's 21 titles) in one call
    changed = stored_vectors(db)
    assert set(changed) == set(vecs) and all(changed[i][0] != vecs[i][0] for i in vecs)  # rows rewritten
    assert load(sem.CachedEmbedder("another model", other_model)) == []  # now stored for that one
    assert sorted(t for c in load(None) for t in c) == titles  # and back: the installed model's again
    assert {i: k for i, (k, _) in stored_vectors(db).items()} == {i: k for i, (k, _) in vecs.items()}


@needs_model
def test_rows_of_another_model_are_ignored_whatever_their_length(tmp_path: Path, counter: Counter) -> None:
    """Rows another model left (another key, 768 dimensions) on the first items of the window are misses;
    they do not decide the vector length the other rows are checked against, so the installed model's
    rows are used and, once the misses are stored, a reload in the same process embeds nothing."""
    rows = seed_rows()
    write_feeds(tmp_path, rows)
    cfg = semantic_config(tmp_path)
    db = cfg.store_path
    run(cfg)
    ids = sorted(stored_vectors(db))
    stale = ids[:5]
    con = sqlite3.connect(db)
    with con:
        con.executemany("UPDATE item_embeddings SET key = ?, vector = ? WHERE item_id = ?",
                        [(b"another-model-16", bytes(4 * 768), i) for i in stale])
    con.close()
    stale_titles = sorted(str(t) for (t,) in
                          (query(db, "SELECT title FROM items WHERE id = ?", i)[0] for i in stale))
    emb = sem.CachedEmbedder(sem.model_identity(), sem.load_model)

    def load() -> list[list[str]]:
        return load_calls(cfg, counter, emb)

    assert sorted(t for c in load() for t in c) == stale_titles  # only the other model's rows
    assert load() == []  # the same embedder again: everything stored now, nothing embedded
    assert all(len(v) == 4 * 384 for _, v in stored_vectors(db).values())


@needs_model
def test_an_edited_title_is_embedded_again(tmp_path: Path, counter: Counter) -> None:
    rows = seed_rows()
    write_feeds(tmp_path, rows)
    cfg = semantic_config(tmp_path)
    run(cfg)
    edited = [(ts, st, title + " (updated)" if i == 4 else title) for i, (ts, st, title) in enumerate(rows)]
    write_feeds(tmp_path, edited)
    assert run(cfg) == 0  # an edit, not a new item
    counter.reset()
    store = Store.open(cfg.store_path)
    try:
        with store.tx() as c:
            load_story_index(cfg, store, conn=c)
    finally:
        store.close()
    assert counter.calls == [[rows[4][2] + " (updated)"]]


@needs_model
def test_v1_store_gets_its_vectors_once_after_the_upgrade(tmp_path: Path, counter: Counter) -> None:
    db = tmp_path / "feeds.db"
    shutil.copy(V1_STORE, db)
    cfg = semantic_config(tmp_path)
    titles = sorted(t for (t,) in query(db, "SELECT title FROM items"))
    for expected in (titles, []):
        counter.reset()
        store = Store.open(db)
        try:
            with store.tx() as c:
                index, _ = load_story_index(cfg, store, conn=c)
            assert len(index) == 21
        finally:
            store.close()
        assert sorted(t for c in counter.calls for t in c) == expected
    assert len(stored_vectors(db)) == 21


@needs_model
def test_model_identity_follows_the_files_not_their_names(tmp_path: Path) -> None:
    files = sem.find_model_files()
    assert files.onnx is not None and files.vocab is not None
    ident = sem.model_identity("onnx")
    model, vocab = tmp_path / "other-name.onnx", tmp_path / ("renamed" + files.vocab.suffix)
    shutil.copy(files.onnx, model)
    shutil.copy(files.vocab, vocab)
    assert sem.model_identity("onnx", model=model, vocab=vocab) == ident  # the same files elsewhere
    with vocab.open("ab") as f:
        f.write(b"\n")
    assert sem.model_identity("onnx", model=model, vocab=vocab) != ident
    assert sem.model_identity("onnx", max_tokens=64) != ident
    if sem.available("numpy"):
        assert sem.model_identity("numpy") != ident


@needs_model
def test_embeddings_leave_with_the_window_after_the_semantic_mode_is_turned_off(tmp_path: Path,
                                                                                counter: Counter) -> None:
    # pruning was done only with the semantic mode on: rows stored while it was on stayed for ever
    rows = seed_rows()
    write_feeds(tmp_path, rows)
    cfg = semantic_config(tmp_path)
    run(cfg)
    assert len(stored_vectors(cfg.store_path)) == 21
    off = config(tmp_path, semantic=False)
    later = max(ts for ts, _, _ in rows) + timedelta(days=4)
    (tmp_path / "a.xml").write_bytes(rss([{"title": "Central bank raises rates to curb inflation", "guid": "new",
                                           "date": later}]))
    run(off, later)
    assert stored_vectors(cfg.store_path) == {}  # the old window's rows are gone; the new item has none
