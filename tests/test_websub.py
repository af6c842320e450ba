"""WebSub: the hub is pinged for changed documents only; a failing hub is retried at the next publish.

The hub is a stand-in: a small threaded HTTP server on 127.0.0.1 that records every POST.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from lxml import etree
from test_publish import BASE, T0, Fill, assert_valid, make_config

from feeds import websub
from feeds.publish import publish
from feeds.store import Store

TOPICS = {f"{BASE}news.atom", f"{BASE}news.json", f"{BASE}news.rss"}


class Hub:
    def __init__(self) -> None:
        self.posts: list[dict[str, list[str]]] = []
        self.content_types: list[str] = []
        self.authorizations: list[str | None] = []
        self.status = 202
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # TCP_NODELAY

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hub.lock:
                    hub.posts.append(parse_qs(body.decode("ascii")))
                    hub.content_types.append(self.headers.get("Content-Type", ""))
                    hub.authorizations.append(self.headers.get("Authorization"))
                    status = hub.status
                reply = b"ok"
                self.wfile.write(f"HTTP/1.1 {status} X\r\nContent-Length: {len(reply)}\r\n"
                                 "Connection: close\r\n\r\n".encode() + reply)  # headers and body at once
                self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hub"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def topics(self) -> list[str]:
        with self.lock:
            return [u for p in self.posts for u in p.get("hub.url", [])]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    h = Hub()
    yield h
    h.close()


class RawHub:
    """A hub on a plain socket, for answers http.server cannot give (dripped, never finished).

    `answer(hub, topic, conn)` writes the reply to each POST; the connection is read for another
    request while it returns True."""

    def __init__(self, answer: Callable[[RawHub, str, socket.socket], bool]) -> None:
        self.answer = answer
        self.topics: list[str] = []
        self.connections = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.conns: list[socket.socket] = []
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hub"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        with contextlib.suppress(OSError), conn:
            while not self.stop.is_set():
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                length = int(m.group(1)) if m else 0
                while len(buf) < length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                body, buf = buf[:length], buf[length:]
                topic = parse_qs(body.decode("ascii"))["hub.url"][0]
                with self.lock:
                    self.topics.append(topic)
                if not self.answer(self, topic, conn):
                    return

    def drip(self, conn: socket.socket, data: bytes, every: float) -> None:
        """Send `data` a byte at a time, one every `every` seconds (each well within a read timeout)."""
        for i in range(len(data)):
            if self.stop.wait(every):
                return
            conn.sendall(data[i:i + 1])

    def close(self) -> None:
        self.stop.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        self.sock.close()
        with self.lock:
            for conn in self.conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


@pytest.fixture()
def raw_hub() -> Iterator[Callable[[Callable[[RawHub, str, socket.socket], bool]], RawHub]]:
    hubs: list[RawHub] = []

    def make(answer: Callable[[RawHub, str, socket.socket], bool]) -> RawHub:
        hubs.append(RawHub(answer))
        return hubs[-1]

    yield make
    for h in hubs:
        h.close()


def announce_in_time(store: Store, hub: str, topics: list[str], bound: float,
                     timeout: tuple[float, float]) -> websub.AnnounceResult:
    """announce() in a thread, which must end within `bound` seconds (the bugs held it a minute and more)."""
    out: list[websub.AnnounceResult] = []
    t = threading.Thread(target=lambda: out.append(websub.announce(store, hub, topics, timeout=timeout)),
                         daemon=True)
    t.start()
    t.join(bound)
    assert not t.is_alive(), f"announce() still running after {bound}s"
    return out[0]


def setup(tmp: Path, hub_url: str) -> tuple[Store, Fill]:
    cfg = make_config(tmp, hub=hub_url, formats=("atom", "json", "rss"))
    store = Store.open(cfg.store_path)
    fill = Fill(store)
    fill.story(["news"], "Alpha Wire", "First story", T0)
    return store, fill


def test_ping_on_change_only(tmp_path: Path, hub: Hub) -> None:
    cfg = make_config(tmp_path, hub=hub.url, formats=("atom", "json", "rss"))
    store, fill = setup(tmp_path, hub.url)
    try:
        report = publish(cfg, store)
        assert sorted(hub.topics()) == sorted(TOPICS) and sorted(report.pinged) == sorted(TOPICS)
        assert all(p["hub.mode"] == ["publish"] for p in hub.posts)
        assert set(hub.content_types) == {"application/x-www-form-urlencoded"}
        # every subscription document advertises the hub and stays valid
        out = cfg.output.dir
        atom = etree.fromstring((out / "news.atom").read_bytes())
        assert [ln.get("href") for ln in atom.findall("{http://www.w3.org/2005/Atom}link[@rel='hub']")] == [hub.url]
        rss = etree.fromstring((out / "news.rss").read_bytes())
        assert [ln.get("href") for ln in rss.findall("channel/{http://www.w3.org/2005/Atom}link[@rel='hub']")] == [
            hub.url]
        assert json.loads((out / "news.json").read_bytes())["hubs"] == [{"type": "WebSub", "url": hub.url}]
        assert_valid(out)
        # nothing changed: no ping
        report = publish(cfg, store)
        assert report.written == [] and report.pinged == []
        assert len(hub.posts) == 3
        # a new story: the three feeds changed, three pings
        fill.story(["news"], "Beta Post", "Second story", T0 + 60)
        publish(cfg, store)
        assert len(hub.posts) == 6 and sorted(hub.topics()[3:]) == sorted(TOPICS)
    finally:
        store.close()


def test_failing_hub_is_retried_at_the_next_publish(tmp_path: Path, hub: Hub,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    cfg = make_config(tmp_path, hub=hub.url, formats=("atom", "json", "rss"))
    store, _fill = setup(tmp_path, hub.url)
    hub.status = 503
    try:
        with caplog.at_level(logging.WARNING, logger="feeds.websub"):
            report = publish(cfg, store)
        # the documents were published all the same
        assert {p.name for p in report.written} >= {"news.atom", "news.json", "news.rss"}
        assert sorted(report.ping_pending) == sorted(TOPICS) and report.pinged == []
        assert set(store.websub_pending()) == TOPICS
        assert any(r.name == "feeds.websub" and "503" in r.getMessage() for r in caplog.records)
        # the hub is back; nothing changed, but the pending pings go out
        hub.status = 204
        report = publish(cfg, store)
        assert report.written == []
        assert sorted(report.pinged) == sorted(TOPICS)
        assert sorted(hub.topics()[3:]) == sorted(TOPICS)
        assert store.websub_pending() == {}
        # and then: nothing at all
        publish(cfg, store)
        assert len(hub.posts) == 6
    finally:
        store.close()


def test_unreachable_hub_does_not_stop_publishing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/hub"
    cfg = make_config(tmp_path, hub=dead, formats=("atom", "json", "rss"))
    store, _fill = setup(tmp_path, dead)
    try:
        report = publish(cfg, store)
        assert not report.errors and {p.name for p in report.written} >= {"news.atom", "news.json", "news.rss"}
        pending = store.websub_pending()
        assert set(pending) == TOPICS
        assert all(p["hub"] == dead and p["attempts"] == 1 for p in pending.values())
        publish(cfg, store)  # retried (and failing again): counted, still pending
        assert {p["attempts"] for p in store.websub_pending().values()} == {2}
    finally:
        store.close()


def test_no_hub_no_ping(tmp_path: Path, hub: Hub) -> None:
    cfg = make_config(tmp_path, formats=("atom", "json", "rss"))
    store = Store.open(cfg.store_path)
    try:
        Fill(store).story(["news"], "Alpha Wire", "First story", T0)
        report = publish(cfg, store)
        assert report.written and report.pinged == [] and hub.posts == []
        assert b'rel="hub"' not in (cfg.output.dir / "news.atom").read_bytes()
    finally:
        store.close()


@pytest.mark.parametrize("how", ["a later document fails", "killed before the pings"])
def test_a_written_feed_is_announced_even_if_its_publish_stops_after_it(
        tmp_path: Path, hub: Hub, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    import feeds.publish as P
    import feeds.websub as W
    from feeds.errors import PublishError

    cfg = make_config(tmp_path, hub=hub.url, formats=("atom", "json", "rss"))
    store, fill = setup(tmp_path, hub.url)
    try:
        publish(cfg, store)
        fill.story(["news"], "Beta Post", "Second story", T0 + 60)  # every document of the channel changes
        before = len(hub.posts)
        if how == "a later document fails":
            real = P.atomic_write

            def failing(path: Path, data: bytes) -> bool:
                if path.name == "news.json":  # written after news.atom
                    raise PublishError(str(path), "No space left on device")
                return real(path, data)

            monkeypatch.setattr(P, "atomic_write", failing)
            report = publish(cfg, store)
            assert report.errors and "news.atom" in {p.name for p in report.written}
        else:
            def killed(*_a: object, **_k: object) -> None:
                raise SystemExit("killed")  # what a kill between writing and pinging leaves behind

            monkeypatch.setattr(W, "announce", killed)
            with pytest.raises(SystemExit):
                publish(cfg, store)
            assert hub.topics()[before:] == []
        monkeypatch.undo()
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        publish(cfg, store)  # all well again
        assert f"{BASE}news.atom" in hub.topics()[before:]
        assert store.websub_pending() == {}
    finally:
        store.close()


@pytest.mark.parametrize("where", ["body", "headers"])
def test_a_hub_dripping_its_answer_holds_a_publish_no_longer_than_a_ping_deadline(
        tmp_path: Path, raw_hub: Callable[..., RawHub], where: str) -> None:
    # a byte every 0.2 s, each well within the 1 s read timeout: read to its end, the body took 20 s and
    # the headers (100 lines, http.client's limit) over 200 s; only the status matters, and a ping has
    # its connect and read timeouts together (2 s) in all
    def answer(hub: RawHub, topic: str, conn: socket.socket) -> bool:
        if where == "body":
            conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 100\r\n\r\n")
            hub.drip(conn, b"x" * 100, 0.2)
        else:
            hub.drip(conn, b"HTTP/1.1 202 Accepted\r\n" + b"X-Drip: 1\r\n" * 200, 0.2)
        return False

    hub = raw_hub(answer)
    store = Store.open(tmp_path / "feeds.db")
    topic = f"{BASE}news.atom"
    try:
        result = announce_in_time(store, hub.url, [topic], 10, timeout=(1.0, 1.0))
        assert hub.topics == [topic]
        if where == "body":  # the status came at once: accepted, the body left unread
            assert result.accepted == [topic] and store.websub_pending() == {}
        else:  # no status line and headers within the ping's deadline: pending, retried next time
            assert result.pending == [topic]
            assert "no answer within 2s" in store.websub_pending()[topic]["last_error"]
    finally:
        store.close()


def test_the_pings_of_one_publish_have_one_deadline(tmp_path: Path, raw_hub: Callable[..., RawHub]) -> None:
    # a hub taking 0.8 s for each ping (within the 1 s read timeout): 30 topics took 24 s; a publish's
    # pings have three pings' deadlines in all (3 x 1.5 s), the rest stay pending for the next publish
    def answer(hub: RawHub, topic: str, conn: socket.socket) -> bool:
        if hub.stop.wait(0.8):
            return False
        conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")  # no body: the connection serves the next ping
        return True

    hub = raw_hub(answer)
    store = Store.open(tmp_path / "feeds.db")
    topics = [f"{BASE}t{i:02d}.atom" for i in range(30)]
    try:
        result = announce_in_time(store, hub.url, topics, 10, timeout=(0.5, 1.0))
        assert 1 <= len(result.accepted) <= 6 and result.accepted == topics[:len(result.accepted)]
        assert set(result.pending) | set(result.accepted) == set(topics)
        assert set(store.websub_pending()) == set(result.pending)
        assert hub.connections == 1  # kept across the pings
    finally:
        store.close()


@pytest.mark.parametrize("how", ["read timeout", "ping deadline"])
def test_a_topic_the_hub_times_out_on_fails_alone(tmp_path: Path, raw_hub: Callable[..., RawHub], how: str) -> None:
    # a hub slow on one topic only (one it fetches before answering, say): that topic's timeout was taken
    # for "hub unreachable", and every pending topic sorted after it was never offered, publish after publish
    slow, other = f"{BASE}a.atom", f"{BASE}b.atom"

    def answer(hub: RawHub, topic: str, conn: socket.socket) -> bool:
        if topic == slow:
            if how == "read timeout":
                hub.stop.wait(3)  # silent past the 1 s read timeout
            else:
                hub.drip(conn, b"HTTP/1.1 202 Accepted\r\n" + b"X-Drip: 1\r\n" * 100, 0.2)
            return False
        conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
        return True

    hub = raw_hub(answer)
    store = Store.open(tmp_path / "feeds.db")
    try:
        for url in (slow, other):
            store.add_websub_pending(url, hub.url, 1.0)
        result = announce_in_time(store, hub.url, [], 10, timeout=(1.0, 1.0))
        assert hub.topics == [slow, other]
        assert result.accepted == [other] and result.pending == [slow]
        pending = store.websub_pending()
        assert set(pending) == {slow} and pending[slow]["attempts"] == 1
        assert ("timed out" if how == "read timeout" else "no answer within 2s") in pending[slow]["last_error"]
    finally:
        store.close()


def test_topics_the_hub_is_slow_on_cannot_starve_the_others(tmp_path: Path, raw_hub: Callable[..., RawHub]) -> None:
    # three topics on which the hub drips its answer use a publish's whole deadline (3 pings' worth):
    # the topic after them is not tried, and tried first at the next publish (least tried first)
    slow = [f"{BASE}a{i}.atom" for i in range(3)]
    fast = f"{BASE}z.atom"

    def answer(hub: RawHub, topic: str, conn: socket.socket) -> bool:
        if topic == fast:
            conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
            return True
        hub.drip(conn, b"HTTP/1.1 202 Accepted\r\n" + b"X-Drip: 1\r\n" * 100, 0.1)
        return False

    hub = raw_hub(answer)
    store = Store.open(tmp_path / "feeds.db")
    try:
        for url in [*slow, fast]:
            store.add_websub_pending(url, hub.url, 1.0)
        first = announce_in_time(store, hub.url, [], 10, timeout=(0.5, 0.5))
        assert hub.topics == slow and first.accepted == []
        pending = store.websub_pending()
        assert pending[fast]["attempts"] == 0 and pending[fast]["last_error"] == "not announced yet"
        assert {pending[u]["attempts"] for u in slow} == {1}
        second = announce_in_time(store, hub.url, [], 10, timeout=(0.5, 0.5))
        assert hub.topics[3] == fast and second.accepted == [fast]
        assert set(store.websub_pending()) == set(slow)
    finally:
        store.close()


def test_a_hubs_credentials_stay_out_of_logs_and_documents(tmp_path: Path, hub: Hub,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    secret_url = hub.url.replace("http://", "http://user:s3cret@", 1)
    cfg = make_config(tmp_path, hub=secret_url, formats=("atom", "json", "rss"))
    store, _fill = setup(tmp_path, secret_url)
    hub.status = 503
    try:
        with caplog.at_level(logging.DEBUG, logger="feeds"):
            publish(cfg, store)
            hub.status = 204
            publish(cfg, store)
        import base64

        assert hub.posts and set(hub.authorizations) == {"Basic " + base64.b64encode(b"user:s3cret").decode()}
        assert caplog.records and not [r for r in caplog.records if "s3cret" in r.getMessage()]
        for doc in cfg.output.dir.iterdir():
            if doc.is_file():
                assert b"s3cret" not in doc.read_bytes(), doc.name
        atom = etree.fromstring((cfg.output.dir / "news.atom").read_bytes())  # still advertised, without them
        assert [ln.get("href") for ln in atom.findall("{http://www.w3.org/2005/Atom}link[@rel='hub']")] == [hub.url]
    finally:
        store.close()


def test_topics_the_publish_deadline_cuts_short_are_left_untried(tmp_path: Path, raw_hub: Callable[..., RawHub],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A working hub 0.45 s away that takes 0.95 s to answer: when the publish's deadline leaves less than
    a connect's time, that topic and the rest are left untried (no attempt counted), not charged as
    'unreachable' (found by the final review)."""
    import http.client

    def answer(hub: RawHub, topic: str, conn: socket.socket) -> bool:
        time.sleep(0.95)
        conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        return False

    hub = raw_hub(answer)
    connect = http.client.HTTPConnection.connect

    def far(self: http.client.HTTPConnection) -> None:
        time.sleep(0.45)
        connect(self)

    monkeypatch.setattr(http.client.HTTPConnection, "connect", far)
    topics = [f"{BASE}t{i}.atom" for i in range(6)]
    store = Store.open(tmp_path / "feeds.db")
    try:
        result = announce_in_time(store, hub.url, topics, 10, timeout=(0.5, 1.0))
        assert 0 < len(result.accepted) < len(topics)
        pending = store.websub_pending()
        rest = topics[len(result.accepted):]
        assert sorted(pending) == sorted(rest) and result.pending == rest
        assert sum(pending[u]["attempts"] for u in rest[1:]) == 0, {u: pending[u]["last_error"] for u in rest}
    finally:
        store.close()


