"""Helpers of the stored-vector tests (test_store_embeddings, test_store_vectors): small pipelines over
the seed headlines on real SQLite files, and raw reads of those files."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from feedgen_util import rss

from feeds.config import Config, parse_config
from feeds.run import Pipeline
from feeds.store import Store

DATA = Path(__file__).parent / "data"
V1_STORE = DATA / "store-v1" / "feeds-v1.db"
NOW = datetime(2025, 7, 5, 12, 0, tzinfo=UTC)


def table_rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = sqlite3.connect(db)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {n: sorted(con.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}
    finally:
        con.close()


def query(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def seed_rows() -> list[tuple[datetime, str, str]]:
    """(published, story label, title) of the seed headlines, oldest first."""
    out = []
    for line in (DATA / "seed-headlines.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            ts, story, _, title = line.split("\t")
            out.append((datetime.fromisoformat(ts.replace("Z", "+00:00")), story, title))
    return sorted(out)


def write_feeds(d: Path, rows: Sequence[tuple[datetime, str, str]], shift: timedelta = timedelta(0),
                summaries: bool = False) -> None:
    """Rows spread over three sources a, b, c (row i to source i mod 3); each item's guid is its row.
    With summaries, each item has a short HTML summary built from its own title."""
    feeds: dict[str, list[dict[str, object]]] = {"a": [], "b": [], "c": []}
    for i, (ts, _, title) in enumerate(rows):
        item: dict[str, object] = {"title": title, "guid": f"g{i}-{title[:12]}", "date": ts + shift,
                                   "link": f"https://s{i % 3}.example/{i}"}
        if summaries:
            item["summary"] = f"<p>Reports say: <b>{title.lower()}</b>, officials said on {ts:%A}.</p>"
        feeds["abc"[i % 3]].append(item)
    for name, items in feeds.items():
        (d / f"{name}.xml").write_bytes(rss(items))


def config(d: Path, *, semantic: bool = False) -> Config:
    """Sources a, b, c (write_feeds) and one channel with everything; the story settings' defaults."""
    srcs = "".join(f'[[sources]]\nurl = "{n}.xml"\nname = "{n}"\n' for n in "abc")
    stories = "[stories]\nsemantic = true\n" if semantic else ""
    text = (f'[output]\ndir = "out"\nbase_url = "https://feeds.example.org/"\n[store]\npath = "feeds.db"\n'
            f'{stories}{srcs}\n[channels.all]\ntitle = "All"\nmatch_all = true\n')
    return parse_config(text, d / "feeds.toml")


def run(cfg: Config, now: datetime = NOW) -> int:
    """One `feeds run` as cron does it: open the store, run the pipeline, close. Returns new items."""
    store = Store.open(cfg.store_path)
    pipe = Pipeline(cfg, store, now=lambda: now)
    try:
        return pipe.run(force_all=True).new_items
    finally:
        pipe.close()
        store.close()


def stories_of(db: Path) -> set[frozenset[str]]:
    by: dict[int, set[str]] = {}
    for sid, title in query(db, "SELECT story_id, title FROM items"):
        by.setdefault(sid, set()).add(title)
    return {frozenset(v) for v in by.values()}


def reveal_in_steps(tmp_path: Path, *, semantic: bool = False, summaries: bool = False,
                    between: Callable[[], None] | None = None) -> tuple[Config, Config, list[list[Any]]]:
    """The seed headlines revealed in three steps, ten minutes apart, to one Pipeline that keeps its story
    index throughout (tmp_path/one) and to a new process at each step: store opened again, index rebuilt
    from the store (tmp_path/restarted). ``between`` runs after the first, before the second. Returns
    both configs and the steps."""
    rows = seed_rows()
    steps = [rows[:8], rows[:15], rows]
    one, restarted = tmp_path / "one", tmp_path / "restarted"
    one.mkdir()
    restarted.mkdir()
    cfg_one, cfg_re = config(one, semantic=semantic), config(restarted, semantic=semantic)
    store = Store.open(cfg_one.store_path)
    pipe = Pipeline(cfg_one, store, now=lambda: NOW, keep_index=True)
    try:
        for k, part in enumerate(steps):
            write_feeds(one, part, summaries=summaries)
            pipe.now = lambda k=k: NOW + timedelta(minutes=10 * k)  # type: ignore[misc]
            pipe.run(force_all=True)
    finally:
        pipe.close()
        store.close()
    if between is not None:
        between()
    for k, part in enumerate(steps):
        write_feeds(restarted, part, summaries=summaries)
        run(cfg_re, NOW + timedelta(minutes=10 * k))
    return cfg_one, cfg_re, steps
