"""Confinement: names from config or feed content never become paths outside the output directory;
secrets from the config never reach logs, output or `feeds status`; feed content never changes where
the next fetch goes."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest
from feedgen_util import rss
from loopback import Loopback, Request, Response, static
from test_faults import run_feeds, toml_str

from feeds.config import parse_config
from feeds.errors import ConfigError

# -- paths --------------------------------------------------------------------------------------------

HOSTILE_SLUGS = ["../x", "..", ".", "a/b", "a\\b", "/abs", ".hidden", "x.atom", "UPPER", "-lead", "trail-",
                 "sp ace", "nul\x00", "caf\u00e9", "x" * 65, "", "index", "archive", "~home", "a..b"]


@pytest.mark.parametrize("slug", HOSTILE_SLUGS)
def test_a_channel_slug_that_could_name_a_path_is_refused(tmp_path: Path, slug: str) -> None:
    text = f"""
[output]
dir = "out"
[[sources]]
url = "a.xml"
[channels.{toml_str(slug)}]
title = "T"
match_all = true
"""
    with pytest.raises(ConfigError) as e:
        parse_config(text, tmp_path / "feeds.toml")
    assert "channels" in str(e.value) or "TOML" in str(e.value)  # a NUL is not even TOML


def test_a_hostile_slug_in_a_real_config_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "a.xml").write_bytes(rss([{"title": "T", "guid": "1"}]))
    (work / "feeds.toml").write_text('[output]\ndir = "out"\n[[sources]]\nurl = "a.xml"\n'
                                     '[channels."../../escaped"]\ntitle = "T"\nmatch_all = true\n')
    r = run_feeds("--config", str(work / "feeds.toml"), "run", cwd=work)
    assert r.returncode == 2 and "channels" in r.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.xml", "feeds.toml", "work"]


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_names_from_feed_content_and_config_never_become_paths(tmp_path: Path) -> None:
    work = tmp_path / "deep" / "work"
    work.mkdir(parents=True)
    evil = "../../x"
    items = [
        {"title": evil, "guid": evil, "link": "https://site.example/../../x", "categories": [evil, "/etc/passwd"]},
        {"title": "../../../../../../tmp/owned", "guid": "/etc/passwd", "link": "file:///etc/passwd"},
        {"title": "nul\x00byte", "guid": "..\\..\\x", "link": "https://site.example/%2e%2e/%2e%2e/x"},
        {"title": "index.opml", "guid": "../out/index.opml", "link": "https://site.example/a"},
    ]
    (work / "evil.xml").write_bytes(rss(items, title=evil, link="../../x"))
    atom = ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="file:///etc/">'
            '<title>../../atom</title><id>../../atom-id</id><updated>2025-07-01T00:00:00Z</updated>'
            '<author><name>../../author</name></author>'
            '<entry><title>../../entry</title><id>../../../entry-id</id><updated>2025-07-01T00:00:00Z</updated>'
            '<link rel="alternate" href="../../x"/><link rel="enclosure" href="../../enclosure"/>'
            '<author><name>../../x</name></author><category term="../../x"/></entry></feed>')
    (work / "evil.atom").write_text(atom)
    (work / "feeds.toml").write_text(f"""
