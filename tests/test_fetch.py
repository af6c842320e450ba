"""Fetching against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import contextlib
import gzip
import re
import socket
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from loopback import Loopback, Request, Response, static

from feeds import USER_AGENT
from feeds.config import Fetch
from feeds.fetch import ACCEPT, Fetcher

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>a</title></item></channel></rss>'


@pytest.fixture
def srv() -> Iterator[Loopback]:
    s = Loopback()
    yield s
    s.close()


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    f = Fetcher(Fetch(connect_timeout=2, read_timeout=1, deadline=3, max_bytes=64 * 1024, max_redirects=3))
    yield f
    f.close()


def test_ok_then_conditional_get_sends_validators_exactly(srv: Loopback, fetcher: Fetcher) -> None:
    etag, lm = 'W/"abc-1"', "Fri, 04 Jul 2025 17:16:24 GMT"
    srv.routes["/f"] = static(FEED, etag=etag, last_modified=lm)
    r1 = fetcher.fetch(srv.url("/f"))
    assert r1.ok and r1.status == 200 and r1.body == FEED and r1.etag == etag and r1.last_modified == lm
    assert srv.requests[0].headers["user-agent"] == USER_AGENT
    r2 = fetcher.fetch(srv.url("/f"), etag=r1.etag, last_modified=r1.last_modified)
    assert r2.not_modified and r2.body is None
    h = srv.requests[1].headers
    assert h["if-none-match"] == etag and h["if-modified-since"] == lm


def test_gzip_body_is_decoded(srv: Loopback, fetcher: Fetcher) -> None:
    srv.routes["/g"] = lambda req: Response(200, gzip.compress(FEED), {"Content-Encoding": "gzip"})
    r = fetcher.fetch(srv.url("/g"))
    assert r.ok and r.body == FEED
    assert "gzip" in srv.requests[0].headers["accept-encoding"]


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_http_errors_are_results(srv: Loopback, fetcher: Fetcher, status: int) -> None:
    srv.routes["/e"] = lambda req: Response(status, b"nope", {"Retry-After": "120"})
    r = fetcher.fetch(srv.url("/e"))
    assert not r.ok and r.status == status and r.error_kind == "http" and str(status) in (r.error or "")
    assert r.retry_after == "120"


def test_connection_refused_is_a_result(fetcher: Fetcher) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = fetcher.fetch(f"http://127.0.0.1:{port}/x")
    assert not r.ok and r.error_kind == "connect"


def test_read_timeout_is_a_result(srv: Loopback, fetcher: Fetcher) -> None:
    def slow(req: Request) -> Response:
        time.sleep(2.5)
        return Response(200, FEED)

    srv.routes["/slow"] = slow
    r = fetcher.fetch(srv.url("/slow"))
    assert not r.ok and r.error_kind == "timeout"


def test_body_over_cap_is_refused(srv: Loopback, fetcher: Fetcher) -> None:
    srv.routes["/big"] = lambda req: Response(200, b"<rss>" + b"x" * (200 * 1024))
    r = fetcher.fetch(srv.url("/big"))
    assert not r.ok and r.error_kind == "too-large"


def test_gzip_bomb_stops_at_the_cap(srv: Loopback, fetcher: Fetcher) -> None:
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    srv.routes["/bomb"] = lambda req: Response(200, bomb, {"Content-Encoding": "gzip"})
    r = fetcher.fetch(srv.url("/bomb"))
    assert not r.ok and r.error_kind == "too-large"


def test_empty_body_is_a_failure(srv: Loopback, fetcher: Fetcher) -> None:
    srv.routes["/empty"] = lambda req: Response(200, b"  \n")
    r = fetcher.fetch(srv.url("/empty"))
    assert not r.ok and r.error_kind == "empty"


def test_permanent_and_temporary_redirects(srv: Loopback, fetcher: Fetcher) -> None:
    srv.routes["/new"] = static(FEED)
    srv.routes["/moved"] = lambda req: Response(301, b"", {"Location": "/new"})
    srv.routes["/temp"] = lambda req: Response(302, b"", {"Location": "/moved"})
    r = fetcher.fetch(srv.url("/moved"))
    assert r.ok and r.body == FEED and r.permanent_redirect == srv.url("/new")
    r = fetcher.fetch(srv.url("/temp"))
    assert r.ok and r.permanent_redirect is None  # a 302 anywhere in the chain never moves the source


def test_redirect_loop_and_long_chain(srv: Loopback, fetcher: Fetcher) -> None:
    srv.routes["/a"] = lambda req: Response(302, b"", {"Location": "/b"})
    srv.routes["/b"] = lambda req: Response(302, b"", {"Location": "/a"})
    r = fetcher.fetch(srv.url("/a"))
    assert not r.ok and r.error_kind == "redirects" and "loop" in (r.error or "")
    for i in range(10):
        srv.routes[f"/c{i}"] = (lambda n: lambda req: Response(301, b"", {"Location": f"/c{n + 1}"}))(i)
    r = fetcher.fetch(srv.url("/c0"))
    assert not r.ok and r.error_kind == "redirects"


def test_local_file_with_validator(tmp_path: object, fetcher: Fetcher) -> None:
    from pathlib import Path

    p = Path(str(tmp_path)) / "f.xml"
    p.write_bytes(FEED)
    r1 = fetcher.fetch(p.as_uri())
    assert r1.ok and r1.body == FEED and r1.etag
    r2 = fetcher.fetch(p.as_uri(), etag=r1.etag)
    assert r2.not_modified
    missing = fetcher.fetch((Path(str(tmp_path)) / "missing.xml").as_uri())
    assert not missing.ok and missing.error_kind == "io"


def test_per_host_limit_holds(srv: Loopback) -> None:
    import threading

    active = 0
    peak = 0
    lock = threading.Lock()

    def slowish(req: Request) -> Response:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.15)
        with lock:
            active -= 1
        return Response(200, FEED)

    srv.routes["/p"] = slowish
    f = Fetcher(Fetch(per_host=2, workers=8))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: f.fetch(srv.url(f"/p?{i}")), range(8)))
    f.close()
    assert all(r.ok for r in results)
    assert peak == 2


def requests_session() -> Any:
    """The requests Session the fetcher used before it spoke urllib3 itself, configured as it was: what goes
    on the wire must not have changed."""
    import requests

    s = requests.Session()
    s.headers["User-Agent"] = USER_AGENT
    s.headers["Accept"] = ACCEPT
    s.headers["Accept-Encoding"] = "gzip, deflate"
    s.trust_env = False
    return s


def test_requests_are_what_a_session_get_sends(srv: Loopback, fetcher: Fetcher) -> None:
    # what reaches the server must be what `session.get(url, headers=extra + validators)` sent: headers,
    # their order and case, the path
    srv.routes["/h x"] = static(FEED)
    srv.routes["/h%20x"] = static(FEED)
    srv.routes["/h~x/"] = static(FEED)
    srv.routes["/set"] = lambda req: Response(200, FEED, {"Set-Cookie": "sid=abc; Path=/"})
    extra = {"Authorization": "Bearer t", "X-Feed": "1", "Accept": "application/rss+xml"}
    lower = {"accept": "text/xml", "user-agent": "Mine/1.0", "x-empty": "", "if-none-match": '"theirs"'}
    validators = {"If-None-Match": 'W/"e-1"', "If-Modified-Since": "Fri, 04 Jul 2025 17:16:24 GMT"}
    host = f"127.0.0.1:{srv.port}"
    cases = [(srv.url("/h x?a=1&b=é"), {}, {}), (srv.url("/h x"), extra, validators),
             (f"http://user:pa%20ss@{host}/h%20x", {}, validators),
             (f"http://user:pw@{host}/h%20x", extra, {}), (f"http://:pw@{host}/h%20x", {}, {}),
             (f"http://user@{host}/h%20x", {}, {}), (srv.url("/h%7ex/?q=%zz&r=[1]#frag"), lower, validators),
             (f"HTTP://{host}/h%20x", {}, {}), (srv.url("/h x"), lower, {})]
    session = requests_session()

    def compare() -> None:
        for url, hdrs, valid in cases:
            fetcher.fetch(url, etag=valid.get("If-None-Match"), last_modified=valid.get("If-Modified-Since"),
                          headers=hdrs)
            session.get(url, headers={**hdrs, **valid}, allow_redirects=False, timeout=2).close()
            ours, theirs = srv.requests[-2], srv.requests[-1]
            assert (ours.path, list(ours.headers.items())) == (theirs.path, list(theirs.headers.items())), url

    compare()
    assert srv.requests[6].headers["authorization"].startswith("Basic ")  # credentials in the URL win
    # once a server has set a cookie: the same again, with the cookie where requests put it
    fetcher.fetch(srv.url("/set"))
    session.get(srv.url("/set"), timeout=2).close()
    cases.append((srv.url("/h x"), {"Cookie": "mine=1"}, validators))
    compare()
    assert srv.requests[-3].headers["cookie"] == "sid=abc" and srv.requests[-1].headers["cookie"] == "mine=1"
    session.close()


def test_credentials_in_the_url_are_basic_auth_for_that_url_only(srv: Loopback, fetcher: Fetcher) -> None:
    srv.routes["/private"] = lambda req: Response(302, b"", {"Location": srv.url("/public")})
    srv.routes["/public"] = static(FEED)
    r = fetcher.fetch(f"http://us%40er:p%C3%A4ss%3Aword@127.0.0.1:{srv.port}/private")
    assert r.ok and r.body == FEED
    auth = srv.requests[0].headers["authorization"]
    assert auth.startswith("Basic ")
    assert base64.b64decode(auth[6:]) == "us@er:päss:word".encode("latin-1")  # unquoted, latin-1 as requests
    assert "authorization" not in srv.requests[1].headers  # the redirect's target has no credentials of its own
    assert r.final_url == srv.url("/public")


def test_cookies_go_back_to_their_host_only(srv: Loopback, fetcher: Fetcher) -> None:
    other = Loopback()
    try:
        srv.routes["/f"] = lambda req: Response(200, FEED, {"Set-Cookie": "a=1; Path=/; Max-Age=3600"})
        other.routes["/g"] = static(FEED)
        assert fetcher.fetch(srv.url("/f")).ok
        assert "cookie" not in srv.requests[0].headers
        assert fetcher.fetch(srv.url("/f"), etag='"e"').ok
        assert srv.requests[1].headers.get("cookie") == "a=1"
        assert fetcher.fetch(f"http://localhost:{other.port}/g").ok
        assert "cookie" not in other.requests[0].headers
        # a Cookie header of the source's own is sent as it is, without the jar's
        assert fetcher.fetch(srv.url("/f"), headers={"Cookie": "mine=2"}).ok
        assert srv.requests[2].headers.get("cookie") == "mine=2"
    finally:
        other.close()


def test_connections_are_kept_across_200_304_and_redirects(srv: Loopback, fetcher: Fetcher) -> None:
    accepted: list[object] = []
    accept = srv.server.get_request

    def counting() -> tuple[socket.socket, object]:
        conn, addr = accept()
        accepted.append(addr)
        return conn, addr

    srv.server.get_request = counting  # type: ignore[method-assign]
    etag = '"v1"'
    srv.routes["/f"] = static(FEED, etag=etag)
    srv.routes["/g"] = lambda req: Response(200, gzip.compress(FEED), {"Content-Encoding": "gzip"})
    srv.routes["/old"] = lambda req: Response(301, b"<p>moved</p>", {"Location": "/f"})
    srv.routes["/tmp"] = lambda req: Response(307, b"", {"Location": "/g"})
    results = [fetcher.fetch(srv.url("/f")), fetcher.fetch(srv.url("/f"), etag=etag),
               fetcher.fetch(srv.url("/f"), etag=etag), fetcher.fetch(srv.url("/g")),
               fetcher.fetch(srv.url("/old"), etag=etag, validators_url=srv.url("/f")),
               fetcher.fetch(srv.url("/tmp")), fetcher.fetch(srv.url("/f"))]
    assert [r.status for r in results] == [200, 304, 304, 200, 304, 200, 200]
    assert all(r.ok for r in results) and results[3].body == FEED and results[5].body == FEED
    assert len(srv.requests) == 9 and len(accepted) == 1  # one TCP connection for all nine requests


def test_deflate_body_is_decoded(srv: Loopback, fetcher: Fetcher) -> None:
    srv.routes["/d"] = lambda req: Response(200, zlib.compress(FEED), {"Content-Encoding": "deflate"})
    r = fetcher.fetch(srv.url("/d"))
    assert r.ok and r.body == FEED


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/feed", "http://", "example.com/feed", "http://[::1/feed",
                                 "http://127.0.0.1:99999/feed", "http://*.example/feed", "httpx://example/feed",
                                 "mailto:someone@example.org", "http://user:pass@/feed"])
def test_invalid_urls_are_results(fetcher: Fetcher, url: str) -> None:
    r = fetcher.fetch(url)
    assert not r.ok and r.error_kind == "url" and (r.error or "").startswith("invalid URL"), r
    assert "pass" not in (r.error or "")


@pytest.mark.parametrize("headers", [{"X-A": "1\r\nX-Injected: 1"}, {"X A:": "1"}, {"X-A": " leading"},
                                     {"": "1"}])
def test_invalid_extra_headers_are_refused_like_requests_does(srv: Loopback, fetcher: Fetcher,
                                                              headers: dict[str, str]) -> None:
    srv.routes["/f"] = static(FEED)
    r = fetcher.fetch(srv.url("/f"), headers=headers)
    assert not r.ok and r.error_kind == "http" and "header" in (r.error or "") and not srv.requests
    assert fetcher.fetch(srv.url("/f")).ok


def test_invalid_validator_is_left_out_never_sent(srv: Loopback, fetcher: Fetcher) -> None:
    # (it was refused, failing the fetch: a stored one then failed every later fetch of its source for good; a
    # review of hosts) the request goes unconditional, and nothing is injected
    srv.routes["/f"] = static(FEED)
    r = fetcher.fetch(srv.url("/f"), etag='"a"\r\nX-Injected: 1', last_modified="Wed, 01 May 2024\r10:00:00 GMT")
    assert r.ok and len(srv.requests) == 1
    assert not {"x-injected", "if-none-match", "if-modified-since"} & srv.requests[0].headers.keys()


def test_cookies_set_by_a_server_are_sent_back(srv: Loopback, fetcher: Fetcher) -> None:
    srv.routes["/login"] = lambda req: Response(302, b"", {"Location": "/f", "Set-Cookie": "s=1; Path=/"})
    srv.routes["/f"] = static(FEED)
    r = fetcher.fetch(srv.url("/login"))
    assert r.ok and r.body == FEED
    assert srv.requests[1].headers.get("cookie") == "s=1"  # the redirect's target got the cookie
    fetcher.fetch(srv.url("/f"), etag='"x"')
    assert srv.requests[2].headers.get("cookie") == "s=1" and srv.requests[2].headers["if-none-match"] == '"x"'


def test_body_hash_is_the_pipelines_masked_hash(srv: Loopback, fetcher: Fetcher, tmp_path: object) -> None:
    from pathlib import Path

    from feeds.dedup import body_hash

    rebuilt = FEED.replace(b"<title>t</title>", b"<title>t</title><lastBuildDate>Mon, 01 Jan 2024 00:00:00 GMT"
                                                b"</lastBuildDate>")
    srv.routes["/f"] = static(FEED)
    srv.routes["/r"] = static(rebuilt)
    a, b = fetcher.fetch(srv.url("/f")), fetcher.fetch(srv.url("/r"))
    assert a.body_hash == body_hash(FEED) == b.body_hash  # only a feed-level date differs: same hash
    p = Path(str(tmp_path)) / "f.xml"
    p.write_bytes(FEED)
    assert fetcher.fetch(p.as_uri()).body_hash == body_hash(FEED)


def test_https_is_verified(tmp_path: Path, fetcher: Fetcher) -> None:
    """A self-signed certificate (valid for 127.0.0.1, in no trust store) is refused: TLS is verified."""
    import shutil
    import ssl
    import subprocess
    import threading

    if not shutil.which("openssl"):
        pytest.skip("no openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server = socket.create_server(("127.0.0.1", 0))
    handshakes: list[str] = []
    ended = threading.Event()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                try:
                    with ctx.wrap_socket(conn, server_side=True) as tls:
                        tls.recv(65536)
                        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(FEED) + FEED)
                        handshakes.append("done")
                except (ssl.SSLError, OSError) as e:
                    handshakes.append(type(e).__name__)
                ended.set()

    threading.Thread(target=serve, daemon=True).start()
    try:
        port = server.getsockname()[1]
        r = fetcher.fetch(f"https://127.0.0.1:{port}/feed")
        assert not r.ok and r.error_kind == "connect" and "CERTIFICATE_VERIFY_FAILED" in (r.error or ""), r
        assert ended.wait(10)  # the server's side of the handshake has ended
        assert handshakes and "done" not in handshakes  # a handshake was tried, and no request was answered
    finally:
        server.close()


def test_https_to_a_plain_http_server_is_a_connect_failure(srv: Loopback, fetcher: Fetcher) -> None:
    srv.routes["/f"] = static(FEED)
    r = fetcher.fetch(f"https://127.0.0.1:{srv.port}/f")
    assert not r.ok and r.error_kind == "connect", r


# -- redirects: what goes to another hop (found by a review) -----------------------------------------


def test_a_sources_credentials_and_cookie_stay_on_its_origin(srv: Loopback, fetcher: Fetcher) -> None:
    other = Loopback()
    try:
        srv.routes["/f"] = lambda req: Response(302, b"", {"Location": f"http://localhost:{other.port}/g"})
        srv.routes["/same"] = lambda req: Response(302, b"", {"Location": "/h"})
        srv.routes["/h"] = static(FEED)
        other.routes["/g"] = static(FEED)
        secret = {"Authorization": "Bearer SECRET", "Cookie": "sid=SECRET", "X-Feed": "1"}
        assert fetcher.fetch(srv.url("/f"), headers=secret).ok
        assert srv.requests[0].headers["authorization"] == "Bearer SECRET"
        sent = other.requests[0].headers
        assert "authorization" not in sent and "cookie" not in sent and sent["x-feed"] == "1"
        # a redirect within the origin keeps them
        assert fetcher.fetch(srv.url("/same"), headers=secret).ok
        assert srv.hits("/h")[0].headers["authorization"] == "Bearer SECRET"
        assert srv.hits("/h")[0].headers["cookie"] == "sid=SECRET"
    finally:
        other.close()


def test_validators_go_only_to_the_url_that_gave_them(srv: Loopback, fetcher: Fetcher) -> None:
    def conditional(req: Request) -> Response:
        if req.headers.get("if-modified-since") or req.headers.get("if-none-match"):
            return Response(304, b"", {})
        return Response(200, FEED, {"Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"})

    srv.routes["/old"] = lambda req: Response(302, b"", {"Location": "/new"})
    srv.routes["/new"] = conditional
    # the source used to serve its feed at /old (its validators came from there); now /old redirects
    r = fetcher.fetch(srv.url("/old"), etag='"a"', last_modified="Wed, 01 Jan 2025 00:00:00 GMT")
    assert r.status == 200 and r.body == FEED  # /new was read, not answered 304 for a document never seen
    assert "if-none-match" not in srv.hits("/new")[0].headers
    # validators that /new gave are sent to /new, behind the same redirect
    r = fetcher.fetch(srv.url("/old"), last_modified=r.last_modified, validators_url=r.final_url)
    assert r.status == 304 and srv.hits("/new")[1].headers["if-modified-since"] == "Mon, 01 Jan 2024 00:00:00 GMT"


def test_a_redirect_to_an_invalid_url_is_a_redirect_error(srv: Loopback, fetcher: Fetcher) -> None:
    srv.routes["/f"] = lambda req: Response(302, b"", {"Location": "http://[::1"})
    r = fetcher.fetch(srv.url("/f"))
    assert not r.ok and r.error_kind == "redirects" and "invalid URL" in (r.error or ""), r


def test_the_deadline_bounds_a_redirect_hops_connect(srv: Loopback) -> None:
    from test_faults import BlackHole

    hole = BlackHole()
    try:
        srv.routes["/f"] = lambda req: Response(302, b"", {"Location": f"http://127.0.0.1:{hole.port}/x"})
        f = Fetcher(Fetch(connect_timeout=30, read_timeout=30, deadline=1.0))
        try:
            r = f.fetch(srv.url("/f"))
        finally:
            f.close()
        # the hop's connect is given what is left of the deadline, not the whole connect timeout
        assert not r.ok and r.elapsed < 10, r
    finally:
        hole.close()


def test_a_fetchs_deadline_never_cuts_a_connection_another_fetch_took_from_the_pool(srv: Loopback) -> None:
    """Source 1 is redirected (its connection to the host goes back to the pool) to a host that never
    answers, and runs into its deadline while source 2 uses that connection: source 2 is not touched."""
    import threading

    from test_faults import BlackHole

    hole = BlackHole()
    try:
        def redirect(req: Request) -> Response:
            time.sleep(0.5)
            return Response(302, b"", {"Location": f"http://127.0.0.1:{hole.port}/x"})

        def slow(req: Request) -> Response:
            time.sleep(1.0)  # from 0.8 s to 1.8 s: still answering when source 1's deadline (1.5 s) passes
            return Response(200, FEED, {})

        srv.routes["/r"] = redirect
        srv.routes["/slow"] = slow
        f = Fetcher(Fetch(connect_timeout=5, read_timeout=5, deadline=1.5, per_host=4))
        out: dict[str, Any] = {}

        def one() -> None:
            out["one"] = f.fetch(srv.url("/r"))

        def two() -> None:
            time.sleep(0.8)  # after source 1 gave its connection back
            out["two"] = f.fetch(srv.url("/slow"))

        threads = [threading.Thread(target=one), threading.Thread(target=two)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        f.close()
        assert not out["one"].ok
        assert out["two"].ok and out["two"].body == FEED, out["two"]
    finally:
        hole.close()


# -- file: sources ------------------------------------------------------------------------------------


def test_a_file_source_that_is_not_a_regular_file_is_refused(tmp_path: Path, fetcher: Fetcher) -> None:
    import os

    fifo = tmp_path / "feed.fifo"
    os.mkfifo(fifo)
    r = fetcher.fetch(fifo.as_uri())  # reading it would block for ever
    assert not r.ok and r.error_kind == "io" and "not a regular file" in (r.error or ""), r
    r = fetcher.fetch("file:///dev/zero")  # reading it would never end
    assert not r.ok and r.error_kind == "io", r


def test_validators_follow_a_redirect_whose_target_changes_its_query_each_time(srv: Loopback,
                                                                               fetcher: Fetcher) -> None:
    n = {"i": 0}

    def tokenised(req: Request) -> Response:  # a CDN's signed URL: a new token on every redirect
        n["i"] += 1
        return Response(302, b"", {"Location": f"/cdn?token={n['i']}"})

    def cdn(req: Request) -> Response:
        if req.headers.get("if-none-match") == '"v1"':
            return Response(304, b"", {"ETag": '"v1"'})
        return Response(200, FEED, {"ETag": '"v1"'})

    srv.routes["/a"] = tokenised
    srv.routes["/cdn"] = cdn
    first = fetcher.fetch(srv.url("/a"))
    assert first.status == 200 and first.final_url == srv.url("/cdn?token=1")
    again = fetcher.fetch(srv.url("/a"), etag=first.etag, validators_url=first.final_url)
    assert again.status == 304 and again.final_url == srv.url("/cdn?token=2")


# -- error texts: plain words, the host and port, the cause; no class names, no credentials -------------

_CLASS_NAMES = re.compile(r"\w+(?:Error|Exception|Connection|Pool|Disconnected|Read|Line)\(|Errno|_ssl\.c|"
                          r"Connection aborted|Connection broken")


def _serve_raw(answer: Callable[[socket.socket], None]) -> tuple[socket.socket, int]:
    """A server that reads the request and then does `answer` to the connection (one thread per server)."""
    import threading

    server = socket.create_server(("127.0.0.1", 0))

    def loop() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with contextlib.suppress(OSError):
                conn.recv(65536)
                answer(conn)
            conn.close()

    threading.Thread(target=loop, daemon=True).start()
    return server, server.getsockname()[1]


def _reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST


@pytest.mark.parametrize(("name", "answer", "kind", "expected"), [
    ("reset", _reset, "connect", "connection reset by the server (127.0.0.1:{port})"),
    ("no answer", lambda c: c.shutdown(socket.SHUT_RDWR), "connect",
     "the server closed the connection without answering (127.0.0.1:{port})"),
    ("not HTTP", lambda c: c.sendall(b"hello there\r\n\r\n"), "connect",
     "the answer is not HTTP (127.0.0.1:{port}: 'hello there')"),
    ("short body", lambda c: c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n<rss>"), "read",
     "body read failed (the connection ended early: 5 bytes read, 4,995 more expected)"),
    ("reset mid-body", lambda c: (c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"<rss>" * 10),
                                  time.sleep(0.2), _reset(c)), "read",
     "body read failed (connection reset by the server)"),
    ("bad gzip", lambda c: c.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 8\r\n\r\nnot gzip"),
     "read", "body read failed (the body is not valid gzip: Error -3 while decompressing data: incorrect header "
     "check)"),
])
def test_fetch_errors_are_plain_words_with_host_port_and_cause(fetcher: Fetcher, name: str,
                                                               answer: Callable[[socket.socket], None], kind: str,
                                                               expected: str) -> None:
    """Errors went to `feeds status` and the logs as urllib3 wrote them: "connection failed
    (GuardedHTTPConnection(host='127.0.0.1', port=1): Failed to establish a new connection: [Errno 111]
    Connection refused)", "body read failed (("Connection broken: IncompleteRead(5 bytes read, 4995 more
    expected)", IncompleteRead(...)))"."""
    server, port = _serve_raw(answer)
    try:
        r = fetcher.fetch(f"http://reader:hunter2@127.0.0.1:{port}/feed")
    finally:
        server.close()
    assert (r.error_kind, r.error) == (kind, expected.format(port=port)), name
    assert not _CLASS_NAMES.search(r.error or "") and "hunter2" not in (r.error or "")


def test_connect_errors_name_the_host_and_port_and_the_systems_words(fetcher: Fetcher, srv: Loopback) -> None:
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    from feeds.fetch import _connect_error, _prepare

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    for url in (f"http://127.0.0.1:{port}/x", f"http://user:secret@127.0.0.1:{port}/x"):
        r = fetcher.fetch(url)
        assert (r.error_kind, r.error) == ("connect", f"connection refused (127.0.0.1:{port})")
    srv.routes["/f"] = static(FEED)
    r = fetcher.fetch(f"https://127.0.0.1:{srv.port}/f")  # TLS to a plain HTTP server: OpenSSL's words
    assert r.error_kind == "connect" and (r.error or "").startswith(f"TLS failed (127.0.0.1:{srv.port}: [SSL: "), r
    assert not _CLASS_NAMES.search(r.error or "")
    # what urllib3 raises for a name that does not resolve and an unreachable network (made here: no DNS
    # lookup or routing in a test)
    t = _prepare("http://user:secret@no-such-host.invalid:8080/feed")
    conn = type("GuardedHTTPConnection", (), {"__str__": lambda self: "GuardedHTTPConnection(host='x', port=1)"})()
    gai = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    try:
        raise NameResolutionError("no-such-host.invalid", conn, gai) from gai  # type: ignore[arg-type]
    except NameResolutionError as e:
        assert _connect_error(e, t) == "cannot resolve host no-such-host.invalid (Name or service not known)"
    unreachable = OSError(113, "No route to host")
    try:
        raise NewConnectionError(conn, f"Failed to establish a new connection: {unreachable}") from unreachable  # type: ignore[arg-type]
    except NewConnectionError as e:
        assert _connect_error(e, t) == "connection failed (no-such-host.invalid:8080: No route to host)"
    assert _connect_error(ConnectionRefusedError(111, "Connection refused"), _prepare("http://[::1]:1/")) == \
        "connection refused ([::1]:1)"


def test_a_url_that_does_not_parse_keeps_its_credentials_out_of_the_error(fetcher: Fetcher) -> None:
    r = fetcher.fetch("http://reader:hunter2@[::1/feed")  # urlsplit refuses it, so redact could not see them
    assert r.error_kind == "url" and "hunter2" not in (r.error or "") and "reader" not in (r.error or ""), r


@pytest.mark.parametrize(("status", "wait"), [(429, "60"), (503, "120")])
def test_a_request_queued_for_the_hosts_slot_hears_its_retry_after_before_it_goes(srv: Loopback, status: int,
                                                                                   wait: str) -> None:
    """The fetcher tells the run's HostWaits of a 429's or a 503's Retry-After while it still holds the host's
    slot, so a request waiting for that slot is not made (the race the in-slot call closes: without it the
    waiting request went out as soon as the slot was free; the 503 case kills `status in (429, 503)` ->
    `status in (429,)`, found by a mutation survey)."""
    import threading

    from feeds.fetch import HELD

    class Waits:
        def __init__(self) -> None:
            self.hosts: dict[str, str] = {}

        def held(self, host: str) -> bool:
            return host in self.hosts

        def asked(self, host: str, retry_after: str, date: str | None = None) -> None:  # (date: the answer's Date)
            self.hosts[host] = retry_after

    go = threading.Event()

    def busy(req: Request) -> Response:
        go.wait(5)
        return Response(status, b"slow down", {"Retry-After": wait})

    srv.routes["/busy"] = busy
    srv.routes["/other"] = static(FEED)
    waits = Waits()
    f = Fetcher(Fetch(per_host=1, workers=2))
    try:
        out: dict[str, Any] = {}
        first = threading.Thread(target=lambda: out.update(first=f.fetch(srv.url("/busy"), waits=waits)))
        first.start()
        for _ in range(500):  # the first request holds the host's only slot
            if srv.requests:
                break
            time.sleep(0.01)
        second = threading.Thread(target=lambda: out.update(second=f.fetch(srv.url("/other"), waits=waits)))
        second.start()
        time.sleep(0.2)  # the second request waits for the slot (if it comes later, it is held all the same)
        go.set()
        first.join(10)
        second.join(10)
    finally:
        go.set()
        f.close()
    assert out["first"].status == status and waits.hosts == {"127.0.0.1": wait}
    assert out["second"].error_kind == HELD and [r.path for r in srv.requests] == ["/busy"]
