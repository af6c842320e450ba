"""Podcast enclosures, media thumbnails and authors survive from a source to every published format.

Storing: store schema 6 (items.enclosures, items.image); a real version-5 store (tests/data/store-v5)
upgrades, and its items get their media files and authors' names when their feeds are read again.
Publishing: Atom enclosure links and one author element per author, RSS's one enclosure (the first audio or
video file) and one dc:creator per author, JSON Feed attachments, image and authors, a plain link on the HTML
pages; read back with feedparser, validated by feeds.validate; no e-mail address reaches a document. A
story's media are its representative report's. Parsing them: tests/test_media_authors.py.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import feedparser
from loopback import Loopback, static
from test_media_authors import DATA, PODCAST, atom
from test_publish import T0, Fill, assert_valid, make_config

from feeds.config import Config
from feeds.publish import publish
from feeds.run import Pipeline
from feeds.store import Store
from feeds.store import schema as S

NOW = datetime(2025, 7, 5, 12, 0, tzinfo=UTC)


# -- storing and publishing ----------------------------------------------------------------------------
def run_sources(tmp: Path, sources: dict[str, str], *, channels: str | None = None, stories: bool = False) -> Config:
    srcs = "".join(f'[[sources]]\nurl = "{url}"\nname = "{name}"\n' for name, url in sources.items())
    cfg = make_config(tmp, sources=srcs, stories=stories, archive=False, channels=channels)
    store = Store.open(cfg.store_path)
    pipe = Pipeline(cfg, store, now=lambda: NOW)
    try:
        run = pipe.run(force_all=True)
        assert [o.error for o in run.outcomes] == [None] * len(sources) and not run.publish_errors
    finally:
        pipe.close()
        store.close()
    return cfg


BLOG = atom("""
<entry><title>On walking far</title><id>urn:1</id><updated>2025-07-01T00:00:00Z</updated><link href="walking"/>
  <summary>Walking.</summary></entry>
<entry><title>On sitting still</title><id>urn:2</id><updated>2025-07-02T00:00:00Z</updated><link href="sitting"/>
  <author><name>Caleb</name><email>noreply@blogger.com</email></author><author><name>Dana</name></author>
  <summary>Sitting.</summary></entry>""")
PODCAST_2 = PODCAST.replace(b"<item><title>Three</title>", b"""<item><title>Four</title>
  <guid isPermaLink="false">4</guid><link>https://pod.example/4</link><pubDate>Wed, 02 Jul 2025 08:00:00 GMT</pubDate>
  <enclosure url="https://cdn.example/four-cover.jpg" type="image/jpeg" length="99"/>
  <enclosure url="https://cdn.example/four.mp3" type="audio/mpeg" length="4444"/>
  <enclosure url="https://cdn.example/four-video.mp4" type="video/mp4"/></item>
