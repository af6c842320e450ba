"""What a mutation survey of feeds/websub.py and feeds/opml.py found unpinned: each test kills a named mutant
(a one-line change a bug could make) that the other tests let through.

WebSub: which answers are the hub taking a ping (every 2xx, nothing else), the hub URL's query and
percent-encoded credentials, the order of pending topics, a hub that cannot be connected to costing one
connect timeout (3 s by default) per publish. The hubs are stand-ins on
127.0.0.1. OPML: the 10 MiB limit and the 200-character name at their edges, FEED:// in capitals, a URL without
a host, a folder with a site address, another type with an xmlUrl, UTF-32 with its byte order mark, and the
written OPML's escaped title and htmlUrl (parsed back).
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from lxml import etree
from test_publish import BASE, T0

from feeds import cli, websub
from feeds.config import load_config
from feeds.opml import MAX_OPML_BYTES, OpmlError, Subscription, parse_opml, render_subscriptions
from feeds.store import Store

FRESH_CONFIG = ('[output]\ndir = "o"\nbase_url = "https://other.example/"\n[store]\npath = "f.db"\n'
                '[channels.news]\ntitle = "News"\nmatch_all = true\n')


@pytest.fixture(autouse=True)
def _feeds_logger_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """cli.main() sets up the "feeds" logger: put it back as it was afterwards (as tests/test_opml_import.py)."""
    import logging

    log = logging.getLogger("feeds")
    monkeypatch.setattr(log, "handlers", list(log.handlers))
    monkeypatch.setattr(log, "level", log.level)
    monkeypatch.setattr(log, "propagate", log.propagate)


# ---------------------------------------------------------------------------------------------------------
# WebSub: a hub stand-in on 127.0.0.1


class RecordingHub:
    """A hub on 127.0.0.1 that records each POST (its request target, Authorization and hub.url) and answers
    `status` with a small body and Connection: close."""

    def __init__(self, status: int = 202) -> None:
        self.status = status
        self.requests: list[tuple[str, str | None, str]] = []
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hub.lock:
                    hub.requests.append((self.path, self.headers.get("Authorization"),
                                         parse_qs(body.decode("ascii"))["hub.url"][0]))
                    status = hub.status
                self.wfile.write(f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".encode())
                self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hub"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def topics(self) -> list[str]:
        with self.lock:
            return [t for _, _, t in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def recording_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingHub]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    h = RecordingHub()
    yield h
    h.close()


@contextlib.contextmanager
def _full_listener() -> Iterator[int]:
    """A port whose listen queue is full: a connection to it is never made (the SYN is dropped), as with a hub
    behind a firewall that drops packets. One connection fills a backlog of 0; it is never accepted."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    queued = [socket.create_connection(("127.0.0.1", port), timeout=2)]
    try:
        probe = socket.socket()
        probe.settimeout(0.3)
        with contextlib.suppress(OSError):  # one more may be queued on some kernels: fill until one hangs
            for _ in range(4):
                probe.connect(("127.0.0.1", port))
                queued.append(probe)
                probe = socket.socket()
                probe.settimeout(0.3)
        probe.close()
        yield port
    finally:
        for s in queued:
            s.close()
        server.close()


def _announce(store: Store, hub: str, topics: list[str], bound: float, **kw: object) -> websub.AnnounceResult:
    """announce() in a thread that must end within `bound` seconds."""
    out: list[websub.AnnounceResult] = []
    t = threading.Thread(target=lambda: out.append(websub.announce(store, hub, topics, **kw)), daemon=True)
    t.start()
    t.join(bound)
    assert not t.is_alive(), f"announce() still running after {bound}s"
    return out[0]


@pytest.mark.parametrize(("status", "accepted"), [(200, True), (201, True), (204, True), (299, True),
                                                  (300, False), (302, False), (304, False), (400, False)])
