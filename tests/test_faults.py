"""Network faults, each from a loopback server misbehaving on purpose, one by one and through `feeds run`.

`RawServer` writes raw bytes on a TCP socket so it can do what http.server will not: drip, cut a body
short, reset, stream forever. Every server listens on 127.0.0.1 only. A fault must end as a recorded
failure of its own source; the other sources are still fetched, stored and published.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import os
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import feedparser
import pytest
from feedgen_util import rss
from loopback import Loopback, Response, static

from feeds.config import Fetch
from feeds.fetch import Fetcher

ROOT = Path(__file__).resolve().parent.parent
FEED = rss([{"title": "Fine item", "guid": "fine-1", "link": "https://good.example/1"}])
HEAD_OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"


# -- helpers shared by the hardening tests ------------------------------------------------------------

class RawConn:
    """One accepted connection, as seen by a RawServer handler."""

    def __init__(self, server: RawServer, sock: socket.socket, path: str) -> None:
        self.server, self.sock, self.path = server, sock, path

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)
        with self.server.lock:
            self.server.sent[self.path] = self.server.sent.get(self.path, 0) + len(data)

    def pause(self, seconds: float) -> None:
        """Sleep, but wake when the server closes; raises OSError then so the handler unwinds."""
        if self.server.stopping.wait(seconds):
            raise OSError("server closing")

    def reset(self) -> None:
        """Close with RST instead of FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


RawHandler = Callable[[RawConn], None]


class RawServer:
    """A TCP server on 127.0.0.1: routes map a request path to a handler writing raw bytes."""

    def __init__(self) -> None:
        self.routes: dict[str, RawHandler] = {}
        self.hits: list[str] = []
        self.sent: dict[str, int] = {}
        self.completed: dict[str, bool] = {}  # path -> the handler got to the end of what it meant to send
        self.finished: dict[str, threading.Event] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        path = "?"
        try:
            conn.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            path = data.split(b" ", 2)[1].decode("latin-1")
            with self.lock:
                self.hits.append(path)
                self.finished.setdefault(path, threading.Event())
            handler = self.routes.get(path.split("?")[0])
            if handler is None:
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            handler(RawConn(self, conn, path))
            with self.lock:
                self.completed[path] = True
        except OSError:
            pass
        finally:
            with self.lock:
                ev = self.finished.get(path)
            if ev is not None:
                ev.set()
            with contextlib.suppress(OSError):
                conn.close()

    def wait_finished(self, path: str, timeout: float = 15) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                ev = self.finished.get(path)
            if ev is not None:
                return ev.wait(max(0.0, deadline - time.monotonic()))
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self.stopping.set()
        self.sock.close()
        self.thread.join(5)


class BlackHole:
    """A listening socket on 127.0.0.1 whose backlog is full and which never accepts: connects hang."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers: list[socket.socket] = []
        for _ in range(8):  # more than the queue can hold; the later SYNs are dropped
            c = socket.socket()
            c.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                c.connect(("127.0.0.1", self.port))
            self.fillers.append(c)
        time.sleep(0.05)
        probe = socket.socket()
        probe.settimeout(0.3)
        try:
            probe.connect(("127.0.0.1", self.port))
            full = False
        except OSError:
            full = True
        finally:
            probe.close()
        assert full, "the backlog did not fill: a connect would not hang"

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        for c in self.fillers:
            c.close()
        self.sock.close()


def run_feeds(*args: str, cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("FEEDS_CONFIG", None)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "feeds.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(tmp: Path, sources: list[tuple[str, str]], *, fetch: str = "", extra: str = "",
                 source_extra: dict[str, str] | None = None, name: str = "feeds.toml") -> Path:
    """A config with the given (name, url) sources and one channel `news` taking everything."""
    srcs = ""
    for n, u in sources:
        srcs += f"[[sources]]\nurl = {toml_str(u)}\nname = {toml_str(n)}\n{(source_extra or {}).get(n, '')}\n"
    p = tmp / name
    p.write_text(f"""
