"""What a mutation survey of feeds/fetch.py and feeds/config.py found no test for.

Each test names the behaviour it pins and the mutant (a one-line change to the code) that passed every
existing test before it. The fetch tests talk to real servers on 127.0.0.1; the config tests load real TOML
files written to tmp_path.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loopback import Loopback, Request, Response, static
from test_fetch import FEED, srv

from feeds import USER_AGENT
from feeds.config import Fetch, load_config
from feeds.errors import ConfigError
from feeds.fetch import Fetcher, redact, same_origin, same_site

__all__ = ["srv"]  # a fixture of test_fetch


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    f = Fetcher(Fetch(connect_timeout=3, read_timeout=5, deadline=15, max_bytes=1024, max_redirects=3))
    yield f
    f.close()


def _padded(size: int) -> bytes:
    """A feed of exactly ``size`` bytes."""
    body = FEED + b"<!--" + b"x" * (size - len(FEED) - 7) + b"-->"
    assert len(body) == size
    return body


# -- the body cap ----------------------------------------------------------------------------------------


def test_a_body_of_exactly_max_bytes_is_read_and_one_byte_more_is_refused(srv: Loopback, fetcher: Fetcher) -> None:
    """max_bytes is the largest body accepted, not the first refused: whether the size is declared
    (Content-Length) or counted while streaming. Kills `int(declared) > cfg.max_bytes` -> `>=` and
    `size > cap` -> `size >= cap` in `_read_body`."""
    srv.routes["/exact"] = lambda req: Response(200, _padded(1024))
    srv.routes["/over"] = lambda req: Response(200, _padded(1025))
    r = fetcher.fetch(srv.url("/exact"))
    assert r.ok and r.body == _padded(1024), r
    r = fetcher.fetch(srv.url("/over"))
    assert not r.ok and r.error_kind == "too-large", r


def test_a_file_of_exactly_max_bytes_is_read_and_one_byte_more_is_refused(tmp_path: Path, fetcher: Fetcher) -> None:
    """The same cap for a local file source, checked on its size and on what is read. Kills
    `st.st_size > max_bytes` -> `>=` and `len(body) > max_bytes` -> `>=` in `_fetch_file`."""
    exact, over = tmp_path / "exact.xml", tmp_path / "over.xml"
    exact.write_bytes(_padded(1024))
    over.write_bytes(_padded(1025))
    r = fetcher.fetch(exact.as_uri())
    assert r.ok and r.body == _padded(1024), r
    r = fetcher.fetch(over.as_uri())
    assert not r.ok and r.error_kind == "too-large", r


def test_a_file_longer_than_its_size_said_is_still_capped(fetcher: Fetcher) -> None:
    """A file that grows between stat() and the read (here a /proc file, whose size reads as 0 and whose
    text is longer than the 1 KiB cap) is refused, not cut at the cap and taken as the whole feed. Kills
    `f.read(max_bytes + 1)` -> `f.read(max_bytes)`."""
    proc = Path("/proc/self/maps")
    if not proc.exists() or proc.stat().st_size != 0:
        pytest.skip("needs Linux /proc")
    r = fetcher.fetch(proc.as_uri())
    assert not r.ok and r.error_kind == "too-large" and r.body is None, r


# -- local files: the validator --------------------------------------------------------------------------


def test_a_local_file_changed_since_its_validator_is_read_again(tmp_path: Path, fetcher: Fetcher) -> None:
    """A stored validator answers 304 only while it is the file's: a file rewritten since is read again.
    Kills `etag is not None and etag == validator` -> `etag is not None` (every fetch with a stored validator
    was "not modified", and an edited local feed was never read again)."""
    p = tmp_path / "f.xml"
    p.write_bytes(FEED)
    first = fetcher.fetch(p.as_uri())
    assert first.ok and first.etag
    changed = FEED.replace(b"<title>a</title>", b"<title>a new item</title>")
    p.write_bytes(changed)  # another size: another validator whatever the clock's resolution
    again = fetcher.fetch(p.as_uri(), etag=first.etag)
    assert again.ok and again.status == 200 and again.body == changed and again.etag != first.etag, again


# -- statuses and redirects ------------------------------------------------------------------------------


def test_a_400_is_a_failure_not_a_feed(srv: Loopback, fetcher: Fetcher) -> None:
    """Every status from 400 up is an HTTP failure, 400 itself included (its body, whatever it holds, is not
    the feed). Kills `status >= 400` -> `status > 400`."""
    srv.routes["/bad"] = lambda req: Response(400, FEED)
    r = fetcher.fetch(srv.url("/bad"))
    assert not r.ok and r.status == 400 and r.error_kind == "http" and r.body is None, r


def test_a_308_moves_the_source_like_a_301(srv: Loopback, fetcher: Fetcher) -> None:
    """308 Permanent Redirect is permanent: the result names the new address. Kills `PERMANENT = (301, 308)`
    -> `(301,)`."""
    srv.routes["/new"] = static(FEED)
    srv.routes["/old"] = lambda req: Response(308, b"", {"Location": "/new"})
    r = fetcher.fetch(srv.url("/old"))
    assert r.ok and r.body == FEED and r.permanent_redirect == srv.url("/new"), r


def test_a_permanent_hop_followed_by_a_temporary_one_does_not_move_the_source(srv: Loopback,
                                                                              fetcher: Fetcher) -> None:
    """The source moves only when every hop was permanent: a 301 to an address that then answers 302 moves
    nothing. Kills `permanent_redirect=permanent if all_permanent else None` -> `permanent_redirect=permanent`
    (the existing test has the 302 first, where `permanent` is never set)."""
    srv.routes["/old"] = lambda req: Response(301, b"", {"Location": "/mid"})
    srv.routes["/mid"] = lambda req: Response(302, b"", {"Location": "/feed"})
    srv.routes["/feed"] = static(FEED)
    r = fetcher.fetch(srv.url("/old"))
    assert r.ok and r.body == FEED and r.final_url == srv.url("/feed") and r.permanent_redirect is None, r


def test_exactly_max_redirects_hops_are_followed(srv: Loopback, fetcher: Fetcher) -> None:
    """max_redirects = 3 follows three redirects and refuses the fourth. Kills `hops > cfg.max_redirects` ->
    `hops >= cfg.max_redirects`."""
    for i in range(4):
        srv.routes[f"/r{i}"] = (lambda n: lambda req: Response(302, b"", {"Location": f"/r{n + 1}"}))(i)
    srv.routes["/r4"] = static(FEED)
    r = fetcher.fetch(srv.url("/r1"))  # r1 -> r2 -> r3 -> r4: three hops
    assert r.ok and r.body == FEED, r
    r = fetcher.fetch(srv.url("/r0"))  # four hops
    assert not r.ok and r.error_kind == "redirects" and "more than 3 redirects" in (r.error or ""), r


def test_a_redirect_status_without_a_location_is_not_an_internal_error(srv: Loopback, fetcher: Fetcher) -> None:
    """A 301 without a Location header is not followed: its answer is what the fetch got, never an
    internal error (KeyError). Kills `status in PERMANENT + TEMPORARY and h.get("Location")` -> without
    the Location check."""
    srv.routes["/nowhere"] = lambda req: Response(301, FEED)
    r = fetcher.fetch(srv.url("/nowhere"))
    assert r.error_kind != "internal" and r.status == 301 and r.permanent_redirect is None, r


# -- what goes to another origin -------------------------------------------------------------------------


def test_proxy_authorization_stays_on_the_sources_origin(srv: Loopback, fetcher: Fetcher) -> None:
    """A source's Proxy-Authorization header is a credential like Authorization: a redirect to another host
    does not get it, one within the origin does. Kills dropping "proxy-authorization" from `_ORIGIN_ONLY`."""
    other = Loopback()
    try:
        srv.routes["/away"] = lambda req: Response(302, b"", {"Location": f"http://localhost:{other.port}/g"})
        srv.routes["/here"] = lambda req: Response(302, b"", {"Location": "/h"})
        srv.routes["/h"] = static(FEED)
        other.routes["/g"] = static(FEED)
        secret = {"Proxy-Authorization": "Basic U0VDUkVU", "X-Feed": "1"}
        assert fetcher.fetch(srv.url("/away"), headers=secret).ok
        assert srv.hits("/away")[0].headers["proxy-authorization"] == "Basic U0VDUkVU"
        sent = other.requests[0].headers
        assert "proxy-authorization" not in sent and sent["x-feed"] == "1"
        assert fetcher.fetch(srv.url("/here"), headers=secret).ok
        assert srv.hits("/h")[0].headers["proxy-authorization"] == "Basic U0VDUkVU"
    finally:
        other.close()


def test_credentials_do_not_follow_a_redirect_to_another_port_of_the_same_host(srv: Loopback,
                                                                               fetcher: Fetcher) -> None:
    """An origin is scheme, host and port: a redirect to another port of 127.0.0.1 (another service) gets no
    Authorization or Cookie. Kills `return pa == pb` -> `return True` in `_same_origin` (the existing test
    redirects to another host name, caught by the host check)."""
    other = Loopback()
    try:
        srv.routes["/f"] = lambda req: Response(302, b"", {"Location": other.url("/g")})
        other.routes["/g"] = static(FEED)
        r = fetcher.fetch(srv.url("/f"), headers={"Authorization": "Bearer SECRET", "Cookie": "sid=SECRET"})
        assert r.ok and r.body == FEED, r
        assert srv.hits("/f")[0].headers["authorization"] == "Bearer SECRET"
        sent = other.requests[0].headers
        assert "authorization" not in sent and "cookie" not in sent
    finally:
        other.close()


@pytest.mark.parametrize(("url", "base", "same"), [
    ("https://feeds.example/f", "http://feeds.example/f", True),  # the https upgrade on the default ports
    ("https://feeds.example:443/f", "http://feeds.example:80/f", True),
    ("https://feeds.example:8443/f", "http://feeds.example:8080/f", False),  # other ports: another service
    ("https://feeds.example:8443/f", "http://feeds.example/f", False),
    ("http://feeds.example/f", "https://feeds.example/f", False),  # a downgrade: readable on the way
    ("http://feeds.example:8080/f", "http://feeds.example:8081/f", False),
])
def test_which_address_may_get_a_sources_credentials(url: str, base: str, same: bool) -> None:
    """`same_origin` (what a moved or discovered feed's fetch, and every redirect hop, may send the source's
    headers to): the same scheme, host and port, or http upgraded to https on the default ports only. Kills
    `(a.scheme, b.scheme) == ("http", "https") and (pa, pb) == (80, 443)` without the ports, and with the
    downgrade allowed."""
    assert same_origin(url, base) is same


# -- the timeouts ----------------------------------------------------------------------------------------


def test_a_server_slower_than_the_connect_timeout_is_given_the_read_timeout(srv: Loopback) -> None:
    """Once connected, the wait for the answer is bounded by read_timeout, not connect_timeout: a server
    that takes a second to answer is read with connect_timeout = 0.2 and read_timeout = 10. Kills
    `read=min(cfg.read_timeout, ...)` -> `read=min(cfg.connect_timeout, ...)` in `_send`."""
    def slow(req: Request) -> Response:
        time.sleep(1.0)
        return Response(200, FEED)

    srv.routes["/slow"] = slow
    f = Fetcher(Fetch(connect_timeout=0.2, read_timeout=10, deadline=30))
    try:
        r = f.fetch(srv.url("/slow"))
    finally:
        f.close()
    assert r.ok and r.body == FEED, r


# -- what is sent ----------------------------------------------------------------------------------------


def test_the_configured_user_agent_is_sent(srv: Loopback) -> None:
    """fetch.user_agent replaces the default User-Agent (and the default is sent without it). Kills
    `cfg.user_agent or USER_AGENT` -> `USER_AGENT`."""
    srv.routes["/f"] = static(FEED)
    mine, plain = Fetcher(Fetch(user_agent="MyReader/2.0 (+mailto:me@example.org)")), Fetcher(Fetch())
    try:
        assert mine.fetch(srv.url("/f")).ok and plain.fetch(srv.url("/f")).ok
    finally:
        mine.close()
        plain.close()
    assert [r.headers["user-agent"] for r in srv.requests] == ["MyReader/2.0 (+mailto:me@example.org)", USER_AGENT]


# -- what is read: the charset a server declares ---------------------------------------------------------


def test_the_charset_in_content_type_reaches_the_parser(srv: Loopback, fetcher: Fetcher) -> None:
    """A feed with no XML declaration, in windows-1251, served as `application/rss+xml; charset=windows-1251`:
    the result carries the Content-Type, and the parser reads the titles as written (without it, as
    ISO-8859-1: "Êè¿â" for "Київ"). Kills `content_type=h.get("Content-Type")` -> `content_type=None`."""
    from feeds.parse import parse

    body = ('<rss version="2.0"><channel><title>Новини</title><link>http://news.example/</link>'
            "<item><title>Київ</title><guid>k1</guid></item></channel></rss>").encode("cp1251")
    ctype = "application/rss+xml; charset=windows-1251"
    srv.routes["/uk"] = lambda req: Response(200, body, {"Content-Type": ctype})
    r = fetcher.fetch(srv.url("/uk"))
    assert r.ok and r.content_type == ctype, r
    assert [e.title for e in parse(r.body or b"", r.final_url or r.url, r.content_type).entries] == ["Київ"]


# -- keep-alive after a 304 without Content-Length ---------------------------------------------------------


class _KeepAlive:
    """A keep-alive HTTP/1.1 server on 127.0.0.1 that answers a conditional GET with a bare 304 (no
    Content-Length, as nginx and others send it) and counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(10)
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                if b"\r\nif-none-match: " in head.lower():
                    conn.sendall(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n')
                else:
                    conn.sendall(b'HTTP/1.1 200 OK\r\nETag: "v1"\r\nContent-Length: %d\r\n\r\n' % len(FEED) + FEED)

    def close(self) -> None:
        self.sock.close()


def test_a_bare_304_gives_its_connection_back_for_the_next_request(fetcher: Fetcher) -> None:
    """A 304 without Content-Length has no body: its connection goes back to the pool, so a warm run (every
    source unchanged) reuses one connection per host. Kills `h.get("Content-Length", "0") == "0"` ->
    `h.get("Content-Length", "1") == "0"` in `_release` (each 304 then closed its connection)."""
    server = _KeepAlive()
    try:
        url = f"http://127.0.0.1:{server.port}/f"
        results = [fetcher.fetch(url), fetcher.fetch(url, etag='"v1"'), fetcher.fetch(url, etag='"v1"'),
                   fetcher.fetch(url)]
    finally:
        server.close()
    assert [r.status for r in results] == [200, 304, 304, 200] and all(r.ok for r in results)
    assert server.accepted == 1


# -- URLs in logs; which page may name a source's feed -----------------------------------------------------


def test_a_password_without_a_user_name_is_redacted() -> None:
    """`redact` hides a URL's credentials when only a password is given (http://:token@host/, as some feeds'
    private addresses are). Kills `p.username or p.password` -> `p.username`."""
    assert redact("https://:s3cret-token@feeds.example/private.xml") == "https://***@feeds.example/private.xml"
    assert redact("https://reader:pw@feeds.example/f") == "https://***@feeds.example/f"


@pytest.mark.parametrize(("url", "base", "same"), [
    ("https://www.news.example/", "http://news.example/", True),  # the bare domain redirected to www
    ("http://news.example/", "http://www.news.example/", True),
    ("https://www.news.example/", "https://www.news.example/", True),
    ("http://news.example/", "https://news.example/", False),  # a downgrade: another site
    ("http://www.news.example/", "https://news.example/", False),
])
def test_the_site_a_sources_page_may_be_on(url: str, base: str, same: bool) -> None:
    """`same_site` (where a page reached from a source's address may name its feed): a leading www. aside on
    either side, and the same scheme or http upgraded to https, never https downgraded to http. Kills
    stripping www. from the base only, and allowing the downgrade."""
    assert same_site(url, base) is same


# -- config: ranges, defaults, keys ------------------------------------------------------------------------

BASE = """
[output]
dir = "out"
[[sources]]
url = "feed.xml"
[channels.all]
title = "All"
match_all = true
"""


def load(tmp_path: Path, text: str) -> Any:
    p = tmp_path / "feeds.toml"
    p.write_text(text, encoding="utf-8")
    return load_config(p)


def refused(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as e:
        load(tmp_path, text)
    assert e.value.file == str(tmp_path / "feeds.toml") and e.value.exit_code == 2
    return e.value


def with_table(table: str, lines: str) -> str:
    return BASE + f"[{table}]\n{lines}\n"


@pytest.mark.parametrize(("table", "key", "lo", "hi", "below", "above"), [
    ("fetch", "connect_timeout", 0.1, 300, 0, 300.5),  # 0: every connect fails at once
    ("fetch", "read_timeout", 0.1, 600, 0.05, 601),
    ("fetch", "deadline", 0.5, 3600, 0.4, 3601),
    ("fetch", "max_bytes", 1024, 1024**3, 1023, 1024**3 + 1),
    ("fetch", "workers", 1, 256, 0, 257),
    ("fetch", "per_host", 1, 64, 0, 65),  # 0: no request could ever start
    ("fetch", "max_redirects", 0, 30, -1, 31),
    ("schedule", "jitter", 0, 0.5, -0.1, 0.51),
    ("serve", "port", 0, 65535, -1, 65536),  # 65536: feeds serve failed to bind
    ("serve", "max_age", 0, 604800, -1, 604801),
    ("output", "entries", 1, 10000, 0, 10001),
])
def test_numeric_settings_take_both_ends_of_their_range_and_nothing_beyond(
        tmp_path: Path, table: str, key: str, lo: float, hi: float, below: float, above: float) -> None:
    """A number setting accepts exactly the range its error message names, both ends included. Kills lowering
    or raising a bound (fetch.connect_timeout lo 0.1 -> 0, max_bytes lo 1024 -> 1, per_host lo 1 -> 0,
    workers hi 256 -> 4096, max_redirects hi 30 -> 300, jitter hi 0.5 -> 1, serve.port hi 65535 -> 65536) and
    `not lo <= value <= hi` -> `not lo <= value < hi`."""
    section = table if table != "output" else None
    for value in (lo, hi):
        text = BASE.replace('dir = "out"', f'dir = "out"\n{key} = {value}') if section is None \
            else with_table(table, f"{key} = {value}")
        cfg = load(tmp_path, text)
        assert getattr(getattr(cfg, table), key) == value
    for value in (below, above):
        text = BASE.replace('dir = "out"', f'dir = "out"\n{key} = {value}') if section is None \
            else with_table(table, f"{key} = {value}")
        e = refused(tmp_path, text)
        assert e.key == f"{table}.{key}" and f"from {lo:g} to {hi:g}" in e.expected, e


def test_the_fetch_defaults_are_the_documented_ones(tmp_path: Path) -> None:
    """Without a [fetch] table (and in Fetch()), the settings are README's: 10 s to connect, 20 s to read, 60 s
    in all, 10 MiB, 8 workers, 2 per host, 5 redirects, the default User-Agent. Kills changing a default
    (`deadline` 60 -> 30 in the dataclass or in `parse_config`)."""
    documented = Fetch(connect_timeout=10.0, read_timeout=20.0, deadline=60.0, max_bytes=10485760, workers=8,
                       per_host=2, max_redirects=5, user_agent=None)
    assert Fetch() == documented
    assert load(tmp_path, BASE).fetch == documented
    assert load(tmp_path, with_table("fetch", "")).fetch == documented


@pytest.mark.parametrize(("table", "line"), [("fetch", "per_host = true"), ("fetch", "deadline = false"),
                                             ("serve", "port = true"), ("schedule", "jitter = true")])
def test_true_or_false_is_not_a_number(tmp_path: Path, table: str, line: str) -> None:
    """TOML's true is not 1: `per_host = true` is refused, not read as one request per host. Kills dropping
    the bool check in `_Reader.get`."""
    e = refused(tmp_path, with_table(table, line))
    assert e.key == f"{table}.{line.split()[0]}" and "from" in e.expected


@pytest.mark.parametrize(("value", "minutes"), [('"30"', 30), ("30", 30), ('"1m"', 1), ('"60s"', 1),
                                                ('"7d"', 7 * 24 * 60), ('"168h"', 7 * 24 * 60)])
def test_a_source_interval_reads_as_documented_both_ends_included(tmp_path: Path, value: str, minutes: int) -> None:
    """A duration: a number (or a string of one) means minutes, and both ends of a range are allowed
    (sources' interval: 1m to 7d). Kills `_UNITS[None]` 60 -> 1 ("30" read as 30 seconds, then refused) and
    the duration bounds made exclusive."""
    cfg = load(tmp_path, BASE.replace('url = "feed.xml"', f'url = "feed.xml"\ninterval = {value}'))
    assert cfg.sources[0].interval.total_seconds() == minutes * 60


@pytest.mark.parametrize("value", ["true", '"59s"', '"7d 1s"', '"169h"', "10081"])
def test_a_source_interval_outside_its_range_or_not_a_duration_is_refused(tmp_path: Path, value: str) -> None:
    """`interval = true` is not one minute; 59 s and 169 h lie outside 1m..7d. Kills dropping the bool branch
    of `_Reader.duration`."""
    e = refused(tmp_path, BASE.replace('url = "feed.xml"', f'url = "feed.xml"\ninterval = {value}'))
    assert e.key == "sources[0].interval" and "a duration from 1m to 7d" in e.expected


def test_store_keep_must_outlast_the_longest_window(tmp_path: Path) -> None:
    """store.keep equal to stories.window would forget a story while reports still join it: refused, a day
    more is accepted. Kills `store_keep <= longest` -> `store_keep < longest`."""
    e = refused(tmp_path, BASE + '[store]\nkeep = "30d"\n[stories]\nwindow = "30d"\n')
    assert e.key == "store.keep" and "longer than stories.window and dedup.title_window (30d)" in e.expected
    cfg = load(tmp_path, BASE + '[store]\nkeep = "31d"\n[stories]\nwindow = "30d"\n')
    assert cfg.store_keep.days == 31


def test_output_content_is_summary_or_full(tmp_path: Path) -> None:
    """A misspelt output.content ("ful") is refused, not published as summaries without a word. Kills
    dropping the check."""
    e = refused(tmp_path, BASE.replace('dir = "out"', 'dir = "out"\ncontent = "ful"'))
    assert e.key == "output.content" and '"full"' in e.expected
    assert load(tmp_path, BASE.replace('dir = "out"', 'dir = "out"\ncontent = "full"')).output.content == "full"


@pytest.mark.parametrize(("headers", "key"), [('{ "X Token" = "t" }', 'sources[0].headers."X Token"'),
                                              ('{ "X-Token:" = "t" }', 'sources[0].headers."X-Token:"'),
                                              ("{ X-Token = 5 }", "sources[0].headers.X-Token")])
def test_a_header_name_that_cannot_be_sent_is_refused_naming_the_header(tmp_path: Path, headers: str,
                                                                        key: str) -> None:
    """A header name with a space or a colon passed `feeds check`, and every fetch of the source then failed
    ("request failed (Invalid ... header name)"); the error names the header's own key path. Kills dropping
    the name check and `{where}.headers.{k}` -> `{where}.headers`."""
    e = refused(tmp_path, BASE.replace('url = "feed.xml"', f'url = "feed.xml"\nheaders = {headers}'))
    assert e.key == key.replace('"', ""), e
    assert "a header name mapped to a string" in e.expected


@pytest.mark.parametrize("tag", ["English (UK)", "en_GB", "e", "ar-", "", "français"])
def test_a_source_language_must_be_a_language_tag(tmp_path: Path, tag: str) -> None:
    """A source's language ends up as xml:lang and HTML lang: "English (UK)" or "en_GB" is refused. Kills dropping
    the check."""
    e = refused(tmp_path, BASE.replace('url = "feed.xml"', f'url = "feed.xml"\nlanguage = "{tag}"'))
    assert e.key == "sources[0].language" and "BCP 47" in e.expected
    cfg = load(tmp_path, BASE.replace('url = "feed.xml"', 'url = "feed.xml"\nlanguage = "pt-BR"'))
    assert cfg.sources[0].language == "pt-BR"


def test_a_channel_always_has_its_atom_feed(tmp_path: Path) -> None:
    """A channel's formats always include atom, first (README: "atom is always written"), whatever it lists.
    Kills dropping `formats = ("atom", *formats)`."""
    cfg = load(tmp_path, BASE.replace("match_all = true", 'match_all = true\nformats = ["json", "html"]'))
    assert cfg.channels[0].formats == ("atom", "json", "html")


def test_archive_is_a_reserved_slug(tmp_path: Path) -> None:
    """`[channels.archive]` would write where the archive pages live: refused like index. Kills dropping
    "archive" from the reserved slugs."""
    e = refused(tmp_path, BASE.replace("[channels.all]", "[channels.archive]"))
    assert e.key == "channels.archive" and "index" in e.expected and "archive" in e.expected


def test_the_story_threshold_is_at_most_one(tmp_path: Path) -> None:
    """A similarity never exceeds 1: threshold = 1.5 (every story a single report) is refused. Kills
    `not 0 <= thr <= 1` -> `not 0 <= thr`."""
    e = refused(tmp_path, BASE + "[stories]\nthreshold = 1.5\n")
    assert e.key == "stories.threshold" and "from 0 to 1" in e.expected
    assert load(tmp_path, BASE + "[stories]\nthreshold = 1\n").stories.threshold == 1.0


@pytest.mark.parametrize("value", ['" feeds/1.0"', '"feeds/1.0 "'])
def test_a_user_agent_with_surrounding_spaces_is_refused(tmp_path: Path, value: str) -> None:
    """A User-Agent starting with a space passed `feeds check`, and then every fetch failed (a header value may
    not start with whitespace). Kills dropping `value != value.strip()`."""
    e = refused(tmp_path, with_table("fetch", f"user_agent = {value}"))
    assert e.key == "fetch.user_agent" and "surrounding spaces" in e.expected


@pytest.mark.parametrize(("table", "typo", "hint"), [("fetch", "timeout", "deadline"),
                                                     ("fetch", "max_size", "max_bytes"),
                                                     ("schedule", "intervall", "interval"),
                                                     ("output", "base-url", "base_url"),
                                                     ("store", "paht", "path"), ("dedup", "window", "title_window"),
                                                     ("stories", "windows", "window"), ("daemon", "tik", "tick"),
                                                     ("serve", "prot", "port")])
def test_an_unknown_key_in_any_table_is_refused(tmp_path: Path, table: str, typo: str, hint: str) -> None:
    """`[fetch] timeout = 5` set nothing and said nothing: every table's unknown keys are refused, with the
    nearest known key. Kills dropping `f.done()` or `sc.done()`."""
    lines = f"{typo} = 5"
    text = BASE.replace('dir = "out"', f'dir = "out"\n{lines}') if table == "output" else with_table(table, lines)
    e = refused(tmp_path, text)
    assert e.key == f"{table}.{typo}" and "unknown key" in e.expected
    if hint in ("deadline", "max_bytes"):
        return  # (difflib's nearest is its own business; the key path is what matters)
    assert f'did you mean "{hint}"' in e.expected


def test_an_unknown_format_names_its_index(tmp_path: Path) -> None:
    """output.formats = ["atom", "pdf"]: the error's key path is output.formats[1], as a channel's is. Kills
    `output.formats[{j}]` -> `output.formats`."""
    e = refused(tmp_path, BASE.replace('dir = "out"', 'dir = "out"\nformats = ["atom", "pdf"]'))
    assert e.key == "output.formats[1]" and "one of atom, json, rss, html" in e.expected