def test_every_2xx_and_only_2xx_is_the_hub_taking_the_ping(tmp_path: Path, recording_hub: RecordingHub,
                                                           status: int, accepted: bool) -> None:
    """Kills W01 (`200 <= status` -> `200 < status`: a hub answering 200 OK pinged again at every publish),
    W02 (`status < 300` -> `<= 300`), W03 (`< 300` -> `< 400`: a redirect taken for an accepted ping, never
    retried) and W04 (only 202 and 204 accepted): the docs' "non-2xx" is not accepted, every 2xx is."""
    recording_hub.status = status
    store = Store.open(tmp_path / "feeds.db")
    topic = f"{BASE}news.atom"
    try:
        result = _announce(store, recording_hub.url, [topic], 20, timeout=(1.0, 2.0))
        assert recording_hub.topics() == [topic]
        pending = store.websub_pending()
        if accepted:
            assert result.accepted == [topic] and result.pending == [] and pending == {}
        else:
            assert result.accepted == [] and result.pending == [topic]
            assert pending[topic]["attempts"] == 1 and pending[topic]["last_error"] == f"HTTP {status} X"
    finally:
        store.close()


def test_a_hub_url_keeps_its_query_and_its_percent_encoded_credentials(tmp_path: Path,
                                                                       recording_hub: RecordingHub) -> None:
    """Kills W22 (the hub URL's query dropped from the request target: a hub keyed by `?key=` refused every
    ping) and W21 (the password sent still percent-encoded: `p%40ss` is the password `p@ss`)."""
    hub = f"http://jane:p%40ss%3Aw0rd@127.0.0.1:{recording_hub.port}/hub/publish?key=a%20b&v=1"
    store = Store.open(tmp_path / "feeds.db")
    topic = f"{BASE}news.atom"
    try:
        result = _announce(store, hub, [topic], 20, timeout=(1.0, 2.0))
        assert result.accepted == [topic]
        [(target, authorization, got)] = recording_hub.requests
        assert target == "/hub/publish?key=a%20b&v=1" and got == topic
        assert authorization == "Basic " + base64.b64encode(b"jane:p@ss:w0rd").decode("ascii")
    finally:
        store.close()


def test_pending_topics_tried_as_often_go_oldest_first(tmp_path: Path, recording_hub: RecordingHub) -> None:
    """Kills W14 (the second sort key reversed: among topics tried as often, the newest first): the docs'
    "least tried first (then the oldest)"."""
    store = Store.open(tmp_path / "feeds.db")
    newer, older, more = f"{BASE}a.atom", f"{BASE}b.atom", f"{BASE}c.atom"
    try:
        store.set_websub_pending(newer, recording_hub.url, "HTTP 503 X", T0 + 100)
        store.set_websub_pending(older, recording_hub.url, "HTTP 503 X", T0 + 50)
        store.set_websub_pending(more, recording_hub.url, "HTTP 503 X", T0)
        store.set_websub_pending(more, recording_hub.url, "HTTP 503 X", T0)  # tried twice: the oldest, but last
        result = _announce(store, recording_hub.url, [], 20, timeout=(1.0, 2.0))
        assert recording_hub.topics() == [older, newer, more] and result.accepted == [older, newer, more]
        assert store.websub_pending() == {}
    finally:
        store.close()


def test_a_hub_that_cannot_be_connected_to_costs_one_connect_timeout_per_publish(tmp_path: Path) -> None:
    """Kills W11 (`unreachable` not set on a failed connection: every topic of the publish waited for its own
    connect timeout, and those past the publish's deadline were left untried) and W05 (the default connect
    timeout 3.05 s raised to 30.5 s): "3 s to connect"; "a dead hub costs one ping per publish"."""
    store = Store.open(tmp_path / "feeds.db")
    topics = [f"{BASE}t{i}.atom" for i in range(8)]
    try:
        with _full_listener() as port:
            hub = f"http://127.0.0.1:{port}/hub"
            start = time.monotonic()
            result = _announce(store, hub, topics, 10, timeout=(0.5, 0.5))
            took = time.monotonic() - start
            assert result.accepted == [] and sorted(result.pending) == sorted(topics)
            pending = store.websub_pending()
            assert {u: p["attempts"] for u, p in pending.items()} == dict.fromkeys(topics, 1)
            assert {p["last_error"] for p in pending.values()} == {"TimeoutError: timed out"}
            assert took < 1.4, took  # one connect timeout (0.5 s), not one per topic
            # the default timeouts: one connect of 3.05 s, not more (a publish is held no longer)
            start = time.monotonic()
            result = _announce(store, hub, [], 25)  # the eight pending topics again
            took = time.monotonic() - start
            assert sorted(result.pending) == sorted(topics) and 2.9 < took < 6, took
            assert {p["attempts"] for p in store.websub_pending().values()} == {2}
    finally:
        store.close()


