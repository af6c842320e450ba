"""A report without a title is called by the first words of its text, in every format and in the related
links of the story it belongs to. File sources, a real SQLite store, outputs read back with feedparser."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import feedparser
from feedgen_util import rss
from test_pipeline import NOW, Clock

from feeds.config import parse_config
from feeds.run import Pipeline
from feeds.store import Store

LONG = ("<p>The city council approved a <b>new budget</b> for parks and libraries on Tuesday evening after a "
        "long debate over costs.</p>")


def test_an_untitled_report_is_called_by_its_first_words(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_bytes(rss([
        {"guid": "1", "link": "https://a.example/1", "summary": LONG, "date": NOW - timedelta(hours=2)},
        {"guid": "2", "link": "https://a.example/2", "summary": "Short note.", "date": NOW - timedelta(hours=1)},
        {"guid": "3", "link": "https://a.example/3", "title": "Gale stops island ferries until Friday",
         "date": NOW - timedelta(hours=3)},
    ]))
    (tmp_path / "b.xml").write_bytes(rss([
        {"guid": "9", "link": "https://b.example/9", "summary": "Gale stops island ferries until Friday, harbour "
         "master says", "date": NOW - timedelta(hours=1)}]))
    (tmp_path / "feeds.toml").write_text("""
[output]
dir = "out"
base_url = "https://feeds.example.org/"
formats = ["atom", "json", "rss", "html"]
[store]
path = "feeds.db"
[[sources]]
url = "a.xml"
name = "Alpha"
[[sources]]
url = "b.xml"
name = "Beta"
[channels.all]
title = "All"
match_all = true
""")
    cfg = parse_config((tmp_path / "feeds.toml").read_text(), tmp_path / "feeds.toml")
    store = Store.open(cfg.store_path)
    try:
        Pipeline(cfg, store, now=Clock(NOW)).run(force_all=True)
    finally:
        store.close()
    out = tmp_path / "out"
    atom = feedparser.parse((out / "all.atom").read_bytes())
    titles = {e.link: e.title for e in atom.entries}
    # cut at a word within 80 characters, the tags gone, the text as a reader sees it
    assert titles["https://a.example/1"] == "The city council approved a new budget for parks and libraries on Tuesday…"
    assert titles["https://a.example/2"] == "Short note."
    assert "(untitled)" not in (out / "all.atom").read_text()
    # Beta's untitled report joins the titled story: its related link is named by its words, not "Beta: Beta"
    story = next(e for e in atom.entries if e.link == "https://a.example/3")
    related = [link for link in story.links if link.rel == "related"]
    assert [link.title for link in related] == ["Beta: Gale stops island ferries until Friday, harbour master says"]
    # the other formats carry the same title
    items = json.loads((out / "all.json").read_text())["items"]
    assert {i["url"]: i["title"] for i in items} == titles
    rss_doc = feedparser.parse((out / "all.rss").read_bytes())
    assert {e.link: e.title for e in rss_doc.entries} == titles
    page = (out / "all.html").read_text()
    assert "The city council approved a new budget for parks and libraries on Tuesday…" in page
