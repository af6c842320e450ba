"""What a mutation survey of feeds/jsonparse.py and feeds/explain.py found unpinned: each test names the mutant
it kills. JSON Feed documents go through the parsing entry point (feeds.parse.parse) and, where it matters to a
reader, end to end from a loopback server to the published Atom read back by feedparser; explain goes through
the real `feeds explain` command on a store a real `feeds run` made."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
from loopback import Loopback, static
from test_cli import feeds

from feeds.config import parse_config
from feeds.models import Enclosure
from feeds.parse import parse
from feeds.run import Pipeline
from feeds.store import Store


def feed(items: list[object], **top: object) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "T", **top, "items": items}).encode()


def test_a_boolean_id_is_no_id() -> None:
    """Kills J2 (the bool check in jsonparse._id dropped): ``"id": true`` is no string or number, so no id (the
    specification would coerce any type to a string; the project turns only numbers into one); with the mutant
    every such item got the guid "True", one identity for all of them, and the store kept one."""
    p = parse(feed([{"id": True, "url": "https://b.example/1", "title": "One"},
                    {"id": False, "url": "https://b.example/2", "title": "Two"}]), "https://b.example/feed.json")
    assert [e.guid for e in p.entries] == [None, None]
    assert [e.link for e in p.entries] == ["https://b.example/1", "https://b.example/2"]
    assert p.bozo == "JSON Feed: 2 items have no id"


def test_url_is_the_link_over_external_url() -> None:
    """Kills J18 (external_url preferred to url): an item's link is its own ``url`` (its permalink); the
    ``external_url`` (the page a linkblog post is about) is the link only without one."""
    p = parse(feed([{"id": "1", "url": "/posts/1", "external_url": "https://elsewhere.example/story",
                     "title": "Linked"}]), "https://site.example/feed.json")
    assert p.entries[0].link == "https://site.example/posts/1"


def test_an_item_with_only_date_modified_is_published_then() -> None:
    """Kills J19 (published no longer falling back to date_modified): as on the RSS/Atom paths, an item dated
    only by ``date_modified`` is published then, not undated."""
    p = parse(feed([{"id": "1", "url": "https://d.example/1", "title": "Edited",
                     "date_modified": "2025-07-02T08:30:00+02:00"}]), "https://d.example/feed.json")
    (e,) = p.entries
    assert e.published == e.updated == datetime(2025, 7, 2, 6, 30, tzinfo=UTC)


def test_a_relative_attachment_resolves_against_the_document_not_the_items_link() -> None:
    """Kills J25 (attachments and image resolved against the item's link before the document's address):
    docs/parsing.md makes them absolute against the document's address, else the entry's link."""
    p = parse(feed([{"id": "1", "url": "https://cdn.example/posts/7/", "title": "Episode 7", "image": "img/7.png",
                     "attachments": [{"url": "audio/7.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 10}]},
                    {"id": "2", "url": "https://cdn.example/posts/8/", "title": "Episode 8",
                     "attachments": [{"url": "audio/8.mp3", "mime_type": "audio/mpeg"}]}]),
              "https://pod.example/show/feed.json")
    seven, eight = p.entries
    assert seven.enclosures == (Enclosure("https://pod.example/show/audio/7.mp3", "audio/mpeg", 10),)
    assert seven.image == "https://pod.example/show/img/7.png"
    assert eight.enclosures == (Enclosure("https://pod.example/show/audio/8.mp3", "audio/mpeg", None),)


def test_a_json_feed_of_boolean_ids_external_urls_and_edits_is_published_whole(tmp_path: Path) -> None:
    """End to end (kills J2, J18 and J19 through a run): two items whose id is ``true`` are two entries, an item
    with url and external_url links to its url, and one dated only by date_modified is published then."""
    srv = Loopback()
    try:
        body = feed([{"id": True, "url": "https://j.example/a", "title": "Alpha pelicans nest on the pier",
                      "content_text": "alpha", "date_published": "2025-07-01T08:00:00Z"},
                     {"id": True, "url": "https://j.example/b", "title": "Beta otters build a dam upriver",
                      "content_text": "beta", "date_published": "2025-07-02T08:00:00Z"},
                     {"id": "c", "url": "https://j.example/c", "external_url": "https://other.example/c",
                      "title": "Gamma comet seen over the hills", "content_text": "gamma",
                      "date_published": "2025-07-03T08:00:00Z"},
                     {"id": "d", "url": "https://j.example/d", "title": "Delta ferry timetable changes",
                      "content_text": "delta", "date_modified": "2025-07-04T08:00:00Z"}],
                    home_page_url="https://j.example/")
        srv.routes["/feed.json"] = static(body, content_type="application/feed+json")
        (tmp_path / "feeds.toml").write_text(f"""