# ---------------------------------------------------------------------------------------------------------
# OPML: reading (feeds import) and writing (feeds export)


def _opml_file(path: Path, body: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0"><head><title>t</title></head>'
                      f"<body>\n{body}\n</body></opml>\n").encode(encoding))
    return path


def test_an_opml_file_of_exactly_the_size_limit_is_read_one_byte_more_is_refused(tmp_path: Path) -> None:
    """Kills O01 (`len(data) > MAX_OPML_BYTES` -> `>=`): the README refuses a file *over* 10 MiB."""
    head = b'<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0"><body><!-- '
    tail = b' --><outline text="Big" xmlUrl="https://big.example/rss"/></body></opml>'
    # comments of under 1 MB each (libxml2 refuses a single text or comment of 10 MB without huge_tree)
    pad = b" --><!-- ".join([b"x" * 1_000_000] * 10)
    data = head + pad + b"x" * (MAX_OPML_BYTES - len(head) - len(pad) - len(tail)) + tail
    assert len(data) == MAX_OPML_BYTES
    path = tmp_path / "big.opml"
    path.write_bytes(data)
    [feed] = parse_opml(path.read_bytes(), str(path)).feeds
    assert feed.url == "https://big.example/rss" and feed.title == "Big"
    with pytest.raises(OpmlError, match="larger than 10 MiB"):
        parse_opml(head + b"x" + data[len(head):], str(path))