[output]
dir = "out"
base_url = "https://feeds.example.org/"
formats = ["atom", "json", "rss", "html"]
[store]
path = "var/feeds.db"
[[sources]]
url = "evil.xml"
name = {toml_str(evil)}
[[sources]]
url = "evil.atom"
name = "../../../../etc/cron.d/x"
[channels.all]
title = "../../title"
match_all = true
[channels.news]
title = "News"
match_all = true
sources = [{toml_str(evil)}]
""")
    before = snapshot(tmp_path)
    r = run_feeds("--config", str(work / "feeds.toml"), "-vv", "run", cwd=work)
    assert r.returncode == 0, r.stderr
    after = snapshot(tmp_path)
    created = sorted(after - before)
    outside = [p for p in created if not p.startswith(("deep/work/out/", "deep/work/var/"))
               and p not in ("deep/work/out", "deep/work/var")]
    assert outside == [], outside
    allowed = {"all.atom", "all.json", "all.rss", "all.html", "news.atom", "news.json", "news.rss", "news.html",
               "index.opml", "index.html", ".feeds-store"}  # (.feeds-store: which store publishes out/)
    inside = {p.removeprefix("deep/work/out/") for p in created if p.startswith("deep/work/out/")}
    assert inside <= allowed, inside - allowed
    assert {"all.atom", "news.atom"} <= inside
    assert not (tmp_path / "x").exists() and not Path("/tmp/owned").exists()
    titles = (work / "out" / "all.atom").read_text()
    assert "../../entry" in titles  # the hostile names were published as text, not refused


# -- secrets ------------------------------------------------------------------------------------------

PASSWORD = "pa55-w0rd-s3cret"
TOKEN = "Bearer tok-9f8e7d-s3cret"
COOKIE = "session=c00kie-s3cret"


def test_no_secret_reaches_logs_output_or_status(tmp_path: Path) -> None:
    srv = Loopback()
    try:
        good = rss([{"title": "Members only", "guid": "m1", "link": "https://site.example/m1"}])

        def authed(req: Request) -> Response:
            auth = req.headers.get("authorization", "")
            if auth == TOKEN or auth == "Basic " + base64.b64encode(f"user:{PASSWORD}".encode()).decode():
                return Response(200, good, {"Content-Type": "application/rss+xml"})
            return Response(401, b"no")

        srv.routes["/private"] = authed
        srv.routes["/down"] = lambda req: Response(500, b"down")
        srv.routes["/loop"] = lambda req: Response(302, b"", {"Location": srv.url("/loop2")})
        srv.routes["/loop2"] = lambda req: Response(302, b"", {"Location": srv.url("/loop").replace(
            "http://", f"http://user:{PASSWORD}@")})
        srv.routes["/moved"] = lambda req: Response(301, b"", {"Location": srv.url("/private").replace(
            "http://", f"http://user:{PASSWORD}@")})
        srv.routes["/garbage"] = static(b"<html>not a feed</html>", content_type="text/html")
        cred = f"http://user:{PASSWORD}@127.0.0.1:{srv.port}"
        sources = [
            ("basic", f"{cred}/private", ""),
            ("header", srv.url("/private"), f"headers = {{ Authorization = {toml_str(TOKEN)}, "
                                           f"Cookie = {toml_str(COOKIE)} }}"),
            ("basic-down", f"{cred}/down", ""),
            ("header-down", srv.url("/down"), f"headers = {{ Authorization = {toml_str(TOKEN)} }}"),
            ("basic-refused", f"http://user:{PASSWORD}@127.0.0.1:1/feed", ""),
            ("basic-loop", f"{cred}/loop", ""),
            ("moved", srv.url("/moved"), ""),
            ("basic-garbage", f"{cred}/garbage", f"headers = {{ Authorization = {toml_str(TOKEN)} }}"),
        ]
        srcs = "".join(f"[[sources]]\nurl = {toml_str(u)}\nname = {toml_str(n)}\n{h}\n\n" for n, u, h in sources)
        cfg = tmp_path / "feeds.toml"
        cfg.write_text(f"""