def test_an_ipv6_hub_without_a_port_is_pinged_at_its_own_address(tmp_path: Path) -> None:
    """http.client reads a port out of a bare IPv6 host when none is given ('::1' -> host ':', port 1):
    the hub's port is always given (found by the final review). Loopback only: nothing listens on [::1]:80
    here, so the ping is refused and the topic stays pending; announce() never raises."""
    h = websub._Hub("http://[::1]/hub", (1.0, 1.0))
    conn = h._connection()
    assert (conn.host, conn.port) == ("::1", 80)
    assert (websub._Hub("https://[::1]/hub", (1.0, 1.0)).port, websub._Hub("http://[::1]:8080/", (1.0, 1.0)).port) \
        == (443, 8080)
    store = Store.open(tmp_path / "feeds.db")
    try:
        result = websub.announce(store, "http://[::1]/hub", [f"{BASE}a.atom"], timeout=(1.0, 1.0))
        assert result.accepted == [] and result.pending == [f"{BASE}a.atom"]
    finally:
        store.close()


def test_a_pending_ping_of_a_document_no_longer_published_is_dropped(tmp_path: Path, hub: Hub) -> None:
    # (a review of the smaller commands) the hub fails, the pings stay pending; then the json and rss formats
    # are taken out of the config: their documents are deleted, and their topics were pinged at every publish
    # for good (a hub that checks topics refuses them: a warning, so cron mail, at each run)
    cfg = make_config(tmp_path, hub=hub.url, formats=("atom", "json", "rss"))
    store, fill = setup(tmp_path, hub.url)
    hub.status = 503
    try:
        publish(cfg, store)
        assert set(store.websub_pending()) == TOPICS
        hub.status = 204
        fewer = make_config(tmp_path, hub=hub.url, formats=("atom",))
        fill.story(["news"], "Beta Post", "Second story", T0 + 60)
        report = publish(fewer, store)
        atom = f"{BASE}news.atom"
        assert report.pinged == [atom] and hub.topics()[3:] == [atom]
        assert store.websub_pending() == {}
    finally:
        store.close()