[output]
dir = "out"
base_url = "https://feeds.example.org/"
[store]
path = "feeds.db"
[fetch]
{fetch}
{extra}
{srcs}
[channels.news]
title = "News"
match_all = true
""")
    return p


FAST_FETCH = """connect_timeout = 0.5
read_timeout = 2.0
deadline = 3.0
max_bytes = 65536
max_redirects = 3
workers = 32
per_host = 32
"""


def source_errors(db: Path) -> dict[str, str | None]:
    with sqlite3.connect(db) as c:
        return dict(c.execute("SELECT name, last_error FROM sources"))


def published_titles(path: Path) -> list[str]:
    d = feedparser.parse(path.read_bytes())
    assert not d.bozo, d.bozo_exception
    return [e.title for e in d.entries]


# -- raw handlers ------------------------------------------------------------------------------------

def never_answer(c: RawConn) -> None:
    c.pause(6)


def drip_body(c: RawConn) -> None:
    c.send(HEAD_OK + b"Content-Length: 60000\r\n\r\n<rss>")  # under the cap: must be read
    for _ in range(600):
        c.send(b"x")
        c.pause(0.02)


def drip_body_close_delimited(c: RawConn) -> None:
    body = FEED
    c.send(HEAD_OK + b"Connection: close\r\n\r\n" + body[:40])
    for b in body[40:] * 50:  # would look complete if the fetcher accepted a cut-short body
        c.send(bytes([b]))
        c.pause(0.02)


def drip_headers(c: RawConn) -> None:
    c.send(HEAD_OK)
    for _ in range(600):
        c.send(b"X-Slow: " + b"a" * 3 + b"\r\n")
        c.pause(0.02)


def reset_mid_body(c: RawConn) -> None:
    c.send(HEAD_OK + b"Content-Length: 10000\r\n\r\n" + FEED[:60])
    c.pause(0.1)
    c.reset()


def truncated_body(c: RawConn) -> None:
    c.send(HEAD_OK + b"Content-Length: " + str(len(FEED) + 5000).encode() + b"\r\nConnection: close\r\n\r\n" + FEED)


def truncated_chunked(c: RawConn) -> None:
    c.send(HEAD_OK + b"Transfer-Encoding: chunked\r\n\r\n" + f"{len(FEED):x}\r\n".encode() + FEED + b"\r\n")
    # no terminating 0-chunk: the connection just ends


TOTAL_STREAM = 64 * 1024 * 1024


def endless_close_delimited(c: RawConn) -> None:
    c.send(HEAD_OK + b"Connection: close\r\n\r\n<rss>")
    piece = b"x" * 65536
    for _ in range(TOTAL_STREAM // len(piece)):
        c.send(piece)


def endless_chunked(c: RawConn) -> None:
    c.send(HEAD_OK + b"Transfer-Encoding: chunked\r\n\r\n")
    piece = b"x" * 65536
    for _ in range(TOTAL_STREAM // len(piece)):
        c.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    c.send(b"0\r\n\r\n")


@functools.cache
def gzip_bomb() -> bytes:
    """64 MiB of zeros, gzip-compressed to about 64 KiB."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1024 * 1024)
    return b"".join(z.compress(zeros) for _ in range(TOTAL_STREAM // len(zeros))) + z.flush()


def streamed_gzip_bomb(c: RawConn) -> None:
    c.send(HEAD_OK + b"Content-Encoding: gzip\r\nConnection: close\r\n\r\n")
    bomb = gzip_bomb()
    for i in range(0, len(bomb), 4096):
        c.send(bomb[i:i + 4096])


# -- one fault at a time against the fetcher ---------------------------------------------------------

@pytest.fixture
def raw() -> Iterator[RawServer]:
    s = RawServer()
    yield s
    s.close()


@pytest.fixture(scope="module")
def srv_module() -> Iterator[Loopback]:
    s = Loopback()
    yield s
    s.close()


@pytest.fixture
def srv(srv_module: Loopback) -> Loopback:
    srv_module.routes.clear()
    srv_module.requests.clear()
    return srv_module


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    """Timeouts long enough that a loaded machine never trips them by accident."""
    f = Fetcher(Fetch(connect_timeout=3, read_timeout=5, deadline=15, max_bytes=64 * 1024, max_redirects=3))
    yield f
    f.close()


@pytest.fixture
def quick() -> Iterator[Fetcher]:
    """Short timeouts, for the tests about timeouts."""
    f = Fetcher(Fetch(connect_timeout=0.3, read_timeout=0.6, deadline=1.2, max_bytes=64 * 1024, max_redirects=3))
    yield f
    f.close()


def test_connect_timeout_on_a_full_backlog(quick: Fetcher) -> None:
    hole = BlackHole()
    try:
        r = quick.fetch(hole.url("/feed"))
    finally:
        hole.close()
    assert not r.ok and r.error_kind == "timeout" and "connect" in (r.error or ""), r
    assert r.elapsed < 10


def test_read_timeout_when_no_response_comes(raw: RawServer, quick: Fetcher) -> None:
    raw.routes["/silent"] = never_answer
    r = quick.fetch(raw.url("/silent"))
    assert not r.ok and r.error_kind == "timeout" and "read" in (r.error or ""), r
    assert raw.hits == ["/silent"]


@pytest.mark.parametrize("handler", [drip_body, drip_body_close_delimited, drip_headers],
                         ids=["body", "close-delimited-body", "headers"])
def test_slow_drip_is_stopped_by_the_total_deadline(raw: RawServer, quick: Fetcher, handler: RawHandler) -> None:
    """Each byte comes well within the read timeout; only the total deadline (1.2 s) can stop the fetch."""
    raw.routes["/drip"] = handler
    r = quick.fetch(raw.url("/drip"))
    assert not r.ok and r.error_kind == "deadline", r
    assert r.body is None
    assert r.elapsed < 10  # bounded: the server would drip for 12 s or more
    assert raw.wait_finished("/drip")
    assert not raw.completed.get("/drip"), "the server got to drip everything: the deadline did not stop it"


def test_connection_reset_mid_body(raw: RawServer, fetcher: Fetcher) -> None:
    raw.routes["/reset"] = reset_mid_body
    r = fetcher.fetch(raw.url("/reset"))
    assert not r.ok and r.error_kind == "read" and r.body is None, r


@pytest.mark.parametrize("handler", [truncated_body, truncated_chunked], ids=["content-length", "chunked"])
def test_truncated_body_is_a_failure_not_a_short_feed(raw: RawServer, fetcher: Fetcher, handler: RawHandler) -> None:
    raw.routes["/short"] = handler
    r = fetcher.fetch(raw.url("/short"))
    assert not r.ok and r.error_kind in ("read", "timeout") and r.body is None, r


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors(srv: Loopback, fetcher: Fetcher, status: int) -> None:
    srv.routes["/e"] = lambda req: Response(status, b"<html>oops</html>", {"Content-Type": "text/html"})
    r = fetcher.fetch(srv.url("/e"))
    assert not r.ok and r.status == status and r.error_kind == "http" and r.body is None


@pytest.mark.parametrize("retry_after", ["120", None])
def test_429_with_and_without_retry_after(srv: Loopback, fetcher: Fetcher, retry_after: str | None) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    srv.routes["/busy"] = lambda req: Response(429, b"slow down", headers)
    r = fetcher.fetch(srv.url("/busy"))
    assert not r.ok and r.status == 429 and r.retry_after == retry_after


@pytest.mark.parametrize("handler", [endless_close_delimited, endless_chunked], ids=["close-delimited", "chunked"])
def test_body_over_the_cap_is_stopped_while_streaming(raw: RawServer, fetcher: Fetcher, handler: RawHandler) -> None:
    raw.routes["/huge"] = handler
    r = fetcher.fetch(raw.url("/huge"))
    assert not r.ok and r.error_kind == "too-large" and r.body is None, r
    assert raw.wait_finished("/huge")
    assert not raw.completed.get("/huge"), "the server sent the whole 64 MiB: the cap did not stop the read"
    assert raw.sent.get("/huge", 0) < TOTAL_STREAM // 2


def test_gzip_bomb_is_stopped_at_the_cap_on_decoded_bytes_with_bounded_memory(raw: RawServer,
                                                                           fetcher: Fetcher) -> None:
    """64 MiB of zeros compress to about 64 KiB, so the server sends it all; what must stay small is what
    the fetcher decodes and holds (the cap is 64 KiB)."""
    import tracemalloc

    raw.routes["/bomb"] = streamed_gzip_bomb
    gzip_bomb()
    tracemalloc.start()
    try:
        r = fetcher.fetch(raw.url("/bomb"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not r.ok and r.error_kind == "too-large" and r.body is None, r
    assert peak < 16 * 1024 * 1024, f"decoding held {peak / 1e6:.0f} MB"


def test_redirect_to_another_scheme_is_refused(srv: Loopback, fetcher: Fetcher, tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(FEED)
    srv.routes["/to-file"] = lambda req: Response(302, b"", {"Location": secret.as_uri()})
    r = fetcher.fetch(srv.url("/to-file"))
    assert not r.ok and r.error_kind == "redirects" and r.body is None


# -- every fault in one `feeds run` ------------------------------------------------------------------

def test_every_fault_in_one_run_is_recorded_and_the_good_sources_still_publish(tmp_path: Path) -> None:
    srv, raw, hole = Loopback(), RawServer(), BlackHole()
    try:
        srv.routes["/good"] = static(FEED)
        srv.routes["/good-as-html"] = static(rss([{"title": "Served as text/html", "guid": "h1"}]),
                                             content_type="text/html; charset=utf-8")
        srv.routes["/good-no-type"] = lambda req: Response(200, rss([{"title": "Served untyped", "guid": "u1"}]),
                                                           {"Content-Type": "application/octet-stream"})
        for code in (500, 502, 503, 504):
            srv.routes[f"/{code}"] = (lambda c: lambda req: Response(c, b"<html>down</html>"))(code)
        srv.routes["/429-ra"] = lambda req: Response(429, b"", {"Retry-After": "3600"})
        srv.routes["/429"] = lambda req: Response(429, b"")
        srv.routes["/loop-a"] = lambda req: Response(302, b"", {"Location": "/loop-b"})
        srv.routes["/loop-b"] = lambda req: Response(302, b"", {"Location": "/loop-a"})
        for i in range(6):
            srv.routes[f"/chain{i}"] = (lambda n: lambda req: Response(301, b"", {"Location": f"/chain{n + 1}"}))(i)
        srv.routes["/empty"] = lambda req: Response(200, b"", {"Content-Type": "application/rss+xml"})
        srv.routes["/html"] = lambda req: Response(
            200, b"<!DOCTYPE html><html><head><title>Shop</title></head><body><p>Buy now</p></body></html>",
            {"Content-Type": "text/html"})
        srv.routes["/bomb"] = lambda req: Response(200, gzip.compress(b"\0" * (20 * 1024 * 1024)),
                                                   {"Content-Encoding": "gzip"})
        raw.routes["/silent"] = never_answer
        raw.routes["/drip"] = drip_body
        raw.routes["/reset"] = reset_mid_body
        raw.routes["/short"] = truncated_body
        raw.routes["/huge"] = endless_chunked
        expected = {  # source name -> what its recorded error must say
            "connect-timeout": "connect timeout", "read-timeout": "read timeout", "drip": "deadline",
            "reset": "body read failed", "truncated": "body read failed", "s500": "HTTP 500", "s502": "HTTP 502",
            "s503": "HTTP 503", "s504": "HTTP 504", "s429-ra": "HTTP 429", "s429": "HTTP 429",
            "loop": "redirect loop", "chain": "more than 3 redirects", "huge": "larger than", "bomb": "larger than",
            "empty": "empty body", "html": "not a feed",
        }
        urls = {
            "good": srv.url("/good"), "good-as-html": srv.url("/good-as-html"),
            "good-no-type": srv.url("/good-no-type"), "connect-timeout": hole.url("/feed"),
            "read-timeout": raw.url("/silent"), "drip": raw.url("/drip"), "reset": raw.url("/reset"),
            "truncated": raw.url("/short"), "s500": srv.url("/500"), "s502": srv.url("/502"),
            "s503": srv.url("/503"), "s504": srv.url("/504"), "s429": srv.url("/429"),
            # a host name of its own: its Retry-After holds back its host's other fetches of the run too
            "s429-ra": srv.url("/429-ra").replace("127.0.0.1", "localhost"),
            "loop": srv.url("/loop-a"), "chain": srv.url("/chain0"), "huge": raw.url("/huge"),
            "bomb": srv.url("/bomb"), "empty": srv.url("/empty"), "html": srv.url("/html"),
        }
        cfg = write_config(tmp_path, list(urls.items()), fetch=FAST_FETCH)
        r = run_feeds("--config", str(cfg), "run", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        errors = source_errors(tmp_path / "feeds.db")
        for name, words in expected.items():
            assert errors[name] and words in errors[name], (name, errors[name])
            assert name in r.stderr  # each failure is reported
        assert errors["good"] is None and errors["good-as-html"] is None and errors["good-no-type"] is None
        assert sorted(published_titles(tmp_path / "out" / "news.atom")) == [
            "Fine item", "Served as text/html", "Served untyped"]
        with sqlite3.connect(tmp_path / "feeds.db") as c:
            hosts = dict(c.execute("SELECT host, retry_after FROM hosts"))
            state = dict(c.execute("SELECT name, consecutive_failures FROM sources"))
        assert hosts.get("localhost", 0) > time.time() + 3000  # Retry-After: 3600 was kept for the host
        assert all(state[n] == 1 for n in expected)
        assert not raw.completed.get("/huge") and not raw.completed.get("/drip")

        # the same faults alone: every due source failed -> exit 1, and the published feed is kept as it was
        before = (tmp_path / "out" / "news.atom").read_bytes()
        bad = write_config(tmp_path, [(n, urls[n]) for n in ("s500", "reset", "html", "empty")], fetch=FAST_FETCH,
                           name="bad.toml")
        r = run_feeds("--config", str(bad), "run", "--all", cwd=tmp_path)
        assert r.returncode == 1 and "all 4 due sources failed" in r.stderr, r.stderr
        assert (tmp_path / "out" / "news.atom").read_bytes() == before
    finally:
        hole.close()
        raw.close()
        srv.close()