def test_a_name_of_exactly_200_characters_is_kept_whole_and_a_longer_one_cut_to_200(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Kills O02 (`len(text) > MAX_NAME` -> `>=`: a 200-character name cut) and O03 (`text[:MAX_NAME - 1]` ->
    `text[:MAX_NAME]`: a cut name of 201 characters): "at most 200 characters", through `feeds import`."""
    exact, longer = "A" * 199 + "Z", "B" * 250
    path = _opml_file(tmp_path / "names.opml", f'<outline text="{exact}" xmlUrl="https://a.example/rss"/>\n'
                                                f'<outline text="{longer}" xmlUrl="https://b.example/rss"/>')
    cfg = tmp_path / "feeds.toml"
    cfg.write_text(FRESH_CONFIG, encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["--config", str(cfg), "import", str(path)]) == 0, capsys.readouterr()
    names = [s.name for s in load_config(cfg).sources]
    assert names == [exact, "B" * 199 + "…"]
    assert [len(n) for n in names] == [200, 200]


def test_an_uppercase_feed_pseudo_scheme_is_read_as_http(tmp_path: Path) -> None:
    """Kills O05 (`_FEED_PREFIX` without re.I): URL schemes are case-insensitive; `FEED://` and `Feed:https://`
    are the feed pseudo-scheme as much as `feed://`."""
    path = _opml_file(tmp_path / "feed.opml", '<outline text="Up" xmlUrl="FEED://up.example/rss"/>\n'
                                              '<outline text="Mixed" xmlUrl="Feed:https://mixed.example/rss"/>')
    got = parse_opml(path.read_bytes(), str(path))
    assert [f.url for f in got.feeds] == ["http://up.example/rss", "https://mixed.example/rss"]
    assert got.skipped == ()


def test_an_http_url_without_a_host_is_skipped_and_the_rest_imported(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Kills O07 (check_url's host check dropped): `http:///feed` is left out with its reason, the other feeds of
    the file are imported."""
    path = _opml_file(tmp_path / "nohost.opml", '<outline text="No host" xmlUrl="http:///feed"/>\n'
                                                '<outline text="Good" xmlUrl="https://good.example/rss"/>')
    got = parse_opml(path.read_bytes(), str(path))
    assert [f.url for f in got.feeds] == ["https://good.example/rss"]
    assert [(s.what, s.reason) for s in got.skipped] == [("http:///feed", "an http(s) URL without a host")]
    cfg = tmp_path / "feeds.toml"
    cfg.write_text(FRESH_CONFIG, encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["--config", str(cfg), "import", str(path)]) == 0
    out = capsys.readouterr().out
    assert "added 1, already present 0, skipped 1" in out and "without a host" in out
    assert [(s.name, s.url) for s in load_config(cfg).sources] == [("Good", "https://good.example/rss")]


def test_a_folder_with_a_site_address_stays_a_folder(tmp_path: Path) -> None:
    """Kills O16 (`not children` dropped from the site-only case): an outline holding outlines is a folder even
    with an htmlUrl; it is no source, and its feeds are filed under it."""
    path = _opml_file(tmp_path / "folder.opml",
                      '<outline text="Blogs" htmlUrl="https://blogs.example/">\n'
                      '  <outline text="One" xmlUrl="https://one.example/rss"/>\n'
                      "</outline>")
    got = parse_opml(path.read_bytes(), str(path))
    assert [(f.url, f.title, f.folder, f.site) for f in got.feeds] == [
        ("https://one.example/rss", "One", ("Blogs",), False)]


def test_an_outline_of_another_type_is_skipped_even_with_an_xmlurl(tmp_path: Path) -> None:
    """Kills O18 (type="link" taken as a feed type when the outline has an xmlUrl): only rss, atom, rdf, json or
    no type are imported."""
    path = _opml_file(tmp_path / "link.opml",
                      '<outline type="link" text="A page" xmlUrl="https://page.example/index.html"/>\n'
                      '<outline type="RSS" text="Feed" xmlUrl="https://feed.example/rss"/>')
    got = parse_opml(path.read_bytes(), str(path))
    assert [f.url for f in got.feeds] == ["https://feed.example/rss"]
    assert [(s.what, s.reason) for s in got.skipped] == [
        ("https://page.example/index.html", 'type="link" is not a feed (rss, atom, rdf or json)')]


def test_a_utf32_file_with_its_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Kills O29 (the UTF-16 byte order marks tried before UTF-32's, which begins with UTF-16-LE's)."""
    doc = '<opml version="2.0"><body><outline text="Café ☕" xmlUrl="https://cafe.example/rss"/></body></opml>'
    for enc in ("utf-32-le", "utf-32-be"):
        bom = codecs.BOM_UTF32_LE if enc.endswith("le") else codecs.BOM_UTF32_BE
        path = tmp_path / f"{enc}.opml"
        path.write_bytes(bom + doc.encode(enc))
        [feed] = parse_opml(path.read_bytes(), str(path)).feeds
        assert (feed.title, feed.url) == ("Café ☕", "https://cafe.example/rss"), enc


def test_the_written_opml_escapes_its_title_and_gives_each_sites_address(tmp_path: Path) -> None:
    """Kills O24 (the head's <title> written unescaped: a config titled "Tom & Jerry" exported a file no reader
    parses) and O27 (no htmlUrl: the README exports a source's site address when known)."""
    data = render_subscriptions(
        [Subscription("Tom & Jerry's <Blog>", "https://tj.example/feed?a=1&b=2", "https://tj.example/?x=1&y=2"),
         Subscription("No site", "https://nosite.example/rss", None)],
        [("Cartoons & <More>", ["Tom & Jerry's <Blog>"])],
        title="Tom & Jerry <feeds>: subscriptions", created="Mon, 01 Jan 2024 00:00:00 GMT")
    path = tmp_path / "subs.opml"
    path.write_bytes(data)
    root = etree.fromstring(path.read_bytes())
    assert root.findtext("head/title") == "Tom & Jerry <feeds>: subscriptions"
    outlines = {o.get("text"): o for o in root.iter("outline")}
    assert outlines["Tom & Jerry's <Blog>"].get("htmlUrl") == "https://tj.example/?x=1&y=2"
    assert outlines["Tom & Jerry's <Blog>"].get("xmlUrl") == "https://tj.example/feed?a=1&b=2"
    assert "htmlUrl" not in outlines["No site"].attrib
    got = parse_opml(path.read_bytes(), str(path))
    assert [(f.title, f.url, f.folder) for f in got.feeds] == [
        ("Tom & Jerry's <Blog>", "https://tj.example/feed?a=1&b=2", ("Cartoons & <More>",)),
        ("No site", "https://nosite.example/rss", ())]