[output]
dir = "out"
base_url = "https://feeds.example.org/"
formats = ["atom", "json", "rss", "html"]
[store]
path = "feeds.db"
[fetch]
connect_timeout = 1
deadline = 5
per_host = 16
{srcs}
[channels.all]
title = "All"
match_all = true
""")
        texts = []
        for args in (("-vv", "run"), ("-vv", "run", "--all"), ("status",), ("status", "--json"),
                     ("status", "--check"), ("-vv", "check")):
            r = run_feeds("--config", str(cfg), *args, cwd=tmp_path)
            assert r.returncode in (0, 1, 3), (args, r.returncode, r.stderr)
            texts.append(r.stdout + r.stderr)
        hits = srv.hits("/private")
    finally:
        srv.close()
    # the credentials were really used (the test would prove nothing otherwise)
    assert any(h.headers.get("authorization") == TOKEN and h.headers.get("cookie") == COOKIE for h in hits)
    assert any(h.headers.get("authorization", "").startswith("Basic ") for h in hits)
    assert "Members only" in (tmp_path / "out" / "all.atom").read_text()
    logs = "\n".join(texts)
    assert "basic-down" in logs and "HTTP 500" in logs  # failures are reported, only without the secrets
    for secret in (PASSWORD, TOKEN, "tok-9f8e7d", COOKIE, "c00kie"):
        assert secret not in logs, f"{secret!r} in logs or status output"
        for p in (tmp_path / "out").rglob("*"):
            if p.is_file():
                assert secret.encode() not in p.read_bytes(), f"{secret!r} in {p}"
    with sqlite3.connect(tmp_path / "feeds.db") as c:
        errors = " ".join(str(e) for (e,) in c.execute("SELECT last_error FROM sources"))
    assert PASSWORD not in errors and "tok-9f8e7d" not in errors


# -- where the next fetch goes ---------------------------------------------------------------------------

def test_feed_content_never_changes_where_the_next_fetch_goes(tmp_path: Path) -> None:
    srv, elsewhere = Loopback(), Loopback()
    try:
        away = elsewhere.url("/hijacked")
        rss_doc = f"""<?xml version="1.0"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">
<channel><title>R</title><link>{away}</link><description>d</description>
<atom:link rel="self" href="{away}" type="application/rss+xml"/>
<atom:link rel="hub" href="{elsewhere.url('/hub')}"/>
<atom:link rel="next" href="{elsewhere.url('/next')}"/>
<itunes:new-feed-url>{away}</itunes:new-feed-url>
<image><url>{elsewhere.url('/logo.png')}</url></image>
<item><title>R item</title><guid>r1</guid><link>{elsewhere.url('/item')}</link>
<enclosure url="{elsewhere.url('/audio.mp3')}" type="audio/mpeg" length="1"/>
<comments>{elsewhere.url('/comments')}</comments>
<description>&lt;img src="{elsewhere.url('/pixel.gif')}"&gt;</description></item>
</channel></rss>""".encode()
        atom_doc = f"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{elsewhere.url('/base/')}">
<title>A</title><id>urn:a</id><updated>2025-07-01T00:00:00Z</updated>
<link rel="self" href="{away}"/><link rel="hub" href="{elsewhere.url('/hub')}"/>
<link rel="next" href="{elsewhere.url('/page2')}"/><link rel="prev-archive" href="{elsewhere.url('/archive')}"/>
<entry><title>A item</title><id>urn:a:1</id><updated>2025-07-01T00:00:00Z</updated>
<link href="relative-item"/><link rel="related" href="{elsewhere.url('/related')}"/></entry></feed>""".encode()
        srv.routes["/rss"] = static(rss_doc, extra={"Content-Location": away, "Link": f'<{away}>; rel="self"'})
        srv.routes["/atom"] = static(atom_doc, content_type="application/atom+xml",
                                     extra={"Refresh": f"0; url={away}"})
        cfg = tmp_path / "feeds.toml"
        cfg.write_text(f"""
[output]
dir = "out"
base_url = "https://feeds.example.org/"
[store]
path = "feeds.db"
[[sources]]
url = "{srv.url('/rss')}"
name = "rss"
[[sources]]
url = "{srv.url('/atom')}"
name = "atom"
[channels.all]
title = "All"
match_all = true
""")
        for _ in range(3):
            r = run_feeds("--config", str(cfg), "run", "--all", cwd=tmp_path)
            assert r.returncode == 0, r.stderr
        assert elsewhere.requests == [], [q.path for q in elsewhere.requests]
        assert len(srv.hits("/rss")) == 3 and len(srv.hits("/atom")) == 3
        with sqlite3.connect(tmp_path / "feeds.db") as c:
            rows = list(c.execute("SELECT url, fetch_url, redirect_target FROM sources"))
        for url, fetch_url, target in rows:
            assert fetch_url in (None, url) and target is None, (url, fetch_url, target)
        titles = (tmp_path / "out" / "all.atom").read_text()
        assert "R item" in titles and "A item" in titles
    finally:
        srv.close()
        elsewhere.close()
