"""output.content: an entry carries the feed's summary (default) or its full text ("full"), sanitised and
bounded. File sources, a real SQLite store, outputs read back with feedparser."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from test_pipeline import NOW, Clock

from feeds.cli import main
from feeds.config import parse_config
from feeds.run import Pipeline
from feeds.store import Store

TEASER = "A short teaser of the post."
FULL = "<p>The whole post, <b>every</b> paragraph of it.</p><p>Second paragraph.</p><script>x()</script>"


def rss_with_content(items: list[tuple[str, str, str]]) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>',
           "<title>Blog</title><link>https://blog.example/</link><description>d</description>"]
    for n, (title, summary, content) in enumerate(items):
        out.append(f"<item><title>{title}</title><link>https://blog.example/{n}</link><guid>p{n}</guid>"
                   f"<pubDate>{(NOW - timedelta(hours=n + 1)).strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>")
        if summary:
            out.append(f"<description><![CDATA[{summary}]]></description>")
        if content:
            out.append(f"<content:encoded><![CDATA[{content}]]></content:encoded>")
        out.append("</item>")
    out.append("</channel></rss>")
    return "\n".join(out).encode()


def publish(tmp: Path, content: str | None, items: list[tuple[str, str, str]]) -> dict[str, str]:
    (tmp / "blog.xml").write_bytes(rss_with_content(items))
    setting = f'content = "{content}"' if content else ""
    (tmp / "feeds.toml").write_text(f"""
[output]
dir = "out"
base_url = "https://feeds.example.org/"
formats = ["atom", "json"]
{setting}
[store]
path = "feeds.db"
[stories]
enabled = false
[[sources]]
url = "blog.xml"
name = "Blog"
[channels.all]
title = "All"
match_all = true
""")
    cfg = parse_config((tmp / "feeds.toml").read_text(), tmp / "feeds.toml")
    store = Store.open(cfg.store_path)
    try:
        Pipeline(cfg, store, now=Clock(NOW)).run(force_all=True)
    finally:
        store.close()
    atom = feedparser.parse((tmp / "out" / "all.atom").read_bytes())
    bodies = {e.title: e.summary for e in atom.entries}
    items_json = json.loads((tmp / "out" / "all.json").read_text())["items"]
    assert {i["title"]: i["content_html"] for i in items_json}.keys() == bodies.keys()
    return bodies


ITEMS = [("Both", TEASER, FULL), ("Teaser only", TEASER, ""), ("Full only", "", FULL)]


def test_the_default_carries_the_summary_and_full_the_full_text(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    summary = publish(tmp_path / "s", None, ITEMS)
    assert summary["Both"] == TEASER and summary["Teaser only"] == TEASER
    assert "every</b> paragraph" in summary["Full only"]  # no summary: its full text stands in
    (tmp_path / "f").mkdir()
    full = publish(tmp_path / "f", "full", ITEMS)
    assert "every</b> paragraph" in full["Both"] and "Second paragraph." in full["Both"]
    assert "script" not in full["Both"]  # sanitised as a summary is
    assert full["Teaser only"] == TEASER  # no full text: its summary


def test_a_long_full_text_is_kept_where_a_summary_would_be_cut(tmp_path: Path) -> None:
    long = "".join(f"<p>Paragraph {n} of a long essay with enough words in it.</p>" for n in range(600))  # ~33 kB
    items = [("Essay", long, "")]
    (tmp_path / "s").mkdir()
    summary = publish(tmp_path / "s", None, items)["Essay"]
    assert summary.count("<p>") == 1 and len(summary) < 1300 and summary.endswith("…</p>")  # a plain excerpt
    (tmp_path / "f").mkdir()
    full = publish(tmp_path / "f", "full", [("Essay", "", long)])["Essay"]
    assert full.count("<p>") == 600


def test_a_bad_content_setting_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    log = logging.getLogger("feeds")  # main() sets up the "feeds" logger: put it back afterwards
    monkeypatch.setattr(log, "handlers", list(log.handlers))
    monkeypatch.setattr(log, "level", log.level)
    monkeypatch.setattr(log, "propagate", log.propagate)
    (tmp_path / "feeds.toml").write_text('[output]\ncontent = "everything"\n[[sources]]\nurl = "a.xml"\n'
                                         '[channels.all]\ntitle = "All"\nmatch_all = true\n')
    assert main(["-c", str(tmp_path / "feeds.toml"), "check"]) == 2
    err = capsys.readouterr().err
    assert "output.content" in err and "everything" in err and str(tmp_path / "feeds.toml") in err