[output]
dir = "out"
base_url = "https://feeds.example.org/"
[store]
path = "feeds.db"
[[sources]]
url = "{srv.url('/feed.json')}"
name = "Jay"
[channels.all]
title = "All"
match_all = true
""")
        cfg = parse_config((tmp_path / "feeds.toml").read_text(), tmp_path / "feeds.toml")
        store = Store.open(cfg.store_path)
        pipe = Pipeline(cfg, store)
        try:
            run = pipe.run(force_all=True)
            assert [(o.error, o.new) for o in run.outcomes] == [(None, 4)]
        finally:
            pipe.close()
            store.close()
    finally:
        srv.close()
    out = feedparser.parse((tmp_path / "out" / "all.atom").read_bytes())
    by_title = {e.title: e for e in out.entries}
    assert sorted(by_title) == ["Alpha pelicans nest on the pier", "Beta otters build a dam upriver",
                                "Delta ferry timetable changes", "Gamma comet seen over the hills"]
    assert by_title["Gamma comet seen over the hills"].link == "https://j.example/c"
    delta = by_title["Delta ferry timetable changes"]
    assert delta.get("published_parsed") is not None and delta.published.startswith("2025-07-04T08:00:00")


def _stored(tmp_path: Path, items: list[dict[str, object]]) -> dict[str, str]:
    """One feed of these items (feedgen_util.rss's keys), read by one `feeds run` into a store of one catch-all
    channel: the stored items' entry ids by guid."""
    from feedgen_util import rss

    (tmp_path / "s.xml").write_bytes(rss(items))
    (tmp_path / "feeds.toml").write_text('[output]\ndir = "out"\n[store]\npath = "feeds.db"\n'
                                         '[[sources]]\nurl = "s.xml"\nname = "S"\n'
                                         '[channels.all]\ntitle = "All"\nmatch_all = true\n')
    r = feeds("run", "--config", "feeds.toml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with sqlite3.connect(tmp_path / "feeds.db") as con:
        return {g: u for g, u in con.execute("SELECT guid, uid FROM items")}


def _senate_store(tmp_path: Path) -> dict[str, str]:
    """One feed listing its newest post first (as feeds do), the newer one at an http:// address, read by one
    `feeds run`: the stored items' entry ids by guid."""
    base = datetime.now(UTC) - timedelta(hours=3)
    return _stored(tmp_path, [
        {"title": "Senate budget vote set for Friday", "guid": "s2", "link": "http://s.example/2",
         "date": base + timedelta(hours=1)},
        {"title": "Senate approves budget bill", "guid": "s1", "link": "https://s.example/1", "date": base}])


def test_explain_takes_an_http_link_and_refuses_an_unknown_entry_id_in_capitals(tmp_path: Path) -> None:
    """Kills E2 (only https:// looks like a link: an http:// one was scored as a headline), E21 (the caveat
    that a run reads summaries too given only when a, not b, is a headline) and E1 (URN:UUID: in
    capitals not looking like an entry id: scored as a headline, exit 0, instead of exit 2 as the README says
    for an entry id not in the store)."""
    uid = _senate_store(tmp_path)
    r = feeds("explain", "--config", "feeds.toml", "http://s.example/2", "Senate vote", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"a (stored item {uid['s2']}, by its link): Senate budget vote set for Friday" in r.stdout, r.stdout
    assert "(headlines alone: a run also reads" in r.stdout  # b is a headline (E21: only when a was)
    r = feeds("explain", "--config", "feeds.toml", "http://s.example/none", "Senate vote", cwd=tmp_path)
    assert r.returncode == 2 and "no stored report with the link http://s.example/none" in r.stderr
    unknown = "URN:UUID:00000000-0000-4000-8000-000000000000"
    r = feeds("explain", "--config", "feeds.toml", "Senate vote", unknown, cwd=tmp_path)
    assert r.returncode == 2 and f"no item with the entry id {unknown}" in r.stderr, (r.returncode, r.stdout)


def test_explain_finds_an_entry_id_copied_in_capitals(tmp_path: Path) -> None:
    """A UUID is read without regard to case (RFC 9562), and a reader may show an entry id in capitals: explain
    looked ids up exactly, so a stored entry's id typed in capitals was "not in the store", exit 2 (found by
    the survey). It names the stored report as its lower-case form does, and is not taken for another report
    the entry shows now."""
    uid = _senate_store(tmp_path)
    upper = "URN:UUID:" + uid["s1"].removeprefix("urn:uuid:").upper()
    r = feeds("explain", "--config", "feeds.toml", upper, uid["s2"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == f"a (stored item {upper}): Senate approves budget bill", r.stdout
    lower = feeds("explain", "--config", "feeds.toml", uid["s1"], uid["s2"], cwd=tmp_path)
    assert r.stdout.replace(upper, uid["s1"]) == lower.stdout


def test_explain_scores_the_later_published_of_one_readings_reports_against_the_other(tmp_path: Path) -> None:
    """Kills E13 (the order of one feed's reports and of two feeds' swapped in explain.read_at): two reports of
    one reading of one feed are scored in published order, the later-published one against the other, whichever
    the document listed first."""
    uid = _senate_store(tmp_path)
    for x, y, later in ((uid["s1"], uid["s2"], "b"), (uid["s2"], uid["s1"], "a")):
        data = json.loads(feeds("explain", "--config", "feeds.toml", x, y, "--json", cwd=tmp_path).stdout)
        assert data["later"] == later, data


def test_explain_finds_a_report_by_its_link_written_another_way(tmp_path: Path) -> None:
    """Kills E27 (explain._by_link taking only the reports whose stored link reads as the given one, not those
    the link key names): a link as a browser shows it (no default port, no trailing slash, no fragment) names
    the report whose feed wrote it with them; with the mutant it was "no stored report with the link", exit 2."""
    base = datetime.now(UTC) - timedelta(hours=3)
    uid = _stored(tmp_path, [
        {"title": "Pelicans nest under the pier", "guid": "u1", "link": "https://u.example:443/pier", "date": base},
        {"title": "Otters build a dam upriver", "guid": "u2", "link": "https://u.example/dam/#top",
         "date": base + timedelta(minutes=5)}])
    r = feeds("explain", "--config", "feeds.toml", "https://u.example/pier", "https://u.example/dam", "--json",
                  cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = feeds("explain", "--config", "feeds.toml", "https://u.example/pier", "https://u.example/dam",
                  cwd=tmp_path)
    assert f"a (stored item {uid['u1']}, by its link): Pelicans nest under the pier" in r.stdout, r.stdout
    assert f"b (stored item {uid['u2']}, by its link): Otters build a dam upriver" in r.stdout
