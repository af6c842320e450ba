"""What a subscriber sees over many runs, after a review that simulated weeks of outlets and a reader (each
test failed before its fix): a daemon's kept story index and an edited headline, and a document cut off
inside its last entry. File sources, a real SQLite store, the Atom output read back with feedparser."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser

from feeds.config import parse_config
from feeds.parse import parse
from feeds.run import Pipeline
from feeds.store import Store

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
CONFIG = ('[output]\ndir = "out"\nbase_url = "https://feeds.example.org/"\n[store]\npath = "feeds.db"\n'
          '[[sources]]\nurl = "a.xml"\nname = "A"\n[[sources]]\nurl = "b.xml"\nname = "B"\n'
          '[channels.all]\ntitle = "All"\nmatch_all = true\n')


def rss(items: list[tuple[str, str, str]]) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>X</title>'
           "<link>https://x.example/</link><description>d</description>"]
    for title, guid, hhmm in items:
        out.append(f"<item><title>{title}</title><link>https://{guid[0]}.example/{guid}</link>"
                   f'<guid isPermaLink="false">{guid}</guid><pubDate>Mon, 02 Mar 2026 {hhmm} +0000</pubDate></item>')
    return ("\n".join(out) + "\n</channel></rss>").encode()


def entries(tmp: Path) -> list[tuple[str, list[str]]]:
    feed = feedparser.parse((tmp / "out" / "all.atom").read_bytes())
    return [(e.title, [x.href for x in e.links if x.rel == "related"]) for e in feed.entries]


def test_a_daemons_kept_index_reads_an_edited_headline_as_a_cron_run_does(tmp_path: Path) -> None:
    """A stub ("Breaking: explosion reported") edited into the full headline: the daemon's kept index kept the
    stub's vector, so another outlet's report of the event stayed a story of its own, where every cron run
    (which reloads the index with the edited text) joined it."""
    stub = [("Breaking: explosion reported, more to follow", "a1", "11:00:00")]
    full = [("Gas explosion destroys apartment block in Lyon, six dead", "a1", "11:00:00")]
    other = [("Six killed as gas blast destroys Lyon apartment block", "b1", "11:30:00")]
    steps = [(0, stub, []), (20, full, []), (40, full, other)]
    results = {}
    for mode in ("daemon", "cron"):
        tmp = tmp_path / mode
        tmp.mkdir()
        cfg = parse_config(CONFIG, tmp / "feeds.toml")
        store = Store.open(cfg.store_path)
        pipe = Pipeline(cfg, store, now=lambda: NOW, keep_index=True)
        for minutes, a, b in steps:
            (tmp / "a.xml").write_bytes(rss(a))
            (tmp / "b.xml").write_bytes(rss(b))
            if mode == "cron":  # a new process each run
                pipe.close()
                store.close()
                store = Store.open(cfg.store_path)
                pipe = Pipeline(cfg, store, now=lambda: NOW)
            at = NOW + timedelta(minutes=minutes)
            clock: Callable[[], datetime] = lambda at=at: at  # noqa: E731
            pipe.now = clock
            pipe.run(force_all=True)
        pipe.close()
        store.close()
        results[mode] = entries(tmp)
    assert results["daemon"] == results["cron"] == [(full[0][0], ["https://b.example/b1"])]


def test_a_document_cut_off_inside_its_last_entry_leaves_that_entry_alone(tmp_path: Path) -> None:
    """A half-written document (cut after an entry's title): feedparser gives the fragment, which was matched to
    the stored item by its title and stored as an edit without its link; a new entry's fragment was stored
    with the time it was read, for good."""
    full = rss([("Fed holds rates steady", "a2", "10:00:00"), ("Quake strikes off northern Japan", "a1", "09:00:00")])
    cut = full[:full.index(b"</title>", full.index(b"Quake")) + len(b"</title>")]
    parsed = parse(cut, "https://x.example/feed.xml")
    assert [e.title for e in parsed.entries] == ["Fed holds rates steady"]
    assert parsed.bozo
    # through the pipeline: the first read is cut (the new item a1 not stored from its fragment), the next whole
    cfg = parse_config(CONFIG, tmp_path / "feeds.toml")
    store = Store.open(cfg.store_path)
    pipe = Pipeline(cfg, store, now=lambda: NOW)
    (tmp_path / "b.xml").write_bytes(rss([]))
    (tmp_path / "a.xml").write_bytes(cut)
    pipe.run(force_all=True)
    (tmp_path / "a.xml").write_bytes(full)
    pipe.now = lambda: NOW + timedelta(minutes=30)
    pipe.run(force_all=True)
    (tmp_path / "a.xml").write_bytes(cut)
    pipe.now = lambda: NOW + timedelta(minutes=60)
    pipe.run(force_all=True)
    pipe.close()
    store.close()
    con = sqlite3.connect(tmp_path / "feeds.db")
    try:
        rows = sorted(con.execute("SELECT guid, link, published FROM items"))
    finally:
        con.close()
    assert rows == [("a1", "https://a.example/a1", (NOW - timedelta(hours=3)).timestamp()),
                    ("a2", "https://a.example/a2", (NOW - timedelta(hours=2)).timestamp())]


def test_a_whole_document_with_an_error_keeps_every_entry() -> None:
    """Only a document that never ends loses its unfinished entry: feedparser's other errors (a stray "&") and
    an ended document keep all of theirs."""
    doc = rss([("Fed holds rates & steady", "a2", "10:00:00"), ("Quake strikes Japan", "a1", "09:00:00")])
    assert [e.title for e in parse(doc, "https://x.example/f.xml").entries] == [
        "Fed holds rates & steady", "Quake strikes Japan"]
    between = doc[:doc.rindex(b"</item>") + len(b"</item>")]  # cut between entries: both whole
    assert len(parse(between, "https://x.example/f.xml").entries) == 2
    # an entry whose end tag is misspelt, in a document that ends: feedparser's loose parser reads it whole
    typo = doc.replace(b"</item>", b"</itme>", 1)
    assert [e.title for e in parse(typo, "https://x.example/f.xml").entries] == [
        "Fed holds rates & steady", "Quake strikes Japan"]