<item><title>Three</title>""")
ADDRESSES = ("noreply@blogger.com", "hello@example.co.uk", "editor@pod.example", "ops@j.example")


def test_media_and_authors_are_published_in_every_format(tmp_path: Path) -> None:
    srv = Loopback()
    try:
        srv.routes["/pod.rss"] = static(PODCAST_2)
        srv.routes["/blog.atom"] = static(BLOG, content_type="application/atom+xml")
        cfg = run_sources(tmp_path, {"Pod": srv.url("/pod.rss"), "Blog": srv.url("/blog.atom")})
    finally:
        srv.close()
    out = cfg.output.dir
    assert assert_valid(out) == 3  # Atom, JSON Feed, RSS: no error, no warning
    base = srv.url("/")

    a = {e.title: e for e in feedparser.parse((out / "news.atom").read_bytes()).entries}
    assert [(x.href, x.type, x.get("length")) for x in a["Four"].enclosures] == [
        ("https://cdn.example/four-cover.jpg", "image/jpeg", "99"),
        ("https://cdn.example/four.mp3", "audio/mpeg", "4444"),
        ("https://cdn.example/four-video.mp4", "video/mp4", None)]  # length only when known
    # made absolute against the document's address (the media:content is another file, here)
    assert [x.href for x in a["One"].enclosures] == [f"{base}media/one.mp3", "https://example.com/media/one.mp3"]
    assert [x.name for x in a["On sitting still"].authors] == ["Caleb", "Dana"]  # separate Atom authors
    assert [x.name for x in a["On walking far"].authors] == ["Russ Writer"]  # the feed's author, inherited
    assert [x.name for x in a["Three"].authors] == ["Pat Editor"]
    assert [x.name for x in a["One"].authors] == ["Simone Silvestroni"]

    r = {e.title: e for e in feedparser.parse((out / "news.rss").read_bytes()).entries}
    # RSS 2.0 allows one enclosure: the first a podcast app can play (the cover image before it is not)
    assert [(x.href, x.type, x.length) for x in r["Four"].enclosures] == [("https://cdn.example/four.mp3", "audio/mpeg",
                                                                          "4444")]
    assert [(x.href, x.length) for x in r["Two"].enclosures] == [("https://cdn.example/two.m4a", "0")]  # unknown: 0
    assert r["Three"].enclosures[0].href == "https://cdn.example/three.mp4"  # the image enclosure is not played
    assert [x.get("name") for x in r["On sitting still"].authors] == ["Caleb", "Dana"]

    j = {i["title"]: i for i in json.loads((out / "news.json").read_text())["items"]}
    assert j["Four"]["attachments"] == [
        {"url": "https://cdn.example/four-cover.jpg", "mime_type": "image/jpeg", "size_in_bytes": 99},
        {"url": "https://cdn.example/four.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 4444},
        {"url": "https://cdn.example/four-video.mp4", "mime_type": "video/mp4"}]
    assert j["One"]["image"] == "https://cdn.example/one-thumb.jpg" and "attachments" in j["One"]
    assert j["Four"]["image"] == "https://cdn.example/four-cover.jpg"
    assert j["On sitting still"]["authors"] == [{"name": "Caleb"}, {"name": "Dana"}]
    assert "image" not in j["On walking far"] and "attachments" not in j["On walking far"]

    page = (out / "news.html").read_text()
    assert '<a href="https://cdn.example/four.mp3" type="audio/mpeg">Audio (audio/mpeg, 4.4 kB)</a>' in page
    assert "by <bdi>Caleb</bdi>, <bdi>Dana</bdi>" in page
    assert not re.search(r"<(audio|video|source|embed|object|iframe)\b|autoplay", page)  # a link; nothing plays
    for doc in ("news.atom", "news.rss", "news.json", "news.html"):
        text = (out / doc).read_text()
        assert not [a for a in ADDRESSES if a in text], doc  # no address reaches any document
        assert "javascript:" not in text and "data:audio" not in text


def test_a_storys_media_are_its_representatives(tmp_path: Path) -> None:
    """A story groups several reports: the entry carries its representative report's enclosures and
    thumbnail (and follows it when another report becomes the representative), never a mix of them."""
    cfg = make_config(tmp_path, formats=("atom", "json", "rss"))
    store = Store.open(cfg.store_path)
    try:
        fill = Fill(store)
        sid = fill.story(["news"], "Wire", "Quake hits the coast", T0, others=[("Radio", "Coast quake", T0 + 60)])
        members = [m.id for m in store.story_entries([sid])[0].others]
        with store.tx() as c:
            store.update_item(c, sid, enclosures='[["https://wire.example/q.mp4","video/mp4",10]]',
                              image="https://wire.example/q.jpg", author="Ann (ann@wire.example)")
            store.update_item(c, members[0], enclosures='[["https://radio.example/q.mp3","audio/mpeg",null]]',
                              author="Bo")
        publish(cfg, store)
        (e,) = feedparser.parse((cfg.output.dir / "news.atom").read_bytes()).entries
        assert [x.href for x in e.enclosures] == ["https://wire.example/q.mp4"]
        assert [x.name for x in e.authors] == ["Ann"]  # a name stored with its address is published without it
        (item,) = json.loads((cfg.output.dir / "news.json").read_text())["items"]
        assert item["image"] == "https://wire.example/q.jpg"
        with store.tx() as c:
            c.execute(S.stories.update().where(S.stories.c.id == sid).values(rep_item_id=members[0]))
            store.mark_dirty(c, ["news"])
        publish(cfg, store)
        (e,) = feedparser.parse((cfg.output.dir / "news.atom").read_bytes()).entries
        assert [(x.href, x.get("length")) for x in e.enclosures] == [("https://radio.example/q.mp3", None)]
        assert [x.name for x in e.authors] == ["Bo"]
        (item,) = json.loads((cfg.output.dir / "news.json").read_text())["items"]
        assert "image" not in item
    finally:
        store.close()


def test_a_stored_unsafe_media_url_is_not_published(tmp_path: Path) -> None:
    """Publishing checks stored URLs again (a store written by hand or by a damaged run)."""
    cfg = make_config(tmp_path, formats=("atom", "json", "rss", "html"))
    store = Store.open(cfg.store_path)
    try:
        sid = Fill(store).story(["news"], "Wire", "Quake hits the coast", T0)
        with store.tx() as c:
            store.update_item(c, sid, enclosures='[["javascript:alert(1)","audio/mpeg",1],'
                                                 '["https://wire.example/ok.mp3","audio/mpeg",2], 7, "x"]',
                              image="data:image/png;base64,AAAA")
        publish(cfg, store)
        for doc in ("news.atom", "news.rss", "news.json", "news.html"):
            text = (cfg.output.dir / doc).read_text()
            assert "javascript:" not in text and "data:image" not in text and "https://wire.example/ok.mp3" in text
    finally:
        store.close()


ALL = '[channels.all]\ntitle = "All"\nmatch_all = true\n'  # the channel of the version-5 store


def test_a_version_5_store_upgrades_and_its_items_get_their_media_when_read_again(tmp_path: Path) -> None:
    db = tmp_path / "feeds.db"
    shutil.copy(DATA / "store-v5" / "feeds-v5.db", db)
    con = sqlite3.connect(db)
    before = con.execute("SELECT * FROM items ORDER BY id").fetchall()
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("5",)
    assert [r[8] for r in before] == ["hello@example.co.uk (Simone Silvestroni)", "", "",
                                      "Dana (noreply@blogger.com)"]  # author, as feeds 5 kept it
    con.close()

    srv = Loopback()
    try:
        for path in ("/podcast.xml", "/blog.atom"):
            srv.routes[path] = static((DATA / "store-v5" / path[1:]).read_bytes())
        # the same sources, served from here (a source is its URL)
        con = sqlite3.connect(db)
        with con:
            con.execute("UPDATE sources SET url = ? WHERE name = 'Pod'", (srv.url("/podcast.xml"),))
            con.execute("UPDATE sources SET url = ? WHERE name = 'Blog'", (srv.url("/blog.atom"),))
        con.close()
        cfg = make_config(tmp_path, archive=False, stories=False, channels=ALL, sources=(
            f'[[sources]]\nurl = "{srv.url("/podcast.xml")}"\nname = "Pod"\n'
            f'[[sources]]\nurl = "{srv.url("/blog.atom")}"\nname = "Blog"\n'))
        Store.open(db).close()  # 5 -> 6 -> 7 (forgotten) -> 8 (sources.language) -> 9 (story_channels.rep_item_id)
        con = sqlite3.connect(db)
        after = con.execute("SELECT * FROM items ORDER BY id").fetchall()
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("9",)
        validators = con.execute("SELECT etag, last_modified, body_hash, validators_url FROM sources").fetchall()
        con.close()
        # nothing lost; no media yet; the content hashes (column 14) forgotten, as are the sources' validators: the
        # next run reads each document in full and stores each item it lists again
        assert S.SCHEMA_VERSION == 9 and after == [(*r[:14], "", *r[15:], "", None) for r in before]
        assert all(r[14] for r in before) and validators == [(None, None, None, None)] * 2
        Store.open(db).close()  # opening again is a no-op
        con = sqlite3.connect(db)
        assert con.execute("SELECT * FROM items ORDER BY id").fetchall() == after
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        con.close()

        # published before any fetch: the stored author strings without their addresses
        store = Store.open(db)
        try:
            publish(cfg, store)
        finally:
            store.close()
        atom_doc = feedparser.parse((cfg.output.dir / "all.atom").read_bytes())
        a = {e.title: [x.name for x in e.authors] for e in atom_doc.entries}
        assert a == {"Episode 2: Rivers": ["Simone Silvestroni"], "Episode 1: Lakes": ["Pod"],
                     "On walking": ["Blog"], "On sitting": ["Dana"]}

        # read again: each item is an edit (its authors changed) and gets its media files
        store = Store.open(db)
        pipe = Pipeline(cfg, store, now=lambda: NOW.replace(day=6))
        try:
            run = pipe.run(force_all=True)
            assert [(o.error, o.new, o.updated) for o in run.outcomes] == [(None, 0, 2), (None, 0, 2)]
        finally:
            pipe.close()
            store.close()
    finally:
        srv.close()
    entries = {e.title: e for e in feedparser.parse((cfg.output.dir / "all.atom").read_bytes()).entries}
    assert {t: [x.name for x in e.authors] for t, e in entries.items()} == {
        "Episode 2: Rivers": ["Simone Silvestroni"], "Episode 1: Lakes": ["Pat Editor", "Pod People"],
        "On walking": ["Russ Writer"], "On sitting": ["Caleb", "Dana"]}
    assert [(x.href, x.type, x.length) for x in entries["Episode 2: Rivers"].enclosures] == [
        ("https://cdn.pod.example/ep2.mp3", "audio/mpeg", "54919661")]
    assert [(x.href, x.type) for x in entries["Episode 1: Lakes"].enclosures] == [
        (srv.url("/media/ep1.m4a"), "audio/mp4")]  # relative: the document's address; no type: the extension's
    assert [x.href for x in entries["On sitting"].enclosures] == ["https://blog.example/sitting.pdf"]
    assert assert_valid(cfg.output.dir) == 3


def test_the_podcast_feed_is_published_for_a_podcast_app(tmp_path: Path) -> None:
    srv = Loopback()
    try:
        srv.routes["/atp.rss"] = static((DATA / "media" / "atp.rss").read_bytes())
        cfg = run_sources(tmp_path, {"ATP": srv.url("/atp.rss")})
    finally:
        srv.close()
    rss = feedparser.parse((cfg.output.dir / "news.rss").read_bytes()).entries
    assert len(rss) == 100 and all(len(e.enclosures) == 1 and e.enclosures[0].type == "audio/mpeg" for e in rss)
    top = {e.title: e for e in rss}["311: Mutually Assured Destruction"]
    assert (top.enclosures[0].href, top.enclosures[0].length) == ("http://traffic.libsyn.com/atpfm/atp311.mp3",
                                                                  "54919661")
    assert assert_valid(cfg.output.dir) == 3


def test_a_json_feed_sources_attachments_are_published(tmp_path: Path) -> None:
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "J", "authors": [{"name": "Jo"}],
                       "items": [{"id": "1", "url": "https://j.example/1", "title": "Episode one",
                                  "content_text": "x", "image": "https://j.example/1.png",
                                  "attachments": [{"url": "https://j.example/1.mp3", "mime_type": "audio/mpeg",
                                                   "size_in_bytes": 77}]}]}).encode()
    srv = Loopback()
    try:
        srv.routes["/feed.json"] = static(body, content_type="application/feed+json")
        cfg = run_sources(tmp_path, {"Jay": srv.url("/feed.json")})
    finally:
        srv.close()
    (e,) = feedparser.parse((cfg.output.dir / "news.atom").read_bytes()).entries
    assert [(x.href, x.length) for x in e.enclosures] == [("https://j.example/1.mp3", "77")]
    assert [x.name for x in e.authors] == ["Jo"]
    (item,) = json.loads((cfg.output.dir / "news.json").read_text())["items"]
    assert item["image"] == "https://j.example/1.png"


def test_a_podcast_moving_its_files_alone_is_an_edit_and_items_without_media_keep_their_hash(tmp_path: Path) -> None:
    """A podcast moved its episodes to another host, nothing else changed: the content hash that decides edits
    did not cover media files, so the item kept its old (dead) file for good."""
    from feeds.dedup import content_hash
    from feeds.models import Enclosure, Entry

    def episode(host: str) -> bytes:
        return (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Pod</title><link>https://pod.example/</link>'
                b"<description>d</description><item><title>Episode one</title><guid isPermaLink=\"false\">1</guid>"
                b"<link>https://pod.example/1</link><pubDate>Tue, 01 Jul 2025 08:00:00 GMT</pubDate>"
                b'<enclosure url="https://' + host.encode() + b'/one.mp3" length="1234" type="audio/mpeg"/>'
                b"</item></channel></rss>")

    (tmp_path / "pod.xml").write_bytes(episode("old-cdn.example"))
    cfg = run_sources(tmp_path, {"Pod": "pod.xml"})
    links = [x.href for e in feedparser.parse((cfg.output.dir / "news.atom").read_bytes()).entries for x in e.links
             if x.rel == "enclosure"]
    assert links == ["https://old-cdn.example/one.mp3"]
    (tmp_path / "pod.xml").write_bytes(episode("new-cdn.example"))
    run_sources(tmp_path, {"Pod": "pod.xml"})
    links = [x.href for e in feedparser.parse((cfg.output.dir / "news.atom").read_bytes()).entries for x in e.links
             if x.rel == "enclosure"]
    assert links == ["https://new-cdn.example/one.mp3"]
    # an entry without media files hashes as before media were kept (a stored item is not edited for it)
    plain = Entry(guid="1", link="https://a.example/1", title="T", summary="S", authors=("A",), categories=("c",))
    with_media = Entry(guid="1", link="https://a.example/1", title="T", summary="S", authors=("A",), categories=("c",),
                       enclosures=(Enclosure("https://cdn.example/x.mp3", "audio/mpeg", 1),))
    import hashlib

    h = hashlib.blake2b(digest_size=12)
    for part in ("T", "S", "", "https://a.example/1", "A", "c"):
        h.update(part.encode() + b"\x00")
    assert content_hash(plain) == h.hexdigest() != content_hash(with_media)


def test_a_private_feeds_per_subscriber_media_urls_are_not_published(tmp_path: Path) -> None:
    """A private podcast puts each subscriber's token in its files' URLs (Patreon's ?token-hash=): they were
    published to every reader of the channel (found by the final review), as source URLs with ?token= were
    before them."""
    secret = "https://c10.patreonusercontent.example/ep.mp3?token-time=1&token-hash=SEKRIT"
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Pod</title><link>https://pod.example/</link>'
            b"<description>d</description><item><title>Members episode</title><guid isPermaLink=\"false\">1</guid>"
            b"<link>https://pod.example/1</link><pubDate>Tue, 01 Jul 2025 08:00:00 GMT</pubDate>"
            b'<enclosure url="' + secret.replace("&", "&amp;").encode() + b'" length="1" type="audio/mpeg"/>'
            b'<enclosure url="https://cdn.example/public.mp3" length="2" type="audio/mpeg"/>'
            b"</item></channel></rss>")
    (tmp_path / "pod.xml").write_bytes(body)
    cfg = run_sources(tmp_path, {"Pod": "pod.xml"})
    for doc in ("news.atom", "news.rss", "news.json", "news.html"):
        text = (cfg.output.dir / doc).read_text()
        assert "SEKRIT" not in text and "https://cdn.example/public.mp3" in text, doc
    # and what a store holds from before is checked again when it is published
    store = Store.open(cfg.store_path)
    try:
        with store.tx() as c:
            c.execute(S.items.update().values(enclosures=json.dumps([[secret, "audio/mpeg", 1]])))
        publish(cfg, store)
    finally:
        store.close()
    assert "SEKRIT" not in (cfg.output.dir / "news.atom").read_text()
